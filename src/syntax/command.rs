//! Splitting a logical line into keyword, flags and arguments, and reading
//! the arguments the way BuildKit's line parsers do for each instruction.

use std::ops::Range;

use super::gostr::{decode_rune, is_space, is_space_byte, is_token_space, trim_space};
use super::tree::{Command, Flag, Keyword};
use super::word::Word;

/// Why an instruction cannot be parsed; BuildKit's own wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError(pub String);

/// Parses the command in `line[range]`: BuildKit's `newNodeFromLine`. A
/// command BuildKit rejects still gets its keyword, flags and arguments,
/// with the error beside it.
pub fn parse_command(
    line: &[u8],
    range: Range<usize>,
    escape: u8,
) -> (Command, Option<CommandError>) {
    let trimmed = trim_space(line, range);
    let keyword_end = (trimmed.start..trimmed.end)
        .find(|&i| is_token_space(line[i]))
        .unwrap_or(trimmed.end);
    let keyword = trimmed.start..keyword_end;
    let name = Keyword::new(&line[keyword.clone()]);
    let (flags, args) = if keyword_end < trimmed.end {
        let mut rest = keyword_end;
        while rest < trimmed.end && is_token_space(line[rest]) {
            rest += 1;
        }
        let (flags, args_start) = extract_flags(line, rest..trimmed.end);
        (flags, trim_space(line, args_start..trimmed.end))
    } else {
        (Vec::new(), trimmed.end..trimmed.end)
    };
    let mut command = Command {
        keyword,
        name,
        flags: flags.into(),
        args,
        json: false,
        values: Box::default(),
        sub: None,
    };
    let error = read_values(&mut command, line, escape).err();
    (command, error)
}

/// Fills in the values BuildKit's line parser for the instruction reads.
fn read_values(command: &mut Command, line: &[u8], escape: u8) -> Result<(), CommandError> {
    let args = command.args.clone();
    let rest = &line[args.clone()];
    let (values, json) = match command.name.as_str() {
        "add" | "copy" | "volume" => match parse_json(rest)? {
            Some(values) => (values, true),
            None => (split_whitespace(rest), false),
        },
        "expose" | "from" => (split_whitespace(rest), false),
        "cmd" | "entrypoint" | "run" | "shell" => parse_maybe_json(rest)?,
        "env" => (parse_name_val(rest, "ENV", escape)?, false),
        "label" => (parse_name_val(rest, "LABEL", escape)?, false),
        "arg" => (words(parse_words(rest, escape)), false),
        "maintainer" | "stopsignal" | "user" | "workdir" if !rest.is_empty() => {
            (vec![Word::from_bytes(rest)], false)
        }
        "maintainer" | "stopsignal" | "user" | "workdir" => (Vec::new(), false),
        "healthcheck" => parse_health(rest)?,
        "onbuild" => {
            if !args.is_empty() {
                let (sub, error) = parse_command(line, args, escape);
                command.sub = Some(Box::new(sub));
                return error.map_or(Ok(()), Err);
            }
            (Vec::new(), false)
        }
        // BuildKit keeps unknown instructions with one empty value.
        _ => (vec![Word::from("")], false),
    };
    (command.values, command.json) = (values.into_boxed_slice(), json);
    Ok(())
}

