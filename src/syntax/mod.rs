//! Reading Dockerfiles exactly as BuildKit reads them, without losing a byte.

mod byte_search;
mod check;
mod command;
pub mod dump;
mod gostr;
mod heredoc;
mod lexer;
mod logical;
pub mod reparse;
pub mod shell;
mod tree;
mod word;

pub use lexer::{parse, parse_ast, parse_lossless, parse_owned, ParseError, MAX_LINE};
pub use logical::Logical;
pub use tree::*;
pub use word::Word;

/// `String::from_utf8_lossy`, checked the fast way first: the standard
/// library validates ASCII (nearly all Dockerfile text) a word at a time
/// in `from_utf8`, byte by byte in the lossy reader.
pub fn lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}
