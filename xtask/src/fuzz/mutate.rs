//! Mutations of Dockerfiles, the ways real files go wrong in a
//! line-oriented format, drawn from a seeded PRNG so a seed and a mutant's
//! index reproduce the mutant.

/// SplitMix64: small, fast, and good enough to pick mutations.
pub struct Rng(u64);

impl Rng {
    /// The generator of mutant `index` of a run seeded with `seed`: each
    /// mutant's stream stands alone, so one can be made without the others.
    pub fn new(seed: u64, index: u64) -> Rng {
        let mut base = Rng(seed);
        Rng(base.next() ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }
}

/// Lines a mutation inserts: instructions the rules act on, and the
/// shapes that trip parsers (empty values, flags, JSON, ONBUILD, SHELL).
const FRAGMENTS: &[&str] = &[
    "FROM debian:bookworm",
    "FROM node:20 AS build",
    "FROM scratch",
    "FROM --platform=$BUILDPLATFORM golang:1.22 AS builder",
    "ARG V=",
    "ARG VERSION",
    "ENV A=",
    "ENV A B",
    "ENV PIP_NO_CACHE_DIR=1 HOME=/home/app",
    "USER 1000",
    "USER app",
    "WORKDIR /app",
    "COPY . .",
    "COPY package.json package-lock.json ./",
    "COPY --from=build /app /app",
    "ADD app.tar.gz /opt/",
    "ADD https://example.invalid/x.tgz /tmp/",
    "RUN apt-get update && apt-get install -y curl",
    "RUN apt-get install -y --no-install-recommends git && rm -rf /var/lib/apt/lists/*",
    "RUN apk add --no-cache bash",
    "RUN pip install -r requirements.txt",
    "RUN npm ci && npm cache clean --force",
    "RUN yarn install --frozen-lockfile",
    "RUN go build -o /out ./...",
    "RUN --mount=type=cache,target=/root/.cache/pip pip install .",
    "RUN <<EOF",
    "RUN <<-EOT bash",
    "EOF",
    "RUN [\"sh\", \"-c\", \"echo hi\"]",
    "CMD python app.py",
    "CMD [\"node\", \"server.js\"]",
    "ENTRYPOINT [\"/entrypoint.sh\"]",
    "SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]",
    "SHELL [\"powershell\", \"-Command\"]",
    "ONBUILD COPY . /app",
    "ONBUILD RUN npm install",
    "HEALTHCHECK CMD curl -f http://localhost/ || exit 1",
    "HEALTHCHECK NONE",
    "EXPOSE 80/tcp",
    "VOLUME [\"/data\"]",
    "LABEL a=b",
    "STOPSIGNAL SIGTERM",
    "MAINTAINER someone",
    "# dockfix: ignore[DF101]",
    "# dockfix: ignore-file",
    "# syntax=docker/dockerfile:1",
    "# a comment",
    "",
    "  \t",
];

/// Characters of more than one byte, put where tokens meet.
const MULTIBYTE: &[&str] = &[
    "é", "♥", "𝄞", "\u{a0}", "\u{85}", "\u{2028}", "\u{feff}", "\u{fffd}", "\u{200b}", "\u{3000}",
];

/// Bytes with a meaning to the shell or to Dockerfile syntax.
const PUNCTUATION: &[&str] = &[
    "\"", "'", "\\", "`", "$", "${", "}", "#", "&&", "||", ";", "|", "&", "=", ",", "[", "]", "<<",
    "\\\n", " \\\n", "\t", " ", "--", "-",
];

/// Prefixes a parser reads as directives (or as plain comments, after the
/// first line that is not one).
const DIRECTIVES: &[&str] = &[
    "# escape=`\n",
    "# escape=\\\n",
    "#escape=`\r\n",
    "# syntax=docker/dockerfile:1\n",
    "# check=skip=all\n",
    "# escape=`\n# syntax=docker/dockerfile:1.4\n",
    "\u{feff}",
    "\n",
];

/// Operators a command list is joined with.
const OPERATORS: &[&str] = &[";", "||", "&& \\\n   ", "|", "&", "&&&&", "\n"];

/// Applies one mutation to `bytes`, taking lines from `donor` to splice,
/// and names it.
pub fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>, donor: &[u8]) -> &'static str {
    match rng.below(22) {
        0 => {
            let (at, line) = random_line(rng, bytes);
            bytes.splice(at..at, line);
            "duplicate a line"
        }
        1 => {
            let (at, line) = random_line(rng, bytes);
            bytes.drain(at..at + line.len());
            "delete a line"
        }
        2 => {
            let mut lines = lines(bytes);
            if lines.len() > 1 {
                let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
                lines.swap(a, b);
            }
            *bytes = lines.concat();
            "swap two lines"
        }
        3 => {
            let donor_lines = lines(donor);
            let from = rng.below(donor_lines.len().max(1));
            let to = (from + 1 + rng.below(4)).min(donor_lines.len());
            let mut spliced: Vec<u8> = donor_lines.get(from..to).unwrap_or_default().concat();
            if !spliced.ends_with(b"\n") {
                spliced.push(b'\n');
            }
            let at = line_start(rng, bytes);
            bytes.splice(at..at, spliced);
            "splice lines from another file"
        }
        4 => {
            let end = line_end(rng, bytes);
            let marker: &str = rng.pick(&["\\", "`", "\\  ", " \\", "\\\t"]);
            bytes.splice(end..end, marker.bytes());
            "continue a line"
        }
        5 => {
            while bytes.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
                bytes.pop();
            }
            "remove the final newline"
        }
        6 => {
            let mut out = Vec::with_capacity(bytes.len() * 11 / 10);
            let one = rng.one_in(2).then(|| rng.below(lines(bytes).len().max(1)));
            let mut line = 0;
            for (i, &b) in bytes.iter().enumerate() {
                if b == b'\n' {
                    if one.is_none_or(|l| l == line) && (i == 0 || bytes[i - 1] != b'\r') {
                        out.push(b'\r');
                    }
                    line += 1;
                }
                out.push(b);
            }
            *bytes = out;
            "CRLF line endings"
        }
        7 => {
            let directive: &str = rng.pick(DIRECTIVES);
            bytes.splice(0..0, directive.bytes());
            "a leading directive"
        }
        8 => heredoc(rng, bytes),
        9 => {
            let at = boundary(rng, bytes);
            let byte = rng.below(256) as u8;
            bytes.insert(at, byte);
            "a random byte where tokens meet"
        }
        10 => {
            let at = boundary(rng, bytes);
            let c: &str = rng.pick(MULTIBYTE);
            bytes.splice(at..at, c.bytes());
            "a multibyte character where tokens meet"
        }
        11 => {
            let equals: Vec<usize> = (0..bytes.len()).filter(|&i| bytes[i] == b'=').collect();
            if let Some(&at) = equals.get(rng.below(equals.len().max(1))) {
                let end = (at + 1..bytes.len())
                    .find(|&i| bytes[i].is_ascii_whitespace())
                    .unwrap_or(bytes.len());
                bytes.drain(at + 1..end);
            }
            "an empty value"
        }
        12 => {
            let at = rng.below(bytes.len() + 1);
            bytes.truncate(at);
            "truncate"
        }
        13 => {
            let at = line_start(rng, bytes);
            let fragment: &str = rng.pick(FRAGMENTS);
            let line = format!("{fragment}\n");
            bytes.splice(at..at, line.bytes());
            "insert an instruction"
        }
        14 => {
            let (start, end) = token(rng, bytes);
            bytes.drain(start..end);
            "delete a token"
        }
        15 => {
            let (start, end) = token(rng, bytes);
            let copy: Vec<u8> = bytes[start..end].iter().copied().chain([b' ']).collect();
            bytes.splice(start..start, copy);
            "duplicate a token"
        }
        16 => {
            let at = boundary(rng, bytes);
            let p: &str = rng.pick(PUNCTUATION);
            bytes.splice(at..at, p.bytes());
            "shell punctuation where tokens meet"
        }
        17 => {
            let ands: Vec<usize> = bytes
                .windows(2)
                .enumerate()
                .filter(|(_, w)| *w == b"&&")
                .map(|(i, _)| i)
                .collect();
            if let Some(&at) = ands.get(rng.below(ands.len().max(1))) {
                let op: &str = rng.pick(OPERATORS);
                bytes.splice(at..at + 2, op.bytes());
            }
            "change a command operator"
        }
        18 => {
            let (start, end) = token(rng, bytes);
            for b in &mut bytes[start..end] {
                *b = if b.is_ascii_uppercase() {
                    b.to_ascii_lowercase()
                } else {
                    b.to_ascii_uppercase()
                };
            }
            "change a token's case"
        }
        19 => {
            let at = line_start(rng, bytes);
            let indent: &str = rng.pick(&["  ", "\t", " \t ", "\u{a0}"]);
            bytes.splice(at..at, indent.bytes());
            "indent a line"
        }
        20 => {
            let at = line_start(rng, bytes);
            let line: &str = rng.pick(&["\n", "   \n", "# note\n", "\t\n", "  # note \\\n"]);
            bytes.splice(at..at, line.bytes());
            "a blank or comment line"
        }
        _ => {
            // Several mutations of one line, so its pieces interact.
            let (at, line) = random_line(rng, bytes);
            let mut changed = line;
            let c: &str = rng.pick(MULTIBYTE);
            let p: &str = rng.pick(PUNCTUATION);
            let pos = rng.below(changed.len() + 1);
            changed.splice(pos..pos, p.bytes().chain(c.bytes()));
            bytes.splice(at..at + changed.len() - p.len() - c.len(), changed);
            "punctuation and a multibyte character in one line"
        }
    }
}

