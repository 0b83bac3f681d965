//! A system package install word by word: the options that shape it and
//! the packages it names, for the rules that compare or edit package lists.

use std::ops::Range;

use super::commands::{
    subcommand, FlagSpec, RunCommand, APT_VALUE_OPTIONS, DNF_VALUE_OPTIONS, ZYPPER_VALUE_OPTIONS,
};

/// The installs whose arguments are packages, how versions are pinned, and
/// the install's own options that take a value (besides the global ones).
const INSTALLS: &[(FlagSpec, &[char], &[&str])] = &[
    (
        FlagSpec::finding(&[&["apt-get"], &["apt"]], APT_VALUE_OPTIONS, &["install"]),
        &['='],
        &[],
    ),
    (
        FlagSpec::finding(
            &[&["apk"]],
            &["-X", "--repository", "-p", "--root"],
            &["add"],
        ),
        &['=', '~', '<', '>'],
        &["-t", "--virtual"],
    ),
    (
        FlagSpec::finding(
            &[&["dnf"], &["dnf5"], &["yum"], &["microdnf"]],
            DNF_VALUE_OPTIONS,
            &["install"],
        ),
        &[],
        &[],
    ),
    (
        FlagSpec::finding(&[&["zypper"]], ZYPPER_VALUE_OPTIONS, &["install", "in"]),
        &['=', '<', '>'],
        &["-t", "--type", "-r", "--repo", "--from"],
    ),
];

/// One install command, read.
pub struct Install<'c> {
    /// What separates a package's name from its version (`curl=7.88`).
    pub pins: &'static [char],
    /// Each package word as the shell passes it, with its range; a word the
    /// shell expands is `None`.
    pub packages: Vec<(Option<&'c str>, &'c Range<usize>)>,
    /// Every other word from the program on: the program, its options and
    /// their values, the subcommand.
    pub options: Vec<Option<&'c str>>,
}

impl Install<'_> {
    /// A package's name without its version.
    pub fn name<'w>(&self, word: &'w str) -> &'w str {
        word.split(self.pins).next().unwrap_or(word)
    }
}

/// The command read as a package install, when it is one.
pub fn install(command: &RunCommand) -> Option<Install<'_>> {
    let (spec, sub, pins, own_values) = INSTALLS
        .iter()
        .find_map(|(spec, pins, own)| Some((spec, subcommand(command, spec)?, *pins, *own)))?;
    let takes_value = |w: Option<&str>| {
        w.is_some_and(|w| spec.value_options.contains(&w) || own_values.contains(&w))
    };
    let mut found = Install {
        pins,
        packages: Vec::new(),
        options: command.words[..=sub]
            .iter()
            .map(|(w, _)| w.as_deref())
            .collect(),
    };
    let words = &command.words[sub + 1..];
    for (i, (word, range)) in words.iter().enumerate() {
        // An option's value (`-o Acquire::Retries=3`, `-t pattern`) is no
        // package.
        let value = i
            .checked_sub(1)
            .is_some_and(|p| takes_value(words[p].0.as_deref()));
        if value || word.as_deref().is_some_and(|w| w.starts_with('-')) {
            found.options.push(word.as_deref());
        } else {
            found.packages.push((word.as_deref(), range));
        }
    }
    Some(found)
}
