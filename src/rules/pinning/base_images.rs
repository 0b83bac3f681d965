//! The images FROM lines pull, where each is written, and what pinning may
//! rewrite: the FROM itself, or the default of the global ARG it names.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use crate::edit::Edit;
use crate::model;
use crate::pin::{Pins, Resolved};
use crate::registry::Reference;
use crate::syntax::{Dockerfile, Instruction, Word};

pub struct BaseImage {
    /// As written: `node`, `${BASE}`, `python:${VERSION}-slim`.
    pub text: String,
    /// File range of `text`; of the FROM's arguments when a continuation
    /// splits the image over lines.
    pub range: Range<usize>,
    split: bool,
    pub source: Source,
}

pub enum Source {
    /// A reference written out.
    Literal(Reference),
    /// A reference that takes a global ARG's default.
    Arg(ArgImage),
    /// A reference dockfix cannot read, and why.
    Unreadable(String),
}

pub struct ArgImage {
    pub name: String,
    /// The FROM's text with the defaults filled in, and its reference.
    pub expanded: String,
    pub reference: Reference,
    /// Where the default is written, or why pinning cannot rewrite it.
    pub default: Result<ArgDefault, String>,
}

pub struct ArgDefault {
    /// What the FROM writes before `${NAME}`.
    prefix: String,
    /// File range of the default value, quotes included.
    range: Range<usize>,
    quote: Option<char>,
}

impl BaseImage {
    /// The reference text the FROM reads as: written or expanded.
    pub fn reads_as(&self) -> Option<(&str, &Reference)> {
        match &self.source {
            Source::Literal(reference) => Some((&self.text, reference)),
            Source::Arg(arg) => Some((&arg.expanded, &arg.reference)),
            Source::Unreadable(_) => None,
        }
    }

    /// Why pinning could not write a new reference for this FROM, whatever
    /// the registry says; `args` is whether ARG defaults may be rewritten.
    pub fn unpinnable(&self, args: bool) -> Option<String> {
        match &self.source {
            Source::Literal(_) if self.split => {
                Some("not rewritten: a continuation splits the image over lines".into())
            }
            Source::Arg(arg) => match &arg.default {
                Err(why) => Some(format!("not rewritten: {why}")),
                Ok(_) if !args => Some("`--pin-args` pins the ARG's default".into()),
                Ok(_) => None,
            },
            Source::Unreadable(why) => Some(why.clone()),
            Source::Literal(_) => None,
        }
    }

    /// The edit that makes the FROM pull `target` (a reference as text):
    /// the FROM's own text, or the ARG default it takes.
    pub fn rewrite(&self, target: &str) -> Result<Edit, String> {
        match &self.source {
            Source::Literal(_) if self.split => {
                Err("a continuation splits the image over lines".into())
            }
            Source::Literal(_) => Ok(Edit::replace(self.range.clone(), target)),
            Source::Arg(arg) => {
                let default = arg.default.as_ref().map_err(Clone::clone)?;
                let value = target.strip_prefix(&default.prefix).ok_or_else(|| {
                    format!("`{target}` does not start with `{}`", default.prefix)
                })?;
                let quoted = match default.quote {
                    Some(q) => format!("{q}{value}{q}"),
                    None => value.to_string(),
                };
                Ok(Edit::replace(default.range.clone(), quoted))
            }
            Source::Unreadable(why) => Err(why.clone()),
        }
    }
}

/// The registry's answer for the image, or why there is none to use.
pub fn answer<'p>(pins: &'p Pins, image: &BaseImage) -> Result<&'p Resolved, String> {
    let Some((_, reference)) = image.reads_as() else {
        return Err("dockfix cannot read it".into());
    };
    if let Some(why) = image.unpinnable(pins.args) {
        return Err(why);
    }
    match pins.answer(reference) {
        Some(Ok(resolved)) => Ok(resolved),
        Some(Err(e)) => Err(format!("the registry could not be asked: {e}")),
        None => Err("the registry was not asked".into()),
    }
}

/// `name:tag` -> `name:<tag>`, keeping how the name is written.
pub fn retag(text: &str, tag: &str) -> String {
    format!("{}:{tag}", name_of(text))
}

/// `name[:tag]` -> `name:tag@digest`; an untagged name gets `latest`, so
/// the tag the digest was taken from stays readable.
pub fn with_digest(text: &str, digest: &str) -> String {
    let tagged = if name_of(text) == text {
        format!("{text}:latest")
    } else {
        text.to_string()
    };
    format!("{tagged}@{digest}")
}

