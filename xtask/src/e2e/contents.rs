//! What an image holds of its app, compared between an original and a
//! rewrite: the configuration a container starts with, and every file under
//! the image's working directory (path, type, mode, owner, link target and
//! checksum). A rewrite that moves instructions must leave both as they were.

use std::collections::BTreeSet;

use super::{Engine, Result};

/// The configuration fields that decide how a container runs.
const CONFIG: &str = "Cmd={{json .Config.Cmd}}\nEntrypoint={{json .Config.Entrypoint}}\n\
WorkingDir={{json .Config.WorkingDir}}\nUser={{json .Config.User}}\nEnv={{json .Config.Env}}\n\
ExposedPorts={{json .Config.ExposedPorts}}";

/// Lists the directory `$0` (one line per entry, then one checksum line
/// per regular file), in a stable order. The Dockerfile and .dockerignore
/// are the files a rewrite changes on purpose, and Cargo's
/// `target/.rustc_info.json` caches rustc's answers in hash-map order, which
/// differs from one build to the next: their checksums are left out.
const LIST: &str = r#"cd "$0" && LC_ALL=C find . -xdev -mindepth 1 -printf '%y %m %U:%G %p -> %l\n' | LC_ALL=C sort && LC_ALL=C find . -xdev -type f ! -name Dockerfile ! -name .dockerignore ! -name .rustc_info.json -exec sha256sum {} + | LC_ALL=C sort -k2"#;

#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub struct Contents {
    /// `Field=json`, one per field.
    pub config: Vec<String>,
    /// The working directory, and its listing; none when the image works in
    /// `/` (its whole file system, which package cleanups change).
    pub app: Option<(String, Vec<String>)>,
}

impl Contents {
    pub fn of(engine: &Engine, image: &str) -> Result<Contents> {
        let config = engine.docker(&["image", "inspect", "-f", CONFIG, image])?;
        let workdir =
            engine.docker(&["image", "inspect", "-f", "{{.Config.WorkingDir}}", image])?;
        let workdir = workdir.trim();
        let app = if workdir.is_empty() || workdir == "/" {
            None
        } else {
            let listing = match engine.in_image(image, LIST, &[workdir]) {
                // An image without a shell (`FROM scratch`) is read
                // unpacked on the host, by the same script.
                Err(e) if super::no_shell(&e) => {
                    let unpacked = engine.unpacked(image)?;
                    let dir = unpacked
                        .path()
                        .join("root")
                        .join(workdir.trim_start_matches('/'));
                    super::on_host(LIST, &[&dir.to_string_lossy()])?
                }
                listing => listing?,
            };
            Some((
                workdir.to_string(),
                listing.lines().map(String::from).collect(),
            ))
        };
        Ok(Contents {
            config: config.trim().lines().map(String::from).collect(),
            app,
        })
    }

    /// Whether the working directory holds `path` (relative to it).
    pub fn holds(&self, path: &str) -> bool {
        let listed = format!("./{}", path.trim_start_matches("./"));
        self.app
            .as_ref()
            .is_some_and(|(_, lines)| lines.iter().any(|line| listed_path(line) == listed))
    }

    /// What differs from `other`, ignoring what lies under `skip` (the
    /// cache mounts a rewrite adds, which keep a build's output out of the
    /// image on purpose) and what `meant` allows; empty when nothing else
    /// does.
    pub fn differences(&self, other: &Contents, skip: &[String], meant: Meant) -> Vec<String> {
        let mut found = Vec::new();
        for (before, after) in self.config.iter().zip(&other.config) {
            let allowed = (meant.exec_form && same_words(before, after))
                || (meant.split && fewer_variables(before, after));
            if before != after && !allowed {
                found.push(format!("configuration {before} became {after}"));
            }
        }
        if self.config.len() != other.config.len() {
            found.push("the configurations have different fields".into());
        }
        let kept = |c: &Contents| -> Option<(String, BTreeSet<String>)> {
            let (dir, lines) = c.app.as_ref()?;
            let skipped: Vec<String> = skip
                .iter()
                .filter_map(|s| s.strip_prefix(&format!("{}/", dir.trim_end_matches('/'))))
                .map(|s| format!("./{}", s.trim_end_matches('/')))
                .collect();
            let shown = |line: &&String| {
                !skipped.iter().any(|s| {
                    line.split(' ')
                        .any(|word| word == s || word.starts_with(&format!("{s}/")))
                })
            };
            Some((dir.clone(), lines.iter().filter(shown).cloned().collect()))
        };
        match (kept(self), kept(other)) {
            (Some((dir, before)), Some((_, after))) => {
                // What the new .dockerignore lines leave out never came.
                let left_out =
                    |line: &&String| meant.ignored.iter().any(|p| covers(p, listed_path(line)));
                let gone: Vec<_> = match meant.split {
                    // The runtime stage leaves the sources behind.
                    true => Vec::new(),
                    false => before
                        .difference(&after)
                        .filter(|line| !left_out(line))
                        .take(5)
                        .collect(),
                };
                // npm's record of what node_modules holds changes with the
                // development dependencies a split leaves behind.
                let pruned = |line: &&String| {
                    meant.split && line.ends_with(" ./node_modules/.package-lock.json")
                };
                let new: Vec<_> = after
                    .difference(&before)
                    .filter(|line| !pruned(line))
                    .take(5)
                    .collect();
                if !gone.is_empty() || !new.is_empty() {
                    found.push(format!(
                        "{dir} differs: only before {gone:?}, only after {new:?}"
                    ));
                }
            }
            (None, None) => {}
            _ => found.push("one image works in / and the other does not".into()),
        }
        found
    }
}

