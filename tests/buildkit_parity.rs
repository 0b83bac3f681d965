//! Parity with BuildKit's own parser tests: the AST dump of every
//! `testfiles/*/Dockerfile` equals its `result`, and every
//! `testfiles-negative` case is rejected. Those tests are of BuildKit's
//! parser alone; the files its instruction checks then reject are pinned.

mod common;

use dockfix::syntax::{dump::dump, parse, parse_ast};

#[test]
fn dumps_match_buildkit_results() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let dir = corpus.join("buildkit-testfiles/testfiles");
    let cases = common::sorted_entries(&dir);
    let mut failures = Vec::new();
    for case in &cases {
        let source = std::fs::read(case.join("Dockerfile")).unwrap();
        let expected = std::fs::read_to_string(case.join("result")).unwrap();
        let actual = match parse_ast(&source) {
            Ok(file) => dump(&file),
            Err(e) => format!("error: {e}\n"),
        };
        if actual != expected {
            failures.push(format!(
                "{}:\n--- expected\n{expected}--- actual\n{actual}",
                case.display()
            ));
        }
    }
    assert_eq!(cases.len(), 33, "BuildKit ships 33 positive cases");
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// BuildKit's parser accepts these test files, and its instruction checks
/// then reject them (as `docker build` does, checked with BuildKit v0.32).
const REJECTED_AFTER_PARSING: &[(&str, &str)] = &[
    ("flags", "3:1: unknown flag: --user"),
    ("health", "4:1: HEALTHCHECK requires at least one argument"),
    (
        "jeztah-invalid-json-json-inside-string",
        "1:1: no build stage in current context",
    ),
    (
        "jeztah-invalid-json-json-inside-string-double",
        "1:1: no build stage in current context",
    ),
    (
        "jeztah-invalid-json-single-quotes",
        "1:1: no build stage in current context",
    ),
    (
        "jeztah-invalid-json-unterminated-bracket",
        "1:1: no build stage in current context",
    ),
    (
        "jeztah-invalid-json-unterminated-string",
        "1:1: no build stage in current context",
    ),
    ("json", "1:1: no build stage in current context"),
];

#[test]
fn instruction_checks_reject_exactly_what_buildkit_does() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let mut rejected = Vec::new();
    for case in common::sorted_entries(&corpus.join("buildkit-testfiles/testfiles")) {
        let source = std::fs::read(case.join("Dockerfile")).unwrap();
        if let Err(e) = parse(&source) {
            let name = case.file_name().unwrap().to_string_lossy().into_owned();
            rejected.push((name, e.to_string()));
        }
    }
    let expected: Vec<(String, String)> = REJECTED_AFTER_PARSING
        .iter()
        .map(|(name, error)| (name.to_string(), error.to_string()))
        .collect();
    assert_eq!(rejected, expected);
}

#[test]
fn negative_cases_are_rejected() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let dir = corpus.join("buildkit-testfiles/testfiles-negative");
    let cases = common::sorted_entries(&dir);
    assert_eq!(cases.len(), 4);
    for case in cases {
        let source = std::fs::read(case.join("Dockerfile")).unwrap();
        let error = parse(&source).expect_err(&case.display().to_string());
        assert!(!error.message.is_empty());
    }
}

/// Through the CLI: exit 2 and `path:line:col: message` for each negative case.
#[test]
fn negative_cases_exit_2_with_a_located_error() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    for case in common::sorted_entries(&corpus.join("buildkit-testfiles/testfiles-negative")) {
        let path = case.join("Dockerfile");
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_dockfix"))
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{}", path.display());
        let stderr = String::from_utf8_lossy(&output.stderr);
        let located = format!("{}:", path.display());
        let line = stderr
            .lines()
            .find(|l| l.starts_with(&located))
            .unwrap_or_default();
        let rest: Vec<&str> = line[located.len().min(line.len())..]
            .splitn(3, ':')
            .collect();
        assert!(
            rest.len() == 3
                && rest[0].parse::<usize>().is_ok()
                && rest[1].parse::<usize>().is_ok()
                && !rest[2].trim().is_empty(),
            "{}: expected path:line:col: message, got {stderr:?}",
            path.display()
        );
    }
}

