//! Every corpus Dockerfile parses without panicking and round-trips byte for
//! byte through the syntax tree; fixing is idempotent and lossless.

mod common;

use dockfix::syntax::{parse, parse_lossless};

#[test]
fn corpus_round_trips_byte_for_byte() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let files = common::dockerfiles(&corpus);
    assert_eq!(files.len(), 255, "the corpus holds 255 Dockerfiles");
    let mut rejected = Vec::new();
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        // The tree covers every byte of every file, valid or not.
        let (file, errors) = parse_lossless(&bytes);
        let mut joined = Vec::with_capacity(bytes.len());
        let mut at = 0;
        for item in &file.items {
            assert_eq!(item.span.start, at, "{}: gap or overlap", path.display());
            joined.extend_from_slice(&bytes[item.span.clone()]);
            at = item.span.end;
        }
        assert!(joined == bytes, "{}: round trip differs", path.display());
        if let Some(error) = errors.first() {
            assert!(parse(&bytes).is_err());
            rejected.push(format!("{}: {error}", path.display()));
        }
    }
    // BuildKit rejects only its own test files: the 4 negative cases, and
    // 8 parser test files its instruction checks reject (pinned in
    // tests/buildkit_parity.rs).
    assert!(
        rejected.iter().all(|r| r.contains("buildkit-testfiles/"))
            && rejected
                .iter()
                .filter(|r| r.contains("testfiles-negative"))
                .count()
                == 4
            && rejected.len() == 12,
        "unexpected rejections:\n{}",
        rejected.join("\n")
    );
}

/// Fixing a fixed file changes nothing, with safe fixes only and with
/// unsafe ones too; comments, final newlines and CRLF line endings survive.
#[test]
fn fixing_is_idempotent_and_keeps_comments_and_line_endings() {
    use dockfix::engine::fix;
    let Some(corpus) = common::corpus() else {
        return;
    };
    let mut changed = 0;
    for settings in common::every_setting() {
        for path in common::dockerfiles(&corpus) {
            let bytes = std::fs::read(&path).unwrap();
            if parse(&bytes).is_err() {
                continue;
            }
            let once =
                fix(&bytes, &settings).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
            let twice = fix(&once.file.source, &settings).unwrap();
            assert!(
                twice.applied.is_empty(),
                "{}: a second run applied {:?}",
                path.display(),
                twice.applied
            );
            assert!(
                twice.file.source == once.file.source,
                "{}: not idempotent",
                path.display()
            );
            let out = &once.file.source;
            if *out != bytes {
                changed += 1;
            }
            // Fixes add and remove lines, each in the file's own style: a
            // file's kinds of line ending stay exactly the ones it had.
            let endings = |s: &[u8]| {
                let crlf = s.windows(2).filter(|w| *w == b"\r\n").count();
                let lf = s.iter().filter(|&&b| b == b'\n').count() - crlf;
                (crlf > 0, lf > 0)
            };
            assert_eq!(
                endings(out),
                endings(&bytes),
                "{}: CRLF changed",
                path.display()
            );
            assert_eq!(
                out.ends_with(b"\n"),
                bytes.ends_with(b"\n"),
                "{}: final newline",
                path.display()
            );
            let comments = |s: &[u8]| {
                s.split(|&b| b == b'\n')
                    .filter(|l| l.trim_ascii_start().starts_with(b"#"))
                    .count()
            };
            assert_eq!(
                comments(out),
                comments(&bytes),
                "{}: comment lines changed",
                path.display()
            );
        }
    }
    assert!(
        changed > 0,
        "no corpus file was changed: the test proves nothing"
    );
}

