//! The shell of every corpus RUN/CMD/ENTRYPOINT parses, and its commands
//! map back to the file: each command's text in the masked script equals
//! the file bytes at the same range, outside masked lines.

mod common;

use dockfix::syntax::{parse, shell};

#[test]
fn corpus_shell_commands_map_back_to_the_file() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let (mut scripts, mut with_errors, mut commands) = (0, Vec::new(), 0);
    for path in common::dockerfiles(&corpus) {
        let bytes = std::fs::read(&path).unwrap();
        let Ok(file) = parse(&bytes) else { continue };
        // Windows files and SHELL instructions run PowerShell or cmd, not sh.
        if file.escape == b'`' || file.instructions().any(|i| i.command.name == "shell") {
            continue;
        }
        for instruction in file.instructions() {
            let Some(script) = shell::parse(&file, instruction) else {
                continue;
            };
            scripts += 1;
            if script.has_error() {
                with_errors.push(format!("{}:{}", path.display(), instruction.start_line));
            }
            for command in script.commands() {
                let name = command.name.clone().unwrap_or(command.range.clone());
                let masked = &script.text[name.start - script.base..name.end - script.base];
                assert_eq!(
                    masked,
                    &bytes[name.clone()],
                    "{}:{}",
                    path.display(),
                    instruction.start_line
                );
                commands += 1;
            }
        }
    }
    eprintln!(
        "{scripts} scripts, {commands} commands, {} with syntax tree-sitter-bash cannot read",
        with_errors.len()
    );
    assert!(
        scripts > 1000 && commands > 3000,
        "{scripts} scripts, {commands} commands"
    );
    // Real Dockerfiles are valid shell; a few are not (BuildKit's tests of
    // broken JSON) or use syntax tree-sitter-bash does not know (a redirect
    // before the command, `RUN <<EOT bash`). Keep that rare.
    assert!(
        with_errors.len() * 100 <= scripts,
        "too many unreadable scripts:\n{}",
        with_errors.join("\n")
    );
}
