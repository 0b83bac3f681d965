//! DF002 exec-form: shell-form `CMD`/`ENTRYPOINT` becomes JSON exec form
//! where the conversion is exact.

use tree_sitter::Node;

use crate::edit::Edit;
use crate::model::{self, Stage};
use crate::rules::{Applicability, Context, Finding, Fix, FixSafety, Rule};
use crate::syntax::shell::{self, Kind, Script};
use crate::syntax::{Instruction, LineKind, MAX_LINE};

pub static RULE: Rule = Rule {
    id: "DF002",
    name: "exec-form",
    summary: "shell-form CMD/ENTRYPOINT: use the JSON exec form",
    fix_title: "Write the command in JSON exec form",
    effect: "the program runs as PID 1 and receives `docker stop`'s SIGTERM, so containers stop at once instead of being killed after the timeout",
    fix_safety: FixSafety::Sometimes,
    cache_style: None,
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF002 exec-form

## What it does
Finds `CMD` and `ENTRYPOINT` in shell form and, where the command is one
program with literal arguments, rewrites it as a JSON exec form array.
Equivalent to hadolint's DL3025.

## Why
Shell form runs `/bin/sh -c \"...\"`: the shell, not the program, is PID 1,
so `docker stop` sends SIGTERM to a shell that does not pass it on, and the
container is killed after the grace period instead of shutting down
cleanly. Exec form starts the program directly.

## Example
```dockerfile
CMD node server.js --port 8080
```
becomes
```dockerfile
CMD [\"node\", \"server.js\", \"--port\", \"8080\"]
```

Reported without a fix when the conversion would not be exact: variables,
`&&`/`||`/`;`/pipes, redirects, globs, command substitution, shell builtins
such as `cd`, a `SHELL` instruction, a Windows (backtick-escape) file, or a
comment line inside the instruction (the one-line array would drop it).
`exec prog args` becomes `[\"prog\", \"args\"]`.

## Fix safety
For `CMD`, the fix is safe when dockfix can see that no exec-form
`ENTRYPOINT` will receive the command: the stage and the stages it builds on
set none and the chain starts `FROM scratch`, or a shell-form `ENTRYPOINT`
(which ignores `CMD`) is in effect. Otherwise the fix is unsafe: an
`ENTRYPOINT`, maybe one inherited from a registry image dockfix cannot see,
would receive `node server.js` instead of `/bin/sh -c \"node server.js\"`,
and entrypoint scripts that look at their first argument can behave
differently. For `ENTRYPOINT` the fix is always unsafe: in exec form the
arguments of `CMD` and `docker run` are passed to the program, in shell form
they are ignored.
";

/// Shell builtins and keywords: in exec form they would be looked up as
/// programs, which either do not exist or behave differently.
const BUILTINS: &[&str] = &[
    ".", ":", "[", "alias", "bg", "break", "builtin", "cd", "command", "continue", "echo", "eval",
    "exec", "exit", "export", "false", "fg", "getopts", "hash", "jobs", "kill", "local", "printf",
    "pwd", "read", "readonly", "return", "set", "shift", "source", "test", "times", "trap", "true",
    "type", "ulimit", "umask", "unalias", "unset", "wait",
];

fn check(cx: &Context) -> Vec<Finding> {
    let file = cx.file;
    let stages = cx.stages();
    let mut findings = Vec::new();
    for (index, stage) in stages.iter().enumerate() {
        for (position, instruction) in stage.each(&["cmd", "entrypoint"]) {
            let command = &instruction.command;
            if !matches!(command.name.as_str(), "cmd" | "entrypoint")
                || command.json
                || command.args.is_empty()
            {
                continue;
            }
            let range = instruction.keyword_range();
            let keyword = command.name.to_uppercase();
            let summary = format!(
                "shell-form {keyword}: use the JSON exec form so the program receives signals"
            );
            let conversion = if file.escape == b'`' {
                Err(
                    "the file uses the Windows escape character, so its shell is not /bin/sh"
                        .to_string(),
                )
            } else if has_comment_lines(instruction) {
                Err("a comment line inside it would be lost".to_string())
            } else if sets_shell(stages, index, position) {
                Err("a SHELL instruction changes the shell that runs it".to_string())
            } else {
                // The logical line is exactly what `/bin/sh -c` receives.
                shell::parse_text(instruction.text(command.args.clone()))
                    .ok_or_else(|| "dockfix cannot read its shell".to_string())
                    .and_then(|script| exec_words(&script))
            };
            let (message, fix) = match conversion {
                Err(why) => (format!("{summary}; not fixed: {why}"), None),
                Ok(words) if json_array(&words).len() + 16 > MAX_LINE => (
                    format!(
                        "{summary}; not fixed: the one-line array would pass BuildKit's line limit"
                    ),
                    None,
                ),
                Ok(words) => {
                    let edit = Edit::replace(instruction.args_range(), json_array(&words));
                    let (applicability, message) = match safety(stages, index, instruction) {
                        Ok(()) => (Applicability::Safe, summary),
                        Err(why) => (
                            Applicability::Unsafe,
                            format!("{summary}; the fix is unsafe: {why}"),
                        ),
                    };
                    (message, Some(Fix::new(applicability, vec![edit])))
                }
            };
            findings.push(Finding {
                rule: &RULE,
                range,
                message,
                fix,
            });
        }
    }
    findings
}

fn has_comment_lines(instruction: &Instruction) -> bool {
    instruction
        .lines
        .iter()
        .any(|line| line.kind == LineKind::Comment)
}

fn sets_shell(stages: &[Stage], index: usize, position: usize) -> bool {
    let own = stages[index].body[..position]
        .iter()
        .any(|i| i.command.name == "shell");
    own || model::lineage(stages, index)
        .skip(1)
        .any(|s| s.body.iter().any(|i| i.command.name == "shell"))
}

/// Whether exec form provably runs the same way: see the fix safety notes.
fn safety(stages: &[Stage], index: usize, instruction: &Instruction) -> Result<(), String> {
    if instruction.command.name == "entrypoint" {
        return Err("in exec form, CMD and `docker run` arguments reach the program".into());
    }
    for stage in model::lineage(stages, index) {
        if let Some(entrypoint) = stage
            .body
            .iter()
            .rev()
            .find(|i| i.command.name == "entrypoint")
        {
            return if entrypoint.command.json {
                Err("the ENTRYPOINT would receive these words instead of `/bin/sh -c ...`".into())
            } else {
                Ok(())
            };
        }
    }
    let root = model::lineage(stages, index)
        .last()
        .expect("a lineage holds its own stage");
    if root.base.eq_ignore_ascii_case("scratch") {
        Ok(())
    } else {
        Err(format!(
            "an ENTRYPOINT of the base image `{}` would receive these words instead of `/bin/sh -c ...`",
            root.base
        ))
    }
}

/// The program and arguments when the script is one simple command of
/// literal words.
fn exec_words(script: &Script) -> Result<Vec<String>, String> {
    if std::str::from_utf8(&script.text).is_err() {
        return Err("it holds bytes that are not UTF-8, which exec form cannot carry".into());
    }
    if script.has_error() {
        return Err("dockfix cannot read its shell syntax".into());
    }
    let root = script.root();
    let mut cursor = root.walk();
    let statements: Vec<Node> = root.children(&mut cursor).collect();
    let [command] = statements.as_slice() else {
        return Err("it runs several commands, or in the background".into());
    };
    match command.kind_name() {
        "command" => {}
        "redirected_statement" => return Err("it redirects input or output".into()),
        "list" | "pipeline" => return Err("it runs several commands".into()),
        kind => {
            return Err(format!(
                "it is a shell {}, not one program",
                kind.replace('_', " ")
            ))
        }
    }
    let mut parts: Vec<Node> = Vec::new();
    let mut cursor = command.walk();
    for child in command.children(&mut cursor) {
        match child.kind_name() {
            "command_name" => {
                let mut inner = child.walk();
                parts.extend(child.named_children(&mut inner));
            }
            "variable_assignment" => return Err("it sets a variable for the command".into()),
            kind if kind.ends_with("redirect") => return Err("it redirects input or output".into()),
            _ if !child.is_named() => {
                return Err(format!(
                    "it uses `{}`",
                    crate::syntax::lossy(script.node_text(child))
                ))
            }
            _ => parts.push(child),
        }
    }
    // Each node must be a whole shell word: the parser sometimes splits one
    // (a quoted part next to an escape), so words must be apart, by blanks.
    for pair in parts.windows(2) {
        let gap = &script.text[pair[0].end_byte()..pair[1].start_byte()];
        if gap.is_empty() || !gap.iter().all(|b| matches!(b, b' ' | b'\t')) {
            return Err("dockfix cannot split its words exactly".into());
        }
    }
    let mut words = parts
        .iter()
        .map(|&part| literal(script, part))
        .collect::<Result<Vec<_>, _>>()?;
    if words.first().map(String::as_str) == Some("exec") {
        match words.get(1) {
            Some(next) if !next.starts_with('-') && next != "exec" => {
                words.remove(0);
            }
            _ => return Err("`exec` is not followed by a plain program".into()),
        }
    }
    match words.first() {
        None => Err("it has no command".into()),
        Some(name) if BUILTINS.contains(&name.as_str()) => {
            Err(format!("`{name}` is a shell builtin"))
        }
        Some(_) => Ok(words),
    }
}

/// The value of a word made only of literal text and quotes.
fn literal(script: &Script, node: Node) -> Result<String, String> {
    let text = crate::syntax::lossy(script.node_text(node)).into_owned();
    if text.contains(['\n', '\r', '\u{b}', '\u{c}']) {
        return Err("a word holds a line break or control character".into());
    }
    match node.kind_name() {
        "word" | "number" => {
            if text.starts_with('~') {
                return Err("it uses `~`".into());
            }
            if text.contains(['*', '?', '[', ']', '{', '}']) {
                return Err("it uses glob or brace patterns".into());
            }
            if text.contains(['$', '`']) {
                return Err("it expands variables or commands".into());
            }
            Ok(unescape(&text, |_| true))
        }
        "raw_string" => Ok(text[1..text.len() - 1].to_string()),
        "string" => {
            let mut cursor = node.walk();
            if node
                .named_children(&mut cursor)
                .any(|c| c.kind_name() != "string_content")
            {
                return Err("it expands variables or commands".into());
            }
            let inner = &text[1..text.len() - 1];
            Ok(unescape(inner, |c| matches!(c, '$' | '`' | '"' | '\\')))
        }
        "concatenation" => {
            let mut cursor = node.walk();
            let parts: Result<Vec<_>, _> = node
                .children(&mut cursor)
                .map(|c| literal(script, c))
                .collect();
            Ok(parts?.concat())
        }
        "simple_expansion" | "expansion" | "command_substitution" => {
            Err("it expands variables or commands".into())
        }
        kind => Err(format!("it uses a {}", kind.replace('_', " "))),
    }
}

/// Removes the backslashes the shell removes: before any character outside
/// quotes, before `escapable` ones inside double quotes.
fn unescape(text: &str, escapable: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match chars.peek() {
            Some(&next) if c == '\\' && escapable(next) => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

fn json_array(words: &[String]) -> String {
    let items: Vec<String> = words
        .iter()
        .map(|w| serde_json::to_string(w).expect("strings serialize"))
        .collect();
    format!("[{}]", items.join(", "))
}
