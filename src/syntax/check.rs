//! What BuildKit rejects once its parser has built the tree: the checks of
//! `instructions.Parse` (unknown instructions, argument counts, flags, stage
//! names, ONBUILD triggers, instructions before any `FROM`) and the
//! frontend's "no stages" check, with BuildKit's messages. BuildKit's parser
//! accepts any word as an instruction; these checks are where a file with
//! merge-conflict markers, binary bytes or UTF-16 text fails.

use super::gostr::{decode_rune, is_printable, quote, quote_bytes, text};
use super::heredoc;
use super::lexer::{error, ParseError};
use super::tree::{Command, Instruction};
use super::word::Word;

/// BuildKit's instructions, in the order suggestions are searched.
pub(super) const INSTRUCTIONS: [&str; 18] = [
    "add",
    "arg",
    "cmd",
    "copy",
    "entrypoint",
    "env",
    "expose",
    "from",
    "healthcheck",
    "label",
    "maintainer",
    "onbuild",
    "run",
    "shell",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

/// A flag's type in BuildKit's `BFlags`.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Bool,
    Str,
    /// A string flag that may be given more than once.
    Strings,
}

use Kind::{Bool, Str, Strings};

const ADD_FLAGS: &[(&str, Kind)] = &[
    ("chown", Str),
    ("chmod", Str),
    ("link", Bool),
    ("keep-git-dir", Bool),
    ("checksum", Str),
    ("unpack", Bool),
    ("exclude", Strings),
];
const COPY_FLAGS: &[(&str, Kind)] = &[
    ("chown", Str),
    ("from", Str),
    ("chmod", Str),
    ("link", Bool),
    ("exclude", Strings),
    ("parents", Bool),
];
const RUN_FLAGS: &[(&str, Kind)] = &[
    ("device", Strings),
    ("mount", Strings),
    ("network", Str),
    ("security", Str),
];
const HEALTHCHECK_FLAGS: &[(&str, Kind)] = &[
    ("interval", Str),
    ("timeout", Str),
    ("start-period", Str),
    ("start-interval", Str),
    ("retries", Str),
];

/// The errors BuildKit gives after parsing, each at its instruction's line:
/// one per instruction it rejects, the first instruction outside a build
/// stage, or a file whose instructions start no stage. The lexer shows it
/// each instruction as it makes it: a second pass over a large file read
/// each instruction from memory again.
#[derive(Default)]
pub(super) struct Checker {
    errors: Vec<ParseError>,
    stages: usize,
    outside_reported: bool,
    any: bool,
}

impl Checker {
    /// Checks the next instruction of the file whose bytes are `source`.
    pub(super) fn instruction(&mut self, source: &[u8], instruction: &Instruction) {
        self.any = true;
        let name = instruction.command.name.as_str();
        if let Err(message) = check_instruction(source, instruction) {
            self.errors.push(error(instruction.start_line, message));
        } else if self.stages == 0 && !matches!(name, "from" | "arg") && !self.outside_reported {
            self.outside_reported = true;
            let message = "no build stage in current context";
            self.errors.push(error(instruction.start_line, message));
        }
        if name == "from" {
            self.stages += 1;
        }
    }

    /// The errors, once every instruction has been checked.
    pub(super) fn finish(mut self) -> Vec<ParseError> {
        if self.stages == 0 && self.errors.is_empty() && self.any {
            self.errors
                .push(error(1, "dockerfile contains no stages to build"));
        }
        self.errors
    }
}

/// BuildKit's `ParseInstruction` for one instruction.
fn check_instruction(source: &[u8], instruction: &Instruction) -> Result<(), String> {
    let command = &instruction.command;
    let args = &command.values;
    let no_flags = || flags(command, &[]).map(drop);
    match command.name.as_str() {
        "env" => {
            no_flags()?;
            key_values(args, "ENV")
        }
        "label" => {
            no_flags()?;
            key_values(args, "LABEL")
        }
        "maintainer" => {
            exactly_one(args, "MAINTAINER")?;
            no_flags()
        }
        "add" => copy(command, "ADD", ADD_FLAGS),
        "copy" => copy(command, "COPY", COPY_FLAGS),
        "from" => {
            stage_name(args)?;
            flags(command, &[("platform", Str)]).map(drop)
        }
        "onbuild" => onbuild(instruction),
        "workdir" => {
            exactly_one(args, "WORKDIR")?;
            no_flags()
        }
        "run" => run(command),
        "cmd" | "entrypoint" => no_flags(),
        "healthcheck" => healthcheck(command),
        "expose" => {
            at_least_one(args, "EXPOSE")?;
            no_flags()
        }
        "user" => {
            exactly_one(args, "USER")?;
            no_flags()
        }
        "volume" => volume(command),
        // BuildKit reads no flags for STOPSIGNAL and ARG: any are ignored.
        "stopsignal" => exactly_one(args, "STOPSIGNAL"),
        "arg" => arg(args),
        "shell" => shell(command),
        _ => Err(unknown_instruction(source, instruction)),
    }
}

