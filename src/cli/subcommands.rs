//! The subcommands that only print: `rules`, `explain` and `parse`.

use std::io::{Read, Write};

use super::report;
use crate::rules::{self, CacheStyle};
use crate::syntax::{self, dump::dump};

/// Writes generated text to stdout; a closed stdout (`| head`) is no error.
pub(super) fn print_bytes(bytes: &[u8]) -> u8 {
    let _ = std::io::stdout().write_all(bytes);
    0
}

pub(super) fn list_rules() -> u8 {
    for rule in rules::ALL {
        let style = rule.cache_style.map_or("", CacheStyle::label);
        println!(
            "{}  {:<26} {:<15} {:<8} {}",
            rule.id,
            rule.name,
            rule.fix_safety.label(),
            style,
            rule.summary
        );
    }
    0
}

pub(super) fn explain(key: &str) -> u8 {
    match rules::find(key) {
        Some(rule) => {
            print!("{}", rule.doc);
            0
        }
        None => {
            say!("dockfix: unknown rule `{key}` (see `dockfix rules`)");
            2
        }
    }
}

pub(super) fn read_input(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf)?;
        Ok(buf)
    } else {
        std::fs::read(path)
    }
}

pub(super) fn parse(path: &std::path::Path, as_dump: bool) -> u8 {
    let source = match read_input(path) {
        Ok(source) => source,
        Err(e) => {
            say!("{}: {e}", report::quoted_path(path));
            return 2;
        }
    };
    let (file, errors) = syntax::parse_lossless(&source);
    if as_dump && errors.is_empty() {
        print!("{}", dump(&file));
    } else if !as_dump {
        // The tree exists for invalid files too: every byte in one item.
        for item in &file.items {
            let (line, _) = file.line_col(item.span.start);
            let what = match &item.kind {
                &syntax::ItemKind::Instruction(i) => {
                    let i = &file.instructions[i];
                    let text = crate::syntax::lossy(&i.logical.text);
                    format!("instruction {} {text:?}", i.command.name)
                }
                syntax::ItemKind::Directive(d) => {
                    format!("directive {{ name: {:?}, value: {:?} }}", d.name, d.value)
                }
                other => format!("{other:?}").to_lowercase(),
            };
            println!("{line}: {}..{} {what}", item.span.start, item.span.end);
        }
    }
    for e in &errors {
        let shown = report::quoted_path(path);
        say!("{shown}:{}:{}: {}", e.line, e.column, e.message);
    }
    if errors.is_empty() {
        0
    } else {
        2
    }
}
