//! One value of an instruction as BuildKit reads it (`COPY src dest` has
//! two). Most values are a few bytes: they are kept inline, so a file of
//! tens of thousands of instructions does not pay an allocation and a free
//! for each word, nor the memory they take.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

/// The longest value kept inline: with the length byte and the variant's
/// tag, as large as the boxed form.
const INLINE: usize = 22;

#[derive(Clone)]
pub struct Word(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

impl Default for Word {
    fn default() -> Word {
        Word::inline(b"")
    }
}

impl Word {
    /// `bytes` kept inline: UTF-8 text (whole characters) of at most
    /// `INLINE` bytes.
    fn inline(text: &[u8]) -> Word {
        let mut bytes = [0; INLINE];
        bytes[..text.len()].copy_from_slice(text);
        Word(Repr::Inline {
            len: text.len() as u8,
            bytes,
        })
    }

    /// The text of `bytes`, with U+FFFD for bytes that are not UTF-8. A
    /// short ASCII word (nearly every one) is copied without decoding.
    pub fn from_bytes(bytes: &[u8]) -> Word {
        if bytes.len() <= INLINE && bytes.is_ascii() {
            return Word::inline(bytes);
        }
        Word::from(crate::syntax::lossy(bytes).as_ref())
    }

    /// Makes this word the text of `bytes`, as [`Word::from_bytes`] would,
    /// writing a short word where it lies. Built aside and moved, its bytes
    /// were stored narrow and read back wide, which the processor cannot
    /// forward: a fifth of parsing a file of thousands of COPYs.
    pub fn set_bytes(&mut self, text: &[u8]) {
        if let Repr::Inline { len, bytes } = &mut self.0 {
            if text.len() <= INLINE && text.is_ascii() {
                copy_short(bytes, text);
                *len = text.len() as u8;
                return;
            }
        }
        *self = Word::from_bytes(text);
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline { len, bytes } => {
                // Safety: `inline` keeps only whole UTF-8 text.
                unsafe { std::str::from_utf8_unchecked(&bytes[..usize::from(*len)]) }
            }
            Repr::Heap(text) => text,
        }
    }
}

/// `to[..from.len()] = from` for a word kept inline, in a few overlapping
/// moves of fixed size: the call to `memcpy` a slice copy makes cost more
/// than the copy. Bytes after the word are left as they were: only the
/// first `len` are ever read.
fn copy_short(to: &mut [u8; INLINE], from: &[u8]) {
    fn chunk<const N: usize>(to: &mut [u8; INLINE], from: &[u8], at: usize) {
        to[at..at + N].copy_from_slice(&from[at..at + N]);
    }
    match from.len() {
        0 => {}
        1..=3 => {
            let last = from.len() - 1;
            (to[0], to[last / 2], to[last]) = (from[0], from[last / 2], from[last]);
        }
        4..=7 => {
            chunk::<4>(to, from, 0);
            chunk::<4>(to, from, from.len() - 4);
        }
        8..=16 => {
            chunk::<8>(to, from, 0);
            chunk::<8>(to, from, from.len() - 8);
        }
        _ => {
            chunk::<16>(to, from, 0);
            chunk::<8>(to, from, from.len() - 8);
        }
    }
}

impl From<&str> for Word {
    fn from(text: &str) -> Word {
        if text.len() > INLINE {
            return Word(Repr::Heap(text.into()));
        }
        Word::inline(text.as_bytes())
    }
}

impl From<String> for Word {
    fn from(text: String) -> Word {
        if text.len() > INLINE {
            return Word(Repr::Heap(text.into_boxed_str()));
        }
        Word::from(text.as_str())
    }
}

impl From<&Word> for String {
    fn from(word: &Word) -> String {
        word.as_str().to_owned()
    }
}

impl Deref for Word {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Word {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Word {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Word {
    fn eq(&self, other: &Word) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Word {}

impl PartialEq<str> for Word {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Word {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_words_read_back_whole() {
        for text in ["", "a", "/app", &"x".repeat(INLINE), &"é".repeat(INLINE)] {
            let word = Word::from(text);
            assert_eq!(word, *text);
            assert_eq!(Word::from(text.to_string()).as_str(), text);
            assert_eq!(Word::from_bytes(text.as_bytes()).as_str(), text);
            for mut word in [
                Word::from("a longer word than fits inline"),
                Word::from("ab"),
            ] {
                word.set_bytes(text.as_bytes());
                assert_eq!(word.as_str(), text);
            }
        }
        // Every length kept inline, over the bytes of a longer word.
        let text = "abcdefghijklmnopqrstuvwxyz";
        for len in 0..=INLINE {
            let mut word = Word::from(&text[4..4 + INLINE]);
            word.set_bytes(&text.as_bytes()[..len]);
            assert_eq!(word.as_str(), &text[..len]);
        }
        assert_eq!(Word::from_bytes(b"a\xffb"), "a\u{fffd}b");
        assert_eq!(std::mem::size_of::<Word>(), std::mem::size_of::<String>());
    }
}