/// How many bytes of an unknown instruction a message shows.
const SHOWN: usize = 40;

/// `unknown instruction: X`, with BuildKit's suggestion, and a hint when
/// the file is UTF-16 text (whose bytes BuildKit reads as one odd word).
fn unknown_instruction(source: &[u8], instruction: &Instruction) -> String {
    let written = instruction.text(instruction.command.keyword.clone());
    // A binary file's first "word" can be a whole line: show its start.
    let mut end = written.len().min(SHOWN);
    while end < written.len() && (written[end] & 0xc0) == 0x80 && end > 0 {
        end -= 1;
    }
    let (head, cut) = (
        &written[..end],
        if end < written.len() { "..." } else { "" },
    );
    let shown = if is_printable(written) {
        crate::syntax::lossy(head).into_owned()
    } else {
        quote_bytes(head)
    };
    let mut message = format!("unknown instruction: {shown}{cut}");
    let lower = go_lower(written);
    if let Some(found) = suggest(&lower, &INSTRUCTIONS) {
        // Upper case for a keyword written in upper case, else lower.
        let written = text(written);
        let upper = written != written.to_lowercase() && written == written.to_uppercase();
        let found = if upper {
            found.to_uppercase()
        } else {
            found.to_string()
        };
        message.push_str(&format!(" (did you mean {found}?)"));
    }
    if looks_utf16(source) {
        message.push_str(" (the file looks like UTF-16 text; Dockerfiles are UTF-8)");
    }
    message
}

/// Go's `strings.ToLower`: each byte that is not UTF-8 becomes U+FFFD.
fn go_lower(s: &[u8]) -> String {
    let mut out = String::new();
    let mut pos = 0;
    while pos < s.len() {
        let (c, width) = decode_rune(&s[pos..]);
        out.extend(c.to_lowercase());
        pos += width;
    }
    out
}

/// A byte-order mark of UTF-16, or text whose every other byte is NUL.
fn looks_utf16(source: &[u8]) -> bool {
    if source.starts_with(b"\xff\xfe") || source.starts_with(b"\xfe\xff") {
        return true;
    }
    let head = &source[..source.len().min(64) & !1];
    head.len() >= 4
        && [0, 1].into_iter().any(|zero| {
            head.chunks(2)
                .all(|pair| pair[zero] == 0 && pair[1 - zero] != 0)
        })
}

/// BuildKit's `suggest.WrapError`: `message` with the option `value` was
/// likely meant, when there is one.
fn suggested(mut message: String, value: &str, options: &[&str]) -> String {
    if let Some(found) = suggest(value, options) {
        message.push_str(&format!(" (did you mean {found}?)"));
    }
    message
}

/// BuildKit's `suggest.Search`: the option within an edit distance of two
/// (the nearest, the first of equals), none for an exact match. BuildKit
/// searches a map, so among equally near options it names any one.
fn suggest<'a>(value: &str, options: &[&'a str]) -> Option<&'a str> {
    if options.contains(&value) {
        return None;
    }
    let mut best = None;
    let mut min = 3;
    for &option in options {
        let distance = levenshtein(value, option);
        if distance < min {
            (best, min) = (Some(option), distance);
        }
    }
    best
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// BuildKit's `BFlags.Parse` for the flags an instruction declares: the
/// value of each flag given, in order.
#[inline]
fn flags(command: &Command, declared: &[(&str, Kind)]) -> Result<Vec<(String, String)>, String> {
    // Nearly every instruction has none: told where it is checked, without
    // the call that reads flags.
    if command.flags.is_empty() {
        return Ok(Vec::new());
    }
    read_flags(command, declared)
}

