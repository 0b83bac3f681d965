//! The lossless lexer: BuildKit's line loop (directives, comments, blank
//! lines, continuations, heredoc bodies), recording every byte it reads in
//! an item instead of discarding it.

use std::ops::Range;

use super::byte_search;
use super::check::Checker;
use super::command::parse_command;
use super::gostr::leading_space_len;
use super::heredoc;
use super::logical::Logical;
use super::tree::{
    Command, Directive, Dockerfile, Heredoc, Instruction, Item, ItemKind, LineKind, Lines, PhysLine,
};

const BOM: &[u8] = b"\xef\xbb\xbf";

/// The longest line BuildKit reads, line ending included.
pub const MAX_LINE: usize = 65_536;

/// A Dockerfile BuildKit would reject, with the 1-based line it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for ParseError {}

pub(super) fn error(line: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        line: line.max(1),
        column: 1,
        message: message.into(),
    }
}

/// Parses a Dockerfile. Fails where BuildKit fails, with BuildKit's first
/// error.
pub fn parse(source: &[u8]) -> Result<Dockerfile, ParseError> {
    parse_owned(source.to_vec())
}

/// [`parse`] of bytes the tree then keeps, where the caller has no more
/// use for them: a large file is not copied.
pub fn parse_owned(source: Vec<u8>) -> Result<Dockerfile, ParseError> {
    first_error(lossless(source, true))
}

fn first_error(
    (file, mut errors): (Dockerfile, Vec<ParseError>),
) -> Result<Dockerfile, ParseError> {
    if errors.is_empty() {
        Ok(file)
    } else {
        Err(errors.swap_remove(0))
    }
}

/// The syntax tree of any input, valid or not, with every error BuildKit
/// would stop at: its parser's first, then its instruction checks'. The
/// tree always covers every byte.
pub fn parse_lossless(source: &[u8]) -> (Dockerfile, Vec<ParseError>) {
    lossless(source.to_vec(), true)
}

/// The tree of `source`, which it keeps, with BuildKit's parser errors and,
/// when `checked`, its instruction checks' after them.
fn lossless(source: Vec<u8>, checked: bool) -> (Dockerfile, Vec<ParseError>) {
    let mut lexer = Lexer::new(&source);
    if checked {
        lexer.checker = Some(Checker::default());
    }
    let (mut file, errors) = lexer.run();
    file.source = source;
    (file, errors)
}

/// BuildKit's parser alone (`parser.Parse`): the tree it builds from any
/// words, without the instruction checks that then reject unknown
/// instructions, missing arguments or bad flags. For BuildKit's parser
/// tests; everything else wants [`parse`].
pub fn parse_ast(source: &[u8]) -> Result<Dockerfile, ParseError> {
    first_error(lossless(source.to_vec(), false))
}

struct Lexer<'a> {
    src: &'a [u8],
    /// Where the next line starts, and its index: lines are found as the
    /// lexer reaches them, not listed first, which cost a file of tens of
    /// thousands of lines a pass and memory written only to be read once.
    at: usize,
    next: usize,
    /// The 1-based number of the first line longer than BuildKit reads.
    too_long: Option<usize>,
    escape: u8,
    directives_done: bool,
    seen: Vec<String>,
    items: Vec<Item>,
    instructions: Vec<Instruction>,
    /// See `Dockerfile::kinds`.
    kinds: Vec<u32>,
    errors: Vec<ParseError>,
    /// BuildKit's instruction checks, for `parse_lossless`; its errors
    /// follow the parser's.
    checker: Option<Checker>,
}

impl<'a> Lexer<'a> {
    fn new(src: &'a [u8]) -> Self {
        // Sized up front: a large file would otherwise copy its items over
        // and over as they grow.
        let lines = byte_search::count(b'\n', src) + 1;
        Lexer {
            src,
            items: Vec::with_capacity(lines),
            instructions: Vec::with_capacity(lines),
            kinds: Vec::with_capacity(lines),
            at: 0,
            next: 0,
            too_long: None,
            escape: b'\\',
            directives_done: false,
            seen: Vec::new(),
            errors: Vec::new(),
            checker: None,
        }
    }

    /// The next line, line ending included.
    fn next_line(&mut self) -> Option<Range<usize>> {
        if self.at >= self.src.len() {
            return None;
        }
        let end = byte_search::find(b'\n', &self.src[self.at..])
            .map_or(self.src.len(), |i| self.at + i + 1);
        let line = self.at..end;
        self.at = end;
        self.next += 1;
        // BuildKit reads lines with Go's bufio.Scanner, whose tokens stop
        // short of 64 KiB.
        if line.len() > MAX_LINE && self.too_long.is_none() {
            self.too_long = Some(self.next);
        }
        Some(line)
    }

