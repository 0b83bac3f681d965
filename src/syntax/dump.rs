//! BuildKit's AST dump (`Node.Dump`): one s-expression per instruction, the
//! format of the `result` files in BuildKit's parser tests.

use super::gostr::quote;
use super::tree::{Command, Dockerfile};

pub fn dump(file: &Dockerfile) -> String {
    let mut out = String::new();
    for instruction in file.instructions() {
        out.push('(');
        out.push_str(&dump_command(&instruction.command));
        out.push_str(")\n");
    }
    out
}

fn dump_command(command: &Command) -> String {
    let mut out = command.name.to_string();
    if !command.flags.is_empty() {
        let flags: Vec<String> = command.flags.iter().map(|f| quote(&f.text)).collect();
        out.push_str(&format!(" [{}]", flags.join(" ")));
    }
    if let Some(sub) = &command.sub {
        out.push_str(&format!(" ({})", dump_command(sub)));
    }
    for value in &command.values {
        out.push(' ');
        out.push_str(&quote(value));
    }
    out
}