#[inline(never)]
fn read_flags(
    command: &Command,
    declared: &[(&str, Kind)],
) -> Result<Vec<(String, String)>, String> {
    let mut used: Vec<(String, String)> = Vec::new();
    for flag in &command.flags {
        let (flag_name, value) = match flag.text.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (flag.text.as_str(), None),
        };
        let name = flag_name.strip_prefix("--").unwrap_or(flag_name);
        let Some(&(_, kind)) = declared.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = declared.iter().map(|(n, _)| *n).collect();
            return Err(suggested(
                format!("unknown flag: {flag_name}"),
                name,
                &names,
            ));
        };
        if kind != Strings && used.iter().any(|(n, _)| n == name) {
            return Err(format!("duplicate flag specified: {flag_name}"));
        }
        let value = match (kind, value) {
            (Bool, Some("")) | (Str | Strings, None) => {
                return Err(format!("missing a value on flag: {flag_name}"))
            }
            (Bool, value) => match value.map(str::to_lowercase).as_deref() {
                None | Some("true") => "true".to_string(),
                Some("false") => "false".to_string(),
                Some(_) => {
                    let value = value.unwrap_or_default();
                    let message =
                        format!("expecting boolean value for flag {flag_name}, not: {value}");
                    return Err(message);
                }
            },
            (_, value) => value.unwrap_or_default().to_string(),
        };
        used.push((name.to_string(), value));
    }
    Ok(used)
}

/// The last value given for a flag.
fn value<'a>(used: &'a [(String, String)], name: &str) -> Option<&'a str> {
    used.iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn at_least_one(args: &[Word], name: &str) -> Result<(), String> {
    if args.is_empty() {
        return Err(format!("{name} requires at least one argument"));
    }
    Ok(())
}

fn exactly_one(args: &[Word], name: &str) -> Result<(), String> {
    if args.len() != 1 {
        return Err(format!("{name} requires exactly one argument"));
    }
    Ok(())
}

/// ENV and LABEL: the parser's (key, value, separator) triples.
fn key_values(args: &[Word], name: &str) -> Result<(), String> {
    at_least_one(args, name)?;
    if args.chunks(3).any(|pair| pair[0].is_empty()) {
        return Err(format!("{name} names can not be blank"));
    }
    Ok(())
}

fn copy(command: &Command, name: &str, declared: &[(&str, Kind)]) -> Result<(), String> {
    let args = &command.values;
    if args.len() < 2 {
        return Err(format!(
            "{name} requires at least two arguments, but only one was provided. Destination could not be determined"
        ));
    }
    flags(command, declared)?;
    if args
        .last()
        .is_some_and(|dest| heredoc::is_opener(dest.as_bytes()))
    {
        return Err(format!("{name} cannot accept a heredoc as a destination"));
    }
    Ok(())
}

/// `FROM image [AS name]`.
fn stage_name(args: &[Word]) -> Result<(), String> {
    match args {
        [_, as_, name] if as_.eq_ignore_ascii_case("as") => {
            let lower = name.to_lowercase();
            let valid = lower.starts_with(|c: char| c.is_ascii_lowercase())
                && lower
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
            if !valid {
                return Err(format!(
                    "invalid name for build stage: {}, name can't start with a number or contain symbols",
                    quote(name)
                ));
            }
            Ok(())
        }
        [_] => Ok(()),
        _ => Err("FROM requires either one or three arguments".into()),
    }
}

/// ONBUILD: a trigger that is not ONBUILD, FROM or MAINTAINER. The trigger
/// itself is only read by the build that uses the image.
fn onbuild(instruction: &Instruction) -> Result<(), String> {
    let command = &instruction.command;
    let Some(sub) = &command.sub else {
        return at_least_one(&[], "ONBUILD");
    };
    flags(command, &[])?;
    let trigger = text(instruction.text(sub.keyword.clone()))
        .trim()
        .to_uppercase();
    match trigger.as_str() {
        "ONBUILD" => Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into()),
        "MAINTAINER" | "FROM" => Err(format!("{trigger} isn't allowed as an ONBUILD trigger")),
        _ => Ok(()),
    }
}

