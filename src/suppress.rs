//! Inline suppressions. `# dockfix: ignore[DF204]` (IDs or names,
//! comma-separated) on the comment lines right above an instruction
//! silences those rules' findings in it; `# dockfix: ignore-file[DF401]`
//! anywhere silences them in the whole file. A suppression dockfix cannot
//! read, or one naming an unknown rule, is an error: a typo must not
//! silently stop silencing.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use crate::rules::{self, Finding, Rule};
use crate::syntax::{Dockerfile, ItemKind};

static SUPPRESSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^#\s*dockfix:\s*(ignore|ignore-file)\[([^\]]*)\]\s*$").expect("valid")
});

/// Where each rule is silenced.
#[derive(Default)]
pub struct Suppressions {
    silenced: Vec<(&'static Rule, Range<usize>)>,
}

impl Suppressions {
    pub fn covers(&self, finding: &Finding) -> bool {
        self.silences(finding.rule.id, finding.range.start)
    }

    /// Whether rule `id` is silenced at offset `at`.
    pub fn silences(&self, id: &str, at: usize) -> bool {
        self.silenced
            .iter()
            .any(|(rule, range)| rule.id == id && range.contains(&at))
    }
}

/// The file's suppressions, and the offsets and reasons of those it
/// cannot take.
pub fn read(file: &Dockerfile) -> (Suppressions, Vec<(usize, String)>) {
    let mut found = Suppressions::default();
    let mut errors = Vec::new();
    for (index, item) in file.items.iter().enumerate() {
        if !matches!(item.kind, ItemKind::Comment) {
            continue;
        }
        let text = crate::syntax::lossy(&file.source[item.span.clone()]);
        let text = text.trim();
        let Some(rest) = text.strip_prefix('#').map(str::trim_start) else {
            continue;
        };
        if !rest.starts_with("dockfix:") {
            continue;
        }
        let Some(caps) = SUPPRESSION.captures(text) else {
            errors.push((
                item.span.start,
                "unreadable suppression: write `# dockfix: ignore[RULE, ...]` or `# dockfix: ignore-file[RULE, ...]`".into(),
            ));
            continue;
        };
        let scope = if &caps[1] == "ignore-file" {
            0..file.source.len()
        } else {
            // The instruction below, past further comment lines.
            let next = file.items[index + 1..]
                .iter()
                .find(|i| !matches!(i.kind, ItemKind::Comment));
            match next {
                Some(next) if matches!(next.kind, ItemKind::Instruction(_)) => next.span.clone(),
                _ => {
                    errors.push((
                        item.span.start,
                        "`# dockfix: ignore[...]` must be right above an instruction".into(),
                    ));
                    continue;
                }
            }
        };
        for name in caps[2].split(',').map(str::trim) {
            match rules::find(name) {
                Some(rule) => found.silenced.push((rule, scope.clone())),
                None => errors.push((
                    item.span.start,
                    format!("unknown rule `{name}` in a suppression (see `dockfix rules`)"),
                )),
            }
        }
    }
    (found, errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse;

    #[test]
    fn line_and_file_suppressions() {
        let source = b"# dockfix: ignore-file[DF401]\nFROM node\n# dockfix: ignore[DF204, exec-form]\n# why: pinned by the platform team\nRUN pip install x\nCMD run x\n";
        let file = parse(source).unwrap();
        let (found, errors) = read(&file);
        assert!(errors.is_empty(), "{errors:?}");
        let ids = |at: usize| -> Vec<&str> {
            found
                .silenced
                .iter()
                .filter(|(_, r)| r.contains(&at))
                .map(|(rule, _)| rule.id)
                .collect()
        };
        let run = source.windows(3).position(|w| w == b"RUN").unwrap();
        let cmd = source.windows(3).position(|w| w == b"CMD").unwrap();
        assert_eq!(ids(run), ["DF401", "DF204", "DF002"]);
        assert_eq!(ids(cmd), ["DF401"]);
    }

    #[test]
    fn typos_are_errors() {
        for source in [
            "FROM a\n# dockfix: ignore[DF999]\nRUN x\n",
            "FROM a\n# dockfix: ignore DF204\nRUN x\n",
            "FROM a\n# dockfix: ignore[DF204]\n\nRUN x\n",
        ] {
            let file = parse(source.as_bytes()).unwrap();
            assert_eq!(read(&file).1.len(), 1, "{source}");
        }
    }
}
