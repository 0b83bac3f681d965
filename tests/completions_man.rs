//! `dockfix completions` and `dockfix man` against the command line they are
//! generated from: every subcommand and long option is in each, bash reads
//! the bash script and completes with it, groff renders the page cleanly.

use std::io::Write;
use std::process::{Command, Output};

/// Runs a program on a file holding `text` (its last argument).
fn run(program: &str, args: &[&str], text: &[u8]) -> Output {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(text).expect("file written");
    Command::new(program)
        .args(args)
        .arg(file.path())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

fn dockfix(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_dockfix"))
        .args(args)
        .output()
        .expect("dockfix runs");
    assert!(out.status.success(), "dockfix {args:?}: {out:?}");
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// Each (sub)command's path below `dockfix` (empty for `dockfix` itself) and
/// its long options.
fn commands() -> Vec<(Vec<String>, Vec<String>)> {
    fn visit(cmd: &clap::Command, path: Vec<String>, all: &mut Vec<(Vec<String>, Vec<String>)>) {
        let longs = cmd
            .get_arguments()
            .filter_map(|a| a.get_long())
            .map(String::from)
            .collect();
        all.push((path.clone(), longs));
        for sub in cmd.get_subcommands() {
            let mut path = path.clone();
            path.push(sub.get_name().to_string());
            visit(sub, path, all);
        }
    }
    let mut cli = dockfix::cli::command();
    cli.build();
    let mut all = vec![];
    visit(&cli, vec![], &mut all);
    all
}

fn has_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
        .any(|w| w == word)
}

#[test]
fn completion_scripts_name_every_subcommand_and_option() {
    let commands = commands();
    assert!(commands.len() > 5, "subcommands found: {commands:?}");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = dockfix(&["completions", shell]);
        for (path, longs) in &commands {
            if let Some(name) = path.last() {
                assert!(has_word(&script, name), "{shell}: subcommand {name}");
            }
            for long in longs {
                // fish declares `-l dump`, the others write `--dump`.
                let written = match shell {
                    "fish" => format!("-l {long}"),
                    _ => format!("--{long}"),
                };
                assert!(script.contains(&written), "{shell}: {written} ({path:?})");
            }
        }
    }
}

#[test]
fn bash_reads_the_script_and_completes_with_it() {
    let script = dockfix(&["completions", "bash"]);
    let syntax = run("bash", &["-n"], script.as_bytes());
    assert!(syntax.status.success(), "bash -n: {syntax:?}");
    // What bash passes a completion function: the command, the word, the
    // previous word.
    let complete = |words: &[&str]| -> Vec<String> {
        let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        let cword = words.len() - 1;
        let call = format!(
            "{script}\nCOMP_WORDS=({words}); COMP_CWORD={cword}\n\
             _dockfix dockfix {cur} {prev}\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
            words = quoted.join(" "),
            cur = quoted[cword],
            prev = quoted[cword - 1],
        );
        let out = run("bash", &[], call.as_bytes());
        assert!(out.status.success(), "{words:?}: {out:?}");
        String::from_utf8(out.stdout)
            .expect("UTF-8")
            .lines()
            .map(String::from)
            .collect()
    };
    assert_eq!(complete(&["dockfix", "--cache-st"]), ["--cache-style"]);
    assert_eq!(complete(&["dockfix", "pa"]), ["parse"]);
    assert_eq!(complete(&["dockfix", "parse", "--d"]), ["--dump"]);
    assert_eq!(
        complete(&["dockfix", "--cache-style", ""]),
        ["cleanup", "mounts"]
    );
}

#[test]
fn zsh_and_fish_read_their_scripts_where_installed() {
    for shell in ["zsh", "fish"] {
        let script = dockfix(&["completions", shell]);
        match Command::new(shell).arg("--version").output() {
            Ok(_) => {
                let syntax = run(shell, &["-n"], script.as_bytes());
                assert!(syntax.status.success(), "{shell} -n: {syntax:?}");
            }
            Err(_) => eprintln!("{shell} is not installed: its script's syntax is not checked"),
        }
    }
}

/// Whether `text` has an entry (`.TP`, then the option in bold, dashes
/// escaped) describing a long option, not only the synopsis naming it.
fn describes(text: &str, long: &str) -> bool {
    let option = format!("\\fB\\-\\-{}\\fR", long.replace('-', "\\-"));
    let lines: Vec<&str> = text.lines().collect();
    lines
        .windows(2)
        .any(|pair| pair[0] == ".TP" && pair[1].contains(&option))
}

#[test]
fn man_page_documents_each_subcommand_with_its_options() {
    let page = dockfix(&["man"]);
    let (main, commands_section) = page
        .split_once("\n.SH COMMANDS\n")
        .expect("a COMMANDS section");
    for (path, longs) in commands() {
        // `dockfix help X` is `dockfix X --help`; the page has no use for it.
        if path.first().is_some_and(|p| p == "help") {
            continue;
        }
        let text = match path.as_slice() {
            [] => main,
            [name] => {
                let heading = format!(".SS \"dockfix {name}\"\n");
                let (_, rest) = commands_section
                    .split_once(&heading)
                    .unwrap_or_else(|| panic!("no subsection for {name}"));
                rest.split("\n.S").next().expect("a subsection")
            }
            deeper => panic!("the page shows one level of subcommands, not {deeper:?}"),
        };
        for long in longs {
            assert!(describes(text, &long), "--{long} missing under {path:?}");
        }
    }
}

#[test]
fn groff_renders_the_man_page_without_warnings() {
    let page = dockfix(&["man"]);
    let out = run("groff", &["-man", "-Tutf8", "-ww", "-z"], page.as_bytes());
    assert!(out.status.success(), "groff: {out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "groff warnings");
    let text = run("groff", &["-man", "-Tascii", "-P-cbou"], page.as_bytes());
    let text = String::from_utf8(text.stdout).expect("UTF-8");
    // Section headings and the subcommands' subsection headings.
    for heading in ["SYNOPSIS", "OPTIONS", "COMMANDS", "   dockfix parse"] {
        assert!(text.lines().any(|l| l == heading), "{heading}:\n{text}");
    }
}