/// RUN's flags, in the order of BuildKit's hooks: devices, mounts (only
/// what it reads before variables are known: the comma-separated fields,
/// and a `from` without a variable), then the network and security modes.
fn run(command: &Command) -> Result<(), String> {
    let used = flags(command, RUN_FLAGS)?;
    for (name, value) in &used {
        if name == "device" {
            device(value)?;
        }
    }
    for (name, value) in &used {
        if name == "mount" {
            mount(value)?;
        }
    }
    if let Some(network) = value(&used, "network") {
        if !matches!(network, "default" | "none" | "host") {
            return Err(format!("invalid network mode {}", quote(network)));
        }
    }
    if let Some(security) = value(&used, "security") {
        if !matches!(security, "insecure" | "sandbox") {
            return Err(format!("security {} is not valid", quote(security)));
        }
    }
    Ok(())
}

/// BuildKit's `parseMount` without an expander: every other key and value
/// is read once the build knows its variables.
fn mount(value: &str) -> Result<(), String> {
    let fields = csv_fields(value).map_err(|e| format!("failed to parse csv mounts: {e}"))?;
    for field in fields {
        let Some((key, value)) = field.split_once('=') else {
            continue;
        };
        if key.to_lowercase() == "from" && value.find('$').is_some_and(|at| at + 1 != value.len()) {
            return Err(
                "'from' doesn't support variable expansion, define alias stage instead".into(),
            );
        }
    }
    Ok(())
}

/// BuildKit's `ParseDevice`: a name, given once (bare or as `name=`), and
/// `required` with a boolean or no value.
fn device(value: &str) -> Result<(), String> {
    let fields = csv_fields(value).map_err(|e| format!("failed to parse csv devices: {e}"))?;
    let mut named: Option<String> = None;
    for field in fields {
        let (key, value) = match field.split_once('=') {
            Some((key, value)) => (key.to_lowercase(), Some(value)),
            None => (field.to_lowercase(), None),
        };
        match (key.as_str(), value) {
            ("required", None) => {}
            ("required", Some(value)) => {
                if parse_bool(value).is_none() {
                    return Err(format!("invalid value for {key}: {value}"));
                }
            }
            ("name", Some(value)) => {
                if let Some(name) = &named {
                    return Err(format!("device name already set to {name}"));
                }
                named = Some(value.to_string());
            }
            _ if named.is_none() => named = Some(field),
            (_, None) => return Err(format!("invalid field '{field}' must be a key=value pair")),
            (_, Some(_)) => {
                let message = format!("unexpected key '{key}' in '{field}'");
                return Err(suggested(message, &key, &["name", "required"]));
            }
        }
    }
    Ok(())
}

/// Go's `strconv.ParseBool`.
fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The fields of a one-line CSV value as BuildKit's flag values are split:
/// fields separated by commas, a field either bare (no `"` in it) or quoted
/// (`""` for a quote, and nothing after the closing quote but a comma).
/// Errors are Go's `csv.ParseError` texts, columns counted in bytes.
fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let line = line
        .strip_suffix("\r\n")
        .or_else(|| line.strip_suffix('\n'))
        .unwrap_or(line);
    if line.is_empty() {
        return Err("EOF".into());
    }
    let at = |pos: usize, what: &str| format!("parse error on line 1, column {}: {what}", pos + 1);
    let bytes = line.as_bytes();
    let mut fields = Vec::new();
    let mut pos = 0;
    loop {
        if bytes.get(pos) != Some(&b'"') {
            let end = line[pos..].find(',').map_or(line.len(), |i| pos + i);
            if let Some(quote) = line[pos..end].find('"') {
                return Err(at(pos + quote, "bare \" in non-quoted-field"));
            }
            fields.push(line[pos..end].to_string());
            if end == line.len() {
                return Ok(fields);
            }
            pos = end + 1;
            continue;
        }
        pos += 1;
        let mut field = String::new();
        loop {
            let Some(quote) = line[pos..].find('"') else {
                return Err(at(pos, "extraneous or missing \" in quoted-field"));
            };
            field.push_str(&line[pos..pos + quote]);
            pos += quote + 1;
            match bytes.get(pos) {
                Some(b'"') => {
                    field.push('"');
                    pos += 1;
                }
                Some(b',') => {
                    fields.push(field);
                    pos += 1;
                    break;
                }
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(_) => return Err(at(pos - 1, "extraneous or missing \" in quoted-field")),
            }
        }
    }
}

