//! The lossless syntax tree. Every byte of a Dockerfile belongs to exactly
//! one [`Item`]; concatenating the items' spans gives back the input.

use std::ops::Range;

use super::check::INSTRUCTIONS;
use super::logical::Logical;

/// A parsed Dockerfile: its exact bytes and the items that cover them.
#[derive(Debug, Clone)]
pub struct Dockerfile {
    pub source: Vec<u8>,
    pub items: Vec<Item>,
    /// The instructions in file order, side by side rather than boxed one
    /// by one: the rules walk them over and over, and a file of tens of
    /// thousands of instructions paid for an allocation and a cache miss
    /// each. An instruction item holds its index here.
    pub instructions: Vec<Instruction>,
    /// The keyword of each instruction as a bit (`Keyword::bit`), with its
    /// trigger's for an ONBUILD, and the bits `FLAGGED` and
    /// `WHOLE_CONTEXT`, side by side: a rule looks for a few kinds of
    /// instruction, and finding them here leaves the others unread, where a
    /// file of thousands of COPYs had every rule read each of them from
    /// memory (see `model::Stage::each`).
    pub(crate) kinds: Vec<u32>,
    /// The escape character: `\` by default, or a backtick.
    pub escape: u8,
    /// Where each line starts, built on the first position asked for, so
    /// that reporting many findings costs one pass over the file.
    pub(crate) line_starts: std::cell::OnceCell<Vec<usize>>,
    /// The continuation style of the first instruction that has one (the
    /// indent of continued lines, and whether `&&` starts them), found once
    /// for the rules that write continued lines.
    pub(crate) continuation_style: std::cell::OnceCell<Option<(String, bool)>>,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub span: Range<usize>,
    pub kind: ItemKind,
}

#[derive(Debug, Clone)]
pub enum ItemKind {
    /// A UTF-8 byte-order mark at the very start of the file.
    Bom,
    /// A parser directive (`# syntax=`, `# escape=`, `# check=`), with its
    /// line ending. Boxed: a file holds a few, and inline they would
    /// treble the size of every item.
    Directive(Box<Directive>),
    /// A comment line outside an instruction, with its line ending.
    Comment,
    /// A blank or whitespace-only line outside an instruction.
    Blank,
    /// An instruction: its index in [`Dockerfile::instructions`].
    Instruction(usize),
}

#[derive(Debug, Clone)]
pub struct Directive {
    /// The name, lower-cased.
    pub name: String,
    pub value: String,
}

/// One instruction: its physical lines (including comment and blank lines
/// inside a continuation), the logical line BuildKit executes, the parsed
/// command and any heredoc bodies.
#[derive(Debug, Clone)]
pub struct Instruction {
    pub lines: Lines,
    pub logical: Logical,
    pub command: Command,
    /// Boxed rather than a vector: nearly every instruction has none, and
    /// a file of tens of thousands of instructions paid for the room.
    pub heredocs: Box<[Heredoc]>,
    /// The 1-based number of the first line.
    pub start_line: usize,
    /// What the rules read from the instruction on demand, in one box:
    /// most instructions never need any of it, and a file of tens of
    /// thousands of instructions paid more in memory traffic for room
    /// kept inline than the box costs.
    pub(crate) derived: std::cell::OnceCell<Box<Derived>>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Derived {
    /// The shell of a RUN/CMD/ENTRYPOINT, parsed once (see `shell::parse`);
    /// boxed, as most instructions that need `pairs` have none.
    pub(crate) shell: std::cell::OnceCell<Option<Box<super::shell::Script>>>,
    /// The byte pairs of the instruction's bytes, read once for the many
    /// searches the rules make in it (see `mentions`).
    pairs: std::cell::OnceCell<Pairs>,
}

/// Which byte pairs occur in a text, hashed into 1,024 bits (a larger
/// table cost more in memory traffic on files of thousands of RUNs than
/// its fewer false hits saved).
/// A word one of whose pairs is missing cannot occur in the text, so most
/// searches end without reading the text again.
#[derive(Debug, Clone)]
pub(crate) struct Pairs([u64; 16]);

impl Pairs {
    fn of(text: &[u8]) -> Self {
        let mut bits = [0u64; 16];
        for pair in text.windows(2) {
            let slot = Self::slot(pair[0], pair[1]);
            bits[slot / 64] |= 1 << (slot % 64);
        }
        Pairs(bits)
    }