    /// The line without its trailing `\r`/`\n` bytes (Go's `trimNewline`).
    fn content(&self, line: Range<usize>) -> Range<usize> {
        let mut end = line.end;
        while end > line.start && matches!(self.src[end - 1], b'\r' | b'\n') {
            end -= 1;
        }
        line.start..end
    }

    fn is_comment(&self, content: Range<usize>) -> bool {
        let text = &self.src[content];
        text.get(leading_space_len(text)) == Some(&b'#')
    }

    fn is_blank(&self, content: Range<usize>) -> bool {
        let text = &self.src[content];
        leading_space_len(text) == text.len()
    }

    /// Where the continuation character starts, if the line continues:
    /// BuildKit's `([^E])E[ \t]*$|^E[ \t]*$`.
    fn continuation(&self, content: Range<usize>) -> Option<usize> {
        let mut end = content.end;
        while end > content.start && matches!(self.src[end - 1], b' ' | b'\t') {
            end -= 1;
        }
        if end == content.start || self.src[end - 1] != self.escape {
            return None;
        }
        let at = end - 1;
        (at == content.start || self.src[at - 1] != self.escape).then_some(at)
    }

    /// A leading-block line that may be a parser directive.
    fn directive(&mut self, token: &[u8], line_no: usize) -> Option<(String, String)> {
        if self.directives_done {
            return None;
        }
        let Some((name, value)) = parse_directive(token) else {
            self.directives_done = true;
            return None;
        };
        if !matches!(name.as_str(), "escape" | "syntax" | "check") {
            self.directives_done = true;
            return None;
        }
        if self.seen.contains(&name) {
            let message = format!("only one {name} parser directive can be used");
            self.errors.push(error(line_no, message));
            return None;
        }
        self.seen.push(name.clone());
        if name == "escape" {
            match value.as_str() {
                "\\" | "`" => self.escape = value.as_bytes()[0],
                _ => {
                    let message = format!("invalid escape token '{value}' does not match ` or \\");
                    self.errors.push(error(line_no, message));
                    return None;
                }
            }
        }
        Some((name, value))
    }

    fn push(&mut self, span: Range<usize>, kind: ItemKind) {
        self.items.push(Item { span, kind });
    }

    fn run(mut self) -> (Dockerfile, Vec<ParseError>) {
        while let Some(mut line) = self.next_line() {
            let index = self.next - 1;
            if index == 0 && self.src.starts_with(BOM) {
                self.push(0..BOM.len(), ItemKind::Bom);
                line.start = BOM.len();
            }
            let content = self.content(line.clone());
            let token = content.start + leading_space_len(&self.src[content.clone()])..content.end;
            let directive = self.directive(&self.src[token.clone()], index + 1);
            if self.is_comment(content.clone()) {
                let kind = match directive {
                    Some((name, value)) => ItemKind::Directive(Box::new(Directive { name, value })),
                    None => ItemKind::Comment,
                };
                self.push(line, kind);
                continue;
            }
            let continues = self.continuation(token.clone());
            if continues.is_none() && token.is_empty() {
                self.push(line, ItemKind::Blank);
                continue;
            }
            let instruction = self.instruction(index, line, content, token, continues);
            // Read before it is moved into the vector: read back from there
            // it waits for the copy's wide stores.
            let span = instruction.span();
            if let Some(checker) = &mut self.checker {
                checker.instruction(self.src, &instruction);
            }
            self.kinds.push(Dockerfile::kind(&instruction.command));
            let at = self.instructions.len();
            self.instructions.push(instruction);
            self.push(span, ItemKind::Instruction(at));
        }
        if let Some(line) = self.too_long {
            let message = format!(
                "dockerfile line greater than max allowed size of {}",
                MAX_LINE - 1
            );
            // BuildKit's scanner stops there: the errors of the lines
            // before it come first.
            let at = self.errors.iter().take_while(|e| e.line < line).count();
            self.errors.insert(at, error(line, message));
        }
        if self.instructions.is_empty() {
            self.errors
                .push(error(self.next, "file with no instructions"));
        }
        if let Some(checker) = self.checker {
            self.errors.extend(checker.finish());
        }
        let file = Dockerfile {
            // The caller's bytes, moved in (see `lossless`).
            source: Vec::new(),
            items: self.items,
            instructions: self.instructions,
            kinds: self.kinds,
            escape: self.escape,
            line_starts: Default::default(),
            continuation_style: Default::default(),
        };
        (file, self.errors)
    }