/// Every corpus file noted `manifest-before-source-missing` gets a DF101
/// finding: a fix, or the reason there is none. The note comes from a rough
/// scan; the one file it flags wrongly is pinned with why.
#[test]
fn files_that_install_after_copying_the_context_get_a_finding() {
    const ALREADY_CACHED: &[(&str, &str)] = &[(
        "LukeMathWalker__zero-to-production__Dockerfile",
        "cargo chef cook installs the crates before COPY . .",
    )];
    let Some(corpus) = common::corpus() else {
        return;
    };
    let manifest = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).unwrap();
    let noted: Vec<&str> = manifest
        .lines()
        .filter(|l| l.contains("manifest-before-source-missing"))
        .filter_map(|l| l.split('\t').nth(1))
        .collect();
    assert_eq!(noted.len(), 7);
    let rules = dockfix::rules::selection(&["DF101".into()], &[], Default::default(), &[]).unwrap();
    for file in noted {
        let source = std::fs::read(corpus.join(file)).unwrap();
        let parsed = parse(&source).unwrap();
        let settings = dockfix::engine::Settings {
            rules: rules.clone(),
            unsafe_fixes: false,
            build_context: None,
            companions: false,
            dockerfile: None,
            pins: None,
            ecosystems: None,
            runtime_images: &dockfix::config::NO_RUNTIME_IMAGES,
        };
        let findings = dockfix::engine::lint(&parsed, &settings);
        if ALREADY_CACHED.iter().any(|(name, _)| file.ends_with(name)) {
            assert!(findings.is_empty(), "{file}: {findings:?}");
            continue;
        }
        assert_eq!(findings.len(), 1, "{file}");
        let finding = &findings[0];
        assert!(
            finding.fix.is_some() || finding.message.contains("not fixed: "),
            "{file}: {}",
            finding.message
        );
    }
}

/// With `--cache-style mounts`, no RUN keeps both a cache mount and what
/// empties it or turns it off: the styles are alternatives. The defeats are
/// listed here, apart from the rules' own table, so the test can catch it.
#[test]
fn no_run_carries_a_cache_mount_and_its_cleanup() {
    use dockfix::engine::fix;
    use dockfix::rules::CacheStyle;
    // What defeats a mount whose target contains the key.
    const DEFEATS: &[(&str, &[&str])] = &[
        ("/var/cache/apt", &["apt-get clean", "apt clean"]),
        ("/var/cache/apk", &["--no-cache"]),
        ("/var/cache/dnf", &["dnf clean"]),
        ("/var/cache/yum", &["yum clean"]),
        ("/.cache/pip", &["--no-cache-dir", "pip cache purge"]),
        ("/.npm", &["npm cache clean"]),
        ("/yarn", &["yarn cache clean"]),
        ("/.cache/uv", &["--no-cache"]),
        ("/composer", &["--no-cache", "clear-cache"]),
        ("/go", &["go clean"]),
    ];
    let Some(corpus) = common::corpus() else {
        return;
    };
    let mut mounted = 0;
    for unsafe_fixes in [false, true] {
        let settings = common::all_rules(unsafe_fixes, CacheStyle::Mounts);
        for path in common::dockerfiles(&corpus) {
            let bytes = std::fs::read(&path).unwrap();
            if parse(&bytes).is_err() {
                continue;
            }
            let fixed = fix(&bytes, &settings).unwrap();
            let file = &fixed.file;
            for run in file.instructions().filter(|i| i.command.name == "run") {
                let args = String::from_utf8_lossy(&file.source[run.args_range()]).into_owned();
                let body: String = run
                    .heredocs
                    .iter()
                    .map(|h| String::from_utf8_lossy(&file.source[h.body.clone()]).into_owned())
                    .collect();
                let script = args + &body;
                // A mount lands among the flags, never in the shell (where
                // a fix merging the RUN into another could have moved it).
                assert!(
                    !script.contains("--mount="),
                    "{}: a mount inside the shell:\n{script}",
                    path.display()
                );
                for flag in run.command.flags.iter().filter(|f| f.name() == "mount") {
                    let value = flag.value().unwrap_or_default();
                    if !value.contains("type=cache") {
                        continue;
                    }
                    mounted += 1;
                    let target = value
                        .split(',')
                        .find_map(|f| f.strip_prefix("target="))
                        .unwrap_or_default()
                        .trim_end_matches('/');
                    let removes_target = script
                        .split(['&', ';', '|', '\n'])
                        .map(str::trim)
                        .filter(|c| c.starts_with("rm "))
                        .any(|c| {
                            c.split_whitespace().any(|w| {
                                w.trim_end_matches("/*") == target
                                    || w.starts_with(&format!("{target}/"))
                            })
                        });
                    assert!(
                        !removes_target,
                        "{}: a RUN removes its mount {target}:\n{script}",
                        path.display()
                    );
                    for (key, defeats) in DEFEATS {
                        if let Some(defeat) = defeats
                            .iter()
                            .find(|d| target.contains(key) && script.contains(**d))
                        {
                            panic!(
                                "{}: a RUN mounts {target} and runs `{defeat}`:\n{script}",
                                path.display()
                            );
                        }
                    }
                }
            }
        }
    }
    assert!(
        mounted > 50,
        "only {mounted} cache mounts: the test proves little"
    );
    eprintln!("{mounted} cache mounts checked");
}