    fn slot(a: u8, b: u8) -> usize {
        (usize::from(a) * 31 + usize::from(b)) & 1023
    }

    /// False only when `word` cannot occur in the text.
    fn may_hold(&self, word: &[u8]) -> bool {
        word.windows(2).all(|pair| {
            let slot = Self::slot(pair[0], pair[1]);
            self.0[slot / 64] & (1 << (slot % 64)) != 0
        })
    }
}

/// The physical lines of an instruction. Nearly every instruction is one
/// line, kept inline: a vector of one cost an allocation per instruction.
#[derive(Debug, Clone)]
pub struct Lines(LinesRepr);

#[derive(Debug, Clone)]
enum LinesRepr {
    One(PhysLine),
    Many(Vec<PhysLine>),
}

impl Lines {
    pub(super) fn one(line: PhysLine) -> Lines {
        Lines(LinesRepr::One(line))
    }

    pub(super) fn push(&mut self, line: PhysLine) {
        match &mut self.0 {
            LinesRepr::Many(lines) => lines.push(line),
            LinesRepr::One(first) => {
                let first = first.clone();
                self.0 = LinesRepr::Many(vec![first, line]);
            }
        }
    }
}

impl std::ops::Deref for Lines {
    type Target = [PhysLine];

    fn deref(&self) -> &[PhysLine] {
        match &self.0 {
            LinesRepr::One(line) => std::slice::from_ref(line),
            LinesRepr::Many(lines) => lines,
        }
    }
}

impl<'a> IntoIterator for &'a Lines {
    type Item = &'a PhysLine;
    type IntoIter = std::slice::Iter<'a, PhysLine>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// A physical line inside an instruction (heredoc bodies excluded). Only
/// offsets that cannot be derived are kept: a file holds one for each line
/// of each instruction.
#[derive(Debug, Clone)]
pub struct PhysLine {
    /// The whole line, line ending included.
    pub span: Range<usize>,
    /// Where the line ending starts.
    content_end: usize,
    pub kind: LineKind,
}

impl PhysLine {
    pub(super) fn new(span: Range<usize>, content_end: usize, kind: LineKind) -> PhysLine {
        PhysLine {
            span,
            content_end,
            kind,
        }
    }

    /// The line without its line ending.
    pub fn content(&self) -> Range<usize> {
        self.span.start..self.content_end
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// A line of the instruction; `continuation` is where the escape
    /// character starts when the instruction goes on (the escape and the
    /// blanks after it run to the end of the content).
    Code { continuation: Option<usize> },
    /// A comment line inside a continuation: BuildKit drops it.
    Comment,
    /// A blank line inside a continuation: BuildKit drops it.
    Blank,
}

/// An instruction keyword with its flags and arguments, as BuildKit reads
/// it. Ranges are positions in the instruction's [`Logical`] line.
#[derive(Debug, Clone)]
pub struct Command {
    pub keyword: Range<usize>,
    /// The keyword in lower case (`run`, `copy`, ...).
    pub name: Keyword,
    /// Flags and values are boxed slices, not vectors: a file of tens of
    /// thousands of instructions paid for the room a vector keeps.
    pub flags: Box<[Flag]>,
    /// The arguments after the flags, trimmed.
    pub args: Range<usize>,
    /// Exec form: the arguments were a JSON array of strings.
    pub json: bool,
    /// The values BuildKit's AST holds for the arguments.
    pub values: Box<[super::Word]>,
    /// The nested instruction of `ONBUILD`.
    pub sub: Option<Box<Command>>,
}

impl Command {
    /// A COPY or ADD of `.` (or `./`) to one destination: the shape of a
    /// copy of the whole build context (`facts::copies::full_copy` also
    /// rules out heredocs and `--from`).
    pub fn copies_context_root(&self) -> bool {
        // The values rule out nearly every instruction at once.
        matches!(&self.values[..], [source, _] if matches!(source.as_str(), "." | "./"))
            && matches!(self.name.as_str(), "copy" | "add")
    }
}

/// An instruction keyword in lower case. The instructions BuildKit knows
/// are an index into their table: a large file holds tens of thousands of
/// keywords, and lower-casing each into its own allocation was a tenth of
/// parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyword(KeywordRepr);

/// For each length, the table's keywords of that length as bits.
const BY_LENGTH: [u32; 12] = {
    let mut by_length = [0; 12];
    let mut index = 0;
    while index < INSTRUCTIONS.len() {
        by_length[INSTRUCTIONS[index].len()] |= 1 << index;
        index += 1;
    }
    by_length
};

#[derive(Debug, Clone, PartialEq, Eq)]
enum KeywordRepr {
    Known(u8),
    Other(Box<str>),
}

impl Keyword {
    /// The keyword `written` names, lower-cased as Go's `strings.ToLower`
    /// (bytes that are not UTF-8 read as U+FFFD).
    pub fn new(written: &[u8]) -> Keyword {
        // Only the keywords of its length are compared: searching the
        // whole table was a tenth of parsing a COPY.
        let mut candidates = BY_LENGTH.get(written.len()).copied().unwrap_or(0);
        while candidates != 0 {
            let index = candidates.trailing_zeros() as u8;
            // The table's keywords are lower-case letters, which a byte
            // with 0x20 set matches only when it is that letter in either
            // case: no byte need be lower-cased.
            let keyword = INSTRUCTIONS[usize::from(index)].bytes();
            if keyword.zip(written).all(|(k, &w)| w | 0x20 == k) {
                return Keyword(KeywordRepr::Known(index));
            }
            candidates &= candidates - 1;
        }
        let lower = crate::syntax::lossy(written).to_lowercase();
        Keyword(KeywordRepr::Other(lower.into_boxed_str()))
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            KeywordRepr::Known(index) => INSTRUCTIONS[usize::from(*index)],
            KeywordRepr::Other(text) => text,
        }
    }