/// The differences a fix means to make between an original image and its
/// rewrite.
#[derive(Clone, Copy, Default)]
pub struct Meant<'a> {
    /// A shell-form Cmd or Entrypoint that became the exec form of the same
    /// words (the unsafe exec-form fix).
    pub exec_form: bool,
    /// A build split into a builder and a runtime stage (DF503): the
    /// runtime has none of the variables the toolchain image set, nor its
    /// PATH, and none of the sources in the working directory; it gains
    /// nothing there and changes nothing it keeps.
    pub split: bool,
    /// Lines the rewrite added to `.dockerignore`: what they leave out of
    /// the build context may be gone from the working directory, and
    /// nothing else.
    pub ignored: &'a [String],
}

/// The path a listing line names: an entry (`f 644 0:0 ./a -> `) or a
/// checksum (`<sha256>  ./a`).
fn listed_path(line: &str) -> &str {
    match line.split(' ').nth(3) {
        Some(path) if line.contains(" -> ") => path,
        _ => line.split_whitespace().last().unwrap_or_default(),
    }
}

/// Whether the `.dockerignore` line `pattern` covers the listed path
/// (`./a/b`): the path or a directory above it, at the root, or for
/// `**/name` anywhere.
fn covers(pattern: &str, path: &str) -> bool {
    let path = path.trim_start_matches("./");
    let parts: Vec<&str> = path.split('/').collect();
    match pattern.strip_prefix("**/") {
        Some(name) => parts.contains(&name),
        None => path == pattern || path.starts_with(&format!("{pattern}/")),
    }
}

/// Whether `Env=[...]` lost variables (and changed PATH) but set nothing
/// new.
fn fewer_variables(before: &str, after: &str) -> bool {
    let env = |line: &str| -> Option<Vec<String>> {
        serde_json::from_str(line.strip_prefix("Env=")?).ok()
    };
    let (Some(before), Some(after)) = (env(before), env(after)) else {
        return false;
    };
    after
        .iter()
        .all(|v| v.starts_with("PATH=") || before.contains(v))
}