/// BuildKit's instruction checks, case by case: its own `instructions`
/// tests (`TestErrorCases`, `TestCommands*Argument`) and cases whose
/// message was read from BuildKit v0.32 (through tally). `FROM a` is
/// prepended to each, so line 2 is the case.
const INSTRUCTION_ERRORS: &[(&str, &str)] = &[
    ("COPY\t\n\t\tquux \\\n      bar", "COPY requires at least two arguments, but only one was provided. Destination could not be determined"),
    ("ADD arg1", "ADD requires at least two arguments, but only one was provided. Destination could not be determined"),
    ("ONBUILD FROM scratch", "FROM isn't allowed as an ONBUILD trigger"),
    ("onbuild maintainer me", "MAINTAINER isn't allowed as an ONBUILD trigger"),
    ("ONBUILD ONBUILD RUN touch foobar", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    ("MAINTAINER --boo joe@example.com", "unknown flag: --boo"),
    ("FOO bar", "unknown instruction: FOO (did you mean FROM?)"),
    ("foo bar", "unknown instruction: foo (did you mean from?)"),
    ("RUNN x", "unknown instruction: RUNN (did you mean RUN?)"),
    ("Froo x", "unknown instruction: Froo (did you mean from?)"),
    ("<<<<<<< HEAD", "unknown instruction: <<<<<<<"),
    ("MAINTAINER", "MAINTAINER requires exactly one argument"),
    ("WORKDIR", "WORKDIR requires exactly one argument"),
    ("USER", "USER requires exactly one argument"),
    ("STOPSIGNAL", "STOPSIGNAL requires exactly one argument"),
    ("ENV", "ENV requires at least one argument"),
    ("LABEL", "LABEL requires at least one argument"),
    ("ONBUILD", "ONBUILD requires at least one argument"),
    ("HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
    ("EXPOSE", "EXPOSE requires at least one argument"),
    ("VOLUME", "VOLUME requires at least one argument"),
    ("VOLUME []", "VOLUME requires at least one argument"),
    ("VOLUME [\"\"]", "VOLUME specified can not be an empty string"),
    ("ARG", "ARG requires at least one argument"),
    ("ARG =x", "ARG names can not be blank"),
    ("ENV =x", "ENV names can not be blank"),
    ("SHELL sh -c", "SHELL requires the arguments to be in JSON form"),
    ("SHELL []", "SHELL requires at least one argument"),
    ("COPY x <<EOF\nhi\nEOF", "COPY cannot accept a heredoc as a destination"),
    ("COPY --chmown=1 a b", "unknown flag: --chmown (did you mean chown?)"),
    ("ADD --from=x a b", "unknown flag: --from"),
    ("COPY --from=a --from=b a b", "duplicate flag specified: --from"),
    ("COPY --from a b", "missing a value on flag: --from"),
    ("COPY --link= a b", "missing a value on flag: --link"),
    ("COPY --link=yes a b", "expecting boolean value for flag --link, not: yes"),
    ("ENV --x=1 a=b", "unknown flag: --x"),
    ("CMD --x a", "unknown flag: --x"),
    ("RUN --mout=type=cache,target=/x x", "unknown flag: --mout (did you mean mount?)"),
    ("RUN --mount x", "missing a value on flag: --mount"),
    ("RUN --network=foo x", "invalid network mode \"foo\""),
    ("RUN --network= x", "invalid network mode \"\""),
    ("RUN --security=foo x", "security \"foo\" is not valid"),
    ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
    ("HEALTHCHECK FOO x", "Unknown type \"FOO\" in HEALTHCHECK (try CMD)"),
    ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
    ("HEALTHCHECK CMD []", "Missing command after HEALTHCHECK CMD"),
    ("HEALTHCHECK --interval=5 CMD x", "time: missing unit in duration \"5\""),
    ("HEALTHCHECK --interval=1.5.5s CMD x", "time: missing unit in duration \"1.5.5s\""),
    ("HEALTHCHECK --interval=5d CMD x", "time: unknown unit \"d\" in duration \"5d\""),
    ("HEALTHCHECK --interval=1us CMD x", "Interval \"interval\" cannot be less than 1ms"),
    ("HEALTHCHECK --timeout=-5s CMD x", "Interval \"timeout\" cannot be less than 1ms"),
    ("HEALTHCHECK --retries=x CMD x", "strconv.ParseInt: parsing \"x\": invalid syntax"),
    ("HEALTHCHECK --retries=99999999999 CMD x", "strconv.ParseInt: parsing \"99999999999\": value out of range"),
    ("HEALTHCHECK --retries=-1 CMD x", "--retries cannot be negative (-1)"),
    ("FROM", "FROM requires either one or three arguments"),
    ("FROM a AS b c", "FROM requires either one or three arguments"),
    ("FROM a AS 1x", "invalid name for build stage: \"1x\", name can't start with a number or contain symbols"),
    ("FROM --plaform=x a", "unknown flag: --plaform (did you mean platform?)"),
    ("FROM --platform a", "missing a value on flag: --platform"),
];

/// Instructions BuildKit accepts that a stricter reading might not.
const ACCEPTED: &[&str] = &[
    "from a AS Build_1.x-y\nrun x\ncopy a b\nonbuild run x",
    "MAINTAINER me <me@example.com>",
    // A trigger is only read by the build that uses the image.
    "ONBUILD FOO bar",
    // BuildKit reads no flags for these.
    "STOPSIGNAL --x=1 TERM",
    "ARG --x=1 a",
    "HEALTHCHECK --foo=1 NONE",
    "HEALTHCHECK --interval=1m30s --timeout=0s --start-interval=.5s --retries=3 CMD curl x",
    "COPY --parents --exclude=a --exclude=b --link -- a b",
    "ADD --checksum=sha256:x --unpack=true --keep-git-dir a b",
    "RUN --mount=type=cache,target=/x --network=none --security=insecure --device=x true",
    "RUN",
    "CMD",
    "ENTRYPOINT",
    "USER a b",
    "CMD [\"--x\"]",
    // A heredoc body is not instructions.
    "RUN <<EOF\nFOO bar\n<<<<<<< x\nEOF",
];

#[test]
fn instruction_errors_match_buildkit() {
    let mut failures = Vec::new();
    for (case, expected) in INSTRUCTION_ERRORS {
        let source = format!("FROM a\n{case}\n");
        let expected = format!("2:1: {expected}");
        match parse(source.as_bytes()) {
            Err(e) if e.to_string() == expected => {}
            Err(e) => failures.push(format!("{case:?}: {e}, expected {expected}")),
            Ok(_) => failures.push(format!("{case:?}: accepted, expected {expected}")),
        }
    }
    for case in ACCEPTED {
        if let Err(e) = parse(format!("FROM a\n{case}\n").as_bytes()) {
            failures.push(format!("{case:?}: rejected: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn stages_are_checked_as_buildkit_does() {
    let error = |source: &str| parse(source.as_bytes()).unwrap_err().to_string();
    assert_eq!(
        error("ARG a=1\nRUN x\nFROM a\n"),
        "2:1: no build stage in current context"
    );
    assert_eq!(
        error("ARG a=1\n"),
        "1:1: dockerfile contains no stages to build"
    );
    assert!(parse(b"ARG a=1\nFROM a\nARG b\nRUN x\n").is_ok());
    // With a backtick escape, a keyword on a continued line is found.
    assert_eq!(
        error("# escape=`\nFROM a\nRUN a `\n  b\nFOO x\n"),
        "5:1: unknown instruction: FOO (did you mean FROM?)"
    );
}