    /// A bit of its own for each instruction BuildKit knows, none for
    /// others: sets of keywords in a `u32`.
    pub fn bit(&self) -> u32 {
        match self.0 {
            KeywordRepr::Known(index) => 1 << index,
            KeywordRepr::Other(_) => 0,
        }
    }

    /// The bits of the keywords `names` (see `bit`).
    pub fn bits(names: &[&str]) -> u32 {
        names
            .iter()
            .fold(0, |set, name| set | Keyword::new(name.as_bytes()).bit())
    }
}

impl std::ops::Deref for Keyword {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for Keyword {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Keyword {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for Keyword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `--flag` or `--flag=value` before the arguments.
#[derive(Debug, Clone)]
pub struct Flag {
    pub range: Range<usize>,
    /// The flag as BuildKit reads it, quotes removed: `--chown=1:1`.
    pub text: String,
}

impl Flag {
    pub fn name(&self) -> &str {
        let body = self.text.trim_start_matches("--");
        body.split_once('=').map_or(body, |(name, _)| name)
    }

    pub fn value(&self) -> Option<&str> {
        self.text.split_once('=').map(|(_, value)| value)
    }
}

/// A heredoc attached to RUN, COPY or ADD.
#[derive(Debug, Clone)]
pub struct Heredoc {
    pub name: String,
    /// `<<-`: leading tabs are stripped.
    pub chomp: bool,
    /// False when the delimiter was quoted: no variable expansion.
    pub expand: bool,
    pub fd: u32,
    /// The body lines, line endings included.
    pub body: Range<usize>,
    /// The delimiter line that ends the body, line ending included.
    pub terminator: Range<usize>,
}

/// 1-based line and column (in characters) of a byte offset in `source`.
pub fn line_col(source: &[u8], offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = crate::syntax::lossy(&before[line_start..]).chars().count() + 1;
    (line, column)
}

/// The offsets just after each newline.
fn line_ends(source: &[u8]) -> impl Iterator<Item = usize> + '_ {
    source
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'\n')
        .map(|(i, _)| i + 1)
}

impl Dockerfile {
    /// In `kinds`: the instruction has flags (`COPY --from=...`).
    pub const FLAGGED: u32 = 1 << 30;
    /// In `kinds`: a COPY or ADD whose values are `.` (or `./`) and a
    /// destination, as a copy of the whole build context is.
    pub const WHOLE_CONTEXT: u32 = 1 << 31;

    /// The bits of `Dockerfile::kinds` for an instruction's command.
    pub(crate) fn kind(command: &Command) -> u32 {
        let trigger = command.sub.as_deref().map_or(0, |sub| sub.name.bit());
        let flagged = if command.flags.is_empty() {
            0
        } else {
            Self::FLAGGED
        };
        let whole = if command.copies_context_root() {
            Self::WHOLE_CONTEXT
        } else {
            0
        };
        command.name.bit() | trigger | flagged | whole
    }