fn name_of(text: &str) -> &str {
    match text.rfind(':') {
        Some(colon) if !text[colon..].contains('/') => &text[..colon],
        _ => text,
    }
}

static EXPANSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))").expect("valid")
});

/// Every FROM that pulls an image: not `scratch`, not an earlier stage.
/// `stages`: the file's (`model::stages`), which the rules have at hand.
pub fn images(file: &Dockerfile, stages: &[model::Stage]) -> Vec<BaseImage> {
    let globals: Vec<&Instruction> = file
        .instructions()
        .take_while(|i| i.command.name != "from")
        .filter(|i| i.command.name == "arg")
        .collect();
    let unpulled = &crate::transforms::pinning().unpulled;
    // The first stage of each name: a FROM names an earlier stage when
    // that stage's index is lower.
    let mut first_named: HashMap<&str, usize> = HashMap::new();
    for (index, stage) in stages.iter().enumerate() {
        if let Some(name) = &stage.name {
            first_named.entry(name).or_insert(index);
        }
    }
    let mut images = Vec::new();
    for (index, stage) in stages.iter().enumerate() {
        let from = stage.from;
        let text = stage.base.clone();
        // BuildKit expands ARGs before it looks for a stage of that name.
        let local = |name: &str| {
            let name = name.to_lowercase();
            unpulled.contains(&name) || first_named.get(name.as_str()).is_some_and(|&i| i < index)
        };
        if text.is_empty() || local(&text) {
            continue;
        }
        let source = if text.contains('$') {
            arg_source(file, &globals, from, &text)
        } else {
            Reference::parse(&text).map_or_else(Source::Unreadable, Source::Literal)
        };
        if matches!(&source, Source::Arg(arg) if local(&arg.expanded)) {
            continue;
        }
        let (range, split) = match word_range(from, &text) {
            Some(range) => (range, false),
            None => (from.args_range(), true),
        };
        images.push(BaseImage {
            text,
            range,
            split,
            source,
        });
    }
    images
}

/// The file range of the FROM's image, the first argument.
fn word_range(from: &Instruction, text: &str) -> Option<Range<usize>> {
    let args = from.command.args.clone();
    let logical = from.text(args.clone());
    let start = logical
        .windows(text.len())
        .position(|w| w == text.as_bytes())?;
    let range = from.file_range(args.start + start..args.start + start + text.len());
    // A word split over lines by a continuation is not rewritten.
    (range.len() == text.len()).then_some(range)
}

fn arg_source(
    file: &Dockerfile,
    globals: &[&Instruction],
    from: &Instruction,
    text: &str,
) -> Source {
    let mut names = Vec::new();
    let mut expanded = String::new();
    let mut last = 0;
    for caps in EXPANSION.captures_iter(text) {
        let whole = caps.get(0).expect("a match");
        let name = caps.get(1).or(caps.get(2)).expect("a name").as_str();
        let Some((arg, value)) = global_default(globals, name) else {
            return Source::Unreadable(format!(
                "`{text}` takes ARG `{name}`, which has no default before the first FROM"
            ));
        };
        if value.contains('$') {
            return Source::Unreadable(format!("ARG `{name}`'s default is not a literal"));
        }
        expanded += &text[last..whole.start()];
        expanded += &value;
        last = whole.end();
        names.push((name.to_string(), arg, whole.start(), whole.end()));
    }
    expanded += &text[last..];
    if expanded.contains('$') {
        return Source::Unreadable(format!(
            "`{text}`: dockfix reads only `$NAME` and `${{NAME}}` in a FROM"
        ));
    }
    let reference = match Reference::parse(&expanded) {
        Ok(reference) => reference,
        Err(e) => return Source::Unreadable(e),
    };
    let (name, arg, start, end) = names.pop().expect("text has an expansion");
    let default = if !names.is_empty() {
        Err(format!("`{text}` takes more than one ARG"))
    } else if end != text.len() {
        Err(format!("`{text}` continues after `${name}`"))
    } else if let Some(why) = used_elsewhere(file, from, arg, &name) {
        Err(why)
    } else {
        default_range(arg, &name).map(|(range, quote)| ArgDefault {
            prefix: text[..start].to_string(),
            range,
            quote,
        })
    };
    Source::Arg(ArgImage {
        name,
        expanded,
        reference,
        default,
    })
}