/// BuildKit's `extractBuilderFlags`: leading `--flag[=value]` words. Returns
/// the flags and where the remaining arguments start.
fn extract_flags(line: &[u8], range: Range<usize>) -> (Vec<Flag>, usize) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote(u8),
    }
    let mut flags = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut word_start = range.start;
    let mut blank_ok = false;
    let mut pos = range.start;
    let end = range.end;
    let finish = |flags: &mut Vec<Flag>, word: &str, start: usize, stop: usize, blank_ok: bool| {
        if blank_ok || !word.is_empty() {
            flags.push(Flag {
                range: start..stop,
                text: word.to_string(),
            });
        }
    };
    loop {
        if pos == end {
            if phase != Phase::Spaces && word != "--" {
                finish(&mut flags, &word, word_start, pos, blank_ok);
            }
            return (flags, end);
        }
        let ch = line[pos];
        match phase {
            Phase::Spaces => {
                if is_space_byte(ch) {
                    pos += 1;
                    continue;
                }
                if ch != b'-' || pos + 1 == end || line[pos + 1] != b'-' {
                    return (flags, pos);
                }
                phase = Phase::Word;
                word_start = pos;
            }
            Phase::Word => {
                if is_space_byte(ch) {
                    if word == "--" {
                        return (flags, pos);
                    }
                    finish(&mut flags, &word, word_start, pos, blank_ok);
                    word.clear();
                    blank_ok = false;
                    phase = Phase::Spaces;
                    pos += 1;
                    continue;
                }
                if ch == b'\'' || ch == b'"' {
                    phase = Phase::Quote(ch);
                    blank_ok = true;
                    pos += 1;
                    continue;
                }
                if ch == b'\\' {
                    if pos + 1 == end {
                        pos += 1;
                        continue;
                    }
                    pos += 1;
                }
                word.push(line[pos] as char);
                pos += 1;
            }
            Phase::Quote(quote) => {
                if ch == quote {
                    phase = Phase::Word;
                    pos += 1;
                    continue;
                }
                if ch == b'\\' {
                    if pos + 1 == end {
                        phase = Phase::Word;
                        pos += 1;
                        continue;
                    }
                    pos += 1;
                }
                word.push(line[pos] as char);
                pos += 1;
            }
        }
    }
}

/// `reWhitespace.Split(rest, -1)`, or nothing for empty arguments.
fn split_whitespace(rest: &[u8]) -> Vec<Word> {
    if rest.is_empty() {
        return Vec::new();
    }
    // The words found in one pass, a few (nearly every instruction) on
    // the stack: the vector is then allocated once, at its size.
    let mut few = [(0, 0); 8];
    let mut count = 0;
    each_word(rest, |range| {
        if let Some(slot) = few.get_mut(count) {
            *slot = range;
        }
        count += 1;
    });
    let many;
    let ranges = if count <= few.len() {
        &few[..count]
    } else {
        let mut all = Vec::with_capacity(count);
        each_word(rest, |range| all.push(range));
        many = all;
        &many[..]
    };
    // Filled in place (see `Word::set_bytes`), from empty words each
    // written whole: `vec!` copied one made aside, reading back wide what
    // had just been stored narrow.
    let mut values = Vec::with_capacity(count);
    values.resize_with(count, Word::default);
    for (value, &(start, end)) in values.iter_mut().zip(ranges) {
        value.set_bytes(&rest[start..end]);
    }
    values
}

/// The start and end of each word of `rest` between runs of spaces; a
/// space at either end makes an empty word, as Go's split does.
fn each_word(rest: &[u8], mut each: impl FnMut((usize, usize))) {
    let mut start = 0;
    let mut pos = 0;
    while pos < rest.len() {
        if !is_token_space(rest[pos]) {
            pos += 1;
            continue;
        }
        each((start, pos));
        while pos < rest.len() && is_token_space(rest[pos]) {
            pos += 1;
        }
        start = pos;
    }
    each((start, rest.len()));
}

/// Exec form: `Some(values)` when the arguments are a JSON array of strings,
/// `None` when they are not JSON (shell form), an error for a JSON array
/// holding anything but strings.
#[inline]
fn parse_json(rest: &[u8]) -> Result<Option<Vec<Word>>, CommandError> {
    // Nearly every instruction is in shell form: it is told apart where
    // it is read, and the decoding kept apart, whose registers cost each
    // call more than the test.
    let start = super::gostr::leading_space_len(rest);
    if rest.get(start) != Some(&b'[') {
        return Ok(None);
    }
    parse_json_array(&rest[start..])
}