/// Offline, every FROM that pulls `latest` (no tag, or that tag, also
/// through a global ARG's default) gets a DF401 finding, and nothing is
/// rewritten: no registry answered. The FROMs are read here plainly, apart
/// from the rules' own reading.
#[test]
fn every_latest_or_untagged_from_is_reported_and_none_rewritten_offline() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let expansion = regex::Regex::new(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?").unwrap();
    let rules = dockfix::rules::selection(
        &["DF401".into(), "DF402".into()],
        &[],
        Default::default(),
        &[],
    )
    .unwrap();
    let pins = dockfix::pin::Pins::new(dockfix::pin::PinMode::Both, true);
    let (mut floating, mut files) = (0, Vec::new());
    for path in common::sorted_entries(&corpus.join("real")) {
        let source = std::fs::read(&path).unwrap();
        let parsed = parse(&source).unwrap();
        let mut defaults = std::collections::HashMap::new();
        let mut stages: Vec<String> = Vec::new();
        let mut expected = Vec::new();
        for instruction in parsed.instructions() {
            let values = &instruction.command.values;
            match instruction.command.name.as_str() {
                "arg" if stages.is_empty() => {
                    for (name, value) in values.iter().filter_map(|v| v.split_once('=')) {
                        defaults.insert(name.to_string(), value.trim_matches('"').to_string());
                    }
                }
                "from" => {
                    let image = expansion.replace_all(&values[0], |c: &regex::Captures| {
                        defaults.get(&c[1]).cloned().unwrap_or_else(|| "$".into())
                    });
                    let stage = stages.contains(&image.to_lowercase());
                    if let [_, _, name, ..] = &values[..] {
                        stages.push(name.to_lowercase());
                    } else {
                        stages.push(String::new());
                    }
                    if stage || image.contains(['$', '@']) || image == "scratch" {
                        continue;
                    }
                    let tag = image
                        .rsplit_once(':')
                        .filter(|(_, tag)| !tag.contains('/'))
                        .map(|(_, tag)| tag);
                    if tag.is_none_or(|t| t == "latest") {
                        expected.push(parsed.line_col(instruction.span().start).0);
                    }
                }
                _ => {}
            }
        }
        let settings = dockfix::engine::Settings {
            rules: rules.clone(),
            unsafe_fixes: true,
            build_context: None,
            companions: false,
            dockerfile: None,
            pins: Some(&pins),
            ecosystems: None,
            runtime_images: &dockfix::config::NO_RUNTIME_IMAGES,
        };
        let findings = dockfix::engine::lint(&parsed, &settings);
        let reported: Vec<usize> = findings
            .iter()
            .filter(|f| f.rule.id == "DF401")
            .map(|f| parsed.line_col(f.range.start).0)
            .collect();
        for line in &expected {
            assert!(
                reported.contains(line),
                "{}:{line}: no DF401 finding",
                path.display()
            );
        }
        let fixed = dockfix::engine::fix(&source, &settings).unwrap();
        assert!(fixed.applied.is_empty(), "{}", path.display());
        assert_eq!(fixed.file.source, source, "{}", path.display());
        floating += expected.len();
        if !expected.is_empty() {
            files.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    // The corpus's own notes agree on which files pull `latest`.
    let manifest = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).unwrap();
    let noted: Vec<&str> = manifest
        .lines()
        .filter(|l| l.contains("latest-or-untagged-from") && l.contains("\treal/"))
        .filter_map(|l| l.split('\t').nth(1))
        .collect();
    assert_eq!(noted.len(), 17);
    for noted in noted {
        assert!(
            files.iter().any(|f| noted.ends_with(f.as_str())),
            "{noted} is noted as pulling latest"
        );
    }
    eprintln!(
        "{floating} FROM lines pull latest in {} of the real files",
        files.len()
    );
    assert!(floating >= 20, "only {floating}: the test proves little");
}
