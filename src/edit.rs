//! Byte-range edits: collected from every rule, checked for overlap, applied
//! in one pass. Bytes outside the edited ranges are copied unchanged.

use std::ops::Range;
use std::rc::Rc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub range: Range<usize>,
    /// Shared: a fix that moves a group of instructions is given to each
    /// instruction's finding, and copying its text for each would grow with
    /// the square of the group.
    pub replacement: Rc<str>,
}

impl Edit {
    pub fn replace(range: Range<usize>, replacement: impl Into<String>) -> Self {
        Edit {
            range,
            replacement: replacement.into().into(),
        }
    }

    pub fn insert(at: usize, text: impl Into<String>) -> Self {
        Edit {
            range: at..at,
            replacement: text.into().into(),
        }
    }

    /// Two edits conflict when their ranges overlap, or when both insert
    /// at the same point (their order would be arbitrary).
    pub fn conflicts_with(&self, other: &Edit) -> bool {
        let (a, b) = (&self.range, &other.range);
        if a.is_empty() && b.is_empty() {
            return a.start == b.start;
        }
        a.start < b.end && b.start < a.end
    }
}

/// Edits that overlap: applying them together has no single meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap(pub Range<usize>, pub Range<usize>);

/// Applies non-overlapping edits to `source`.
pub fn apply(source: &[u8], edits: &[Edit]) -> Result<Vec<u8>, Overlap> {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.range.start, e.range.end));
    for pair in sorted.windows(2) {
        if pair[0].conflicts_with(pair[1]) {
            return Err(Overlap(pair[0].range.clone(), pair[1].range.clone()));
        }
    }
    let mut out = Vec::with_capacity(source.len());
    let mut at = 0;
    for edit in sorted {
        out.extend_from_slice(&source[at..edit.range.start]);
        out.extend_from_slice(edit.replacement.as_bytes());
        at = edit.range.end;
    }
    out.extend_from_slice(&source[at..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_in_one_pass_keeping_other_bytes() {
        let out = apply(
            b"ADD a b\r\nCMD x",
            &[Edit::replace(9..12, "RUN"), Edit::replace(0..3, "COPY")],
        );
        assert_eq!(out.unwrap(), b"COPY a b\r\nRUN x");
    }

    #[test]
    fn rejects_overlaps_and_same_point_inserts() {
        assert!(apply(
            b"abcdef",
            &[Edit::replace(0..3, "x"), Edit::replace(2..4, "y")]
        )
        .is_err());
        assert!(apply(b"abc", &[Edit::insert(1, "x"), Edit::insert(1, "y")]).is_err());
        assert!(apply(b"abc", &[Edit::insert(1, "x"), Edit::replace(1..2, "y")]).is_ok());
    }
}
