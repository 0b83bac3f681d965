//! Finding heredocs in an instruction line the way BuildKit does: the line is
//! split into shell words (quotes and escapes kept), and every word of the
//! form `[fd]<<[-]DELIM` opens a heredoc, read in order after the line.

use super::byte_search;
use super::gostr::{decode_rune, is_space};

/// A heredoc opener found in the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opener {
    pub name: String,
    pub chomp: bool,
    pub expand: bool,
    pub fd: u32,
}

/// The heredoc openers of a logical line. A line the shell lexer rejects
/// (an unterminated quote, say) has none, as in BuildKit.
pub fn openers(line: &[u8]) -> Result<Vec<Opener>, String> {
    // An opener's word holds `<<`, escaped or not: a line with fewer than
    // two `<` has none, and most lines are spared the word splitting.
    // A call costs more than a short line takes to count in one
    // vectorised pass.
    let two = match line.len() {
        0..64 => line.iter().filter(|&&b| b == b'<').count() >= 2,
        // Stops at the second `<`, where counting read the whole line.
        _ => byte_search::find(b'<', line)
            .is_some_and(|first| byte_search::find(b'<', &line[first + 1..]).is_some()),
    };
    if !two {
        return Ok(Vec::new());
    }
    let Some(words) = shell_words(line, true) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for word in words {
        if let Some(opener) = opener(&word)? {
            found.push(opener);
        }
    }
    Ok(found)
}

/// Whether one word is a heredoc opener (BuildKit's `MustParseHeredoc`).
pub fn is_opener(word: &[u8]) -> bool {
    // Nearly every word (a COPY's destination) is told at its first bytes.
    after_angles(word).is_some() && matches!(opener(word), Ok(Some(_)))
}

/// An opener's file descriptor digits and what follows its `<<`; `None`
/// when the word does not start so.
fn after_angles(word: &[u8]) -> Option<(&[u8], &[u8])> {
    let digits = word.iter().take_while(|b| b.is_ascii_digit()).count();
    let after = word[digits..].strip_prefix(b"<<")?;
    Some((&word[..digits], after))
}

/// `^(\d*)<<(-?)\s*([^<]*)$` and a single-word delimiter.
fn opener(word: &[u8]) -> Result<Option<Opener>, String> {
    let Some((digits, after)) = after_angles(word) else {
        return Ok(None);
    };
    let (chomp, rest) = match after.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, after),
    };
    let blanks = rest
        .iter()
        .take_while(|b| matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' '))
        .count();
    let rest = &rest[blanks..];
    if rest.is_empty() || rest.contains(&b'<') {
        return Ok(None);
    }
    let cooked = shell_words(rest, false).ok_or_else(|| unterminated(rest))?;
    // An empty delimiter (`<<""`) is an empty word, which BuildKit drops.
    if cooked.len() != 1 || cooked[0].is_empty() {
        return Ok(None);
    }
    let raw = shell_words(rest, true).ok_or_else(|| unterminated(rest))?;
    let quotes = |w: &[u8]| w.iter().filter(|&&b| b == b'\'' || b == b'"').count();
    let fd = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    Ok(Some(Opener {
        name: crate::syntax::lossy(&cooked[0]).into_owned(),
        chomp,
        expand: quotes(&cooked[0]) == quotes(&raw[0]),
        fd,
    }))
}

fn unterminated(rest: &[u8]) -> String {
    format!("invalid heredoc delimiter {}", crate::syntax::lossy(rest))
}