fn volume(command: &Command) -> Result<(), String> {
    at_least_one(&command.values, "VOLUME")?;
    flags(command, &[])?;
    if command.values.iter().any(|v| v.trim().is_empty()) {
        return Err("VOLUME specified can not be an empty string".into());
    }
    Ok(())
}

fn arg(args: &[Word]) -> Result<(), String> {
    at_least_one(args, "ARG")?;
    if args.iter().any(|a| a.starts_with('=')) {
        return Err("ARG names can not be blank".into());
    }
    Ok(())
}

fn shell(command: &Command) -> Result<(), String> {
    flags(command, &[])?;
    at_least_one(&command.values, "SHELL")?;
    if !command.json {
        return Err("SHELL requires the arguments to be in JSON form".into());
    }
    Ok(())
}

fn healthcheck(command: &Command) -> Result<(), String> {
    let args = &command.values;
    at_least_one(args, "HEALTHCHECK")?;
    let kind = args[0].to_uppercase();
    let rest = &args[1..];
    if kind == "NONE" {
        if !rest.is_empty() {
            return Err("HEALTHCHECK NONE takes no arguments".into());
        }
        return Ok(());
    }
    let used = flags(command, HEALTHCHECK_FLAGS)?;
    if kind != "CMD" {
        return Err(format!(
            "Unknown type {} in HEALTHCHECK (try CMD)",
            quote(&kind)
        ));
    }
    if rest.is_empty() {
        return Err("Missing command after HEALTHCHECK CMD".into());
    }
    for name in ["interval", "timeout", "start-period", "start-interval"] {
        let Some(text) = value(&used, name).filter(|v| !v.is_empty()) else {
            continue;
        };
        let duration = parse_duration(text)?;
        if duration != 0 && duration < 1_000_000 {
            return Err(format!("Interval {} cannot be less than 1ms", quote(name)));
        }
    }
    if let Some(retries) = value(&used, "retries").filter(|v| !v.is_empty()) {
        let parsed = retries.parse::<i32>().map_err(|e| {
            let why = match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                    "value out of range"
                }
                _ => "invalid syntax",
            };
            format!("strconv.ParseInt: parsing {}: {why}", quote(retries))
        })?;
        if parsed < 0 {
            return Err(format!("--retries cannot be negative ({parsed})"));
        }
    }
    Ok(())
}