    pub fn instructions(&self) -> std::slice::Iter<'_, Instruction> {
        self.instructions.iter()
    }

    /// The instruction whose bytes (heredoc bodies included) hold `offset`.
    pub fn instruction_at(&self, offset: usize) -> Option<&Instruction> {
        let after = self.items.partition_point(|item| item.span.start <= offset);
        let item = &self.items[after.checked_sub(1)?];
        match item.kind {
            ItemKind::Instruction(index) if item.span.contains(&offset) => {
                Some(&self.instructions[index])
            }
            _ => None,
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.source.len());
        let starts = self
            .line_starts
            .get_or_init(|| std::iter::once(0).chain(line_ends(&self.source)).collect());
        let line = starts.partition_point(|&s| s <= offset);
        let start = starts[line - 1];
        let column = crate::syntax::lossy(&self.source[start..offset])
            .chars()
            .count()
            + 1;
        (line, column)
    }
}

impl Instruction {
    /// The whole instruction, heredoc bodies included.
    pub fn span(&self) -> Range<usize> {
        let start = self.lines[0].span.start;
        let end = self
            .heredocs
            .last()
            .map_or(self.lines.last().map_or(start, |l| l.span.end), |h| {
                h.terminator.end
            });
        start..end
    }

    /// The index of the physical line holding file offset `at`, found by
    /// binary search: a long RUN asks for many offsets.
    pub fn line_index(&self, at: usize) -> Option<usize> {
        let i = self.lines.partition_point(|l| l.span.end <= at);
        self.lines
            .get(i)
            .filter(|l| l.span.contains(&at))
            .map(|_| i)
    }

    /// The physical lines that overlap `range`.
    pub fn lines_overlapping(&self, range: Range<usize>) -> &[PhysLine] {
        let from = self.lines.partition_point(|l| l.span.end <= range.start);
        let to = from + self.lines[from..].partition_point(|l| l.span.start < range.end);
        &self.lines[from..to]
    }

    /// File range of a logical range.
    pub fn file_range(&self, logical: Range<usize>) -> Range<usize> {
        self.logical.file_range(logical)
    }

    pub fn keyword_range(&self) -> Range<usize> {
        self.file_range(self.command.keyword.clone())
    }

    pub fn args_range(&self) -> Range<usize> {
        self.file_range(self.command.args.clone())
    }

    /// Whether the instruction's bytes (heredoc bodies included) contain any
    /// of `words`: a cheap test before parsing its shell.
    pub fn mentions(&self, source: &[u8], words: &[impl AsRef<str>]) -> bool {
        let text = &source[self.span()];
        let candidates = self.candidates(text, words);
        !candidates.is_empty() && contains_any(text, &candidates)
    }

    /// Whether one of `programs` appears as a program name in the
    /// instruction; see `names_program`.
    pub fn names_program(&self, source: &[u8], programs: &[&str]) -> bool {
        let text = &source[self.span()];
        let candidates = self.candidates(text, programs);
        !candidates.is_empty() && names_program(text, &candidates)
    }

    pub(crate) fn derived(&self) -> &Derived {
        self.derived.get_or_init(Box::default)
    }

    /// The `words` the byte pairs of the instruction's `text` do not rule out.
    fn candidates<'w>(&self, text: &[u8], words: &'w [impl AsRef<str>]) -> Vec<&'w str> {
        let pairs = self.derived().pairs.get_or_init(|| Pairs::of(text));
        words
            .iter()
            .map(AsRef::as_ref)
            .filter(|w| pairs.may_hold(w.as_bytes()))
            .collect()
    }

    /// The logical text of a logical range.
    pub fn text(&self, logical: Range<usize>) -> &[u8] {
        &self.logical.text[logical]
    }
}

/// The length from which the standard library's substring search is worth
/// setting up: a shorter text (most COPY, ENV, ...) is scanned directly.
const SEARCH_FROM: usize = 128;