/// The last global `ARG name=value` and its value, unquoted.
fn global_default<'f>(
    globals: &[&'f Instruction],
    name: &str,
) -> Option<(&'f Instruction, String)> {
    globals.iter().rev().find_map(|arg| {
        arg.command.values.iter().find_map(|v| {
            let (n, value) = v.split_once('=')?;
            (n == name).then(|| (*arg, model::unquote(value)))
        })
    })
}

/// Why changing the ARG's default would change more than this FROM.
fn used_elsewhere(
    file: &Dockerfile,
    from: &Instruction,
    arg: &Instruction,
    name: &str,
) -> Option<String> {
    let declaration = |v: &Word| v == name || v.starts_with(&format!("{name}="));
    for other in file.instructions() {
        if std::ptr::eq(other, from) {
            continue;
        }
        let used = if std::ptr::eq(other, arg) {
            // The ARG's other keys may read it: `ARG TAG=lts LABEL=${TAG}`.
            let values = &other.command.values;
            values.iter().any(|v| !declaration(v) && reads_arg(v, name))
        } else {
            let declared =
                other.command.name == "arg" && other.command.values.iter().any(declaration);
            declared || reads_arg(&crate::syntax::lossy(&file.source[other.span()]), name)
        };
        if used {
            let (line, _) = file.line_col(other.span().start);
            return Some(format!(
                "ARG `{name}` is also used on line {line}, which a new default would change"
            ));
        }
    }
    None
}

/// Whether `text` reads the ARG `name` (a word, as `EXPANSION` finds):
/// `$NAME`, `${NAME}`, `${NAME:-x}`; not `$NAME2`, where a word character
/// after it makes another name. Found by hand: compiling a pattern per
/// name cost 400,000 instructions a FROM.
fn reads_arg(text: &str, name: &str) -> bool {
    static WORD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\w").expect("valid"));
    text.match_indices('$').any(|(at, _)| {
        let rest = &text[at + 1..];
        let rest = rest.strip_prefix('{').unwrap_or(rest);
        rest.strip_prefix(name)
            .is_some_and(|after| !WORD.is_match(after))
    })
}

