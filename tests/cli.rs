//! End-to-end tests of the `dockfix` binary: each test builds a small tree in
//! a temporary directory, runs the built executable there and checks its
//! output, exit code and the files it leaves behind.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;
use tempfile::TempDir;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dockfix"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn finish(mut cmd: Command, input: Option<&[u8]>) -> Run {
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().expect("dockfix starts");
    if let Some(input) = input {
        // dockfix may refuse the run before it reads its input: the pipe is
        // then closed, and the exit status is what the test checks.
        let written = child.stdin.take().expect("piped stdin").write_all(input);
        if let Err(e) = written {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
    }
    let out = child.wait_with_output().expect("dockfix finishes");
    Run {
        code: out.status.code().expect("dockfix exited normally"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// Runs dockfix in `dir` with stdin closed and NO_COLOR unset.
fn dockfix(dir: &Path, args: &[&str]) -> Run {
    finish(command(dir, args), None)
}

fn dockfix_stdin(dir: &Path, args: &[&str], input: &str) -> Run {
    finish(command(dir, args), Some(input.as_bytes()))
}

fn dockfix_env(dir: &Path, args: &[&str], key: &str, value: &str) -> Run {
    let mut cmd = command(dir, args);
    cmd.env(key, value);
    finish(cmd, None)
}

fn tree(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, contents) in files {
        put(dir.path(), path, contents);
    }
    dir
}

fn put(dir: &Path, path: &str, contents: &str) {
    let path = dir.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, contents).unwrap();
}

fn read(dir: &Path, path: &str) -> String {
    fs::read_to_string(dir.join(path)).unwrap()
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", run.stdout))
}

/// Two safe fixes: the ADD source exists next to the Dockerfile and the stage
/// starts `FROM scratch`.
const FIXABLE: &str = "FROM scratch\nADD app.txt /app/\nCMD prog arg\n";
const FIXED: &str = "FROM scratch\nCOPY app.txt /app/\nCMD [\"prog\", \"arg\"]\n";
/// One finding with only an unsafe fix.
const UNSAFE_ONLY: &str = "FROM debian:bookworm\nCMD prog\n";
const CLEAN: &str = "FROM scratch\nCOPY app.txt /app/\nCMD [\"prog\"]\n";
/// One safe DF002 fix, no build context needed.
const ONE_FIX: &str = "FROM scratch\nCMD prog\n";
const ONE_FIXED: &str = "FROM scratch\nCMD [\"prog\"]\n";

const ADD_MSG: &str = "ADD of local files or directories: use COPY";
const CMD_MSG: &str = "shell-form CMD: use the JSON exec form so the program receives signals";

// ---------------------------------------------------------------- lint

#[test]
fn lint_prints_findings_as_path_line_col_rule_message_and_exits_1() {
    let dir = tree(&[("Dockerfile", FIXABLE), ("app.txt", "hi\n")]);
    let run = dockfix(dir.path(), &["Dockerfile"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!("Dockerfile:2:1: DF001 [*] {ADD_MSG}\nDockerfile:3:1: DF002 [*] {CMD_MSG}\n")
    );
    assert_eq!(run.stderr, "2 findings in 1 file; 2 fixable with --write\n");
}

#[test]
fn lint_exits_0_and_prints_no_findings_for_a_clean_file() {
    let dir = tree(&[("Dockerfile", CLEAN), ("app.txt", "hi\n")]);
    let run = dockfix(dir.path(), &["Dockerfile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, "0 findings in 1 file; 0 fixable with --write\n");
}

#[test]
fn lint_omits_fix_marker_for_unsafe_fix_and_counts_it_in_summary() {
    let dir = tree(&[("Dockerfile", UNSAFE_ONLY)]);
    let run = dockfix(dir.path(), &["Dockerfile"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.starts_with(&format!(
            "Dockerfile:2:1: DF002 {CMD_MSG}; the fix is unsafe: "
        )),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("[*]"));
    assert_eq!(
        run.stderr,
        "1 finding in 1 file; 0 fixable with --write (1 more with --unsafe)\n"
    );
}

#[test]
fn lint_summary_names_the_flags_that_fix_under_unsafe() {
    let dir = tree(&[("Dockerfile", UNSAFE_ONLY)]);
    let run = dockfix(dir.path(), &["--unsafe", "Dockerfile"]);
    assert!(run.stdout.contains("[*]"), "{}", run.stdout);
    assert_eq!(
        run.stderr,
        "1 finding in 1 file; 1 fixable with --write --unsafe\n"
    );
}

#[test]
fn lint_column_counts_indentation_before_the_keyword() {
    let dir = tree(&[("Dockerfile", "FROM scratch\n   CMD prog\n")]);
    let run = dockfix(dir.path(), &["Dockerfile"]);
    assert_eq!(run.stdout, format!("Dockerfile:2:4: DF002 [*] {CMD_MSG}\n"));
}

#[test]
fn lint_does_not_modify_the_file() {
    let dir = tree(&[("Dockerfile", FIXABLE), ("app.txt", "hi\n")]);
    dockfix(dir.path(), &["Dockerfile"]);
    assert_eq!(read(dir.path(), "Dockerfile"), FIXABLE);
}

// ---------------------------------------------------------------- --diff

#[test]
fn diff_prints_unified_diff_and_exits_1_without_touching_the_file() {
    let dir = tree(&[("Dockerfile", FIXABLE), ("app.txt", "hi\n")]);
    let run = dockfix(dir.path(), &["--diff", "Dockerfile"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "--- a/Dockerfile\n+++ b/Dockerfile\n@@ -1,3 +1,3 @@\n FROM scratch\n\
         -ADD app.txt /app/\n-CMD prog arg\n+COPY app.txt /app/\n+CMD [\"prog\", \"arg\"]\n"
    );
    assert_eq!(run.stderr, "1 file would be rewritten, 2 fixes\n");
    assert_eq!(read(dir.path(), "Dockerfile"), FIXABLE);
}

#[test]
fn diff_exits_0_with_empty_output_when_nothing_would_change() {
    let dir = tree(&[("Dockerfile", UNSAFE_ONLY)]);
    let run = dockfix(dir.path(), &["--diff", "Dockerfile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "0 files would be rewritten, 0 fixes, 1 file left unchanged\n"
    );
}

#[test]
fn diff_shows_three_lines_of_context() {
    let dir = tree(&[(
        "Dockerfile",
        "FROM scratch\nLABEL a=1\nLABEL b=2\nLABEL c=3\nLABEL d=4\nLABEL e=5\nCMD prog\n",
    )]);
    let run = dockfix(dir.path(), &["--diff", "Dockerfile"]);
    assert_eq!(
        run.stdout,
        "--- a/Dockerfile\n+++ b/Dockerfile\n@@ -4,4 +4,4 @@\n LABEL c=3\n LABEL d=4\n\
         \x20LABEL e=5\n-CMD prog\n+CMD [\"prog\"]\n"
    );
}

#[test]
fn diff_marks_a_missing_final_newline() {
    let dir = tree(&[("Dockerfile", "FROM scratch\nCMD prog")]);
    let run = dockfix(dir.path(), &["--diff", "Dockerfile"]);
    assert_eq!(
        run.stdout,
        "--- a/Dockerfile\n+++ b/Dockerfile\n@@ -1,2 +1,2 @@\n FROM scratch\n-CMD prog\n\
         \\ No newline at end of file\n+CMD [\"prog\"]\n\\ No newline at end of file\n"
    );
}

#[test]
fn diff_color_always_emits_ansi_escapes_when_piped() {
    let dir = tree(&[("Dockerfile", ONE_FIX)]);
    let run = dockfix(dir.path(), &["--diff", "--color", "always", "Dockerfile"]);
    assert!(
        run.stdout.contains("\x1b[31m-CMD prog\x1b[0m"),
        "{:?}",
        run.stdout
    );
    assert!(
        run.stdout.contains("\x1b[32m+CMD [\"prog\"]\x1b[0m"),
        "{:?}",
        run.stdout
    );
}

#[test]
fn diff_color_always_wins_over_no_color() {
    let dir = tree(&[("Dockerfile", ONE_FIX)]);
    let run = dockfix_env(
        dir.path(),
        &["--diff", "--color", "always", "Dockerfile"],
        "NO_COLOR",
        "1",
    );
    assert!(run.stdout.contains("\x1b[31m"), "{:?}", run.stdout);
}

#[test]
fn diff_color_never_emits_no_escapes() {
    let dir = tree(&[("Dockerfile", ONE_FIX)]);
    let run = dockfix(dir.path(), &["--diff", "--color", "never", "Dockerfile"]);
    assert!(run.stdout.contains("-CMD prog\n"), "{:?}", run.stdout);
    assert!(!run.stdout.contains('\x1b'), "{:?}", run.stdout);
}

#[test]
fn diff_color_auto_is_plain_when_piped_with_or_without_no_color() {
    let dir = tree(&[("Dockerfile", ONE_FIX)]);
    for run in [
        dockfix(dir.path(), &["--diff", "Dockerfile"]),
        dockfix(dir.path(), &["--diff", "--color", "auto", "Dockerfile"]),
        dockfix_env(
            dir.path(),
            &["--diff", "--color", "auto", "Dockerfile"],
            "NO_COLOR",
            "1",
        ),
    ] {
        assert!(run.stdout.contains("-CMD prog\n"), "{:?}", run.stdout);
        assert!(!run.stdout.contains('\x1b'), "{:?}", run.stdout);
    }
}

/// Runs dockfix with stdout on a fresh pseudo-terminal and returns what it
/// printed there (the terminal turns `\n` into `\r\n`).
#[cfg(target_os = "linux")]
fn dockfix_on_tty(dir: &Path, args: &[&str], no_color: Option<&str>) -> String {
    let mut cmd = command(dir, args);
    if let Some(value) = no_color {
        cmd.env("NO_COLOR", value);
    }
    common::on_tty(cmd, common::Tty::Stdout)
}

#[cfg(target_os = "linux")]
#[test]
fn diff_color_auto_colours_on_a_terminal() {
    let dir = tree(&[("Dockerfile", ONE_FIX)]);
    let out = dockfix_on_tty(dir.path(), &["--diff", "Dockerfile"], None);
    assert!(out.contains("\x1b[31m-CMD prog\x1b[0m"), "{out:?}");
}

#[cfg(target_os = "linux")]
#[test]
fn diff_color_auto_respects_no_color_on_a_terminal() {
    let dir = tree(&[("Dockerfile", ONE_FIX)]);
    let out = dockfix_on_tty(dir.path(), &["--diff", "Dockerfile"], Some("1"));
    assert!(out.contains("-CMD prog"), "{out:?}");
    assert!(!out.contains('\x1b'), "{out:?}");
}

#[cfg(target_os = "linux")]
#[test]
fn diff_color_auto_treats_empty_no_color_as_unset_on_a_terminal() {
    let dir = tree(&[("Dockerfile", ONE_FIX)]);
    let out = dockfix_on_tty(dir.path(), &["--diff", "Dockerfile"], Some(""));
    assert!(out.contains("\x1b[31m-CMD prog\x1b[0m"), "{out:?}");
}

#[cfg(target_os = "linux")]
#[test]
fn diff_color_never_is_plain_on_a_terminal() {
    let dir = tree(&[("Dockerfile", ONE_FIX)]);
    let out = dockfix_on_tty(
        dir.path(),
        &["--diff", "--color", "never", "Dockerfile"],
        None,
    );
    assert!(out.contains("-CMD prog"), "{out:?}");
    assert!(!out.contains('\x1b'), "{out:?}");
}

// ---------------------------------------------------------------- --write

#[test]
fn write_applies_fixes_in_place_and_prints_plural_summary() {
    let dir = tree(&[
        ("a.Dockerfile", FIXABLE),
        ("b.Dockerfile", ONE_FIX),
        ("app.txt", "hi\n"),
    ]);
    let run = dockfix(dir.path(), &["--write", "a.Dockerfile", "b.Dockerfile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, "2 files rewritten, 3 fixes\n");
    assert_eq!(read(dir.path(), "a.Dockerfile"), FIXED);
    assert_eq!(read(dir.path(), "b.Dockerfile"), ONE_FIXED);
}

#[test]
fn write_summary_uses_singular_forms() {
    let dir = tree(&[("Dockerfile", ONE_FIX)]);
    let run = dockfix(dir.path(), &["--write", "Dockerfile"]);
    assert_eq!(run.code, 0);
    assert_eq!(run.stderr, "1 file rewritten, 1 fix\n");
}

#[test]
fn write_replaces_the_file_by_rename_and_leaves_no_temp_file() {
    let dir = tree(&[("Dockerfile", ONE_FIX)]);
    let before = fs::metadata(dir.path().join("Dockerfile")).unwrap().ino();
    dockfix(dir.path(), &["--write", "Dockerfile"]);
    let after = fs::metadata(dir.path().join("Dockerfile")).unwrap().ino();
    assert_ne!(
        before, after,
        "rewritten in place instead of temp file + rename"
    );
    assert_eq!(read(dir.path(), "Dockerfile"), ONE_FIXED);
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["Dockerfile"]);
}

fn assert_write_keeps_mode(mode: u32) {
    let dir = tree(&[("Dockerfile", ONE_FIX)]);
    let path = dir.path().join("Dockerfile");
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    let run = dockfix(dir.path(), &["--write", "Dockerfile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(read(dir.path(), "Dockerfile"), ONE_FIXED);
    let kept = fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
    assert_eq!(kept, mode, "mode {kept:o} instead of {mode:o}");
}

#[test]
fn write_keeps_executable_mode_0755() {
    assert_write_keeps_mode(0o755);
}

#[test]
fn write_keeps_private_mode_0600() {
    assert_write_keeps_mode(0o600);
}

#[test]
fn write_keeps_group_readable_mode_0640() {
    // Neither the temp file default (0600) nor the usual umask result (0644).
    assert_write_keeps_mode(0o640);
}

#[test]
fn write_keeps_crlf_line_endings_and_comments() {
    let dir = tree(&[
        (
            "Dockerfile",
            "FROM scratch\r\n# keep me\r\nADD app.txt /app/\r\nCMD prog arg\r\n",
        ),
        ("app.txt", "hi\n"),
    ]);
    let run = dockfix(dir.path(), &["--write", "Dockerfile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        read(dir.path(), "Dockerfile"),
        "FROM scratch\r\n# keep me\r\nCOPY app.txt /app/\r\nCMD [\"prog\", \"arg\"]\r\n"
    );
}

#[test]
fn write_never_turns_bytes_that_are_not_utf8_into_replacement_characters() {
    // A Latin-1 comment above an install the ordering rule would move: the
    // moved text is built as UTF-8, so that fix is reported, not applied,
    // while the cleanup (which writes only new text) still is.
    let dir = tree(&[]);
    let original: &[u8] =
        b"FROM debian:bookworm\nCOPY . /app\n# caf\xe9 tools\nRUN apt-get update && apt-get install -y curl\n";
    std::fs::write(dir.path().join("Dockerfile"), original).unwrap();
    let run = dockfix(dir.path(), &["--write", "Dockerfile"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("not fixed: the fix would rewrite bytes that are not UTF-8"),
        "{}",
        run.stderr
    );
    let written = std::fs::read(dir.path().join("Dockerfile")).unwrap();
    assert_eq!(
        written,
        b"FROM debian:bookworm\nCOPY . /app\n# caf\xe9 tools\nRUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n"
    );
}

#[test]
fn an_appended_command_is_indented_with_blanks_the_shell_skips() {
    // A no-break space is no blank to the shell: `\u{a0} npm cache clean`
    // runs a program named U+00A0, so DF213 appends the real clean, and must
    // not copy that indent (the copy would run U+00A0 again, round after
    // round, until dockfix gave up).
    let dir = tree(&[(
        "Dockerfile",
        "FROM node:20\nRUN npm ci && \\\n\u{a0} npm cache clean --force\n",
    )]);
    let run = dockfix(dir.path(), &["--write", "Dockerfile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        read(dir.path(), "Dockerfile"),
        "FROM node:20\nRUN npm ci && \\\n\u{a0} npm cache clean --force \\\n    && npm cache clean --force\n"
    );
}

#[test]
fn no_cache_mount_names_a_directory_buildkit_would_misread() {
    // BuildKit reads `--mount=...,target=/éhome/...` byte by byte and mounts
    // at `/Ã©home/...`: the mount would miss the cache, and dockfix, reading
    // the flag as BuildKit does, added it again every round.
    assert_fix_refused(
        "FROM golang:1.22\nENV HOME=/\u{e9}home/builder\nRUN go build -o /tmp/app .\n",
        &["--cache-style", "mounts"],
        "not fixed: BuildKit reads `--mount` values byte by byte",
    );
}

#[test]
fn no_cache_mount_where_buildkit_would_not_read_it_as_a_flag() {
    // BuildKit takes flags from just after the blanks that follow `RUN`; a
    // U+2028 there starts the command, so a mount after it would be the
    // command's first word (and dockfix, reading it as BuildKit does, added
    // it again every round).
    assert_fix_refused(
        "FROM gradle:8.10-jdk21\nRUN \\\n\u{2028} gradle build --no-daemon\n",
        &["--cache-style", "mounts"],
        "not fixed: the command starts with a character BuildKit does not skip before flags",
    );
}

#[test]
fn flags_are_not_added_to_a_shell_dockfix_cannot_read() {
    // The unterminated backtick makes the script's parse recover: the last
    // word's range then runs to the end of the script, and an edit at its
    // end once landed on the heredoc's terminator line.
    assert_fix_refused(
        "FROM debian:bookworm\nRUN <<EOF\napt-get update\napt-get install -y curl`\nEOF\n",
        &["--unsafe"],
        "not fixed: dockfix cannot read this RUN's shell",
    );
}

/// `--write` with `options` reports `reason` for a fix it does not apply,
/// exits 1 and leaves `original` as it was.
fn assert_fix_refused(original: &str, options: &[&str], reason: &str) {
    let dir = tree(&[("Dockerfile", original)]);
    let args: Vec<&str> = ["--write"]
        .into_iter()
        .chain(options.iter().copied())
        .chain(["Dockerfile"])
        .collect();
    let run = dockfix(dir.path(), &args);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains(reason), "{}", run.stderr);
    assert_eq!(read(dir.path(), "Dockerfile"), original);
}

#[test]
fn write_keeps_a_missing_final_newline() {
    let dir = tree(&[("Dockerfile", "FROM scratch\nCMD prog arg")]);
    dockfix(dir.path(), &["--write", "Dockerfile"]);
    assert_eq!(
        read(dir.path(), "Dockerfile"),
        "FROM scratch\nCMD [\"prog\", \"arg\"]"
    );
}

#[test]
fn write_twice_changes_nothing_the_second_time() {
    let dir = tree(&[
        (
            "Dockerfile",
            "FROM scratch\r\nADD app.txt /app/\r\nCMD prog arg",
        ),
        ("app.txt", "hi\n"),
    ]);
    dockfix(dir.path(), &["--write", "Dockerfile"]);
    let once = fs::read(dir.path().join("Dockerfile")).unwrap();
    let run = dockfix(dir.path(), &["--write", "Dockerfile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "0 files rewritten, 0 fixes, 1 file left unchanged\n"
    );
    assert_eq!(fs::read(dir.path().join("Dockerfile")).unwrap(), once);
}

#[test]
fn write_exits_1_and_reports_findings_left_unfixed() {
    let dir = tree(&[("Dockerfile", UNSAFE_ONLY)]);
    let run = dockfix(dir.path(), &["--write", "Dockerfile"]);
    assert_eq!(run.code, 1);
    let stderr = lines(&run.stderr);
    assert_eq!(stderr.len(), 2, "{}", run.stderr);
    assert!(
        stderr[0].starts_with(&format!(
            "Dockerfile:2:1: DF002 {CMD_MSG}; the fix is unsafe"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(
        stderr[1],
        "0 files rewritten, 0 fixes, 1 file left unchanged"
    );
    assert_eq!(read(dir.path(), "Dockerfile"), UNSAFE_ONLY);
}

#[test]
fn write_follows_a_symlink_and_keeps_the_link() {
    let dir = tree(&[("real/Dockerfile", ONE_FIX)]);
    std::os::unix::fs::symlink("real/Dockerfile", dir.path().join("Dockerfile")).unwrap();
    let run = dockfix(dir.path(), &["--write", "Dockerfile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let link = fs::symlink_metadata(dir.path().join("Dockerfile")).unwrap();
    assert!(link.file_type().is_symlink());
    assert_eq!(read(dir.path(), "real/Dockerfile"), ONE_FIXED);
}

// ---------------------------------------------------------------- --check

#[test]
fn check_prints_only_paths_that_would_change_and_exits_1() {
    let dir = tree(&[
        ("a.Dockerfile", ONE_FIX),
        ("b.Dockerfile", UNSAFE_ONLY),
        ("c.Dockerfile", FIXABLE),
        ("app.txt", "hi\n"),
    ]);
    let run = dockfix(
        dir.path(),
        &["--check", "a.Dockerfile", "b.Dockerfile", "c.Dockerfile"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stdout, "a.Dockerfile\nc.Dockerfile\n");
    assert_eq!(
        run.stderr,
        "2 files would be rewritten, 1 file left unchanged\n"
    );
    assert_eq!(read(dir.path(), "a.Dockerfile"), ONE_FIX);
    assert_eq!(read(dir.path(), "c.Dockerfile"), FIXABLE);
}

#[test]
fn check_exits_0_and_prints_nothing_when_nothing_would_change() {
    let dir = tree(&[("Dockerfile", UNSAFE_ONLY)]);
    let run = dockfix(dir.path(), &["--check", "Dockerfile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "");
}

// ---------------------------------------------------------------- stdin

#[test]
fn stdin_lint_reports_under_stdin_filename() {
    let dir = tree(&[]);
    let run = dockfix_stdin(
        dir.path(),
        &["--stdin-filename", "web/Dockerfile", "-"],
        ONE_FIX,
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stdout,
        format!("web/Dockerfile:2:1: DF002 [*] {CMD_MSG}\n")
    );
}

#[test]
fn stdin_without_stdin_filename_is_reported_as_dash() {
    let dir = tree(&[]);
    let run = dockfix_stdin(dir.path(), &["-"], ONE_FIX);
    assert_eq!(run.stdout, format!("-:2:1: DF002 [*] {CMD_MSG}\n"));
}

#[test]
fn stdin_diff_uses_stdin_filename_in_headers() {
    let dir = tree(&[]);
    let run = dockfix_stdin(
        dir.path(),
        &["--diff", "--stdin-filename", "web/Dockerfile", "-"],
        ONE_FIX,
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stdout,
        "--- a/web/Dockerfile\n+++ b/web/Dockerfile\n@@ -1,2 +1,2 @@\n FROM scratch\n\
         -CMD prog\n+CMD [\"prog\"]\n"
    );
}

#[test]
fn stdin_write_prints_the_rewritten_text_on_stdout() {
    let dir = tree(&[]);
    let run = dockfix_stdin(
        dir.path(),
        &["--write", "--stdin-filename", "web/Dockerfile", "-"],
        ONE_FIX,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, ONE_FIXED);
    assert_eq!(run.stderr, "1 file rewritten, 1 fix\n");
}

#[test]
fn stdin_has_no_build_context_so_add_fix_is_unsafe() {
    // app.txt sits in the working directory, but stdin has no context.
    let dir = tree(&[("app.txt", "hi\n")]);
    let run = dockfix_stdin(dir.path(), &["-"], "FROM scratch\nADD app.txt /app/\n");
    assert_eq!(
        run.stdout,
        format!(
            "-:2:1: DF001 {ADD_MSG}; the fix is unsafe: there is no build context to check \
             the sources for archives\n"
        )
    );
}

#[test]
fn stdin_with_context_flag_makes_add_fix_safe() {
    let dir = tree(&[("ctx/app.txt", "hi\n")]);
    let run = dockfix_stdin(
        dir.path(),
        &["--context", "ctx", "-"],
        "FROM scratch\nADD app.txt /app/\n",
    );
    assert_eq!(run.stdout, format!("-:2:1: DF001 [*] {ADD_MSG}\n"));
}

// ---------------------------------------------------------------- walking

fn reported_paths(run: &Run) -> BTreeSet<String> {
    run.stdout
        .lines()
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect()
}

#[test]
fn walk_finds_dockerfile_name_patterns_only() {
    let names = [
        "Dockerfile",
        "Containerfile",
        "api.Dockerfile",
        "web.dockerfile",
        "Dockerfile.dev",
        "Dockerfile-prod",
        "owner__repo__Dockerfile",
        "Dockerfile.dockerignore",
        "README.md",
        "dockerfile-lint",
        "Makefile",
    ];
    let files: Vec<(&str, &str)> = names.iter().map(|n| (*n, ONE_FIX)).collect();
    let dir = tree(&files);
    let run = dockfix(dir.path(), &["."]);
    let expected: BTreeSet<String> = [
        "Containerfile",
        "Dockerfile",
        "Dockerfile-prod",
        "Dockerfile.dev",
        "api.Dockerfile",
        "owner__repo__Dockerfile",
        "web.dockerfile",
    ]
    .map(String::from)
    .into();
    assert_eq!(reported_paths(&run), expected, "{}", run.stdout);
}

/// Runs dockfix as an unprivileged user (`nobody` when the tests run as
/// root, whom permissions do not stop).
fn dockfix_unprivileged(dir: &Path, args: &[&str]) -> Run {
    if fs::metadata("/proc/self").unwrap().uid() != 0 {
        return dockfix(dir, args);
    }
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_dockfix"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    finish(cmd, None)
}

#[test]
fn unreadable_directories_are_errors_given_or_met_in_a_walk() {
    let dir = tree(&[("ok/Dockerfile", ONE_FIX), ("locked/Dockerfile", ONE_FIX)]);
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(dir.path().join("ok"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(dir.path().join("locked"), fs::Permissions::from_mode(0o000)).unwrap();
    let walked = dockfix_unprivileged(dir.path(), &["--check", "."]);
    let given = dockfix_unprivileged(dir.path(), &["--check", "locked"]);
    fs::set_permissions(dir.path().join("locked"), fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(walked.code, 2, "{}", walked.stderr);
    assert_eq!(walked.stdout, "ok/Dockerfile\n");
    assert_eq!(
        walked.stderr,
        "locked: permission denied\n1 file would be rewritten\n"
    );
    assert_eq!(given.code, 2, "{}", given.stderr);
    assert_eq!(
        given.stderr,
        "locked: permission denied\n0 files would be rewritten\n"
    );
}

#[test]
fn symlink_loops_and_fifos_are_named_as_such() {
    let dir = tree(&[("svc/Dockerfile", ONE_FIX)]);
    std::os::unix::fs::symlink("loop", dir.path().join("loop")).unwrap();
    std::os::unix::fs::symlink("Dockerfile", dir.path().join("svc/api.Dockerfile")).unwrap();
    std::os::unix::fs::symlink("web.Dockerfile", dir.path().join("svc/web.Dockerfile")).unwrap();
    mkfifo(&dir.path().join("svc/Dockerfile.fifo"));
    let run = dockfix(dir.path(), &["--check", "loop", "svc"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(lines(&run.stdout), ["svc/Dockerfile"]);
    assert_eq!(
        lines(&run.stderr),
        [
            "loop: a loop of symbolic links",
            "svc/Dockerfile.fifo: not a regular file (a FIFO)",
            "svc/web.Dockerfile: a loop of symbolic links",
            "1 file would be rewritten",
        ]
    );
}

#[test]
fn a_walk_that_finds_nothing_says_so() {
    let dir = tree(&[
        ("docs/README.md", "hi\n"),
        ("Dockerfile", CLEAN),
        ("app.txt", ""),
    ]);
    let run = dockfix(dir.path(), &["--check", "docs"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "dockfix: warning: no Dockerfiles in docs, nothing checked\n\
         0 files would be rewritten\n"
    );
    let lint = dockfix(dir.path(), &["docs", "Dockerfile"]);
    assert_eq!(lint.code, 0, "{}", lint.stderr);
    assert_eq!(
        lint.stderr,
        "dockfix: warning: no Dockerfiles in docs, nothing checked\n\
         0 findings in 1 file; 0 fixable with --write\n"
    );
}

#[test]
fn walk_defaults_to_current_directory_without_dot_slash_prefix() {
    let dir = tree(&[("Dockerfile", ONE_FIX), ("sub/Dockerfile", ONE_FIX)]);
    let run = dockfix(dir.path(), &[]);
    assert_eq!(run.code, 1);
    assert_eq!(
        lines(&run.stdout),
        [
            format!("Dockerfile:2:1: DF002 [*] {CMD_MSG}"),
            format!("sub/Dockerfile:2:1: DF002 [*] {CMD_MSG}"),
        ]
    );
}

#[test]
fn walk_of_named_directory_prefixes_paths_with_it() {
    let dir = tree(&[("sub/deep/Dockerfile", ONE_FIX)]);
    let run = dockfix(dir.path(), &["sub"]);
    assert_eq!(
        run.stdout,
        format!("sub/deep/Dockerfile:2:1: DF002 [*] {CMD_MSG}\n")
    );
}

#[test]
fn walk_honours_gitignore_outside_a_git_repository() {
    let dir = tree(&[
        (".gitignore", "ignored/\n*.tmp.Dockerfile\n"),
        ("ignored/Dockerfile", ONE_FIX),
        ("x.tmp.Dockerfile", ONE_FIX),
        ("kept/Dockerfile", ONE_FIX),
    ]);
    assert!(!dir.path().join(".git").exists());
    let run = dockfix(dir.path(), &[]);
    assert_eq!(
        reported_paths(&run),
        BTreeSet::from(["kept/Dockerfile".to_string()])
    );
}

#[test]
fn walk_enters_hidden_directories_but_skips_dot_git() {
    let dir = tree(&[
        (".hidden/Dockerfile", ONE_FIX),
        (".git/sub/Dockerfile", ONE_FIX),
        (".git/Dockerfile", ONE_FIX),
    ]);
    let run = dockfix(dir.path(), &[]);
    assert_eq!(
        reported_paths(&run),
        BTreeSet::from([".hidden/Dockerfile".to_string()])
    );
}

#[test]
fn explicit_files_are_read_whatever_their_name_even_if_gitignored() {
    let dir = tree(&[
        (".gitignore", "ignored/\n"),
        ("ignored/Dockerfile", ONE_FIX),
        ("build.txt", ONE_FIX),
        ("Dockerfile.dockerignore", ONE_FIX),
    ]);
    let run = dockfix(
        dir.path(),
        &["ignored/Dockerfile", "build.txt", "Dockerfile.dockerignore"],
    );
    assert_eq!(
        reported_paths(&run),
        ["ignored/Dockerfile", "build.txt", "Dockerfile.dockerignore"]
            .map(String::from)
            .into()
    );
}

#[test]
fn a_file_named_twice_is_reported_once() {
    let dir = tree(&[("Dockerfile", ONE_FIX)]);
    let run = dockfix(dir.path(), &["Dockerfile", "./Dockerfile", "."]);
    assert_eq!(lines(&run.stdout).len(), 1, "{}", run.stdout);
}

// ---------------------------------------------------------------- --select / --ignore / --unsafe

fn rule_ids(run: &Run) -> Vec<String> {
    run.stdout
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap().to_string())
        .collect()
}

#[test]
fn select_by_id_runs_only_that_rule() {
    let dir = tree(&[("Dockerfile", FIXABLE), ("app.txt", "hi\n")]);
    let run = dockfix(dir.path(), &["--select", "DF002", "Dockerfile"]);
    assert_eq!(rule_ids(&run), ["DF002"]);
}

#[test]
fn select_takes_comma_separated_prefixes_and_names() {
    let dir = tree(&[("Dockerfile", FIXABLE), ("app.txt", "hi\n")]);
    let by_name = dockfix(dir.path(), &["--select", "add-to-copy", "Dockerfile"]);
    assert_eq!(rule_ids(&by_name), ["DF001"]);
    let both = dockfix(dir.path(), &["--select", "add-to-copy,DF002", "Dockerfile"]);
    assert_eq!(rule_ids(&both), ["DF001", "DF002"]);
    let prefix = dockfix(dir.path(), &["--select", "df0", "Dockerfile"]);
    assert_eq!(rule_ids(&prefix), ["DF001", "DF002"]);
}

#[test]
fn ignore_skips_the_named_rule() {
    let dir = tree(&[("Dockerfile", FIXABLE), ("app.txt", "hi\n")]);
    let run = dockfix(dir.path(), &["--ignore", "exec-form", "Dockerfile"]);
    assert_eq!(rule_ids(&run), ["DF001"]);
    let run = dockfix(
        dir.path(),
        &["--select", "DF", "--ignore", "DF001", "Dockerfile"],
    );
    assert_eq!(rule_ids(&run), ["DF002"]);
}

#[test]
fn ignoring_every_finding_rule_exits_0() {
    let dir = tree(&[("Dockerfile", ONE_FIX)]);
    let run = dockfix(dir.path(), &["--ignore", "DF002", "Dockerfile"]);
    assert_eq!(run.code, 0);
    assert_eq!(run.stdout, "");
}

#[test]
fn unknown_selector_exits_2() {
    let dir = tree(&[("Dockerfile", ONE_FIX)]);
    for flag in ["--select", "--ignore"] {
        let run = dockfix(dir.path(), &[flag, "DF001,NOPE", "Dockerfile"]);
        assert_eq!(run.code, 2, "{flag}");
        assert_eq!(run.stdout, "", "{flag}");
        assert!(
            run.stderr.contains("unknown rule selector `NOPE`"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn unsafe_flag_marks_and_applies_unsafe_fixes() {
    let dir = tree(&[("Dockerfile", UNSAFE_ONLY)]);
    let lint = dockfix(dir.path(), &["--unsafe", "Dockerfile"]);
    assert!(lint.stdout.contains("DF002 [*] "), "{}", lint.stdout);
    let run = dockfix(dir.path(), &["--write", "--unsafe", "Dockerfile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        read(dir.path(), "Dockerfile"),
        "FROM debian:bookworm\nCMD [\"prog\"]\n"
    );
}

// ---------------------------------------------------------------- build context (DF001)

#[test]
fn context_defaults_to_the_dockerfile_directory() {
    // The source sits next to the Dockerfile, not in the working directory.
    let dir = tree(&[
        ("df/Dockerfile", "FROM scratch\nADD app.txt /app/\n"),
        ("df/app.txt", "hi\n"),
    ]);
    let run = dockfix(dir.path(), &["df/Dockerfile"]);
    assert_eq!(
        run.stdout,
        format!("df/Dockerfile:2:1: DF001 [*] {ADD_MSG}\n")
    );
}

#[test]
fn missing_source_makes_add_fix_unsafe() {
    let dir = tree(&[("Dockerfile", "FROM scratch\nADD app.txt /app/\n")]);
    let run = dockfix(dir.path(), &["Dockerfile"]);
    assert!(
        run.stdout.starts_with(&format!(
            "Dockerfile:2:1: DF001 {ADD_MSG}; the fix is unsafe: a source is missing"
        )),
        "{}",
        run.stdout
    );
    let write = dockfix(dir.path(), &["--write", "Dockerfile"]);
    assert_eq!(write.code, 1);
    assert_eq!(
        read(dir.path(), "Dockerfile"),
        "FROM scratch\nADD app.txt /app/\n"
    );
}

#[test]
fn context_flag_overrides_the_dockerfile_directory() {
    let dir = tree(&[
        ("df/Dockerfile", "FROM scratch\nADD app.txt /app/\n"),
        ("ctx/app.txt", "hi\n"),
    ]);
    let without = dockfix(dir.path(), &["df/Dockerfile"]);
    assert!(
        without.stdout.contains("the fix is unsafe"),
        "{}",
        without.stdout
    );
    let with = dockfix(dir.path(), &["--context", "ctx", "df/Dockerfile"]);
    assert_eq!(
        with.stdout,
        format!("df/Dockerfile:2:1: DF001 [*] {ADD_MSG}\n")
    );
}

#[test]
fn context_that_is_not_a_directory_exits_2() {
    let dir = tree(&[("Dockerfile", ONE_FIX)]);
    let run = dockfix(dir.path(), &["--context", "nope", "Dockerfile"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr, "dockfix: --context nope: not a directory\n");
}

#[test]
fn add_of_url_or_archive_by_content_is_left_alone() {
    let dir = tree(&[(
        "Dockerfile",
        "FROM scratch\nADD https://example.com/a.txt /a\nADD blob.bin /b\n",
    )]);
    fs::write(dir.path().join("blob.bin"), [0x1f, 0x8b, 0x08, 0x00, 0, 0]).unwrap();
    let run = dockfix(dir.path(), &["Dockerfile"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.stdout, "");
}

#[test]
fn add_of_archive_named_plain_file_is_judged_by_content() {
    let dir = tree(&[
        ("Dockerfile", "FROM scratch\nADD notes.tar.gz /n\n"),
        ("notes.tar.gz", "just text\n"),
    ]);
    let run = dockfix(dir.path(), &["Dockerfile"]);
    assert_eq!(run.stdout, format!("Dockerfile:2:1: DF001 [*] {ADD_MSG}\n"));
}

// ---------------------------------------------------------------- --format json

#[test]
fn json_lint_reports_files_findings_ranges_and_fix() {
    let dir = tree(&[("Dockerfile", ONE_FIX)]);
    let run = dockfix(dir.path(), &["--format", "json", "Dockerfile"]);
    assert_eq!(run.code, 1);
    let doc = json(&run);
    assert_eq!(doc["version"], 1);
    assert_eq!(
        doc["files"],
        serde_json::json!([{"path": "Dockerfile", "changed": false, "fixes": 1}])
    );
    assert_eq!(doc["errors"], serde_json::json!([]));
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1);
    let f = &findings[0];
    assert_eq!(f["file"], "Dockerfile");
    assert_eq!(f["rule"], "DF002");
    assert_eq!(f["name"], "exec-form");
    assert_eq!(f["message"], CMD_MSG);
    assert_eq!(
        f["range"],
        serde_json::json!({
            "start": {"line": 2, "column": 1, "offset": 13},
            "end": {"line": 2, "column": 4, "offset": 16}
        })
    );
    assert_eq!(f["fix"]["applicability"], "safe");
    assert_eq!(f["fix"]["applies"], true);
    assert_eq!(
        f["fix"]["edits"],
        serde_json::json!([{
            "range": {
                "start": {"line": 2, "column": 5, "offset": 17},
                "end": {"line": 2, "column": 9, "offset": 21}
            },
            "replacement": "[\"prog\"]"
        }])
    );
}

#[test]
fn json_marks_unsafe_fix_as_not_applying_and_no_fix_as_null() {
    let dir = tree(&[(
        "Dockerfile",
        "FROM debian:bookworm\nCMD prog\nFROM debian:bookworm\nCMD cd /x && run\n",
    )]);
    let doc = json(&dockfix(dir.path(), &["--format", "json", "Dockerfile"]));
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2, "{doc:#}");
    assert_eq!(findings[0]["fix"]["applicability"], "unsafe");
    assert_eq!(findings[0]["fix"]["applies"], false);
    assert!(findings[1]["fix"].is_null(), "{doc:#}");
}

#[test]
fn json_columns_count_characters_not_bytes() {
    let dir = tree(&[("Dockerfile", "FROM scratch\nCMD prog é\n")]);
    let doc = json(&dockfix(dir.path(), &["--format", "json", "Dockerfile"]));
    let end = &doc["findings"][0]["fix"]["edits"][0]["range"]["end"];
    assert_eq!(end["column"], 11, "{doc:#}");
    assert_eq!(end["offset"], 24, "{doc:#}");
}

#[test]
fn json_diff_puts_the_plain_diff_in_the_file_entry() {
    let dir = tree(&[("Dockerfile", ONE_FIX)]);
    let run = dockfix(
        dir.path(),
        &[
            "--format",
            "json",
            "--diff",
            "--color",
            "always",
            "Dockerfile",
        ],
    );
    assert_eq!(run.code, 1);
    let doc = json(&run);
    let file = &doc["files"][0];
    assert_eq!(file["changed"], true);
    assert_eq!(file["fixes"], 1);
    assert_eq!(
        file["diff"],
        "--- a/Dockerfile\n+++ b/Dockerfile\n@@ -1,2 +1,2 @@\n FROM scratch\n-CMD prog\n+CMD [\"prog\"]\n"
    );
}

#[test]
fn json_write_reports_changed_file_and_rewrites_it() {
    let dir = tree(&[("Dockerfile", ONE_FIX)]);
    let run = dockfix(dir.path(), &["--format", "json", "--write", "Dockerfile"]);
    assert_eq!(run.code, 0);
    let doc = json(&run);
    assert_eq!(doc["files"][0]["changed"], true);
    assert_eq!(doc["files"][0]["fixes"], 1);
    assert_eq!(read(dir.path(), "Dockerfile"), ONE_FIXED);
}

#[test]
fn json_errors_carry_position_for_parse_errors_and_null_for_missing_paths() {
    let dir = tree(&[("bad.Dockerfile", "FROM a\nENV X\n")]);
    let run = dockfix(
        dir.path(),
        &["--format", "json", "bad.Dockerfile", "missing"],
    );
    assert_eq!(run.code, 2);
    let doc = json(&run);
    let errors = doc["errors"].as_array().unwrap();
    let bad = errors
        .iter()
        .find(|e| e["file"] == "bad.Dockerfile")
        .unwrap();
    assert_eq!(
        *bad,
        serde_json::json!({"file": "bad.Dockerfile", "line": 2, "column": 1,
                           "message": "ENV must have two arguments"})
    );
    let missing = errors.iter().find(|e| e["file"] == "missing").unwrap();
    assert!(
        missing["line"].is_null() && missing["column"].is_null(),
        "{missing}"
    );
}

#[test]
fn json_write_from_stdin_puts_the_rewrite_in_the_document() {
    let dir = tree(&[]);
    let run = dockfix_stdin(dir.path(), &["--write", "--format", "json", "-"], ONE_FIX);
    let doc = json(&run);
    assert_eq!(doc["files"][0]["changed"], true);
    let output = doc["files"][0]["output"].as_str().unwrap();
    assert!(
        output.contains("CMD [") && !output.contains("CMD prog"),
        "{output}"
    );
}

// ---------------------------------------------------------------- errors

#[test]
fn parse_errors_print_path_line_col_message_and_exit_2() {
    for (source, message) in [
        (
            "FROM a\nRUN <<EOF\necho hi\n",
            "bad.Dockerfile:2:1: unterminated heredoc EOF",
        ),
        (
            "FROM a\nENV X\n",
            "bad.Dockerfile:2:1: ENV must have two arguments",
        ),
        (
            "# nothing here\n",
            "bad.Dockerfile:1:1: file with no instructions",
        ),
    ] {
        let dir = tree(&[("bad.Dockerfile", source)]);
        let run = dockfix(dir.path(), &["bad.Dockerfile"]);
        assert_eq!(run.code, 2, "{source:?}");
        assert_eq!(lines(&run.stderr)[0], message);
    }
}

#[test]
fn unparsable_file_does_not_stop_lint_of_the_others() {
    let dir = tree(&[
        ("a.Dockerfile", "FROM a\nENV X\n"),
        ("b.Dockerfile", ONE_FIX),
    ]);
    let run = dockfix(dir.path(), &["."]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stdout,
        format!("b.Dockerfile:2:1: DF002 [*] {CMD_MSG}\n")
    );
    assert!(
        run.stderr
            .contains("a.Dockerfile:2:1: ENV must have two arguments\n"),
        "{}",
        run.stderr
    );
}

#[test]
fn unparsable_file_does_not_stop_write_of_the_others_and_stays_untouched() {
    let bad = "FROM a\r\nRUN <<EOF\r\necho hi";
    let dir = tree(&[("a.Dockerfile", bad), ("b.Dockerfile", ONE_FIX)]);
    let run = dockfix(dir.path(), &["--write", "a.Dockerfile", "b.Dockerfile"]);
    assert_eq!(run.code, 2);
    assert_eq!(read(dir.path(), "b.Dockerfile"), ONE_FIXED);
    assert_eq!(
        fs::read(dir.path().join("a.Dockerfile")).unwrap(),
        bad.as_bytes()
    );
    assert!(
        run.stderr
            .contains("a.Dockerfile:2:1: unterminated heredoc EOF\n"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("1 file rewritten, 1 fix\n"),
        "{}",
        run.stderr
    );
}

#[test]
fn unparsable_file_does_not_stop_diff_of_the_others() {
    let dir = tree(&[("a.Dockerfile", "# empty\n"), ("b.Dockerfile", ONE_FIX)]);
    let run = dockfix(dir.path(), &["--diff", "a.Dockerfile", "b.Dockerfile"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stdout.starts_with("--- a/b.Dockerfile\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn missing_path_exits_2_and_other_paths_are_still_processed() {
    let dir = tree(&[("Dockerfile", ONE_FIX)]);
    let run = dockfix(dir.path(), &["--write", "missing/Dockerfile", "Dockerfile"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("missing/Dockerfile: no such file or directory\n"),
        "{}",
        run.stderr
    );
    assert_eq!(read(dir.path(), "Dockerfile"), ONE_FIXED);
}

#[cfg(target_os = "linux")]
#[test]
fn unreadable_file_exits_2_with_cannot_read() {
    // Reading /proc/self/mem from offset 0 fails with EIO, even as root.
    let dir = tree(&[("Dockerfile", ONE_FIX)]);
    let run = dockfix(dir.path(), &["/proc/self/mem", "Dockerfile"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("/proc/self/mem: cannot read: "),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, format!("Dockerfile:2:1: DF002 [*] {CMD_MSG}\n"));
}

#[test]
fn usage_errors_exit_2() {
    let dir = tree(&[("Dockerfile", ONE_FIX)]);
    for args in [
        &["--diff", "--write", "Dockerfile"][..],
        &["--color", "purple", "Dockerfile"],
        &["--format", "yaml", "Dockerfile"],
    ] {
        let run = dockfix(dir.path(), args);
        assert_eq!(run.code, 2, "{args:?}");
    }
    assert_eq!(read(dir.path(), "Dockerfile"), ONE_FIX);
}

// ---------------------------------------------------------------- subcommands

#[test]
fn rules_lists_every_rule_with_its_name() {
    let dir = tree(&[]);
    let run = dockfix(dir.path(), &["rules"]);
    assert_eq!(run.code, 0);
    let out = lines(&run.stdout);
    assert_eq!(out.len(), dockfix::rules::ALL.len(), "{}", run.stdout);
    for (line, rule) in out.iter().zip(dockfix::rules::ALL) {
        assert!(
            line.starts_with(rule.id) && line.contains(rule.name),
            "{line}"
        );
    }
    assert!(out[0].starts_with("DF001") && out[0].contains("add-to-copy"));
    assert!(out[1].starts_with("DF002") && out[1].contains("exec-form"));
}

#[test]
fn rules_name_the_cache_style_they_belong_to() {
    let dir = tree(&[]);
    let run = dockfix(dir.path(), &["rules"]);
    let cleanup: Vec<&str> = lines(&run.stdout)
        .into_iter()
        .filter(|l| l.contains(" cleanup "))
        .map(|l| &l[..5])
        .collect();
    assert_eq!(
        cleanup,
        ["DF203", "DF204", "DF206", "DF209", "DF212", "DF213", "DF214"]
    );
}

#[test]
fn cache_styles_are_alternatives_and_cleanup_is_the_default() {
    let dir = tree(&[(
        "Dockerfile",
        "FROM debian:bookworm\nRUN apt-get update && apt-get install -y curl\n",
    )]);
    let default = dockfix(dir.path(), &["--diff", "Dockerfile"]);
    let cleanup = dockfix(
        dir.path(),
        &["--diff", "--cache-style", "cleanup", "Dockerfile"],
    );
    assert!(default.stdout.contains("rm -rf /var/lib/apt/lists/*"));
    assert!(!default.stdout.contains("--mount"));
    assert_eq!(default.stdout, cleanup.stdout);
    let mounts = dockfix(
        dir.path(),
        &["--diff", "--cache-style", "mounts", "Dockerfile"],
    );
    assert_eq!(mounts.code, 1, "{}", mounts.stderr);
    assert!(
        mounts
            .stdout
            .contains("+RUN --mount=type=cache,id=apt-cache,target=/var/cache/apt,sharing=locked"),
        "{}",
        mounts.stdout
    );
    assert!(!mounts.stdout.contains("rm -rf /var/lib/apt/lists/*"));
    assert!(
        !mounts.stdout.contains("# syntax="),
        "no directive unless asked"
    );
    let directive = dockfix(
        dir.path(),
        &[
            "--diff",
            "--cache-style",
            "mounts",
            "--syntax-directive",
            "Dockerfile",
        ],
    );
    assert!(
        directive.stdout.contains("+# syntax=docker/dockerfile:1"),
        "{}",
        directive.stdout
    );
    let unknown = dockfix(dir.path(), &["--cache-style", "volumes", "Dockerfile"]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("possible values: cleanup, mounts"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn mounts_wait_for_a_merge_of_their_run() {
    let dir = tree(&[(
        "Dockerfile",
        "FROM debian:bookworm\nRUN apt-get update -qq\nRUN apt-get install -yq make gcc\n",
    )]);
    let run = dockfix(
        dir.path(),
        &["--write", "--cache-style", "mounts", "Dockerfile"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let written = std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
    assert!(!written.contains("&& --mount"), "{written}");
    assert_eq!(written.matches("RUN ").count(), 1, "merged: {written}");
    assert_eq!(
        written.matches("--mount=type=cache").count(),
        2,
        "{written}"
    );
}

#[test]
fn yarn_cache_clean_reports_when_no_build_context_shows_the_yarn_version() {
    let dir = tree(&[]);
    let input = "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN yarn install\n";
    let run = dockfix_stdin(dir.path(), &["--select", "DF214", "-"], input);
    assert!(run.stdout.contains("yarn may be 2+"), "{}", run.stdout);
    assert!(!run.stdout.contains("[*]"), "{}", run.stdout);
}

#[test]
fn explain_by_id_or_name_prints_the_rule_doc() {
    let dir = tree(&[]);
    let by_id = dockfix(dir.path(), &["explain", "DF001"]);
    assert_eq!(by_id.code, 0);
    assert!(
        by_id.stdout.starts_with("# DF001 add-to-copy\n"),
        "{}",
        by_id.stdout
    );
    assert!(by_id.stdout.contains("## Fix safety"));
    let by_name = dockfix(dir.path(), &["explain", "add-to-copy"]);
    assert_eq!(by_name.code, 0);
    assert_eq!(by_name.stdout, by_id.stdout);
}

#[test]
fn explain_unknown_rule_exits_2() {
    let dir = tree(&[]);
    let run = dockfix(dir.path(), &["explain", "DF999"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains("unknown rule `DF999`"),
        "{}",
        run.stderr
    );
}

#[test]
fn parse_dump_prints_buildkit_ast() {
    let dir = tree(&[("Dockerfile", "FROM a\nRUN echo hi\n")]);
    let run = dockfix(dir.path(), &["parse", "--dump", "Dockerfile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "(from \"a\")\n(run \"echo hi\")\n");
}

#[test]
fn parse_prints_every_item_with_its_span() {
    let source = "\u{feff}# syntax=docker/dockerfile:1\n\n# note\nFROM a\nRUN a \\\n  b\n";
    let dir = tree(&[("Dockerfile", source)]);
    let run = dockfix(dir.path(), &["parse", "Dockerfile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "1: 0..3 bom\n\
         1: 3..32 directive { name: \"syntax\", value: \"docker/dockerfile:1\" }\n\
         2: 32..33 blank\n\
         3: 33..40 comment\n\
         4: 40..47 instruction from \"FROM a\"\n\
         5: 47..59 instruction run \"RUN a   b\"\n"
    );
}

#[test]
fn parse_dump_of_unparsable_file_exits_2_with_position() {
    let dir = tree(&[("bad.Dockerfile", "FROM a\nRUN <<EOF\necho hi\n")]);
    let run = dockfix(dir.path(), &["parse", "--dump", "bad.Dockerfile"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, "bad.Dockerfile:2:1: unterminated heredoc EOF\n");
}

// ---------------------------------------------------------------- companion files

const NPM_APP: &str = "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci\n";

fn npm_context(extra: &[(&'static str, &'static str)]) -> TempDir {
    let mut files = vec![
        ("Dockerfile", NPM_APP),
        (
            "package.json",
            "{\"name\": \"a\", \"version\": \"1.0.0\"}\n",
        ),
        ("package-lock.json", "{}\n"),
    ];
    files.extend_from_slice(extra);
    tree(&files)
}

#[test]
fn write_creates_the_dockerignore_a_move_needs_readable_by_all() {
    let dir = npm_context(&[]);
    let run = dockfix(dir.path(), &["--write", "--select", "DF101", "Dockerfile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("2 files rewritten, 1 fix"),
        "{}",
        run.stderr
    );
    assert_eq!(read(dir.path(), ".dockerignore"), "node_modules\n");
    let mode = fs::metadata(dir.path().join(".dockerignore"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    assert!(read(dir.path(), "Dockerfile")
        .contains("COPY package.json package-lock.json ./\nRUN npm ci\nCOPY . .\n"));
    let again = dockfix(dir.path(), &["--write", "--select", "DF101", "Dockerfile"]);
    assert!(
        again.stderr.contains("0 files rewritten"),
        "{}",
        again.stderr
    );
    assert_eq!(read(dir.path(), ".dockerignore"), "node_modules\n");
}

#[test]
fn write_appends_to_an_existing_dockerignore_keeping_its_line_endings() {
    let dir = npm_context(&[(".dockerignore", ".git\r\n*.log")]);
    let run = dockfix(dir.path(), &["--write", "--select", "DF101", "Dockerfile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        read(dir.path(), ".dockerignore"),
        ".git\r\n*.log\r\nnode_modules\r\n"
    );
}

/// A `.dockerignore` that is no file cannot take the lines the move needs,
/// so the move is not offered (writing the pair all or nothing is
/// `cli::write`'s unit tests' matter).
#[test]
fn a_move_needing_lines_in_a_dockerignore_that_is_no_file_is_reported_not_written() {
    let dir = npm_context(&[]);
    fs::create_dir(dir.path().join(".dockerignore")).unwrap();
    let run = dockfix(dir.path(), &["--write", "--select", "DF101", "Dockerfile"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(read(dir.path(), "Dockerfile"), NPM_APP);
    assert!(dir.path().join(".dockerignore").is_dir());
    assert!(
        run.stderr.contains(
            "not fixed: the full copy would put the build context's node_modules \
             (a developer's, say) over the installed one; add node_modules to \
             .dockerignore (.dockerignore: not a regular file (a directory))"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("0 files rewritten, 0 fixes"),
        "{}",
        run.stderr
    );
    let names: BTreeSet<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            ".dockerignore",
            "Dockerfile",
            "package-lock.json",
            "package.json"
        ]
        .map(String::from)
        .into(),
        "no temporary file left"
    );
}

#[test]
fn diff_check_and_json_show_the_dockerignore_change() {
    let dir = npm_context(&[]);
    let diff = dockfix(dir.path(), &["--diff", "--select", "DF101", "Dockerfile"]);
    assert!(
        diff.stdout
            .contains("--- /dev/null\n+++ b/.dockerignore\n@@ -0,0 +1 @@\n+node_modules\n"),
        "{}",
        diff.stdout
    );
    let check = dockfix(dir.path(), &["--check", "--select", "DF101", "Dockerfile"]);
    assert_eq!(lines(&check.stdout), ["Dockerfile", ".dockerignore"]);
    let doc = json(&dockfix(
        dir.path(),
        &["--format", "json", "--select", "DF101", "Dockerfile"],
    ));
    let append = &doc["findings"][0]["fix"]["appends"][0];
    assert_eq!(append["lines"], serde_json::json!(["node_modules"]));
    assert!(append["path"].as_str().unwrap().ends_with(".dockerignore"));
    assert!(
        !dir.path().join(".dockerignore").exists(),
        "only --write writes"
    );
}

#[test]
fn stdin_never_gets_a_fix_that_needs_another_file() {
    let dir = npm_context(&[]);
    let run = dockfix_stdin(
        dir.path(),
        &["--select", "DF101", "--context", ".", "-"],
        NPM_APP,
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("not fixed") && run.stdout.contains(".dockerignore"),
        "{}",
        run.stdout
    );
}

// ---------------------------------------------------------------- file identity

#[test]
fn directory_walks_follow_symlinked_dockerfiles() {
    let dir = tree(&[("real/Dockerfile", ONE_FIX)]);
    fs::create_dir(dir.path().join("svc")).unwrap();
    std::os::unix::fs::symlink("../real/Dockerfile", dir.path().join("svc/Dockerfile")).unwrap();
    let run = dockfix(dir.path(), &["--check", "svc"]);
    assert_eq!(lines(&run.stdout), ["svc/Dockerfile"], "{}", run.stderr);
}

#[test]
fn write_keeps_the_owner() {
    let dir = tree(&[("Dockerfile", ONE_FIX)]);
    let file = dir.path().join("Dockerfile");
    if std::os::unix::fs::chown(&file, Some(65534), Some(65534)).is_err() {
        return; // not root: files cannot be given away here
    }
    let run = dockfix(dir.path(), &["--write", "Dockerfile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let metadata = fs::metadata(&file).unwrap();
    assert_eq!((metadata.uid(), metadata.gid()), (65534, 65534));
    assert_eq!(read(dir.path(), "Dockerfile"), ONE_FIXED);
}

#[test]
fn write_refuses_a_file_with_other_hard_links() {
    let dir = tree(&[("Dockerfile", ONE_FIX), ("sub/Dockerfile", ONE_FIX)]);
    let file = dir.path().join("Dockerfile");
    fs::hard_link(&file, dir.path().join("linked")).unwrap();
    let run = dockfix(dir.path(), &["--write", "Dockerfile", "sub/Dockerfile"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "Dockerfile: cannot write: has 2 hard links: replacing it would part them, \
             and writing it in place would not be atomic; left as it is"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(read(dir.path(), "Dockerfile"), ONE_FIX);
    assert_eq!(read(dir.path(), "linked"), ONE_FIX);
    assert_eq!(fs::metadata(&file).unwrap().nlink(), 2, "still one file");
    // The other file is written, and counted alone.
    assert_eq!(read(dir.path(), "sub/Dockerfile"), ONE_FIXED);
    assert!(
        run.stderr.contains("1 file rewritten, 1 fix"),
        "{}",
        run.stderr
    );
}

/// Runs `dockfix args` in `dir`, failing the test if it has not exited
/// within 20 seconds (what it waits on or reads without end: `what`).
fn within_a_deadline(dir: &Path, args: &[&str], what: &str) -> std::process::Output {
    let mut child = command(dir, args).stdin(Stdio::null()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("dockfix {args:?} waits on {what}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success());
}

/// Runs dockfix on a FIFO no one writes to: it must answer, not wait.
#[test]
fn a_fifo_is_refused_without_blocking_in_every_mode() {
    let dir = tree(&[]);
    mkfifo(&dir.path().join("Dockerfile"));
    for mode in ["--check", "--write"] {
        let out = within_a_deadline(dir.path(), &[mode, "Dockerfile"], "a FIFO");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("Dockerfile: cannot read: not a regular file (a FIFO)"),
            "{stderr}"
        );
        let kind = fs::symlink_metadata(dir.path().join("Dockerfile"))
            .unwrap()
            .file_type();
        assert!(std::os::unix::fs::FileTypeExt::is_fifo(&kind), "{mode}");
    }
}

/// A repository dockfix runs on may plant files that would stall or flood
/// a reader where the rules or `dockfix cache` read the build context: a
/// FIFO for a manifest or `.dockerignore`, a manifest linked to an endless
/// device.
#[test]
fn a_hostile_build_context_neither_stalls_nor_floods_dockfix() {
    let dockerfile = "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci\n";
    for planted in ["package.json", ".dockerignore", "package-lock.json"] {
        for kind in ["fifo", "endless"] {
            let dir = tree(&[
                ("Dockerfile", dockerfile),
                ("package.json", "{\"name\":\"app\"}"),
                ("package-lock.json", "{}"),
            ]);
            let path = dir.path().join(planted);
            let _ = fs::remove_file(&path);
            match kind {
                "fifo" => mkfifo(&path),
                _ => std::os::unix::fs::symlink("/dev/zero", &path).unwrap(),
            }
            let what = format!("{planted} as {kind}");
            for mode in ["--diff", "--write", "cache"] {
                let out = within_a_deadline(dir.path(), &[mode, "Dockerfile"], &what);
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert!(
                    matches!(out.status.code(), Some(0..=2)),
                    "{what} {mode}: {stderr}"
                );
                // No rewrite offers to write over what is not a file.
                let stdout = String::from_utf8_lossy(&out.stdout);
                if planted == ".dockerignore" && mode == "--diff" {
                    assert!(!stdout.contains("+++ b/.dockerignore"), "{what}: {stdout}");
                }
            }
            if planted == ".dockerignore" {
                let out = within_a_deadline(dir.path(), &["Dockerfile"], &what);
                let stdout = String::from_utf8_lossy(&out.stdout);
                let why = match kind {
                    "fifo" => "(.dockerignore: not a regular file (a FIFO))",
                    _ => "(.dockerignore: not a regular file (a device))",
                };
                assert!(stdout.contains(why), "{what}: {stdout}");
            }
            // What was planted is still there, untouched.
            let meta = fs::symlink_metadata(&path).unwrap();
            let still = match kind {
                "fifo" => std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type()),
                _ => meta.file_type().is_symlink(),
            };
            assert!(still, "{what}");
        }
    }
}

#[test]
fn text_output_quotes_a_path_with_a_newline_so_it_stays_one_line() {
    let dir = tree(&[
        ("odd\nname/Dockerfile", ONE_FIX),
        ("odd\nname/bad/Dockerfile", "FROM x\nENV FOO\n"),
    ]);
    let lint = dockfix(dir.path(), &["."]);
    assert_eq!(
        lines(&lint.stdout),
        ["\"odd\\nname/Dockerfile\":2:1: DF002 [*] shell-form CMD: use the JSON exec form so the program receives signals"]
    );
    assert!(
        lint.stderr
            .starts_with("\"odd\\nname/bad/Dockerfile\":2:1: "),
        "{}",
        lint.stderr
    );
    let check = dockfix(dir.path(), &["--check", "odd\nname/Dockerfile"]);
    assert_eq!(lines(&check.stdout), ["\"odd\\nname/Dockerfile\""]);
    let diff = dockfix(dir.path(), &["--diff", "odd\nname/Dockerfile"]);
    assert!(
        diff.stdout
            .starts_with("--- \"a/odd\\nname/Dockerfile\"\n+++ \"b/odd\\nname/Dockerfile\"\n@@ "),
        "{}",
        diff.stdout
    );
    // JSON carries the name as it is.
    let doc = json(&dockfix(
        dir.path(),
        &["--format", "json", "odd\nname/Dockerfile"],
    ));
    assert_eq!(doc["files"][0]["path"], "odd\nname/Dockerfile");
}

#[test]
fn a_closed_stderr_is_no_crash() {
    let dir = tree(&[("Dockerfile", UNSAFE_ONLY)]);
    let mut child = command(dir.path(), &["--write", "Dockerfile"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // As `dockfix 2>&1 | head -0` does: the reader is gone.
    drop(child.stderr.take());
    assert_eq!(child.wait().unwrap().code(), Some(1));
}

#[test]
fn github_format_annotates_findings_and_errors() {
    let dir = tree(&[
        ("Dockerfile", ONE_FIX),
        ("unsafe/Dockerfile", UNSAFE_ONLY),
        ("bad,name.Dockerfile", "FROM a\nENV X\n"),
    ]);
    let args = [
        "--format",
        "github",
        "Dockerfile",
        "unsafe/Dockerfile",
        "bad,name.Dockerfile",
    ];
    let run = dockfix(dir.path(), &args);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            "::warning file=Dockerfile,line=2,col=1,endLine=2,endColumn=4,title=DF002 exec-form::{CMD_MSG} (dockfix --write fixes this)\n\
             ::warning file=unsafe/Dockerfile,line=2,col=1,endLine=2,endColumn=4,title=DF002 exec-form::{CMD_MSG}; the fix is unsafe: an ENTRYPOINT of the base image `debian:bookworm` would receive these words instead of `/bin/sh -c ...` (dockfix --write --unsafe fixes this)\n\
             ::error file=bad%2Cname.Dockerfile,line=2,col=1,title=dockfix::ENV must have two arguments\n"
        )
    );
    // Annotations take stdout, where `--write -` would put the rewrite.
    let run = dockfix_stdin(dir.path(), &["--write", "--format", "github", "-"], ONE_FIX);
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty());
}

#[test]
fn suppression_comments_silence_findings_and_their_fixes() {
    let source = "# dockfix: ignore-file[DF002]\nFROM scratch\n# dockfix: ignore[add-to-copy]\nADD app.txt /app/\nADD app.txt /b/\nCMD prog\n";
    let dir = tree(&[("Dockerfile", source), ("app.txt", "x")]);
    let run = dockfix(dir.path(), &["Dockerfile"]);
    assert_eq!(run.stdout, format!("Dockerfile:5:1: DF001 [*] {ADD_MSG}\n"));
    let run = dockfix(dir.path(), &["--show-suppressed", "Dockerfile"]);
    assert_eq!(
        run.stdout,
        format!(
            "Dockerfile:5:1: DF001 [*] {ADD_MSG}\n\
             Dockerfile:4:1: DF001 {ADD_MSG} (suppressed)\n\
             Dockerfile:6:1: DF002 {CMD_MSG} (suppressed)\n"
        )
    );
    let doc = json(&dockfix(
        dir.path(),
        &["--format", "json", "--show-suppressed", "Dockerfile"],
    ));
    assert_eq!(doc["suppressed"].as_array().unwrap().len(), 2);
    // Only the finding left is fixed; the comments stay.
    let run = dockfix(dir.path(), &["--write", "Dockerfile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        read(dir.path(), "Dockerfile"),
        source.replace("ADD app.txt /b/", "COPY app.txt /b/")
    );
    // A typo is an error, not a silent no-op.
    let dir = tree(&[(
        "Dockerfile",
        "FROM scratch\n# dockfix: ignore[DF0002]\nCMD prog\n",
    )]);
    let run = dockfix(dir.path(), &["Dockerfile"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("Dockerfile:2:1: unknown rule `DF0002` in a suppression"),
        "{}",
        run.stderr
    );
}

#[test]
fn markdown_format_describes_the_rewrite_for_a_pull_request() {
    let python =
        "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\n";
    let dir = tree(&[
        ("api/Dockerfile", python),
        ("api/requirements.txt", "flask\n"),
        ("web/Dockerfile", ONE_FIX),
        ("unsafe|pipe/Dockerfile", UNSAFE_ONLY),
        ("bad/Dockerfile", "FROM a\nENV X\n"),
    ]);
    let run = dockfix(
        dir.path(),
        &["--diff", "--format", "markdown", "--ignore", "DF401"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    insta::assert_snapshot!(run.stdout);
    // `--write` tells what it did; a file the body cannot describe is not lost.
    let run = dockfix(dir.path(), &["--write", "--format", "markdown", "web"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("dockfix rewrote 1 Dockerfile (1 fix) so it builds faster"),
        "{}",
        run.stdout
    );
    assert_eq!(read(dir.path(), "web/Dockerfile"), ONE_FIXED);
    let run = dockfix(dir.path(), &["--write", "--format", "markdown", "web"]);
    assert!(
        run.stdout.contains("dockfix has nothing to change."),
        "{}",
        run.stdout
    );
    // A body describes a rewrite; reporting alone has none.
    let run = dockfix(dir.path(), &["--format", "markdown", "web"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("add --diff, --check or --write"),
        "{}",
        run.stderr
    );
    let run = dockfix_stdin(
        dir.path(),
        &["--write", "--format", "markdown", "-"],
        ONE_FIX,
    );
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty());
}

#[test]
fn json_output_follows_its_published_schema_in_every_mode() {
    let validator = common::schema::Validator::new("schemas/report-v1.schema.json");
    let node = "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci\n";
    let dir = tree(&[
        ("Dockerfile", ONE_FIX),
        ("unsafe/Dockerfile", UNSAFE_ONLY),
        (
            "quiet/Dockerfile",
            "# dockfix: ignore-file[DF002]\nFROM scratch\nCMD prog\n",
        ),
        ("node/Dockerfile", node),
        ("node/package.json", "{\"name\": \"app\"}\n"),
        ("node/package-lock.json", "{\"lockfileVersion\": 3}\n"),
        ("bad/Dockerfile", "FROM a\nENV X\n"),
    ]);
    let runs: [&[&str]; 5] = [
        &["--show-suppressed", ".", "missing/Dockerfile"],
        &["--diff", "."],
        &["--check", "--unsafe", "."],
        &["--write", "-"],
        &["--write", "."],
    ];
    let mut appends = 0;
    for args in runs {
        let args = [&["--format", "json"], args].concat();
        let run = dockfix_stdin(dir.path(), &args, ONE_FIX);
        let report: Value = serde_json::from_str(&run.stdout).expect("one JSON document");
        if let Err(e) = validator.check(&report) {
            panic!("{args:?}: {e}\n{report:#}");
        }
        appends += run.stdout.matches("\"appends\"").count();
    }
    // The optional parts were there to check.
    assert!(appends > 0);
    // And the schema is strict: a field it does not name is an error.
    let mut report: Value =
        serde_json::from_str(&dockfix(dir.path(), &["--format", "json", "."]).stdout).unwrap();
    report["files"][0]["extra"] = Value::Bool(true);
    assert!(validator.check(&report).is_err());
}

#[test]
fn after_write_annotations_show_what_is_left_where_it_now_is() {
    // DF204 and DF205 are fixed; DF002's CMD moves down a line; unsafe DF207 stays.
    let source = "FROM python:3.12\nRUN pip install a\nRUN apt-get update\nRUN apt-get install -y b\nCMD prog \"$HOME\"\n";
    let dir = tree(&[("Dockerfile", source)]);
    let run = dockfix(
        dir.path(),
        &["--write", "--format", "github", "--ignore", "DF401"],
    );
    let written = read(dir.path(), "Dockerfile");
    assert_ne!(written, source);
    let cmd_line = written.lines().position(|l| l.starts_with("CMD")).unwrap() + 1;
    assert!(
        !run.stdout.contains("DF204") && !run.stdout.contains("DF205"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("(dockfix --write fixes this)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "line={cmd_line},col=1,endLine={cmd_line},endColumn=4,title=DF002"
        )),
        "{}\n{written}",
        run.stdout
    );
}

#[test]
fn a_file_with_an_unreadable_suppression_is_left_alone() {
    let source = "FROM debian:bookworm\n# dockfix: ignore[DF9|9]\nRUN apt-get install curl\n";
    let dir = tree(&[("Dockerfile", source)]);
    for args in [
        &["--write"][..],
        &["--check"],
        &["--format", "json", "--diff"],
    ] {
        let run = dockfix(dir.path(), &[args, &["Dockerfile"]].concat());
        assert_eq!(run.code, 2, "{args:?}");
        assert!(
            !run.stdout.contains("Dockerfile\n"),
            "{args:?}: {}",
            run.stdout
        );
        assert!(
            !run.stdout.contains("\"changed\": true"),
            "{args:?}: {}",
            run.stdout
        );
    }
    assert_eq!(read(dir.path(), "Dockerfile"), source);
}

#[test]
fn silenced_findings_never_claim_their_fix_applies() {
    let dir = tree(&[(
        "Dockerfile",
        "FROM python:3.12\n# dockfix: ignore[DF204]\nRUN pip install flask\n",
    )]);
    let run = dockfix(
        dir.path(),
        &[
            "--format",
            "json",
            "--show-suppressed",
            "--ignore",
            "DF401",
            "Dockerfile",
        ],
    );
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["suppressed"][0]["rule"], "DF204");
    assert_eq!(report["suppressed"][0]["fix"]["applies"], false);
}
