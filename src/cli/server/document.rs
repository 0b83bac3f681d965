//! An open document as the editor has it: its text, kept in step with the
//! editor's incremental changes, and the conversion between byte offsets
//! (what dockfix's findings hold) and LSP positions (a line, and a column
//! in UTF-16 code units, as the protocol counts by default).

use lsp_types::{Position, Range, TextDocumentContentChangeEvent};

pub struct Document {
    pub text: String,
    pub version: i32,
    /// Where each line starts; a line ends at `\n`, `\r\n` or a lone `\r`,
    /// as the protocol counts lines.
    line_starts: Vec<usize>,
}

impl Document {
    pub fn new(text: String, version: i32) -> Document {
        let line_starts = line_starts(&text);
        Document {
            text,
            version,
            line_starts,
        }
    }

    /// Applies one change: a range replaced, or the whole text.
    pub fn change(&mut self, change: TextDocumentContentChangeEvent) {
        match change.range {
            Some(range) => {
                let start = self.offset(range.start);
                let end = self.offset(range.end).max(start);
                self.text.replace_range(start..end, &change.text);
            }
            None => self.text = change.text,
        }
        self.line_starts = line_starts(&self.text);
    }

    /// The byte offset of a position; past the end of its line, the line's
    /// end; past the last line, the text's end.
    pub fn offset(&self, position: Position) -> usize {
        let Some(&start) = self.line_starts.get(position.line as usize) else {
            return self.text.len();
        };
        let end = self.line_end(position.line as usize);
        let mut units = 0;
        for (i, c) in self.text[start..end].char_indices() {
            if units >= position.character as usize {
                return start + i;
            }
            units += c.len_utf16();
        }
        end
    }

    /// The position of a byte offset (one inside a character counts as its
    /// start).
    pub fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let character: usize = self.text[start..offset].chars().map(char::len_utf16).sum();
        Position::new(line as u32, character as u32)
    }

    pub fn range(&self, range: std::ops::Range<usize>) -> Range {
        Range::new(self.position(range.start), self.position(range.end))
    }

    /// The byte offset of a 1-based line and column in characters, as
    /// dockfix's parse errors give them.
    pub fn offset_of(&self, line: usize, column: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let end = self.line_end(line.saturating_sub(1));
        self.text[start..end]
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(end, |(i, _)| start + i)
    }

    /// Where line `line`'s content ends, before its line break.
    fn line_end(&self, line: usize) -> usize {
        let next = self
            .line_starts
            .get(line + 1)
            .copied()
            .unwrap_or(self.text.len());
        let content = &self.text[self.line_starts[line]..next];
        let trimmed = content
            .strip_suffix("\r\n")
            .or_else(|| content.strip_suffix('\n'))
            .or_else(|| content.strip_suffix('\r'))
            .unwrap_or(content);
        self.line_starts[line] + trimmed.len()
    }
}

fn line_starts(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut starts = vec![0];
    for (i, &b) in bytes.iter().enumerate() {
        let ends = b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n'));
        if ends {
            starts.push(i + 1);
        }
    }
    starts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_utf16_units_and_every_line_break() {
        // `é` is one UTF-16 unit and two bytes; `𝄞` is two units, four bytes.
        let doc = Document::new("FROM a\r\nLABEL x=\"é𝄞\"\rRUN b\n".into(), 1);
        let run = doc.text.find("RUN").unwrap();
        assert_eq!(doc.position(run), Position::new(2, 0));
        let quote = doc.text.rfind('"').unwrap();
        assert_eq!(doc.position(quote), Position::new(1, 12));
        assert_eq!(doc.offset(Position::new(1, 12)), quote);
        // Past the end of a line: its end, before the line break.
        assert_eq!(doc.offset(Position::new(0, 99)), 6);
        assert_eq!(doc.offset(Position::new(9, 0)), doc.text.len());
        // Column 9 of line 2 in characters is the `é`.
        assert_eq!(doc.offset_of(2, 10), doc.text.find('é').unwrap());
    }

    #[test]
    fn incremental_changes_edit_the_text() {
        let mut doc = Document::new("FROM a\nRUN é\n".into(), 1);
        doc.change(TextDocumentContentChangeEvent {
            range: Some(Range::new(Position::new(1, 4), Position::new(1, 5))),
            range_length: None,
            text: "apt-get install -y curl".into(),
        });
        assert_eq!(doc.text, "FROM a\nRUN apt-get install -y curl\n");
        doc.change(TextDocumentContentChangeEvent {
            range: None,
            range_length: None,
            text: "FROM b\n".into(),
        });
        assert_eq!(doc.text, "FROM b\n");
        assert_eq!(doc.position(7), Position::new(1, 0));
    }
}
