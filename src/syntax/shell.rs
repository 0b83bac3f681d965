//! The shell inside a shell-form instruction, parsed with tree-sitter-bash.
//!
//! The parser sees a copy of the file's bytes from the start of the
//! arguments, the same length as the file, in which what Docker drops
//! before running the shell is masked with spaces: comment and blank lines
//! inside the continuation, and blanks after a continuation character (the
//! character itself becomes `\` right before the newline, the form bash
//! knows). Node offsets therefore map straight back into the file. For
//! `RUN <<EOF` alone, the script Docker runs is the heredoc body, so the
//! opener and delimiter lines are blanked and the body is parsed.

use std::cell::{OnceCell, RefCell};
use std::ops::Range;
use std::rc::Rc;

use tree_sitter::{Node, Parser, Tree};

use super::tree::{Dockerfile, Instruction, LineKind};

/// A node's kind read from a table. tree-sitter's `Node::kind` measures
/// and validates a C string on every call, and the walks ask it hundreds
/// of thousands of times over a corpus.
pub trait Kind {
    fn kind_name(&self) -> &'static str;
}

impl Kind for Node<'_> {
    fn kind_name(&self) -> &'static str {
        static LANGUAGE: std::sync::OnceLock<tree_sitter::Language> = std::sync::OnceLock::new();
        static KINDS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        let language =
            LANGUAGE.get_or_init(|| tree_sitter::Language::from(tree_sitter_bash::LANGUAGE));
        let kinds = KINDS.get_or_init(|| {
            (0..language.node_kind_count())
                .map(|id| {
                    u16::try_from(id)
                        .ok()
                        .and_then(|id| language.node_kind_for_id(id))
                        .unwrap_or_default()
                })
                .collect()
        });
        // The grammar's symbols and aliases are in the table; the parser's
        // own (`ERROR`) are asked of the language.
        let id = self.kind_id();
        match kinds.get(usize::from(id)) {
            Some(kind) => kind,
            None => language.node_kind_for_id(id).unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Script {
    pub tree: Tree,
    /// The walk's findings with ranges from the text's start, shared with
    /// the tree cache: a fix round reads most texts again, at new offsets.
    walked: Rc<OnceCell<Index>>,
    /// The same at file offsets.
    index: OnceCell<Index>,
    /// The top level's statements, read on the first request: the rules
    /// that remove commands ask for them once per command.
    statements: std::cell::OnceCell<Vec<Statement>>,
    /// The masked text the tree was parsed from.
    pub text: Vec<u8>,
    /// File offset of `text[0]`.
    pub base: usize,
    /// A line continuation joins two words into one (`-y\` then `curl`
    /// is `-ycurl` to the shell), which the parser reads as two.
    glued: bool,
}

/// A simple command (`name arg ...`) and its words, by file range.
#[derive(Debug, Clone)]
pub struct SimpleCommand {
    pub range: Range<usize>,
    pub name: Option<Range<usize>>,
    pub args: Vec<Range<usize>>,
}

/// A word's text when it is a plain literal (no quotes, variables,
/// escapes or line breaks), read from the file.
pub fn literal(source: &[u8], range: Range<usize>) -> Option<String> {
    let word = std::str::from_utf8(&source[range]).ok()?;
    plain(word).then(|| word.to_string())
}

/// No quote, variable, escape or line break: the word's value is its text.
fn plain(word: &str) -> bool {
    !word
        .bytes()
        .any(|b| matches!(b, b'\'' | b'"' | b'$' | b'`' | b'\\' | b'\n'))
}

/// A word's value after the shell removes its quotes and escapes
/// (`\update` is `update`, `"curl"` is `curl`); `None` when the value depends
/// on the environment (`$`, backticks), spans lines, or is unterminated.
pub fn unquoted(source: &[u8], range: Range<usize>) -> Option<String> {
    let word = std::str::from_utf8(&source[range]).ok()?;
    // Most words are plain.
    if plain(word) {
        return Some(word.to_owned());
    }
    if word.contains('\n') {
        return None;
    }
    let mut value = String::with_capacity(word.len());
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        match c {
            '$' | '`' => return None,
            '\\' => value.push(chars.next()?),
            '\'' => loop {
                match chars.next()? {
                    '\'' => break,
                    c => value.push(c),
                }
            },
            '"' => loop {
                match chars.next()? {
                    '"' => break,
                    '$' | '`' => return None,
                    '\\' => match chars.next()? {
                        c @ ('"' | '\\' | '$' | '`') => value.push(c),
                        c => {
                            value.push('\\');
                            value.push(c);
                        }
                    },
                    c => value.push(c),
                }
            },
            c => value.push(c),
        }
    }
    Some(value)
}

impl SimpleCommand {
    /// The command's words when all are plain literals.
    pub fn literal_words(&self, source: &[u8]) -> Option<Vec<String>> {
        self.name
            .iter()
            .chain(&self.args)
            .map(|r| literal(source, r.clone()))
            .collect()
    }
}

thread_local! {
    // Empty until a script is parsed. Sized up front for the most it keeps,
    // it took a third of a megabyte in every run, one over a file without
    // a RUN too (`leave_cache_to_exit` reaches it); growing as texts come
    // adds 0.2% to the instructions of a run over 5,000 apt RUNs.
    static TREES: RefCell<std::collections::HashMap<Vec<u8>, Parsed>> =
        RefCell::new(std::collections::HashMap::new());
    static PARSER: RefCell<Parser> = RefCell::new({
        let mut parser = Parser::new();
        parser
            .set_language(&tree_sitter_bash::LANGUAGE.into())
            .expect("tree-sitter-bash matches the tree-sitter version");
        parser
    });
}

