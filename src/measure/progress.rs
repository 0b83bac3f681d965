//! Reading BuildKit's plain progress output (`docker build --progress=plain`).
//!
//! Steps are numbered `#N`; a step's header names it (`#5 [2/4] RUN ...`),
//! and a step served from the cache prints `#N CACHED`.

use std::collections::{BTreeMap, BTreeSet};

/// The build steps of a Dockerfile (`[stage k/n]` headers; BuildKit's own
/// `[internal]` bookkeeping and image metadata loads are not steps) and how
/// many of them were served from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Steps {
    pub total: usize,
    pub cached: usize,
}

pub fn steps(log: &str) -> Steps {
    over_attempts(&[log]).0
}

/// The labels (`[build 3/5]`) of the instruction steps the build ran
/// rather than took from its cache. FROM steps are left out: BuildKit
/// reports the base image as done on every build, cached or not.
pub fn reran(log: &str) -> BTreeSet<String> {
    let (headers, cached) = read(log);
    headers
        .into_iter()
        .filter(|(id, _)| !cached.contains(id))
        .filter_map(|(_, text)| {
            let (_, instruction) = text.split_once("] ")?;
            (!instruction.starts_with("FROM ")).then(|| label(text))
        })
        .collect()
}

/// The steps and the labels of the steps that ran of a build made in
/// several attempts (after a runtime failure): a step that ran in an
/// earlier attempt is served from the cache in the next, yet the build ran
/// it.
pub fn over_attempts(attempts: &[&str]) -> (Steps, BTreeSet<String>) {
    let reran: BTreeSet<String> = attempts.iter().flat_map(|log| reran(log)).collect();
    let last = attempts.last().copied().unwrap_or_default();
    let (headers, cached) = read(last);
    let cached = headers
        .iter()
        .filter(|(id, text)| cached.contains(*id) && !reran.contains(&label(text)))
        .count();
    let steps = Steps {
        total: headers.len(),
        cached,
    };
    (steps, reran)
}

/// `[build 3/5]` of `[build 3/5] COPY . .`.
fn label(header: &str) -> String {
    header
        .split_once("] ")
        .map_or_else(|| header.to_string(), |(label, _)| format!("{label}]"))
}

/// The instruction steps' headers by step number, and the numbers of the
/// steps served from the cache.
fn read(log: &str) -> (BTreeMap<&str, &str>, BTreeSet<&str>) {
    let mut headers = BTreeMap::new();
    let mut cached = BTreeSet::new();
    for line in log.lines() {
        let Some((id, text)) = line.strip_prefix('#').and_then(|rest| rest.split_once(' ')) else {
            continue;
        };
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let text = text.trim();
        if text == "CACHED" {
            cached.insert(id);
        } else if is_instruction_header(text) {
            headers.insert(id, text);
        }
    }
    (headers, cached)
}

/// `[2/4] RUN ...` or `[build 3/5] COPY ...`: a Dockerfile instruction.
fn is_instruction_header(text: &str) -> bool {
    let Some(inside) = text
        .strip_prefix('[')
        .and_then(|t| t.split_once(']'))
        .map(|(i, _)| i)
    else {
        return false;
    };
    let counter = inside.rsplit(' ').next().unwrap_or_default();
    counter.split_once('/').is_some_and(|(k, n)| {
        !k.is_empty()
            && k.bytes().all(|b| b.is_ascii_digit())
            && n.bytes().all(|b| b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REBUILD: &str = r#"#0 building with "default" instance using docker driver

#1 [internal] load build definition from Dockerfile
#1 transferring dockerfile: 233B done
#1 DONE 0.0s

#2 [internal] load metadata for docker.io/library/python:3.11-slim
#2 DONE 0.0s

#3 [internal] load .dockerignore
#3 transferring context: 2B done
#3 DONE 0.0s

#4 [1/5] FROM docker.io/library/python:3.11-slim
#4 DONE 0.0s

#5 [internal] load build context
#5 transferring context: 412B done
#5 DONE 0.0s

#6 [2/5] WORKDIR /app
#6 CACHED

#7 [3/5] COPY requirements.txt .
#7 CACHED

#8 [4/5] RUN pip install -r requirements.txt
#8 CACHED

#9 [5/5] COPY . .
#9 DONE 0.1s

#10 exporting to image
#10 exporting layers 0.1s done
#10 DONE 0.1s
"#;

    #[test]
    fn counts_cached_instruction_steps() {
        assert_eq!(
            steps(REBUILD),
            Steps {
                total: 5,
                cached: 3
            }
        );
    }

    #[test]
    fn names_the_steps_that_ran() {
        assert_eq!(reran(REBUILD).into_iter().collect::<Vec<_>>(), ["[5/5]"]);
        let log = "#4 [build 1/3] FROM docker.io/library/golang:1.19\n#4 DONE 0.0s\n#5 [build 2/3] RUN go build\n#5 DONE 3.1s\n#7 [stage-1 2/2] COPY --from=build /out /app\n#7 CACHED\n";
        assert_eq!(reran(log).into_iter().collect::<Vec<_>>(), ["[build 2/3]"]);
    }

    #[test]
    fn a_step_run_in_an_earlier_attempt_ran() {
        let first = "#5 [build 1/3] FROM x\n#5 DONE 0.0s\n#8 [build 2/3] COPY . .\n#8 DONE 0.0s\n#9 [build 3/3] RUN make\n#9 ERROR: failed to start\n";
        let second = "#5 [build 1/3] FROM x\n#5 DONE 0.0s\n#8 [build 2/3] COPY . .\n#8 CACHED\n#9 [build 3/3] RUN make\n#9 DONE 1.0s\n";
        let (steps, reran) = over_attempts(&[first, second]);
        assert_eq!(
            reran.into_iter().collect::<Vec<_>>(),
            ["[build 2/3]", "[build 3/3]"]
        );
        assert_eq!(
            steps,
            Steps {
                total: 3,
                cached: 0
            }
        );
        let (steps, reran) = over_attempts(&[second]);
        assert_eq!(reran.len(), 1);
        assert_eq!(
            steps,
            Steps {
                total: 3,
                cached: 1
            }
        );
    }

    #[test]
    fn multi_stage_headers_name_their_stage() {
        let log = "#4 [build 1/3] FROM docker.io/library/golang:1.19\n#4 CACHED\n\n#7 [stage-1 2/2] COPY --from=build /out /app\n#7 DONE 0.1s\n";
        assert_eq!(
            steps(log),
            Steps {
                total: 2,
                cached: 1
            }
        );
    }

    #[test]
    fn ignores_internal_steps_and_noise() {
        let log = "#2 [internal] load metadata for x\n#2 CACHED\n#x CACHED\nCACHED\n#12 exporting to image\n";
        assert_eq!(
            steps(log),
            Steps {
                total: 0,
                cached: 0
            }
        );
    }
}