    /// Reads the instruction that starts at line `first`.
    fn instruction(
        &mut self,
        first_index: usize,
        first: Range<usize>,
        content: Range<usize>,
        token: Range<usize>,
        mut continues: Option<usize>,
    ) -> Instruction {
        let start_line = first_index + 1;
        let first_piece = token.start..continues.unwrap_or(token.end);
        let mut more_pieces = Vec::new();
        let mut lines = Lines::one(self.code_line(first, content, continues));
        while continues.is_some() {
            let Some(line) = self.next_line() else { break };
            let content = self.content(line.clone());
            let kind = if self.is_comment(content.clone()) {
                LineKind::Comment
            } else if self.is_blank(content.clone()) {
                LineKind::Blank
            } else {
                continues = self.continuation(content.clone());
                more_pieces.push(content.start..continues.unwrap_or(content.end));
                lines.push(self.code_line(line, content, continues));
                continue;
            };
            lines.push(PhysLine::new(line, content.end, kind));
        }
        let logical = Logical::new(self.src, first_piece, &more_pieces);
        let (command, command_error) =
            parse_command(&logical.text, 0..logical.text.len(), self.escape);
        if let Some(e) = command_error {
            self.errors.push(error(start_line, e.0));
        }
        let mut heredocs = Vec::new();
        if can_contain_heredoc(&command) {
            match heredoc::openers(&logical.text) {
                Ok(openers) => {
                    for opener in openers {
                        heredocs.push(self.heredoc_body(opener, start_line));
                    }
                }
                Err(e) => self.errors.push(error(start_line, e)),
            }
        }
        Instruction {
            lines,
            logical,
            command,
            heredocs: heredocs.into_boxed_slice(),
            start_line,
            derived: Default::default(),
        }
    }

    fn code_line(
        &self,
        span: Range<usize>,
        content: Range<usize>,
        continues: Option<usize>,
    ) -> PhysLine {
        PhysLine::new(
            span,
            content.end,
            LineKind::Code {
                continuation: continues,
            },
        )
    }

    /// The body of a heredoc; an unterminated one runs to the end of the
    /// file, with an error.
    fn heredoc_body(&mut self, opener: heredoc::Opener, start_line: usize) -> Heredoc {
        let body_start = self.at;
        while let Some(line) = self.next_line() {
            let content = &self.src[self.content(line.clone())];
            let candidate = if opener.chomp {
                &content[content.iter().take_while(|&&b| b == b'\t').count()..]
            } else {
                content
            };
            if candidate == opener.name.as_bytes() {
                return Heredoc {
                    name: opener.name,
                    chomp: opener.chomp,
                    expand: opener.expand,
                    fd: opener.fd,
                    body: body_start..line.start,
                    terminator: line,
                };
            }
        }
        let message = format!("unterminated heredoc {}", opener.name);
        self.errors.push(error(start_line, message));
        let end = self.src.len();
        Heredoc {
            name: opener.name,
            chomp: opener.chomp,
            expand: opener.expand,
            fd: opener.fd,
            body: body_start..end,
            terminator: end..end,
        }
    }
}

/// RUN, COPY and ADD in shell form (also under ONBUILD) may carry heredocs.
fn can_contain_heredoc(command: &Command) -> bool {
    let command = command.sub.as_deref().unwrap_or(command);
    matches!(command.name.as_str(), "run" | "copy" | "add") && !command.json
}

/// `#`, any Unicode white space (BuildKit since v0.26; before, only the
/// regexp's), then `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`, key
/// lower-cased. Invalid UTF-8 is read as U+FFFD, as Go's regexp reads it.
fn parse_directive(token: &[u8]) -> Option<(String, String)> {
    let text = crate::syntax::lossy(token);
    let rest = text
        .strip_prefix('#')?
        .trim_start_matches(char::is_whitespace);
    let key_len = rest
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(rest.len(), |(i, _)| i);
    if key_len == 0 {
        return None;
    }
    let value = rest[key_len..]
        .trim_start_matches(is_re_space)
        .strip_prefix('=')?;
    let value = value.trim_matches(is_re_space);
    (!value.is_empty()).then(|| (rest[..key_len].to_ascii_lowercase(), value.to_string()))
}