/// Splits `line` into words like BuildKit's shell lexer with an empty
/// environment whose unset variables stay as written. `raw` keeps quotes
/// and escape characters. `None` when the lexer would fail.
fn shell_words(line: &[u8], raw: bool) -> Option<Vec<Vec<u8>>> {
    let mut words = Vec::new();
    let mut word = Vec::new();
    let mut in_word = false;
    let mut pos = 0;
    let push_raw = |word: &mut Vec<u8>, in_word: &mut bool, bytes: &[u8]| {
        word.extend_from_slice(bytes);
        *in_word = true;
    };
    while pos < line.len() {
        match line[pos] {
            b'\'' => {
                let end = pos + 1 + line[pos + 1..].iter().position(|&b| b == b'\'')?;
                let inner = if raw { pos..end + 1 } else { pos + 1..end };
                push_raw(&mut word, &mut in_word, &line[inner]);
                pos = end + 1;
            }
            b'"' => {
                let mut text = Vec::new();
                if raw {
                    text.push(b'"');
                }
                pos += 1;
                loop {
                    match *line.get(pos)? {
                        b'"' => break,
                        b'$' => pos = dollar(line, pos, &mut text)?,
                        b'\\' => {
                            if raw {
                                text.push(b'\\');
                            }
                            pos += 1;
                            match line.get(pos) {
                                None => {}
                                Some(&c @ (b'"' | b'$' | b'\\')) => {
                                    text.push(c);
                                    pos += 1;
                                }
                                Some(_) => text.push(b'\\'),
                            }
                        }
                        c => {
                            text.push(c);
                            pos += 1;
                        }
                    }
                }
                if raw {
                    text.push(b'"');
                }
                pos += 1;
                push_raw(&mut word, &mut in_word, &text);
            }
            b'$' => {
                let mut text = Vec::new();
                pos = dollar(line, pos, &mut text)?;
                // An expansion's text splits on white space like plain text.
                let mut at = 0;
                while at < text.len() {
                    at += push_rune(&mut words, &mut word, &mut in_word, &text[at..]);
                }
            }
            b'\\' => {
                if raw {
                    push_raw(&mut word, &mut in_word, b"\\");
                }
                pos += 1;
                if let Some(&c) = line.get(pos) {
                    push_raw(&mut word, &mut in_word, &[c]);
                    pos += 1;
                }
            }
            // `<<` and the blanks after it stay in the word, so `<< EOF`
            // is one word (BuildKit since v0.21).
            b'<' if line.get(pos + 1) == Some(&b'<') => {
                let blanks = line[pos + 2..]
                    .iter()
                    .take_while(|b| matches!(b, b'\t' | b'\r' | b' '))
                    .count();
                push_raw(&mut word, &mut in_word, &line[pos..pos + 2 + blanks]);
                pos += 2 + blanks;
            }
            _ => pos += push_rune(&mut words, &mut word, &mut in_word, &line[pos..]),
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

/// Takes the rune at the start of `text`: a space (any `unicode.IsSpace`
/// rune, as in BuildKit) ends the current word, anything else joins it.
/// Returns the rune's width.
fn push_rune(
    words: &mut Vec<Vec<u8>>,
    word: &mut Vec<u8>,
    in_word: &mut bool,
    text: &[u8],
) -> usize {
    let (c, width) = decode_rune(text);
    if is_space(c) {
        if *in_word {
            words.push(std::mem::take(word));
            *in_word = false;
        }
    } else {
        word.extend_from_slice(&text[..width]);
        *in_word = true;
    }
    width
}

/// A `$` expansion starting at `pos`, kept as written (the environment is
/// empty and unset variables are skipped). Returns the position after it.
fn dollar(line: &[u8], pos: usize, out: &mut Vec<u8>) -> Option<usize> {
    if line.get(pos + 1) != Some(&b'{') {
        out.push(b'$');
        return Some(pos + 1);
    }
    if matches!(line.get(pos + 2), None | Some(b'{' | b'}' | b':')) {
        return None;
    }
    let mut depth = 0;
    for (i, &b) in line.iter().enumerate().skip(pos + 1) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    out.extend_from_slice(&line[pos..=i]);
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(line: &str) -> Vec<(String, bool, bool)> {
        openers(line.as_bytes())
            .unwrap()
            .into_iter()
            .map(|o| (o.name, o.chomp, o.expand))
            .collect()
    }

    #[test]
    fn finds_heredocs_anywhere_in_the_line() {
        assert_eq!(names("RUN <<EOF"), [("EOF".into(), false, true)]);
        assert_eq!(names("RUN python3 <<-'PY'"), [("PY".into(), true, false)]);
        assert_eq!(
            names("COPY <<a <<\"b\" /dest/"),
            [("a".into(), false, true), ("b".into(), false, false)]
        );
        assert_eq!(names("RUN cat > f 2<<EOF"), [("EOF".into(), false, true)]);
    }

    #[test]
    fn blanks_may_follow_the_marker() {
        assert_eq!(names("RUN cat << EOF"), [("EOF".into(), false, true)]);
        assert_eq!(
            names("RUN cat <<\t 'EOF' > f"),
            [("EOF".into(), false, false)]
        );
        assert_eq!(names("RUN cat << -EOF"), [("-EOF".into(), false, true)]);
        // After `<<-` a blank ends the word, as in BuildKit's lexer.
        assert!(names("RUN cat <<- EOF").is_empty());
    }

    #[test]
    fn quoted_or_glued_markers_are_not_heredocs() {
        assert!(names("RUN echo '<<EOF'").is_empty());
        assert!(names("RUN cat<<EOF").is_empty());
        assert!(names("RUN echo it's <<EOF").is_empty());
        assert!(
            names("RUN cat <<\"\"").is_empty(),
            "an empty delimiter is dropped"
        );
    }

    #[test]
    fn long_lines_are_read_as_short_ones() {
        // Lines of 64 bytes and more take the vectorised search for `<`.
        let pad = "x".repeat(80);
        let eof = [("EOF".to_string(), false, true)];
        assert_eq!(names(&format!("RUN cat <<EOF {pad}")), eof);
        assert_eq!(names(&format!("RUN {pad} cat <<EOF")), eof);
        assert!(names(&format!("RUN {pad} <")).is_empty());
        assert!(names(&format!("RUN < {pad}")).is_empty());
        assert!(names(&format!("RUN a < b {pad} c < d")).is_empty());
        assert_eq!(names(&format!("RUN a < b {pad} cat <<EOF")), eof);
    }

    #[test]
    fn unicode_spaces_separate_words_as_in_buildkit() {
        assert_eq!(names("RUN cat\u{a0}<<EOF"), [("EOF".into(), false, true)]);
        assert_eq!(names("RUN cat <<EOF\u{a0}x"), [("EOF".into(), false, true)]);
    }
}