/// Adds a heredoc opener to an instruction, with its terminator some
/// lines below or none at all.
fn heredoc(rng: &mut Rng, bytes: &mut Vec<u8>) -> &'static str {
    let mut lines = lines(bytes);
    let instructions: Vec<usize> = (0..lines.len())
        .filter(|&i| {
            let word = lines[i].trim_ascii_start();
            ["run", "copy", "add"].iter().any(|k| {
                word.len() > k.len()
                    && word[..k.len()].eq_ignore_ascii_case(k.as_bytes())
                    && word[k.len()].is_ascii_whitespace()
            })
        })
        .collect();
    if instructions.is_empty() {
        return "a heredoc (no instruction to add it to)";
    }
    let at = instructions[rng.below(instructions.len())];
    let opener: &str = rng.pick(&[" <<EOF", " <<-EOF", " <<'EOF'", " <<\"EOF\"", " <<EOF cat"]);
    let line = &mut lines[at];
    let end = line
        .iter()
        .rposition(|&b| b != b'\n' && b != b'\r')
        .map_or(0, |i| i + 1);
    line.splice(end..end, opener.bytes());
    if !rng.one_in(4) {
        let below = (at + 1 + rng.below(4)).min(lines.len());
        let terminator: &str = rng.pick(&["EOF\n", "\tEOF\n", "EOF \n"]);
        lines.insert(below, terminator.bytes().collect());
    }
    *bytes = lines.concat();
    "a heredoc opener"
}