/// How many parsed texts the cache keeps before it starts afresh, unless
/// the file being read needs more (`kept_for`). Emptying it frees every
/// tree it holds, cold, node by node: at 1,024 the mounts style's 1,300
/// texts over the corpus overfilled it, and that took 3% of the run.
/// 4,096 trees of RUN lines are a few megabytes.
const TREES_KEPT: usize = 4096;

/// A text's tree, and what a walk of it found once a script asked.
#[derive(Clone)]
struct Parsed {
    tree: Tree,
    walked: Rc<OnceCell<Index>>,
}

/// A command name without the version a Python or pip command may carry
/// (`python3.11` is `python3`, `pip3.12` is `pip3`), as the passes name
/// those programs; any other name as it is.
pub fn program(name: &str) -> &str {
    if !name.starts_with("python") && !name.starts_with("pip") {
        return name;
    }
    match name.split_once('.') {
        Some((base, version))
            if base.ends_with(|c: char| c.is_ascii_digit())
                && !version.is_empty()
                && version
                    .split('.')
                    .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit())) =>
        {
            base
        }
        _ => name,
    }
}

/// Parses the shell of a shell-form RUN, CMD or ENTRYPOINT (for ONBUILD, of
/// its nested instruction); `None` for anything else, exec form, or an
/// instruction without arguments.
pub fn parse<'i>(file: &Dockerfile, instruction: &'i Instruction) -> Option<&'i Script> {
    instruction
        .derived()
        .shell
        .get_or_init(|| parse_uncached(file, instruction).map(Box::new))
        .as_deref()
}

fn parse_uncached(file: &Dockerfile, instruction: &Instruction) -> Option<Script> {
    let command = instruction
        .command
        .sub
        .as_deref()
        .unwrap_or(&instruction.command);
    let runs_shell = matches!(command.name.as_str(), "run" | "cmd" | "entrypoint");
    if !runs_shell || command.json || command.args.is_empty() {
        return None;
    }
    let base = instruction.file_range(command.args.clone()).start;
    let end = match instruction.heredocs.last() {
        Some(heredoc) => heredoc.terminator.end,
        None => instruction
            .lines
            .iter()
            .rev()
            .find_map(|line| match line.kind {
                LineKind::Code { .. } => Some(line.content().end),
                _ => None,
            })?,
    };
    let mut text = file.source[base..end].to_vec();
    for line in &instruction.lines {
        let mask = match &line.kind {
            LineKind::Code {
                continuation: Some(c),
            } => *c..line.span.end,
            LineKind::Code { continuation: None } => continue,
            LineKind::Comment | LineKind::Blank => line.span.clone(),
        };
        if mask.end <= base || mask.start >= end {
            continue;
        }
        let (start, stop) = (mask.start.max(base) - base, mask.end.min(end) - base);
        text[start..stop].fill(b' ');
        let continuation = matches!(line.kind, LineKind::Code { .. });
        if continuation && stop - start >= 2 && file.source[mask.end - 1] == b'\n' {
            text[stop - 2..stop].copy_from_slice(b"\\\n");
        }
    }
    let glued = glued_words(file, instruction);
    // `RUN <<EOF` alone: Docker runs the body as the script. Blank out the
    // opener and the delimiter line so the parser sees just the body.
    let args = instruction.text(command.args.clone());
    if let [heredoc] = &instruction.heredocs[..] {
        if args.starts_with(b"<<") && !args.iter().any(u8::is_ascii_whitespace) {
            text[..heredoc.body.start - base].fill(b' ');
            text[heredoc.terminator.start - base..].fill(b' ');
        }
    }
    let mut script = parse_at(text, base, kept_for(file.instructions.len()))?;
    script.glued = glued;
    Some(script)
}

/// Whether a line continuation of the instruction sits between two bytes
/// of one word: BuildKit drops the escape and the line break, so the shell
/// reads `c\` then `url` as `curl`.
fn glued_words(file: &Dockerfile, instruction: &Instruction) -> bool {
    let word = |b: u8| !b" \t\r\n&|;()<>".contains(&b);
    let code: Vec<&super::tree::PhysLine> = instruction
        .lines
        .iter()
        .filter(|l| matches!(l.kind, LineKind::Code { .. }))
        .collect();
    code.windows(2).any(|pair| {
        let LineKind::Code {
            continuation: Some(escape),
        } = &pair[0].kind
        else {
            return false;
        };
        let before = escape.checked_sub(1).map(|i| file.source[i]);
        let after = file.source.get(pair[1].span.start).copied();
        *escape > pair[0].span.start && before.is_some_and(word) && after.is_some_and(word)
    })
}

/// Forgets the trees kept for fix rounds, so a benchmark pass starts as a
/// fresh process does.
pub fn clear_cache() {
    TREES.with(|trees| trees.borrow_mut().clear());
    super::reparse::forget_edited();
}

/// Leaves the trees kept for fix rounds to the process's end, which takes
/// their memory back at once: freeing them node by node on the way out was
/// 0.8% of a run over the corpus. For a process about to end only.
pub fn leave_cache_to_exit() {
    TREES.with(|trees| std::mem::forget(trees.take()));
}

/// Parses shell text that is not in the file, such as an instruction's
/// logical line: exactly what `/bin/sh -c` receives.
pub fn parse_text(text: &[u8]) -> Option<Script> {
    parse_at(text.to_vec(), 0, TREES_KEPT)
}

