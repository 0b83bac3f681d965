//! What a RUN does with apt's package lists, for the rules that keep
//! `apt-get update` and the removal of the lists in the RUN that installs.

use std::ops::Range;

use super::commands::APT_VALUE_OPTIONS;
use super::{scripts, Context};
use crate::syntax::{shell, Dockerfile, Instruction};

/// Where `apt-get update` keeps the package lists.
pub const LISTS: &str = "/var/lib/apt/lists";

/// What a RUN does with apt.
#[derive(Clone)]
pub struct AptUse {
    pub updates: bool,
    /// An `rm` of the lists follows the RUN's last update: what that
    /// update downloaded does not stay in the layer.
    pub removes_lists: bool,
    /// The first command that installs (or reads the lists) before any
    /// update of the RUN's own, by file range.
    pub needs_lists: Option<Range<usize>>,
    /// Every update is a plain `apt-get update` (quiet or `-y` at most):
    /// one that another update can stand in for.
    pub plain_updates: bool,
    /// False for a RUN that mentions apt but whose shell dockfix cannot
    /// read (exec form, a parse error): it is assumed to need the lists.
    pub readable: bool,
}

impl AptUse {
    /// `None` for a RUN that does not run apt. Found once per RUN: the
    /// apt rules and the later-use tables all ask.
    pub fn of(cx: &Context, run: &Instruction) -> Option<AptUse> {
        // Most instructions are no RUN naming apt: say so before the memo,
        // which costs more than the test.
        if !Self::may_use(cx.file, run) {
            return None;
        }
        let at = run.span().start;
        if let Some(known) = cx.apt_uses.borrow().get(&at) {
            return known.clone();
        }
        let found = Self::read(cx.file, run);
        cx.apt_uses.borrow_mut().insert(at, found.clone());
        found
    }

    fn may_use(file: &Dockerfile, run: &Instruction) -> bool {
        let command = run.command.sub.as_deref().unwrap_or(&run.command);
        command.name == "run" && run.mentions(&file.source, &["apt"])
    }

    fn read(file: &Dockerfile, run: &Instruction) -> Option<AptUse> {
        let Some(script) = shell::parse(file, run).filter(|s| !s.has_error()) else {
            return Some(AptUse {
                updates: false,
                removes_lists: false,
                needs_lists: Some(run.args_range()),
                plain_updates: false,
                readable: false,
            });
        };
        let mut found = AptUse {
            updates: false,
            removes_lists: false,
            needs_lists: None,
            plain_updates: true,
            readable: true,
        };
        let mut any = false;
        for c in script.commands() {
            // A word the shell would expand stays as written: it is no
            // subcommand, and `rm` of it is no removal of the lists.
            let words: Vec<String> = c
                .name
                .iter()
                .chain(&c.args)
                .map(|r| {
                    shell::unquoted(&file.source, r.clone())
                        .unwrap_or_else(|| crate::syntax::lossy(&file.source[r.clone()]).into())
                })
                .collect();
            let Some(name) = words.first() else { continue };
            let sub = subcommand(&words);
            let installs = match name.as_str() {
                "apt-get" | "apt" | "aptitude" => {
                    any = true;
                    if sub == Some("update") {
                        found.updates = true;
                        // Lists removed before it are downloaded again.
                        found.removes_lists = false;
                        // A prefix (`http_proxy=... apt-get`) makes the
                        // command start before its name.
                        let prefixed = c.name.as_ref().is_some_and(|n| n.start != c.range.start);
                        found.plain_updates &= !prefixed
                            && words[1..].iter().all(|w| {
                                matches!(
                                    w.as_str(),
                                    "update"
                                        | "-q"
                                        | "-qq"
                                        | "-y"
                                        | "-qy"
                                        | "-yq"
                                        | "--yes"
                                        | "--quiet"
                                )
                            });
                    }
                    matches!(
                        sub,
                        Some(
                            "install"
                                | "upgrade"
                                | "dist-upgrade"
                                | "full-upgrade"
                                | "source"
                                | "download"
                                | "build-dep"
                                | "reinstall"
                        )
                    )
                }
                "apt-cache" => {
                    any = true;
                    true
                }
                "rm" => {
                    found.removes_lists |= words.iter().any(|w| w.starts_with(LISTS));
                    false
                }
                // apt through a wrapper (`sudo apt-get`, `xargs apt-get`,
                // `sh -c "apt-get ..."`) may install: dockfix cannot say.
                _ if names_apt(&file.source[c.range.clone()]) => {
                    any = true;
                    found.readable = false;
                    true
                }
                _ => false,
            };
            if installs && !found.updates && found.needs_lists.is_none() {
                found.needs_lists = Some(c.range.clone());
            }
        }
        if !any && run.names_program(&file.source, APT_PROGRAMS) {
            // Through a wrapper (`sudo`, `xargs`, `sh -c`): it may need the lists.
            return Some(AptUse {
                needs_lists: Some(run.args_range()),
                readable: false,
                ..found
            });
        }
        any.then_some(found)
    }
}

const APT_PROGRAMS: &[&str] = &["apt-get", "apt", "aptitude", "apt-cache"];

fn names_apt(text: &[u8]) -> bool {
    crate::syntax::names_program(text, APT_PROGRAMS)
}

/// The first word after apt's global options (and their values).
fn subcommand(words: &[String]) -> Option<&str> {
    let mut i = 1;
    while let Some(word) = words.get(i) {
        if !word.starts_with('-') {
            return Some(word);
        }
        i += if APT_VALUE_OPTIONS.contains(&word.as_str()) {
            2
        } else {
            1
        };
    }
    None
}

/// Why removing the lists the RUN at `position` of stage `index` leaves
/// would break a later RUN (of the stage, a stage built on it, an ONBUILD
/// trigger): one installs with package lists it has not downloaded itself,
/// or runs a file that may use apt (see `scripts`).
pub fn later_lists_use(cx: &Context, index: usize, position: usize) -> Option<String> {
    let installs = cx.first_later("installs with apt's lists", |r| {
        AptUse::of(cx, r)
            .and_then(|u| u.needs_lists)
            .map(|_| format!("line {} installs with these lists", r.start_line))
    });
    installs
        .after(index, position)
        .map(|(_, why)| why.clone())
        .or_else(|| scripts::later_use(cx, index, position, APT_PROGRAMS))
}

/// Whether a cache mount, not the layer, holds the lists.
pub fn cached_lists(run: &Instruction) -> bool {
    run.command
        .flags
        .iter()
        .any(|f| f.name() == "mount" && f.text.contains("/var/lib/apt"))
}