/// Go's `time.ParseDuration`, in nanoseconds.
fn parse_duration(s: &str) -> Result<i128, String> {
    let invalid = || format!("time: invalid duration {}", quote(s));
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let digits = |t: &str| t.bytes().take_while(u8::is_ascii_digit).count();
    let mut total: u128 = 0;
    while !rest.is_empty() {
        if !rest.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        let whole_len = digits(rest);
        let whole: u128 = match whole_len {
            0 => 0,
            _ => rest[..whole_len].parse().map_err(|_| invalid())?,
        };
        if whole > 1 << 63 {
            return Err(invalid());
        }
        rest = &rest[whole_len..];
        let mut fraction = "";
        if let Some(after) = rest.strip_prefix('.') {
            let len = digits(after);
            fraction = &after[..len];
            rest = &after[len..];
            if whole_len == 0 && len == 0 {
                return Err(invalid());
            }
        }
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {}", quote(s)));
        }
        let unit: u128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            other => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    quote(other),
                    quote(s)
                ))
            }
        };
        rest = &rest[unit_len..];
        // Go keeps the fraction's digits while they fit in 63 bits.
        let (mut numerator, mut scale) = (0u128, 1u128);
        for d in fraction.bytes() {
            if numerator > ((1 << 63) - 1) / 10 {
                break;
            }
            numerator = numerator * 10 + u128::from(d - b'0');
            scale *= 10;
        }
        let value = whole * unit + (numerator as f64 * (unit as f64 / scale as f64)) as u128;
        total += value;
        if whole > (1 << 63) / unit || total > 1 << 63 {
            return Err(invalid());
        }
    }
    if !negative && total > (1 << 63) - 1 {
        return Err(invalid());
    }
    Ok(if negative {
        -(total as i128)
    } else {
        total as i128
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_go_reads_them() {
        assert_eq!(parse_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_duration("1h2m"), Ok(3_720_000_000_000));
        assert_eq!(parse_duration("-0"), Ok(0));
        assert_eq!(parse_duration(".5ms"), Ok(500_000));
        assert_eq!(
            parse_duration("5"),
            Err(r#"time: missing unit in duration "5""#.into())
        );
        assert_eq!(
            parse_duration("5d"),
            Err(r#"time: unknown unit "d" in duration "5d""#.into())
        );
        assert_eq!(
            parse_duration("."),
            Err(r#"time: invalid duration ".""#.into())
        );
        assert_eq!(
            parse_duration("s"),
            Err(r#"time: invalid duration "s""#.into())
        );
    }

    /// RUN lines with mount and device flags, and BuildKit's verdict on
    /// each (None: accepted), as tally (BuildKit v0.32) gives it.
    const RUN_FLAG_VERDICTS: &[(&str, Option<&str>)] = &[
        ("--mount= true", Some("failed to parse csv mounts: EOF")),
        ("--mount=, true", None),
        ("--mount='\"\",' true", None),
        ("--mount=type=cache,target=a\"b true", None),
        ("--mount='\"a\"\"b\",c' true", None),
        (
            "--mount='\"a\"b' true",
            Some("failed to parse csv mounts: parse error on line 1, column 3: extraneous or missing \" in quoted-field"),
        ),
        (
            "--mount='\"ab' true",
            Some("failed to parse csv mounts: parse error on line 1, column 2: extraneous or missing \" in quoted-field"),
        ),
        (
            "--mount='a\"b' true",
            Some("failed to parse csv mounts: parse error on line 1, column 2: bare \" in non-quoted-field"),
        ),
        (
            "--mount=type=bind,from=$X,target=/x true",
            Some("'from' doesn't support variable expansion, define alias stage instead"),
        ),
        (
            "--mount=type=bind,FROM=${X},target=/x true",
            Some("'from' doesn't support variable expansion, define alias stage instead"),
        ),
        ("--mount=type=bind,from=ab$,target=/x true", None),
        // Types and other values are read when the build runs.
        ("--mount=type=bogus,ro true", None),
        ("--device= true", Some("failed to parse csv devices: EOF")),
        ("--device=a,b true", Some("invalid field 'b' must be a key=value pair")),
        ("--device=required,a,b true", Some("invalid field 'b' must be a key=value pair")),
        ("--device=a,name=b true", Some("device name already set to a")),
        ("--device=name=a,name=b true", Some("device name already set to a")),
        ("--device=a,required=yes true", Some("invalid value for required: yes")),
        ("--device=a,required=True true", None),
        (
            "--device=a,nmae=b true",
            Some("unexpected key 'nmae' in 'nmae=b' (did you mean name?)"),
        ),
        ("--device=a,foo=b true", Some("unexpected key 'foo' in 'foo=b'")),
        // Before a name, any field is the name.
        ("--device=nmae=b,foo true", Some("invalid field 'foo' must be a key=value pair")),
    ];

    #[test]
    fn mounts_and_devices_are_checked_as_buildkit_parses_them() {
        for (flags, verdict) in RUN_FLAG_VERDICTS {
            let source = format!("FROM a\nRUN {flags}\n");
            let got = crate::syntax::parse(source.as_bytes()).err();
            assert_eq!(
                got.as_ref().map(|e| e.message.as_str()),
                *verdict,
                "RUN {flags}"
            );
            if let Some(error) = got {
                assert_eq!(error.line, 2, "RUN {flags}");
            }
        }
    }

    #[test]
    fn suggestions_are_within_two_edits() {
        assert_eq!(suggest("fro", &INSTRUCTIONS), Some("from"));
        assert_eq!(suggest("<<<<<<<", &INSTRUCTIONS), None);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }

    #[test]
    fn a_long_word_is_cut_between_characters() {
        let source = format!("FROM a\na{} x\n", "é".repeat(30));
        let error = crate::syntax::parse(source.as_bytes()).unwrap_err();
        let expected = format!("unknown instruction: a{}...", "é".repeat(19));
        assert_eq!(error.message, expected);
    }

    #[test]
    fn utf16_is_told_from_text() {
        assert!(looks_utf16(b"\xff\xfeF\x00"));
        assert!(looks_utf16(b"F\x00R\x00O\x00M\x00"));
        assert!(looks_utf16(b"\x00F\x00R\x00O\x00M"));
        assert!(!looks_utf16(b"FROM a\n"));
        assert!(!looks_utf16(b"F\x00R\x00OM"));
    }
}