/// How many texts the cache may hold while a file of `instructions` is
/// read: room for its scripts as first read, as a fix round leaves them,
/// and once more. With a fixed 4,096, a file of 26,000 RUNs emptied the
/// cache again and again, and each fix round parsed every script anew (a
/// third of the run). A later file's first new text empties the cache
/// when it holds more than that file's own room: what a large file leaves
/// costs the next one no more than the room the next one has anyway.
fn kept_for(instructions: usize) -> usize {
    TREES_KEPT.max(3 * instructions)
}

fn parse_at(text: Vec<u8>, base: usize, keep: usize) -> Option<Script> {
    // Fix rounds re-read files whose RUNs mostly did not change: the same
    // text gets the same tree, and the same walk of it (its ranges moved
    // to the new offset). Bounded, and keyed by the exact text.
    let cached = TREES.with(|trees| trees.borrow().get(&text).cloned());
    let parsed = match cached {
        Some(parsed) => parsed,
        None => {
            let old = super::reparse::edited_tree(&text, base);
            let tree = PARSER.with(|parser| parser.borrow_mut().parse(&text, old.as_ref()))?;
            #[cfg(debug_assertions)]
            if old.is_some() {
                let fresh = PARSER.with(|parser| parser.borrow_mut().parse(&text, None));
                assert!(
                    fresh.is_some_and(|fresh| super::reparse::same_nodes(&tree, &fresh)),
                    "an incremental parse differs from a fresh one"
                );
            }
            let parsed = Parsed {
                tree,
                walked: Rc::default(),
            };
            TREES.with(|trees| {
                let mut trees = trees.borrow_mut();
                if trees.len() >= keep {
                    trees.clear();
                }
                trees.insert(text.clone(), parsed.clone());
            });
            parsed
        }
    };
    Some(Script {
        tree: parsed.tree,
        walked: parsed.walked,
        text,
        base,
        glued: false,
        index: Default::default(),
        statements: Default::default(),
    })
}