/// Go regexp's `\s`: `[\t\n\f\r ]`.
fn is_re_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(src: &str) -> Dockerfile {
        let file = parse_ast(src.as_bytes()).unwrap();
        let mut joined = Vec::new();
        let mut at = 0;
        for item in &file.items {
            assert_eq!(item.span.start, at, "items must be contiguous");
            joined.extend_from_slice(&file.source[item.span.clone()]);
            at = item.span.end;
        }
        assert_eq!(joined, src.as_bytes());
        file
    }

    #[test]
    fn heredoc_bodies_are_not_instructions() {
        let file = round_trip("FROM a\nRUN <<EOF\nFROM busybox\nEOF\nCMD x\n");
        let names: Vec<_> = file
            .instructions()
            .map(|i| i.command.name.clone())
            .collect();
        assert_eq!(names, ["from", "run", "cmd"]);
        let run = file.instructions().nth(1).unwrap();
        assert_eq!(
            &file.source[run.heredocs[0].body.clone()],
            b"FROM busybox\n"
        );
    }

    #[test]
    fn continuation_with_comments_blanks_and_trailing_blanks() {
        let file = round_trip("RUN a \\  \r\n# note\r\n\r\n  b\r\n");
        let run = file.instructions().next().unwrap();
        assert_eq!(&run.logical.text[..], b"RUN a   b");
        assert_eq!(run.lines.len(), 4);
        assert_eq!(run.lines[1].kind, LineKind::Comment);
        assert_eq!(run.lines[2].kind, LineKind::Blank);
    }

    #[test]
    fn a_directive_may_follow_any_white_space() {
        let file = parse_ast("#\u{3000}escape=`\nFROM a\nRUN a `\n  b\n".as_bytes()).unwrap();
        assert_eq!(file.escape, b'`');
        let error = parse_ast(b"# escape=\xff\nFROM a\n").unwrap_err();
        assert_eq!(
            error.message,
            "invalid escape token '\u{fffd}' does not match ` or \\"
        );
    }

    #[test]
    fn directives_only_in_the_leading_block() {
        let file = round_trip("# escape=`\n\nFROM a\n# escape=\\\nRUN a `\n b\n");
        assert_eq!(file.escape, b'`');
        assert!(matches!(file.items[0].kind, ItemKind::Directive(_)));
        assert!(matches!(file.items[3].kind, ItemKind::Comment));
    }

    #[test]
    fn bom_and_no_final_newline() {
        let file = round_trip("\u{feff}FROM a\nRUN b");
        assert!(matches!(file.items[0].kind, ItemKind::Bom));
    }

    #[test]
    fn invalid_files_still_round_trip() {
        for src in [
            "",
            "# only\n\n",
            "FROM a\nENV PATH\n",
            "CMD [\"a\", [1]]",
            "FROM a\nRUN <<EOF\nx\n",
        ] {
            let (file, errors) = parse_lossless(src.as_bytes());
            assert!(!errors.is_empty(), "{src:?}");
            let joined: Vec<u8> = file
                .items
                .iter()
                .flat_map(|i| src.as_bytes()[i.span.clone()].to_vec())
                .collect();
            assert_eq!(joined, src.as_bytes());
        }
    }

    #[test]
    fn lines_past_buildkits_limit_are_errors() {
        let long = format!("FROM a\nRUN echo {}\n", "x".repeat(MAX_LINE));
        let error = parse(long.as_bytes()).unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.message.contains("max allowed size"));
        assert!(parse(format!("FROM a\nRUN echo {}\n", "x".repeat(60_000)).as_bytes()).is_ok());
        // The parser meets an error on an earlier line first, and the
        // instruction checks (ENV without arguments) come after it.
        let earlier = format!("FROM a\nENV PATH\nRUN echo {}\nENV\n", "x".repeat(MAX_LINE));
        let (_, errors) = parse_lossless(earlier.as_bytes());
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 2, 4]);
        assert!(errors[1].message.contains("max allowed size"));
        assert_eq!(parse(earlier.as_bytes()).unwrap_err().line, 2);
    }

    #[test]
    fn errors_name_the_line() {
        let error = parse(b"FROM a\n\nENV PATH\n").unwrap_err();
        assert_eq!(
            (error.line, error.message.as_str()),
            (3, "ENV must have two arguments")
        );
        assert!(parse(b"# only\n\n").is_err());
        assert!(parse(b"FROM a\nRUN <<EOF\nx\n").is_err());
    }
}