/// `parse_json` of arguments that start with `[`.
#[inline(never)]
fn parse_json_array(rest: &[u8]) -> Result<Option<Vec<Word>>, CommandError> {
    let not_strings = || {
        CommandError(
            "when using JSON array syntax, arrays must be comprised of strings only".into(),
        )
    };
    let text = lone_surrogates_replaced(&crate::syntax::lossy(rest));
    let items = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Array(items)) => items,
        // Go's decoder nests far deeper; the outer array then holds an
        // array, which is not a string.
        Err(e) if e.to_string().contains("recursion limit") => return Err(not_strings()),
        _ => return Ok(None),
    };
    items
        .into_iter()
        .map(|item| match item {
            serde_json::Value::String(s) => Ok(Word::from(s)),
            _ => Err(not_strings()),
        })
        .collect::<Result<_, _>>()
        .map(Some)
}

/// Go decodes a `\\uD800`-style escape that is not half of a surrogate
/// pair as U+FFFD; serde_json rejects it. Such escapes become `\\ufffd`.
fn lone_surrogates_replaced(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let hex = |at: usize| -> Option<u32> {
        let digits: String = chars.get(at..at + 4)?.iter().collect();
        u32::from_str_radix(&digits, 16).ok()
    };
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && chars.get(i + 1) == Some(&'u') {
            if let Some(code) = hex(i + 2) {
                let high = (0xd800..0xdc00).contains(&code);
                let paired = high
                    && chars.get(i + 6) == Some(&'\\')
                    && chars.get(i + 7) == Some(&'u')
                    && hex(i + 8).is_some_and(|low| (0xdc00..0xe000).contains(&low));
                if paired {
                    out.extend(&chars[i..i + 12]);
                    i += 12;
                    continue;
                }
                if (0xd800..0xe000).contains(&code) {
                    out.push_str("\\ufffd");
                    i += 6;
                    continue;
                }
            }
            out.extend(&chars[i..(i + 2).min(chars.len())]);
            i += 2;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

fn parse_maybe_json(rest: &[u8]) -> Result<(Vec<Word>, bool), CommandError> {
    if rest.is_empty() {
        return Ok((Vec::new(), false));
    }
    Ok(match parse_json(rest)? {
        Some(values) => (values, true),
        None => (vec![Word::from_bytes(rest)], false),
    })
}

/// HEALTHCHECK: a type word (`CMD`, `NONE`) and a maybe-JSON command.
fn parse_health(rest: &[u8]) -> Result<(Vec<Word>, bool), CommandError> {
    let sep = rest
        .iter()
        .position(|&b| is_space_byte(b))
        .unwrap_or(rest.len());
    if sep == 0 {
        return Ok((Vec::new(), false));
    }
    let next = sep
        + rest[sep..]
            .iter()
            .position(|&b| !is_space_byte(b))
            .unwrap_or(rest.len() - sep);
    let (mut values, json) = parse_maybe_json(&rest[next..])?;
    values.insert(0, Word::from_bytes(&rest[..sep]));
    Ok((values, json))
}

fn words(values: Vec<String>) -> Vec<Word> {
    values.into_iter().map(Word::from).collect()
}

/// BuildKit's `parseWords`: whitespace-separated words, quotes kept, the
/// escape character protecting the next character.
fn parse_words(rest: &[u8], escape: u8) -> Vec<String> {
    let escape = escape as char;
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut blank_ok = false;
    let mut pos = 0;
    while pos < rest.len() {
        let (mut ch, mut width) = decode_rune(&rest[pos..]);
        if !in_word {
            if is_space(ch) {
                pos += width;
                continue;
            }
            in_word = true;
        }
        match quote {
            None => {
                if is_space(ch) {
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    word.clear();
                    blank_ok = false;
                    in_word = false;
                    pos += width;
                    continue;
                }
                if ch == '\'' || ch == '"' {
                    quote = Some(ch);
                    blank_ok = true;
                }
                if ch == escape {
                    if pos + width == rest.len() {
                        pos += width;
                        continue;
                    }
                    word.push(ch);
                    pos += width;
                    (ch, width) = decode_rune(&rest[pos..]);
                }
                word.push(ch);
            }
            Some(q) => {
                if ch == q {
                    quote = None;
                }
                if ch == escape && q != '\'' {
                    if pos + width == rest.len() {
                        quote = None;
                        pos += width;
                        continue;
                    }
                    pos += width;
                    word.push(ch);
                    (ch, width) = decode_rune(&rest[pos..]);
                }
                word.push(ch);
            }
        }
        pos += width;
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// ENV and LABEL: `KEY value` (old form) or `KEY=value ...`. Each pair
/// becomes key, value and separator, as in BuildKit's AST.
fn parse_name_val(rest: &[u8], key: &str, escape: u8) -> Result<Vec<Word>, CommandError> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Vec::new());
    };
    if !first.contains('=') {
        let split = rest.iter().position(|&b| is_token_space(b));
        let Some(split) = split else {
            return Err(CommandError(format!("{key} must have two arguments")));
        };
        let mut value = split;
        while value < rest.len() && is_token_space(rest[value]) {
            value += 1;
        }
        return Ok(vec![
            Word::from_bytes(&rest[..split]),
            Word::from_bytes(&rest[value..]),
            Word::from(""),
        ]);
    }
    let mut values = Vec::new();
    for word in &words {
        let Some((name, value)) = word.split_once('=') else {
            return Err(CommandError(format!(
                "Syntax error - can't find = in {}. Must be of the form: name=value",
                super::gostr::quote(word)
            )));
        };
        values.extend([name, value, "="].map(Word::from));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Command {
        let (command, error) = parse_command(line.as_bytes(), 0..line.len(), b'\\');
        assert_eq!(error, None);
        command
    }

    fn error(line: &str) -> String {
        parse_command(line.as_bytes(), 0..line.len(), b'\\')
            .1
            .unwrap()
            .0
    }

    #[test]
    fn flags_keep_their_positions() {
        let line = "COPY --chown=a:b --link src dst";
        let command = parse(line);
        assert_eq!(command.name, "copy");
        assert_eq!(command.flags.len(), 2);
        assert_eq!(&line[command.flags[0].range.clone()], "--chown=a:b");
        assert_eq!(command.flags[0].name(), "chown");
        assert_eq!(command.flags[0].value(), Some("a:b"));
        assert_eq!(command.flags[1].name(), "link");
        assert_eq!(command.flags[1].value(), None);
        assert_eq!(&line[command.args.clone()], "src dst");
        assert_eq!(command.values[..], ["src", "dst"]);
    }

    #[test]
    fn double_dash_ends_flags() {
        let command = parse("COPY --doit=true -- foo /tmp/");
        assert_eq!(command.flags.len(), 1);
        assert_eq!(command.values[..], ["foo", "/tmp/"]);
    }

    #[test]
    fn invalid_json_is_shell_form_but_non_strings_are_errors() {
        let command = parse("CMD ['sh']");
        assert!(!command.json);
        assert_eq!(command.values[..], ["['sh']"]);
        assert!(error("CMD [1]").contains("strings only"));
    }

    #[test]
    fn json_edge_cases_read_as_go_reads_them() {
        let surrogate = parse(r#"CMD ["\ud800x", "\ud83d\ude00"]"#);
        assert!(surrogate.json);
        assert_eq!(surrogate.values[..], ["\u{fffd}x", "😀"]);
        let deep = format!("CMD [{}{}]", "[".repeat(200), "]".repeat(200));
        assert!(error(&deep).contains("strings only"));
    }

    #[test]
    fn onbuild_nests_a_command() {
        let command = parse("ONBUILD RUN echo hi");
        let sub = command.sub.unwrap();
        assert_eq!(sub.name, "run");
        assert_eq!(sub.values[..], ["echo hi"]);
    }

    #[test]
    fn env_forms() {
        assert_eq!(parse("ENV a b c").values[..], ["a", "b c", ""]);
        assert_eq!(
            parse("ENV a=1 b=\"2 3\"").values[..],
            ["a", "1", "=", "b", "\"2 3\"", "="]
        );
        assert_eq!(error("ENV PATH"), "ENV must have two arguments");
    }
}