/// Whether `text` contains one of `words`, in one pass (DF101 asks for
/// dozens): a byte no word starts with is passed over at once.
pub fn contains_any(text: &[u8], words: &[impl AsRef<str>]) -> bool {
    // A few words in a long text: the standard library's substring search,
    // word by word, which costs more to set up than a short text takes.
    if words.len() <= 4 && text.len() >= SEARCH_FROM {
        if let Ok(text) = std::str::from_utf8(text) {
            return words.iter().any(|w| text.contains(w.as_ref()));
        }
    }
    let mut starts = [false; 256];
    for word in words {
        match word.as_ref().as_bytes().first() {
            Some(&b) => starts[usize::from(b)] = true,
            None => return true,
        }
    }
    (0..text.len()).any(|i| {
        starts[usize::from(text[i])]
            && words
                .iter()
                .any(|w| text[i..].starts_with(w.as_ref().as_bytes()))
    })
}

/// Whether one of `programs` appears in `text` as a program name (`sudo
/// apt-get`, `sh -c "apk add"`, `/sbin/apk`), not as part of a longer word
/// or a path (`.apk`, `/etc/apt/`).
pub fn names_program(text: &[u8], programs: &[&str]) -> bool {
    let part = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
    let named_at = |i: usize, program: &[u8]| {
        (i == 0 || !part(text[i - 1]))
            && text
                .get(i + program.len())
                .is_none_or(|&b| !part(b) && b != b'/')
    };
    // In UTF-8 text, the standard library's substring search finds each
    // occurrence; the next search starts one character further.
    if let Ok(utf8) = std::str::from_utf8(text) {
        if programs.iter().all(|p| !p.is_empty()) {
            return programs.iter().any(|program| {
                // A name of word bytes only cannot be named where it
                // overlaps an occurrence before it (the byte before would
                // be part of that one): one search, set up once, finds the
                // rest.
                if program.bytes().all(part) {
                    return utf8
                        .match_indices(program)
                        .any(|(at, _)| named_at(at, program.as_bytes()));
                }
                let step = program.chars().next().map_or(1, char::len_utf8);
                let mut from = 0;
                while let Some(found) = utf8[from..].find(program) {
                    if named_at(from + found, program.as_bytes()) {
                        return true;
                    }
                    from += found + step;
                }
                false
            });
        }
    }
    programs.iter().any(|program| {
        let program = program.as_bytes();
        (0..text.len()).any(|i| {
            program.first().is_none_or(|&b| text[i] == b)
                && text[i..].starts_with(program)
                && named_at(i, program)
        })
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn keywords_are_lower_cased_as_go_lower_cases_them() {
        use super::Keyword;
        for (written, name) in [
            ("RUN", "run"),
            ("Copy", "copy"),
            ("healthCHECK", "healthcheck"),
            // Unicode lower-casing: KELVIN SIGN is `k`, as in Go.
            ("WOR\u{212A}DIR", "workdir"),
            ("Frobnicate", "frobnicate"),
            ("ÉTAPE", "étape"),
        ] {
            let keyword = Keyword::new(written.as_bytes());
            assert_eq!(keyword, name, "{written}");
            assert_eq!(keyword.as_str(), name, "{written}");
        }
        // Bytes that are not UTF-8 read as U+FFFD, as BuildKit's errors show.
        assert_eq!(Keyword::new(b"R\xffN"), "r\u{fffd}n");
        // A keyword with any byte but its letter in either case in place of
        // one of its letters is not that keyword.
        for known in super::INSTRUCTIONS {
            for at in 0..known.len() {
                for byte in 0..=u8::MAX {
                    let mut written = known.as_bytes().to_vec();
                    written[at] = byte;
                    let same = byte.eq_ignore_ascii_case(&known.as_bytes()[at]);
                    assert_eq!(Keyword::new(&written) == known, same, "{written:?}");
                }
            }
        }
        // Each known keyword has a bit of its own; others have none.
        let bit = |written: &[u8]| Keyword::new(written).bit();
        assert_eq!(bit(b"Frobnicate"), 0);
        assert_eq!(bit(b"RUN"), bit(b"run"));
        assert_eq!(bit(b"RUN").count_ones(), 1);
        assert_ne!(bit(b"RUN"), bit(b"COPY"));
        assert_eq!(
            Keyword::bits(&["run", "copy", "x"]),
            bit(b"RUN") | bit(b"COPY")
        );
    }

    #[test]
    fn contains_any_finds_what_searching_for_each_word_finds() {
        // Both searches: a few words in UTF-8 text, and many words or
        // bytes that are not UTF-8.
        let short: [&[u8]; 7] = [
            b"",
            b"a",
            b"apt-get install",
            b"pip3 install -r r.txt && npm ci",
            b"xxabxxa",
            b"\xffapt-get \xfe install",
            b"caf\xc3\xa9 au lait",
        ];
        let filler = "the quick brown fox jumps over the lazy dog; ".repeat(4);
        let texts: Vec<Vec<u8>> = short
            .iter()
            .flat_map(|t| {
                [
                    t.to_vec(),
                    [t, filler.as_bytes()].concat(),
                    [filler.as_bytes(), t].concat(),
                ]
            })
            .collect();
        assert!(texts.iter().any(|t| t.len() >= super::SEARCH_FROM));
        let lists: [&[&str]; 8] = [
            &[],
            &["a"],
            &["pip", "pipx", "npm", "apk"],
            &["ab", "aa", "xa", "b"],
            &["install -r", "zz"],
            &["apt-get install and more"],
            &["yum", "dnf", "apk", "zypper", "apt-get", "npm", "é au"],
            &["café"],
        ];
        for text in &texts {
            for words in lists {
                let naive = words
                    .iter()
                    .any(|w| text.windows(w.len()).any(|x| x == w.as_bytes()));
                assert_eq!(
                    super::contains_any(text, words),
                    naive,
                    "{text:?} {words:?}"
                );
            }
        }
    }

    #[test]
    fn names_program_finds_programs_in_any_text() {
        let cases: [(&[u8], &[&str], bool); 11] = [
            (b"sudo apt-get install", &["apt-get"], true),
            (b"ls /etc/apt/ && x.apk", &["apt", "apk"], false),
            (b"/sbin/apk add", &["apk"], true),
            (b"apt-getx && apt", &["apt-get", "apt"], true),
            (b"apt-getx apt-get.", &["apt-get"], false),
            (b"\xff apk \xfe", &["apk"], true),
            (b"\xffapk", &["apk"], true),
            (b"caf\xc3\xa9 \xc3\xa9t\xc3\xa9 x", &["\u{e9}t\u{e9}"], true),
            (b"apkapk apk", &["apk"], true),
            (b"apkapk", &["apk"], false),
            // A name with a space can be named where it overlaps another.
            (b"xa a a", &["a a"], true),
        ];
        for (text, programs, named) in cases {
            assert_eq!(
                super::names_program(text, programs),
                named,
                "{text:?} {programs:?}"
            );
        }
    }

    #[test]
    fn the_pair_filter_never_hides_a_word() {
        // Long instructions and short ones: contains_any searches them alike.
        let long = "&& echo the quick brown fox jumps over the lazy dog ".repeat(3);
        let src = format!(
            "FROM a\nRUN apt-get update && sudo apk add curl \\\n  && /sbin/apk --no-cache {long}\n\
             COPY <<EOF /x\npip3 install É-é\n{long}\nEOF\nRUN pip install .apk && echo ~\x7f {long}\n\
             RUN pip install .apk && echo ~\x7f\n"
        );
        let file = crate::syntax::parse(src.as_bytes()).unwrap();
        let spans: Vec<usize> = file.instructions().map(|i| i.span().len()).collect();
        assert!(spans.iter().any(|&n| n >= super::SEARCH_FROM));
        assert!(spans.iter().any(|&n| n < super::SEARCH_FROM));
        let words: [&[&str]; 7] = [
            &["apt-get"],
            &["apk", "dnf"],
            &["pip3 install", "npm"],
            &["É-é"],
            &["~\x7f", "zz"],
            &["a"],
            &["yum", "zypper", "apt-get install"],
        ];
        for instruction in file.instructions() {
            let text = &src.as_bytes()[instruction.span()];
            for words in words {
                assert_eq!(
                    instruction.mentions(&file.source, words),
                    super::contains_any(text, words),
                    "{words:?} in {:?}",
                    crate::syntax::lossy(text)
                );
                assert_eq!(
                    instruction.names_program(&file.source, words),
                    super::names_program(text, words),
                    "{words:?} in {:?}",
                    crate::syntax::lossy(text)
                );
            }
        }
    }

    #[test]
    fn the_line_index_agrees_with_counting_from_the_start() {
        let src = "FROM a\r\n# é comment\nRUN echo \\\n  ü && true\n\nCMD x".as_bytes();
        let file = crate::syntax::parse(src).unwrap();
        for offset in 0..=src.len() + 2 {
            assert_eq!(
                file.line_col(offset),
                super::line_col(src, offset),
                "{offset}"
            );
        }
    }
}