/// The lines of `bytes`, each with its line ending.
fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

/// Where a random line starts, and a copy of it.
fn random_line(rng: &mut Rng, bytes: &[u8]) -> (usize, Vec<u8>) {
    let lines = lines(bytes);
    if lines.is_empty() {
        return (0, Vec::new());
    }
    let n = rng.below(lines.len());
    let at = lines[..n].iter().map(Vec::len).sum();
    (at, lines[n].clone())
}

/// The start of a random line, or the end of the file.
fn line_start(rng: &mut Rng, bytes: &[u8]) -> usize {
    let starts: Vec<usize> = std::iter::once(0)
        .chain(
            (0..bytes.len())
                .filter(|&i| bytes[i] == b'\n')
                .map(|i| i + 1),
        )
        .collect();
    starts[rng.below(starts.len())]
}

/// The end of a random line, before its line ending.
fn line_end(rng: &mut Rng, bytes: &[u8]) -> usize {
    let ends: Vec<usize> = (0..bytes.len())
        .filter(|&i| bytes[i] == b'\n')
        .map(|i| {
            if i > 0 && bytes[i - 1] == b'\r' {
                i - 1
            } else {
                i
            }
        })
        .chain([bytes.len()])
        .collect();
    ends[rng.below(ends.len())]
}

/// A position where a token starts or ends.
fn boundary(rng: &mut Rng, bytes: &[u8]) -> usize {
    let space = |b: u8| b.is_ascii_whitespace();
    let at: Vec<usize> = (0..=bytes.len())
        .filter(|&i| {
            i == 0
                || i == bytes.len()
                || space(bytes[i - 1]) != space(bytes[i])
                || matches!(bytes[i - 1], b'=' | b',' | b':' | b'"' | b'\'' | b'/')
        })
        .collect();
    at[rng.below(at.len())]
}

/// The range of a random token (a run of bytes other than whitespace).
fn token(rng: &mut Rng, bytes: &[u8]) -> (usize, usize) {
    let starts: Vec<usize> = (0..bytes.len())
        .filter(|&i| {
            !bytes[i].is_ascii_whitespace() && (i == 0 || bytes[i - 1].is_ascii_whitespace())
        })
        .collect();
    let Some(&start) = starts.get(rng.below(starts.len().max(1))) else {
        return (0, 0);
    };
    let end = (start..bytes.len())
        .find(|&i| bytes[i].is_ascii_whitespace())
        .unwrap_or(bytes.len());
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_and_an_index_give_the_same_mutations() {
        let source = b"FROM alpine\nRUN apk add curl && echo hi\nCOPY . .\n";
        let run = |seed, index| {
            let mut rng = Rng::new(seed, index);
            let mut bytes = source.to_vec();
            let names: Vec<&str> = (0..6)
                .map(|_| mutate(&mut rng, &mut bytes, b"ARG V=\nENV A=b\n"))
                .collect();
            (bytes, names)
        };
        assert_eq!(run(7, 3), run(7, 3));
        assert_ne!(run(7, 3), run(7, 4));
        assert_ne!(run(7, 3), run(8, 3));
    }

    #[test]
    fn every_mutation_copes_with_an_empty_file() {
        for index in 0..2000 {
            let mut rng = Rng::new(1, index);
            let mut bytes = Vec::new();
            mutate(&mut rng, &mut bytes, b"");
        }
    }
}