impl Script {
    pub fn root(&self) -> Node<'_> {
        self.tree.root_node()
    }

    pub fn file_range(&self, node: Node<'_>) -> Range<usize> {
        let range = node.byte_range();
        self.base + range.start..self.base + range.end
    }

    /// The (masked) text of a node.
    pub fn node_text(&self, node: Node<'_>) -> &[u8] {
        &self.text[node.byte_range()]
    }

    /// True when tree-sitter could not parse part of the script, or could
    /// not parse it as Docker runs it: a comment before a continuation
    /// swallows the continued lines too, since Docker joins them before the
    /// shell sees a line end.
    pub fn has_error(&self) -> bool {
        self.root().has_error() || self.glued || self.index().continued_comment
    }

    /// Whether a `set -e` (or `-o errexit`) is in force at file offset
    /// `at`: set by a statement of the script's own (not in a list, a
    /// subshell, a function or the background) that ends before `at`, and
    /// not turned off since.
    pub fn stops_on_error(&self, source: &[u8], at: usize) -> bool {
        let mut on = false;
        let statements = self.program_children();
        for (node, next) in statements
            .iter()
            .zip(statements.iter().skip(1).map(Some).chain([None]))
        {
            let range = self.file_range(*node);
            if range.end > at {
                break;
            }
            if node.kind_name() != "command" || next.is_some_and(|n| n.kind_name() == "&") {
                continue;
            }
            let commands = self.commands();
            let Ok(command) = commands.binary_search_by_key(&range.start, |c| c.range.start) else {
                continue;
            };
            let Some(words) = commands[command].literal_words(source) else {
                continue;
            };
            let [set, options @ ..] = words.as_slice() else {
                continue;
            };
            if set != "set" {
                continue;
            }
            on = errexit_after(on, options);
        }
        on
    }

    /// The statements of the script's top level, the lists under it
    /// flattened (`a && b || c` is three), each with the operator that
    /// joins it to the one before and whether `set -e` is in force there.
    ///
    /// `source` holds the script's bytes at their offsets: the file's for
    /// a script of the file, the script's text for one parsed alone. It is
    /// the same at every call, as the first call's answer is kept.
    pub fn statements(&self, source: &[u8]) -> &[Statement] {
        debug_assert!(source.len() >= self.base + self.text.len());
        self.statements.get_or_init(|| self.read_statements(source))
    }

    fn read_statements(&self, source: &[u8]) -> Vec<Statement> {
        // Each statement's node, and its end with the redirects after it.
        // tree-sitter-bash reads `a && b > /dev/null` as a list with a
        // redirect; the shell redirects `b` alone.
        // Whether the node is a child of the program itself matters for
        // `set`; asking a node for its parent walks down from the root, so
        // the walk says it instead.
        // Walked with a stack of its own, not by recursion: tree-sitter-bash
        // nests `a && b && c` to the left, one list per operator, and a RUN
        // of ten thousand `&&` (what merging that many RUNs writes)
        // overflowed the thread's stack.
        enum Step<'t> {
            Children(Node<'t>, bool),
            Statement(Node<'t>, bool),
            /// The last statement read ends where its redirects do.
            EndsAt(usize),
        }
        let mut nodes: Vec<(Node, usize, bool)> = Vec::new();
        let mut steps = vec![Step::Children(self.root(), true)];
        let mut children = Vec::new();
        while let Some(step) = steps.pop() {
            let (node, own) = match step {
                Step::Children(node, own) => (node, own),
                Step::Statement(node, own) => {
                    nodes.push((node, node.end_byte(), own));
                    continue;
                }
                Step::EndsAt(end) => {
                    if let Some(last) = nodes.last_mut() {
                        last.1 = end;
                    }
                    continue;
                }
            };
            children.clear();
            children.extend(node.named_children(&mut node.walk()));
            // Pushed last to first, so that they are read first to last.
            for &child in children.iter().rev() {
                let body = child.child_by_field_name("body");
                match (child.kind_name(), body.map(|b| b.kind_name())) {
                    ("list", _) => steps.push(Step::Children(child, false)),
                    ("redirected_statement", Some("list")) => {
                        steps.push(Step::EndsAt(child.end_byte()));
                        steps.push(Step::Children(body.expect("a body"), false));
                    }
                    ("comment", _) => {}
                    _ => steps.push(Step::Statement(child, own)),
                }
            }
        }
        let commands = self.commands();
        let mut statements: Vec<Statement> = Vec::with_capacity(nodes.len());
        let mut sets = Vec::with_capacity(nodes.len());
        for (node, end, own) in nodes {
            let range = self.file_range(node).start..end + self.base;
            let between = match statements.last() {
                Some(before) => &self.text[before.range.end - self.base..range.start - self.base],
                None => &b""[..],
            };
            let joined_by = operator(between, statements.is_empty());
            let (inner, redirected) = match node.kind_name() {
                "redirected_statement" => (node.child_by_field_name("body"), true),
                _ => (Some(node), end > node.end_byte()),
            };
            let command = inner.filter(|n| n.kind_name() == "command").and_then(|n| {
                let start = self.file_range(n).start;
                commands
                    .binary_search_by_key(&start, |c| c.range.start)
                    .ok()
            });
            let redirects = match (redirected, &command) {
                (true, Some(i)) => commands[*i].range.end..range.end,
                _ => range.end..range.end,
            };
            if let Some(before) = statements.last_mut() {
                before.followed_by = joined_by;
            }
            statements.push(Statement {
                range,
                command,
                redirects,
                joined_by,
                followed_by: "",
                errexit: false,
            });
            // Only a statement of the program's own, not in the
            // background, sets the shell's options.
            sets.push(
                command
                    .filter(|_| own && !redirected)
                    .and_then(|i| commands[i].literal_words(source))
                    .filter(|words| words.first().is_some_and(|w| w == "set")),
            );
        }
        if let Some(last) = statements.last_mut() {
            last.followed_by = match operator(&self.text[last.range.end - self.base..], false) {
                "&" => "&",
                _ => "",
            };
        }
        let mut errexit = false;
        for (statement, set) in statements.iter_mut().zip(sets) {
            statement.errexit = errexit;
            if let Some(words) = set.filter(|_| statement.followed_by != "&") {
                errexit = errexit_after(errexit, &words[1..]);
            }
        }
        statements
    }

    /// The children of the script's top node, operators included.
    fn program_children(&self) -> Vec<Node<'_>> {
        let root = self.root();
        let mut cursor = root.walk();
        root.children(&mut cursor)
            .filter(|n| n.kind_name() != "comment")
            .collect()
    }

    /// Whether the RUN's status can ignore the command's failure: it feeds
    /// a pipe, is followed by `||`, sits in a condition, a subshell or a
    /// function, or more statements follow it while no `set -e` is in force
    /// (or it is not the last of an `&&` list, which `set -e` lets pass).
    pub fn failure_ignored(&self, command: &SimpleCommand, source: &[u8]) -> bool {
        let offset = command.range.start - self.base;
        let mut node = self.root().descendant_for_byte_range(offset, offset);
        while let Some(n) = node.filter(|n| n.kind_name() != "command") {
            node = n.parent();
        }
        let Some(mut node) = node else { return true };
        let mut inside_list = false;
        loop {
            let Some(parent) = node.parent() else {
                return true;
            };
            let next = node.next_sibling();
            match parent.kind_name() {
                "redirected_statement" => {}
                "pipeline" if next.is_none() => {}
                "list" if next.is_none_or(|op| op.kind_name() != "||") => {
                    inside_list |= next.is_some();
                }
                "program" => {
                    if next.is_some_and(|n| n.kind_name() == "&") {
                        return true;
                    }
                    let more = std::iter::successors(next, |n| n.next_sibling())
                        .any(|n| n.is_named() && n.kind_name() != "comment");
                    let stops = self.stops_on_error(source, command.range.start);
                    return more && (!stops || inside_list);
                }
                _ => return true,
            }
            node = parent;
        }
    }

    /// Whether a command is a statement of the script's own top level
    /// (joined to others only by lists), not inside a loop, a condition, a
    /// subshell, a pipeline or a redirected statement.
    pub fn top_level(&self, command: &SimpleCommand) -> bool {
        let range = command.range.start - self.base..command.range.end - self.base;
        let Some(mut node) = self
            .root()
            .descendant_for_byte_range(range.start, range.end)
        else {
            return false;
        };
        while node.kind_name() != "command" {
            match node.parent() {
                Some(parent) => node = parent,
                None => return false,
            }
        }
        ancestors_are_lists(node)
    }

    /// The start of the statement after the top-level `&&` that directly
    /// follows file offset `end`, when one does.
    pub fn after_top_level_and(&self, end: usize) -> Option<usize> {
        let (op, range) = self.operators().iter().find(|(_, r)| r.start >= end)?;
        if *op != "&&" {
            return None;
        }
        let node = self
            .root()
            .descendant_for_byte_range(range.start - self.base, range.end - self.base)?;
        if node.kind_name() != "&&" || !ancestors_are_lists(node) {
            return None;
        }
        let next = node.next_named_sibling()?;
        Some(self.file_range(next).start)
    }

    /// Every simple command, in source order.
    pub fn commands(&self) -> &[SimpleCommand] {
        &self.index().commands
    }

    /// The connectors between commands (`&&`, `||`, `;`, `|`, ...).
    /// Assignments that are statements of their own (`DEPS="a b"`), not
    /// a command's prefix, by file range.
    pub fn assignments(&self) -> &[Range<usize>] {
        &self.index().assignments
    }

    /// Whether the script is one plain chain: each statement (a command
    /// or an assignment of its own) joined to the next by one of
    /// `operators`, with nothing else (`export`, a loop, a subshell).
    pub fn is_chain(&self, operators: &[&str]) -> bool {
        let ops = self.operators();
        let statements = self.commands().len() + self.assignments().len();
        ops.len() + 1 == statements && ops.iter().all(|(op, _)| operators.contains(op))
    }

    pub fn operators(&self) -> &[(&'static str, Range<usize>)] {
        &self.index().operators
    }

    /// Every redirect (`> file`, `2>&1`, `<<EOF`, `<<< word`), by file range.
    pub fn redirects(&self) -> &[Range<usize>] {
        &self.index().redirects
    }

    /// Whether the script holds a shell comment.
    pub fn has_comment(&self) -> bool {
        self.index().comment
    }

    /// Whether the script changes the shell's own state for what follows
    /// it: a declaration, `unset`, a function, or an assignment that is
    /// no command's prefix.
    pub fn sets_shell_state(&self) -> bool {
        self.index().shell_state
    }

    /// What the walk found, at file offsets.
    fn index(&self) -> &Index {
        self.index.get_or_init(|| {
            self.walked
                .get_or_init(|| self.walk())
                .moved(|r| self.base + r.start..self.base + r.end)
        })
    }

    /// One walk over the tree, with one cursor, finds all of the above, by
    /// range in the text.
    fn walk(&self) -> Index {
        let mut index = Index::default();
        let mut cursor = self.tree.walk();
        // The kinds of the nodes above the cursor, each with its index
        // in `commands` when it is a command: a command's words are its
        // children, read on the same walk.
        let mut above: Vec<(&'static str, Option<usize>)> = Vec::new();
        loop {
            let node = cursor.node();
            let kind = node.kind_name();
            let (parent, in_command) = above.last().copied().unwrap_or(("", None));
            if let Some(command) = in_command.filter(|_| node.is_named()) {
                let command = &mut index.commands[command];
                match kind {
                    "command_name" => command.name = Some(node.byte_range()),
                    "variable_assignment"
                    | "file_redirect"
                    | "heredoc_redirect"
                    | "herestring_redirect" => {}
                    _ => command.args.push(node.byte_range()),
                }
            }
            index.shell_state |= matches!(
                kind,
                "declaration_command" | "unset_command" | "function_definition"
            ) || (kind == "variable_assignment" && parent != "command");
            match kind {
                "command" => index.commands.push(SimpleCommand {
                    range: node.byte_range(),
                    name: None,
                    args: Vec::new(),
                }),
                // An assignment on its own (`DEPS="a b" && ...`), not the
                // prefix of a command.
                "variable_assignment" if matches!(parent, "program" | "list") => {
                    index.assignments.push(node.byte_range())
                }
                "comment" => {
                    index.comment = true;
                    index.continued_comment |= self.node_text(node).ends_with(b"\\");
                }
                "&&" | "||" | ";" | "|" | "|&" | "&" if !node.is_named() => {
                    index.operators.push((kind, node.byte_range()))
                }
                kind if kind.ends_with("_redirect") => index.redirects.push(node.byte_range()),
                _ => {}
            }
            if !self.holds_nothing_walked(node, kind) && cursor.goto_first_child() {
                let command = (kind == "command").then(|| index.commands.len() - 1);
                above.push((kind, command));
                continue;
            }
            while !cursor.goto_next_sibling() {
                if !cursor.goto_parent() {
                    return index;
                }
                above.pop();
            }
        }
    }

    /// Whether the nodes of a word (or of a command's name, or of an
    /// assignment) hold nothing the walk looks for: commands, operators,
    /// redirects and assignments inside one all sit in a command or process
    /// substitution, which its text would show.
    fn holds_nothing_walked(&self, node: Node<'_>, kind: &str) -> bool {
        matches!(
            kind,
            "word"
                | "string"
                | "raw_string"
                | "concatenation"
                | "simple_expansion"
                | "expansion"
                | "command_name"
                | "variable_assignment"
        ) && {
            let text = self.node_text(node);
            !text.contains(&b'`')
                && !text
                    .windows(2)
                    .any(|w| w[1] == b'(' && b"$<>".contains(&w[0]))
        }
    }
}

/// One statement of a script's top level.
#[derive(Debug, Clone)]
pub struct Statement {
    /// The whole statement, redirects included, by file range.
    pub range: Range<usize>,
    /// The index in `commands()` of the simple command it is, if it is one
    /// (alone, or with redirects after it).
    pub command: Option<usize>,
    /// The redirects after the simple command, by file range; empty when
    /// it has none or the statement is no simple command.
    pub redirects: Range<usize>,
    /// What joins it to the statement before: `&&`, `||`, `;` (a line end
    /// too), `&`, or nothing for the first.
    pub joined_by: &'static str,
    /// What joins it to the statement after, the same way; `&` or nothing
    /// for the last.
    pub followed_by: &'static str,
    /// Whether a `set -e` of the script's own is in force before it.
    pub errexit: bool,
}

impl Statement {
    /// Whether a failure of the statements before it stops it: joined by
    /// `&&`, or by `;` under `set -e`.
    pub fn chained(&self) -> bool {
        self.joined_by == "&&" || (self.joined_by == ";" && self.errexit)
    }
}

/// The operator in the text between two statements (blanks and line
/// continuations aside).
fn operator(between: &[u8], first: bool) -> &'static str {
    let op: Vec<u8> = between
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'\\')
        .collect();
    match op.as_slice() {
        _ if first => "",
        b"&&" => "&&",
        b"||" => "||",
        b"&" => "&",
        _ => ";",
    }
}

