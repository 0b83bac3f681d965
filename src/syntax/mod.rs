//! Reading Dockerfiles exactly as BuildKit reads them, without losing a byte.

mod check;
mod command;
pub mod dump;
mod gostr;
mod heredoc;
mod lexer;
mod logical;
pub mod shell;
mod tree;

pub use lexer::{parse, parse_ast, parse_lossless, ParseError, MAX_LINE};
pub use logical::Logical;
pub use tree::*;
