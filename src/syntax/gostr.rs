//! Go string semantics that BuildKit's parser relies on: `unicode.IsSpace`,
//! `strings.TrimSpace`, UTF-8 decoding that yields U+FFFD for invalid bytes,
//! and `strconv.Quote`. Parity with BuildKit needs these exact rules, not
//! Rust's close-but-different ones.

/// Go's `unicode.IsSpace` (the same set as Rust's `char::is_whitespace`).
pub fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// Go's `unicode.IsSpace(rune(b))` applied to a single byte, as BuildKit does
/// in its byte-wise loops (flags, HEALTHCHECK): bytes are read as Latin-1.
pub fn is_space_byte(b: u8) -> bool {
    is_space(b as char)
}

/// BuildKit's `reWhitespace` class: `[\t\v\f\r ]`.
pub fn is_token_space(b: u8) -> bool {
    matches!(b, b'\t' | 0x0b | 0x0c | b'\r' | b' ')
}

/// Decodes one rune like Go's `utf8.DecodeRune`: invalid input yields
/// (U+FFFD, 1).
pub fn decode_rune(s: &[u8]) -> (char, usize) {
    let len = match s.first() {
        None => return (char::REPLACEMENT_CHARACTER, 0),
        Some(&b) if b < 0x80 => return (b as char, 1),
        Some(&b) if b >= 0xf0 => 4,
        Some(&b) if b >= 0xe0 => 3,
        Some(&b) if b >= 0xc0 => 2,
        Some(_) => 1,
    };
    match s.get(..len).map(std::str::from_utf8) {
        Some(Ok(text)) => (text.chars().next().unwrap_or('\u{fffd}'), len),
        _ => (char::REPLACEMENT_CHARACTER, 1),
    }
}

/// `unicode.IsSpace` of an ASCII byte: `\t` to `\r` and the space. An
/// ASCII byte is always a rune of its own, so the loops below step over
/// ASCII bytes without decoding and decode only where a byte is not ASCII.
fn is_ascii_space(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | b' ')
}

/// Length of the leading run of `unicode.IsSpace` runes.
pub fn leading_space_len(s: &[u8]) -> usize {
    let mut pos = 0;
    while pos < s.len() {
        if s[pos].is_ascii() {
            if !is_ascii_space(s[pos]) {
                break;
            }
            pos += 1;
            continue;
        }
        let (c, w) = decode_rune(&s[pos..]);
        if !is_space(c) {
            break;
        }
        pos += w;
    }
    pos
}

/// Length of `s` without its trailing run of `unicode.IsSpace` runes.
pub fn trailing_space_start(s: &[u8]) -> usize {
    let mut end = s.len();
    while end > 0 && is_ascii_space(s[end - 1]) {
        end -= 1;
    }
    // An ASCII spaces run cannot end a multi-byte rune, so the runes before
    // it decode alike with or without it; only a non-ASCII end needs them.
    if end == 0 || s[end - 1].is_ascii() {
        return end;
    }
    let (mut pos, mut last) = (0, 0);
    while pos < end {
        let (c, w) = decode_rune(&s[pos..end]);
        pos += w;
        if !is_space(c) {
            last = pos;
        }
    }
    last
}

/// `strings.TrimSpace` as a sub-range of `range` within `s`.
#[inline]
pub fn trim_space(s: &[u8], range: std::ops::Range<usize>) -> std::ops::Range<usize> {
    // Nearly every range starts and ends with a visible ASCII byte: that
    // test is made where it is called, and the rest kept apart, whose
    // registers cost each call more than the test.
    let text = &s[range.clone()];
    if text.first().is_some_and(u8::is_ascii_graphic)
        && text.last().is_some_and(u8::is_ascii_graphic)
    {
        return range;
    }
    trim_space_slow(s, range)
}

#[inline(never)]
fn trim_space_slow(s: &[u8], range: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let start = range.start + leading_space_len(&s[range.clone()]);
    let end = start + trailing_space_start(&s[start..range.end]);
    start..end
}