/// The file range of `name`'s default in the ARG, and its quote.
fn default_range(arg: &Instruction, name: &str) -> Result<(Range<usize>, Option<char>), String> {
    let args = arg.command.args.clone();
    let text = arg.text(args.clone());
    let key = format!("{name}=");
    let mut at = None;
    let mut i = 0;
    while let Some(found) = text[i..]
        .windows(key.len())
        .position(|w| w == key.as_bytes())
    {
        let start = i + found;
        if start == 0 || text[start - 1].is_ascii_whitespace() {
            at = Some(start + key.len());
        }
        i = start + 1;
    }
    let start = at.ok_or_else(|| format!("ARG `{name}`: cannot find its default"))?;
    let end = text[start..]
        .iter()
        .position(u8::is_ascii_whitespace)
        .map_or(text.len(), |n| start + n);
    let value = &text[start..end];
    let quote = match value.first() {
        Some(&q @ (b'"' | b'\'')) if value.len() >= 2 && value.last() == Some(&q) => {
            Some(q as char)
        }
        Some(b'"' | b'\'') => return Err(format!("ARG `{name}`: its default holds a space")),
        _ => None,
    };
    let range = arg.file_range(args.start + start..args.start + end);
    if range.len() != value.len() {
        return Err(format!("ARG `{name}`: its default spans lines"));
    }
    Ok((range, quote))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse;

    fn images_of(file: &Dockerfile) -> Vec<BaseImage> {
        images(file, &model::stages(file))
    }

    fn first(source: &str) -> (String, Result<String, String>) {
        let file = parse(source.as_bytes()).unwrap();
        let images = images_of(&file);
        let image = &images[0];
        let reads = image
            .reads_as()
            .map(|(t, _)| t.to_string())
            .unwrap_or_default();
        let edit = image.rewrite(&format!("{reads}@sha256:x")).map(|e| {
            let mut out = source.to_string();
            out.replace_range(e.range, &e.replacement);
            out
        });
        (reads, edit)
    }

    #[test]
    fn scratch_and_stages_are_not_images() {
        let file = parse(b"FROM scratch\nFROM node AS build\nFROM build\nFROM Build\n").unwrap();
        let found: Vec<_> = images_of(&file).iter().map(|i| i.text.clone()).collect();
        assert_eq!(found, ["node"]);
    }

    #[test]
    fn args_naming_stages_or_scratch_are_not_images() {
        let file = parse(
            b"ARG BASE=build\nARG NONE=scratch\nFROM node AS build\nFROM ${BASE}\nFROM $NONE\n",
        )
        .unwrap();
        let found: Vec<_> = images_of(&file).iter().map(|i| i.text.clone()).collect();
        assert_eq!(found, ["node"]);
    }

    #[test]
    fn why_an_arg_default_cannot_be_pinned_comes_first() {
        let file = parse(b"ARG V=1\nFROM node:${V}-slim\n").unwrap();
        let why = images_of(&file)[0].unpinnable(false).unwrap();
        assert!(why.contains("continues after"), "{why}");
        let file = parse(b"ARG V=1\nFROM node:${V}\n").unwrap();
        assert!(images_of(&file)[0]
            .unpinnable(false)
            .unwrap()
            .contains("--pin-args"));
        assert_eq!(images_of(&file)[0].unpinnable(true), None);
    }

    #[test]
    fn an_arg_is_read_by_name_not_by_prefix() {
        for text in [
            "$TAG",
            "${TAG}",
            "${TAG:-lts}",
            "x$TAG-y",
            "$$TAG",
            "$TAG/\u{e9}",
        ] {
            assert!(reads_arg(text, "TAG"), "{text}");
        }
        // A letter, even outside ASCII, goes on with the name.
        for text in ["$TAG2", "${TAG_X}", "TAG", "$ TAG", "${{TAG}", "$TAG\u{e9}"] {
            assert!(!reads_arg(text, "TAG"), "{text}");
        }
    }

    #[test]
    fn a_similar_arg_name_is_another_arg() {
        let (_, edit) = first("ARG TAG=lts\nARG TAG2=lts\nFROM node:${TAG}\nFROM node:${TAG2}\n");
        assert_eq!(
            edit.unwrap(),
            "ARG TAG=lts@sha256:x\nARG TAG2=lts\nFROM node:${TAG}\nFROM node:${TAG2}\n"
        );
    }

    #[test]
    fn an_image_split_over_lines_is_reported_not_rewritten() {
        let (reads, edit) = first("FROM no\\\nde:lts\n");
        assert_eq!(reads, "node:lts");
        assert!(edit.unwrap_err().contains("split"));
    }

    #[test]
    fn literal_images_are_rewritten_in_place() {
        let (reads, edit) = first("FROM --platform=$BUILDPLATFORM node:lts AS b\n");
        assert_eq!(reads, "node:lts");
        assert_eq!(
            edit.unwrap(),
            "FROM --platform=$BUILDPLATFORM node:lts@sha256:x AS b\n"
        );
        assert_eq!(retag("localhost:5000/app", "1.2"), "localhost:5000/app:1.2");
        assert_eq!(retag("app:latest", "1.2"), "app:1.2");
        assert_eq!(
            with_digest("localhost:5000/app", "d"),
            "localhost:5000/app:latest@d"
        );
    }

    #[test]
    fn arg_defaults_are_rewritten_when_only_the_from_reads_them() {
        let (reads, edit) = first("ARG TAG=\"lts\"\nFROM node:${TAG}\n");
        assert_eq!(reads, "node:lts");
        assert_eq!(
            edit.unwrap(),
            "ARG TAG=\"lts@sha256:x\"\nFROM node:${TAG}\n"
        );
        let (_, edit) = first("ARG A=1 BASE=node\nFROM $BASE\n");
        assert_eq!(edit.unwrap(), "ARG A=1 BASE=node@sha256:x\nFROM $BASE\n");
        for (source, why) in [
            ("ARG TAG=lts\nFROM node:${TAG}\nARG TAG\n", "line 3"),
            ("ARG TAG=lts\nFROM node:${TAG}\nRUN echo $TAG\n", "line 3"),
            ("ARG V=1\nFROM node:${V}-slim\n", "continues"),
            ("ARG R=node V=1\nFROM $R:$V\n", "more than one"),
            ("ARG TAG=lts LABEL=${TAG}\nFROM node:${TAG}\n", "line 1"),
        ] {
            let (_, edit) = first(source);
            assert!(edit.unwrap_err().contains(why), "{source}");
        }
        let file = parse(b"FROM node:${TAG}\n").unwrap();
        assert!(matches!(images_of(&file)[0].source, Source::Unreadable(_)));
        let file = parse(b"ARG T=${X}\nFROM node:${T}\n").unwrap();
        assert!(matches!(images_of(&file)[0].source, Source::Unreadable(_)));
    }
}