/// Whether `Cmd=["/bin/sh","-c","a b"]` became `Cmd=["a","b"]` (or the
/// same for Entrypoint).
fn same_words(before: &str, after: &str) -> bool {
    let split = |line: &str| -> Option<(String, Vec<String>)> {
        let (field, json) = line.split_once('=')?;
        let words: Vec<String> = serde_json::from_str(json).ok()?;
        Some((field.to_string(), words))
    };
    let (Some((field, shell)), Some((field_after, exec))) = (split(before), split(after)) else {
        return false;
    };
    field == field_after
        && matches!(field.as_str(), "Cmd" | "Entrypoint")
        && matches!(shell.as_slice(), [sh, c, line] if sh == "/bin/sh" && c == "-c"
            && line.split_whitespace().eq(exec.iter().map(String::as_str)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXEC_FORM: Meant = Meant {
        exec_form: true,
        split: false,
        ignored: &[],
    };
    const SPLIT: Meant = Meant {
        exec_form: false,
        split: true,
        ignored: &[],
    };

    #[test]
    fn what_new_ignore_lines_leave_out_may_be_gone_and_nothing_else() {
        let listing = |paths: &[&str]| Contents {
            config: vec![],
            app: Some((
                "/app".into(),
                paths
                    .iter()
                    .map(|p| format!("f 644 0:0 ./{p} -> "))
                    .collect(),
            )),
        };
        let mut before = listing(&[
            ".env",
            ".git",
            ".git/HEAD",
            "src/__pycache__/a.pyc",
            "app.js",
        ]);
        if let Some((_, lines)) = &mut before.app {
            lines.push("0123abcd  ./.env".into());
        }
        let after = listing(&["app.js"]);
        let lines = [".env".to_string(), ".git".into(), "**/__pycache__".into()];
        let meant = Meant {
            ignored: &lines,
            ..Meant::default()
        };
        assert!(before.differences(&after, &[], meant).is_empty());
        assert!(before.holds(".git") && !after.holds(".env"));
        // A file no line covers, gone or new, is a difference.
        assert_eq!(before.differences(&listing(&[]), &[], meant).len(), 1);
        assert_eq!(
            before
                .differences(&listing(&["app.js", "new.txt"]), &[], meant)
                .len(),
            1
        );
    }

    #[test]
    fn a_split_may_drop_sources_and_toolchain_variables_only() {
        let env = |vars: &str| format!("Env=[{vars}]");
        let before = Contents {
            config: vec![env(r#""PATH=/go/bin:/usr/bin","GOPATH=/go","MODE=prod""#)],
            app: Some(("/src".into(), vec!["f 644 0:0 ./main.go -> ".into()])),
        };
        let after = Contents {
            config: vec![env(r#""PATH=/usr/bin","MODE=prod""#)],
            app: Some(("/src".into(), vec![])),
        };
        assert!(before.differences(&after, &[], SPLIT).is_empty());
        assert_eq!(before.differences(&after, &[], Meant::default()).len(), 2);
        // A variable set anew, a changed value or a new file is a difference.
        let changed = Contents {
            config: vec![env(r#""PATH=/usr/bin","MODE=dev""#)],
            app: Some(("/src".into(), vec!["f 644 0:0 ./x -> ".into()])),
        };
        assert_eq!(before.differences(&changed, &[], SPLIT).len(), 2);
    }

    #[test]
    fn a_split_may_rewrite_npms_record_of_node_modules_only() {
        let lock = |sum: &str| format!("{sum}  ./node_modules/.package-lock.json");
        let before = contents(&[
            "abc  ./dist/main.js",
            &lock("111"),
            "def  ./node_modules/typescript/x.js",
        ]);
        let after = contents(&["abc  ./dist/main.js", &lock("222")]);
        assert!(before.differences(&after, &[], SPLIT).is_empty());
        assert_eq!(before.differences(&after, &[], Meant::default()).len(), 1);
        let rewritten = contents(&["abd  ./dist/main.js", &lock("222")]);
        assert_eq!(before.differences(&rewritten, &[], SPLIT).len(), 1);
    }

    fn contents(lines: &[&str]) -> Contents {
        Contents {
            config: vec!["Cmd=[\"node\"]".into()],
            app: Some(("/app".into(), lines.iter().map(|l| l.to_string()).collect())),
        }
    }

    #[test]
    fn the_same_files_and_configuration_are_equal() {
        let a = contents(&["f 644 0:0 ./a.js -> ", "abc  ./a.js"]);
        assert!(a.differences(&a.clone(), &[], Meant::default()).is_empty());
    }

    #[test]
    fn a_changed_checksum_mode_or_configuration_is_a_difference() {
        let a = contents(&["f 644 0:0 ./a.js -> ", "abc  ./a.js"]);
        let b = contents(&["f 644 0:0 ./a.js -> ", "abd  ./a.js"]);
        assert_eq!(a.differences(&b, &[], Meant::default()).len(), 1);
        let c = contents(&["f 755 0:0 ./a.js -> ", "abc  ./a.js"]);
        assert_eq!(a.differences(&c, &[], Meant::default()).len(), 1);
        let mut d = a.clone();
        d.config = vec!["Cmd=[\"sh\"]".into()];
        assert_eq!(a.differences(&d, &[], EXEC_FORM).len(), 1);
    }

    #[test]
    fn files_under_a_cache_mount_are_skipped() {
        let a = contents(&[
            "d 755 0:0 ./target -> ",
            "f 644 0:0 ./target/x -> ",
            "abc  ./target/x",
        ]);
        let b = contents(&[]);
        assert!(a
            .differences(&b, &["/app/target".into()], Meant::default())
            .is_empty());
        assert!(!a.differences(&b, &[], Meant::default()).is_empty());
    }

    #[test]
    fn the_exec_form_of_the_same_words_is_the_unsafe_fix() {
        let shell = Contents {
            config: vec![r#"Cmd=["/bin/sh","-c","npm start"]"#.into()],
            app: None,
        };
        let exec = Contents {
            config: vec![r#"Cmd=["npm","start"]"#.into()],
            app: None,
        };
        assert!(shell.differences(&exec, &[], EXEC_FORM).is_empty());
        assert_eq!(shell.differences(&exec, &[], Meant::default()).len(), 1);
        let other = Contents {
            config: vec![r#"Cmd=["npm","test"]"#.into()],
            app: None,
        };
        assert_eq!(shell.differences(&other, &[], EXEC_FORM).len(), 1);
    }
}