/// Lossy UTF-8 text of a byte slice (Go keeps raw bytes; dockfix shows them
/// as U+FFFD in values, never in the file it writes).
pub fn text(s: &[u8]) -> String {
    // Checking first is cheaper than the lossy decoder's chunking, and
    // nearly every value is valid.
    match std::str::from_utf8(s) {
        Ok(valid) => valid.to_owned(),
        Err(_) => crate::syntax::lossy(s).into_owned(),
    }
}

/// Go's `strconv.Quote`.
pub fn quote(s: &str) -> String {
    quote_bytes(s.as_bytes())
}

/// Go's `strconv.Quote` of a string holding any bytes: a byte that is not
/// UTF-8 is written `\xNN`.
pub fn quote_bytes(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut pos = 0;
    while pos < s.len() {
        let (c, width) = decode_rune(&s[pos..]);
        if c == char::REPLACEMENT_CHARACTER && width == 1 {
            out.push_str(&format!("\\x{:02x}", s[pos]));
            pos += 1;
            continue;
        }
        pos += width;
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_print(c) => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if (c as u32) > 0xffff => out.push_str(&format!("\\U{:08x}", c as u32)),
            c => out.push_str(&format!("\\u{:04x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Whether `s` is UTF-8 text of printable characters and spaces only,
/// shown as it is rather than quoted.
pub fn is_printable(s: &[u8]) -> bool {
    std::str::from_utf8(s).is_ok_and(|s| s.chars().all(is_print))
}

/// An approximation of Go's `unicode.IsPrint`: graphic characters and the
/// ASCII space; controls, other spaces and invisible format characters are
/// not printable.
fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    !(c.is_control()
        || c.is_whitespace()
        || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' | '\u{feff}'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_matches_go() {
        assert_eq!(quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quote("\u{0}\u{8}\u{c}\n\r\t"), r#""\x00\b\f\n\r\t""#);
        assert_eq!(quote("♥☃"), "\"♥☃\"");
        assert_eq!(quote("\u{a0}"), r#""\u00a0""#);
        assert_eq!(quote_bytes(b"\xff\xfeF\x00"), r#""\xff\xfeF\x00""#);
    }

    #[test]
    fn trim_space_handles_unicode_and_invalid_bytes() {
        let s = "\u{a0} x \u{3000}".as_bytes();
        let r = trim_space(s, 0..s.len());
        assert_eq!(&s[r], b"x");
        let s = b" \xff ";
        let r = trim_space(s, 0..s.len());
        assert_eq!(&s[r], b"\xff");
    }

    #[test]
    fn the_ascii_shortcuts_agree_with_decoding_every_rune() {
        let by_runes = |s: &[u8]| {
            let (mut pos, mut lead, mut end, mut seen) = (0, 0, 0, false);
            while pos < s.len() {
                let (c, w) = decode_rune(&s[pos..]);
                pos += w;
                if !is_space(c) {
                    seen = true;
                    end = pos;
                } else if !seen {
                    lead = pos;
                }
            }
            (lead, end)
        };
        let pieces: [&[u8]; 10] = [
            b" ",
            b"\t",
            b"\x0b",
            b"a",
            b"\xff",
            b"\xc2",
            b"\xc2\xa0",
            b"\xe3\x80\x80",
            b"\xc3\xa9",
            b"\x85",
        ];
        // Every string of up to four pieces.
        let mut strings: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..4 {
            let longer: Vec<Vec<u8>> = strings
                .iter()
                .flat_map(|s| pieces.iter().map(move |p| [s.as_slice(), p].concat()))
                .collect();
            strings.extend(longer);
        }
        for s in strings {
            let (lead, end) = by_runes(&s);
            assert_eq!(leading_space_len(&s), lead, "{s:?}");
            assert_eq!(trailing_space_start(&s), end, "{s:?}");
        }
    }

    #[test]
    fn decode_rune_replaces_invalid_bytes() {
        assert_eq!(decode_rune(b"\xffa"), ('\u{fffd}', 1));
        assert_eq!(decode_rune("é".as_bytes()), ('é', 2));
    }
}