/// Whether `set -e` is in force after `set` with `options`, given `on`
/// before it.
fn errexit_after(mut on: bool, options: &[String]) -> bool {
    for (i, option) in options.iter().enumerate() {
        let errexit = options.get(i + 1).is_some_and(|o| o == "errexit");
        match option.as_str() {
            // What follows `--` are positional parameters.
            "--" => break,
            "-o" if errexit => on = true,
            "+o" if errexit => on = false,
            o if o.starts_with('-') && !o.starts_with("--") && o.contains('e') => on = true,
            o if o.starts_with('+') && o.contains('e') => on = false,
            _ => {}
        }
    }
    on
}

/// Whether every ancestor of `node` up to the program is a list.
fn ancestors_are_lists(node: Node<'_>) -> bool {
    let mut node = node;
    while let Some(parent) = node.parent() {
        match parent.kind_name() {
            "list" => node = parent,
            "program" => return true,
            _ => return false,
        }
    }
    false
}

/// What one walk of a script finds.
#[derive(Debug, Clone, Default)]
struct Index {
    commands: Vec<SimpleCommand>,
    assignments: Vec<Range<usize>>,
    operators: Vec<(&'static str, Range<usize>)>,
    redirects: Vec<Range<usize>>,
    comment: bool,
    continued_comment: bool,
    /// A declaration (`export`, `local`, ...), `unset`, a function or an
    /// assignment of its own: state that reaches what runs after it.
    shell_state: bool,
}

impl Index {
    /// The same findings with every range mapped by `map`.
    fn moved(&self, map: impl Fn(&Range<usize>) -> Range<usize>) -> Index {
        Index {
            commands: self
                .commands
                .iter()
                .map(|c| SimpleCommand {
                    range: map(&c.range),
                    name: c.name.as_ref().map(&map),
                    args: c.args.iter().map(&map).collect(),
                })
                .collect(),
            assignments: self.assignments.iter().map(&map).collect(),
            operators: self.operators.iter().map(|(op, r)| (*op, map(r))).collect(),
            redirects: self.redirects.iter().map(&map).collect(),
            ..*self
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn versioned_python_and_pip_name_the_same_program() {
        for (name, program) in [
            ("python3.11", "python3"),
            ("python3.6", "python3"),
            ("pip3.12", "pip3"),
            ("python2.7", "python2"),
            ("python3", "python3"),
            ("pip", "pip"),
            ("pip3.x", "pip3.x"),
            ("python3.", "python3."),
            ("pipenv", "pipenv"),
            ("node18.1", "node18.1"),
        ] {
            assert_eq!(super::program(name), program, "{name}");
        }
    }

    use super::*;
    use crate::syntax::parse as parse_file;

    fn text(src: &[u8], range: Range<usize>) -> &str {
        std::str::from_utf8(&src[range]).unwrap()
    }

    #[test]
    fn the_kind_table_names_nodes_as_tree_sitter_does() {
        // The last line does not parse: an ERROR node, the parser's own.
        let script = "set -e; a=1 b=\"$(c | d)\" e 2>/dev/null && { f || g & } ; \\\n\
            for x in 1 2; do case $x in 1) h;; esac; done <<EOF\nbody\nEOF\n\
            if [ -f y ]; then (cd z && ./k); fi # note\n[[ $v == w* ]] || echo ${v:-u} >> o\n\
            fi )";
        let tree = PARSER
            .with(|parser| parser.borrow_mut().parse(script, None))
            .unwrap();
        let mut cursor = tree.walk();
        let mut seen = 0;
        let mut errors = 0;
        loop {
            let node = cursor.node();
            assert_eq!(node.kind_name(), node.kind());
            seen += 1;
            errors += usize::from(node.is_error());
            if cursor.goto_first_child() {
                continue;
            }
            while !cursor.goto_next_sibling() {
                if !cursor.goto_parent() {
                    assert!(seen > 100, "{seen} nodes");
                    assert!(errors > 0, "an ERROR node");
                    return;
                }
            }
        }
    }

    #[test]
    fn a_text_read_again_at_another_offset_has_ranges_there() {
        // The second RUN's text is the first's: its tree and walk come
        // from the cache, their ranges moved to where it stands.
        let src = b"FROM a\nRUN apt-get update && apt-get install -y curl > /log\n\
                    COPY . .\nRUN apt-get update && apt-get install -y curl > /log\n";
        let file = parse_file(src).unwrap();
        let runs: Vec<_> = file
            .instructions()
            .filter(|i| i.command.name == "run")
            .collect();
        for run in runs {
            let script = parse(&file, run).unwrap();
            let span = run.span();
            let inside = |r: &Range<usize>| span.start <= r.start && r.end <= span.end;
            let commands = script.commands();
            assert!(commands.iter().all(|c| inside(&c.range)));
            assert!(commands.iter().flat_map(|c| &c.args).all(inside));
            assert_eq!(text(src, commands[1].name.clone().unwrap()), "apt-get");
            assert_eq!(text(src, script.operators()[0].1.clone()), "&&");
            assert_eq!(text(src, script.redirects()[0].clone()), "> /log");
        }
    }

    #[test]
    fn a_file_of_more_scripts_than_the_cache_keeps_all_for_the_next_round() {
        clear_cache();
        let mut src = b"FROM a\n".to_vec();
        for i in 0..TREES_KEPT + 100 {
            src.extend_from_slice(format!("RUN echo {i}\n").as_bytes());
        }
        let walks = |file: &Dockerfile| -> Vec<Rc<OnceCell<Index>>> {
            file.instructions()
                .filter_map(|i| parse(file, i))
                .map(|s| s.walked.clone())
                .collect()
        };
        let (first, again) = (parse_file(&src).unwrap(), parse_file(&src).unwrap());
        let (first, again) = (walks(&first), walks(&again));
        assert_eq!(first.len(), TREES_KEPT + 100);
        assert!(first.iter().zip(&again).all(|(a, b)| Rc::ptr_eq(a, b)));
        // The next file starts the cache afresh.
        let small = parse_file(b"FROM a\nRUN true\n").unwrap();
        assert_eq!(walks(&small).len(), 1);
        assert_eq!(TREES.with(|trees| trees.borrow().len()), 1);
    }

    #[test]
    fn commands_inside_words_are_found() {
        let src = b"FROM a\nRUN echo \"v=$(apt-get -v 2>&1 | head -1)\" x`id -u`y \
                    ${V:-$(cat /v)} \"$HOME\" <(ls) 'x$(no)'\n";
        let file = parse_file(src).unwrap();
        let script = parse(&file, file.instructions().nth(1).unwrap()).unwrap();
        let names: Vec<_> = script
            .commands()
            .iter()
            .map(|c| text(src, c.name.clone().unwrap()))
            .collect();
        assert_eq!(names, ["echo", "apt-get", "head", "id", "cat", "ls"]);
        assert_eq!(text(src, script.redirects()[0].clone()), "2>&1");
        assert_eq!(script.operators()[0].0, "|");
        let src = b"FROM a\nRUN A=$(uname -m) && \"$(which true)\" -x\n";
        let file = parse_file(src).unwrap();
        let script = parse(&file, file.instructions().nth(1).unwrap()).unwrap();
        let names: Vec<_> = script
            .commands()
            .iter()
            .filter_map(|c| c.name.clone())
            .map(|name| text(src, name))
            .collect();
        assert_eq!(names, ["uname", "\"$(which true)\"", "which"]);
    }

    #[test]
    fn unquoting_follows_the_shell() {
        let value = |w: &str| unquoted(w.as_bytes(), 0..w.len());
        assert_eq!(value(r"\update").as_deref(), Some("update"));
        assert_eq!(value(r#""curl"'-y'x"#).as_deref(), Some("curl-yx"));
        assert_eq!(value(r#""a\b\"c""#).as_deref(), Some(r#"a\b"c"#));
        assert_eq!(value(r"'\n'").as_deref(), Some(r"\n"));
        assert_eq!(value(r#""\$x""#).as_deref(), Some("$x"));
        assert_eq!(value("'$HOME'").as_deref(), Some("$HOME"));
        for dynamic in ["$HOME", "\"$x\"", "`id`", "'open", "\"open", "a\\"] {
            assert_eq!(value(dynamic), None, "{dynamic}");
        }
    }

    #[test]
    fn words_map_back_to_the_file_across_masked_lines() {
        let src =
            b"FROM a\nRUN apt-get update \\  \r\n# comment\r\n\r\n  && apt-get install -y curl\r\n";
        let file = parse_file(src).unwrap();
        let run = file.instructions().nth(1).unwrap();
        let script = parse(&file, run).unwrap();
        assert!(!script.has_error());
        let commands = script.commands();
        assert_eq!(commands.len(), 2);
        assert_eq!(text(src, commands[1].name.clone().unwrap()), "apt-get");
        let args: Vec<_> = commands[1]
            .args
            .iter()
            .map(|r| text(src, r.clone()))
            .collect();
        assert_eq!(args, ["install", "-y", "curl"]);
        let ops = script.operators();
        assert_eq!(ops.len(), 1);
        assert_eq!(text(src, ops[0].1.clone()), "&&");
    }

    #[test]
    fn a_continuation_inside_a_word_makes_the_script_unreadable() {
        // BuildKit drops the escape and the line break: the shell reads
        // `curl` and `-y`, which the parser would take for two words each.
        for src in [
            &b"FROM a\nRUN apt-get install -y c\\\nurl\n"[..],
            b"FROM a\nRUN apt-get install -\\\r\ny curl\r\n",
        ] {
            let file = parse_file(src).unwrap();
            let run = file.instructions().nth(1).unwrap();
            assert!(parse(&file, run).unwrap().has_error(), "{src:?}");
        }
        // A blank on either side keeps the words apart, and an operator
        // is no word.
        for src in [
            &b"FROM a\nRUN apt-get install -y curl \\\n&& true\n"[..],
            b"FROM a\nRUN apt-get install -y curl\\\n  git\n",
            b"FROM a\nRUN apt-get update &&\\\napt-get install -y git\n",
        ] {
            let file = parse_file(src).unwrap();
            let run = file.instructions().nth(1).unwrap();
            assert!(!parse(&file, run).unwrap().has_error(), "{src:?}");
        }
    }

    #[test]
    fn a_comment_before_a_continuation_makes_the_script_unreadable() {
        let src = b"FROM a\nRUN apt-get update # refresh \\\n  && apt-get install -y curl\n";
        let file = parse_file(src).unwrap();
        let run = file.instructions().nth(1).unwrap();
        assert!(parse(&file, run).unwrap().has_error());
        let src =
            b"FROM a\nRUN apt-get update \\\n# comment line \\\n  && apt-get install -y curl\n";
        let file = parse_file(src).unwrap();
        let run = file.instructions().nth(1).unwrap();
        assert!(
            !parse(&file, run).unwrap().has_error(),
            "a comment line is masked"
        );
    }

    #[test]
    fn chains_count_assignments_as_statements() {
        let script = |run: &str| parse_text(run.as_bytes()).unwrap();
        let both = script("DEPS=\"gcc make\" && apt-get install $DEPS; echo done");
        assert_eq!(both.assignments().len(), 1);
        assert!(both.is_chain(&["&&", ";"]));
        assert!(!both.is_chain(&["&&"]));
        // A declaration is neither a command nor an assignment of its own.
        assert!(!script("A=1 && export B=2 && apt-get install $A").is_chain(&["&&"]));
        assert!(!script("npm ci || true").is_chain(&["&&"]));
        // The prefix of a command is not a statement.
        let prefixed = script("CC=gcc make && make install");
        assert!(prefixed.assignments().is_empty() && prefixed.is_chain(&["&&"]));
    }

    #[test]
    fn a_chain_of_many_thousand_statements_is_read_without_recursion() {
        // As many `&&` as merging 20,000 RUNs writes: nested one list per
        // operator, which a recursive walk took the thread's stack for.
        let text = vec!["true"; 20_001].join(" && ") + " > /dev/null";
        let script = parse_text(text.as_bytes()).unwrap();
        let statements = script.statements(&script.text);
        assert_eq!(statements.len(), 20_001);
        // The redirect of the whole list ends its last statement.
        assert_eq!(statements.last().unwrap().range.end, text.len());
    }

    #[test]
    fn statements_carry_their_operators_redirects_and_errexit() {
        let text = "set -eu; a && b > /dev/null && c | d\nset +e; e || f & g; (h) 2>&1 &";
        let script = parse_text(text.as_bytes()).unwrap();
        let statements = script.statements(&script.text);
        // Text, command name, redirects, operators before and after, errexit.
        type Seen<'t> = (&'t str, Option<&'t str>, &'t str, &'t str, &'t str, bool);
        let seen: Vec<Seen> = statements
            .iter()
            .map(|s| {
                let name = s.command.map(|c| {
                    let range = script.commands()[c].name.clone().unwrap();
                    &text[range]
                });
                let redirects = &text[s.redirects.clone()];
                (
                    &text[s.range.clone()],
                    name,
                    redirects,
                    s.joined_by,
                    s.followed_by,
                    s.errexit,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("set -eu", Some("set"), "", "", ";", false),
                ("a", Some("a"), "", ";", "&&", true),
                // The redirect belongs to `b` alone, though the parser
                // hangs it on the list.
                ("b > /dev/null", Some("b"), " > /dev/null", "&&", "&&", true),
                ("c | d", None, "", "&&", ";", true),
                ("set +e", Some("set"), "", ";", ";", true),
                ("e", Some("e"), "", ";", "||", false),
                ("f", Some("f"), "", "||", "&", false),
                ("g", Some("g"), "", "&", ";", false),
                ("(h) 2>&1", None, "", ";", "&", false),
            ]
        );
        assert!(statements[1].chained() && statements[2].chained());
        assert!(!statements[6].chained() && !statements[5].chained());
        // A `set -e` in the background sets nothing for what follows.
        let background = parse_text(b"set -e & a; b").unwrap();
        assert!(background
            .statements(&background.text)
            .iter()
            .all(|s| !s.errexit));
    }

    #[test]
    fn pipes_and_redirects_are_reachable() {
        let src =
            b"FROM a\nRUN curl -fsSL https://x | tar -xz -C /opt 2>/dev/null; echo done > /log\n";
        let file = parse_file(src).unwrap();
        let script = parse(&file, file.instructions().nth(1).unwrap()).unwrap();
        let ops: Vec<_> = script.operators().iter().map(|(op, _)| *op).collect();
        assert_eq!(ops, ["|", ";"]);
        let redirects: Vec<_> = script
            .redirects()
            .iter()
            .map(|r| text(src, r.clone()))
            .collect();
        assert_eq!(redirects, ["2>/dev/null", "> /log"]);
        assert_eq!(script.commands().len(), 3);
    }

    #[test]
    fn heredoc_scripts_parse() {
        let src = b"FROM a\nRUN <<EOF\napt-get update\napt-get install -y curl\nEOF\n";
        let file = parse_file(src).unwrap();
        let script = parse(&file, file.instructions().nth(1).unwrap()).unwrap();
        assert!(!script.has_error());
        let names: Vec<_> = script
            .commands()
            .iter()
            .map(|c| text(src, c.name.clone().unwrap()))
            .collect();
        assert_eq!(names, ["apt-get", "apt-get"]);
        // A heredoc fed to a command is ordinary bash.
        let src = b"FROM a\nRUN python3 <<'PY' > /out\nprint(1)\nPY\n";
        let file = parse_file(src).unwrap();
        let script = parse(&file, file.instructions().nth(1).unwrap()).unwrap();
        assert!(!script.has_error());
        assert_eq!(
            text(src, script.commands()[0].name.clone().unwrap()),
            "python3"
        );
    }

    #[test]
    fn exec_form_has_no_shell() {
        let file = parse_file(b"FROM a\nCMD [\"a\"]\n").unwrap();
        assert!(parse(&file, file.instructions().nth(1).unwrap()).is_none());
    }
}
