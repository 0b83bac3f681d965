//! The logical line of an instruction: the physical lines joined the way
//! BuildKit joins them (continuation characters, comment and blank lines
//! removed), with a map back to file offsets so that anything found in the
//! logical line can be edited in the file.

use std::ops::Range;

/// Boxed slices, not vectors: a file holds one per instruction, and tens
/// of thousands of instructions paid for the room a vector keeps.
#[derive(Debug, Clone)]
pub struct Logical {
    pub text: Box<[u8]>,
    /// Where in the file the first piece starts; the first piece starts the
    /// logical line. Each piece is a contiguous run of file bytes.
    first: usize,
    /// The pieces after the first, in order: (logical start, file start).
    /// Most instructions are one line, so this stays unallocated.
    more: Box<[(usize, usize)]>,
}

impl Logical {
    /// The logical line of the pieces `source[first]` and `source[more]`,
    /// in order, allocated once at its length.
    pub fn new(source: &[u8], first: Range<usize>, more: &[Range<usize>]) -> Logical {
        if more.is_empty() {
            // Nearly every instruction: one piece, copied at once.
            return Logical {
                text: source[first.clone()].into(),
                first: first.start,
                more: Box::default(),
            };
        }
        let len = first.len() + more.iter().map(Range::len).sum::<usize>();
        let mut text = Vec::with_capacity(len);
        text.extend_from_slice(&source[first.clone()]);
        let more = more
            .iter()
            .map(|piece| {
                let start = text.len();
                text.extend_from_slice(&source[piece.clone()]);
                (start, piece.start)
            })
            .collect();
        Logical {
            text: text.into_boxed_slice(),
            first: first.start,
            more,
        }
    }

    fn piece(&self, index: usize) -> (usize, usize) {
        match index {
            0 => (0, self.first),
            _ => self.more[index - 1],
        }
    }

    fn piece_index(&self, pos: usize, prefer_previous: bool) -> usize {
        // The first piece starts at 0, so it always counts.
        let index = self.more.partition_point(|&(start, _)| start <= pos);
        if prefer_previous && index > 0 && self.piece(index).0 == pos {
            // The end of a range lies at the end of the previous piece, not
            // after the line break that separates the two.
            let mut i = index;
            while i > 0 && self.piece(i).0 == pos {
                i -= 1;
            }
            return i;
        }
        index
    }

    /// The file offset of a logical position that starts something.
    pub fn file_start(&self, pos: usize) -> usize {
        let (start, file) = self.piece(self.piece_index(pos, false));
        file + (pos - start)
    }

    /// The file offset of a logical position that ends something.
    pub fn file_end(&self, pos: usize) -> usize {
        let (start, file) = self.piece(self.piece_index(pos, true));
        file + (pos - start)
    }

    pub fn file_range(&self, range: Range<usize>) -> Range<usize> {
        if range.is_empty() {
            let at = self.file_start(range.start);
            return at..at;
        }
        self.file_start(range.start)..self.file_end(range.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_across_continuations() {
        let src = b"RUN a \\\n  b \\\n c\n";
        let logical = Logical::new(src, 0..6, &[8..12, 14..16]);
        assert_eq!(&logical.text[..], b"RUN a   b  c");
        assert_eq!(logical.file_range(11..12), 15..16);
        assert_eq!(logical.file_range(4..5), 4..5);
        assert_eq!(logical.file_range(8..9), 10..11);
        // A range that ends where a piece ends stays on its line.
        assert_eq!(logical.file_range(4..6), 4..6);
        assert_eq!(logical.file_range(4..9), 4..11);
    }
}
