//! Dependency installs: recognising an ecosystem's install or build command
//! from its words (by `transforms/ecosystems.toml`), and reading the
//! manifests to learn which files the install needs.

pub mod cargo;
mod node_workspaces;
pub mod readers;

use crate::syntax::shell;
use crate::transforms::{ecosystems, Ecosystem};

/// What a command does with dependencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Installs from the manifests.
    Install,
    /// Builds, downloading what the manifests name on the way.
    Build,
}

/// A command recognised as an ecosystem's install or build.
#[derive(Debug, Clone)]
pub struct DepCommand<'e> {
    pub ecosystem: &'e Ecosystem,
    pub role: Role,
    /// The words after the command itself (`ci --omit=dev` for `npm ci ...`).
    pub args: Vec<String>,
    /// The command matched is the program alone (`yarn`).
    bare: bool,
}

impl DepCommand<'_> {
    /// `yarn build`: the program alone installs, but followed by a word
    /// it runs the package.json script of that name.
    pub fn runs_script(&self) -> bool {
        self.role == Role::Install && self.bare && !self.positional().is_empty()
    }

    /// Positional arguments: words that are neither flags nor flag values.
    pub fn positional(&self) -> Vec<&str> {
        let mut out = Vec::new();
        let mut skip = false;
        for arg in &self.args {
            if std::mem::take(&mut skip) {
                continue;
            }
            if arg.starts_with('-') {
                skip = !arg.contains('=') && self.ecosystem.value_flags.iter().any(|f| f == arg);
            } else {
                out.push(arg.as_str());
            }
        }
        out
    }

    /// Whether the command carries a flag (`--no-root`, `--frozen=true`).
    pub fn has_flag(&self, flag: &str) -> bool {
        self.args
            .iter()
            .any(|a| a == flag || a.split_once('=').is_some_and(|(name, _)| name == flag))
    }

    /// The values of a flag (`-r a.txt --requirement=b.txt` gives both).
    pub fn flag_values(&self, names: &[&str]) -> Vec<&str> {
        let mut out = Vec::new();
        let mut args = self.args.iter();
        while let Some(arg) = args.next() {
            if names.contains(&arg.as_str()) {
                if let Some(value) = args.next() {
                    out.push(value.as_str());
                }
            } else if let Some((name, value)) = arg.split_once('=') {
                if names.contains(&name) {
                    out.push(value);
                }
            } else if let Some(short) = names
                .iter()
                .find(|n| n.len() == 2 && arg.starts_with(*n) && arg.len() > 2)
            {
                out.push(&arg[short.len()..]); // -rrequirements.txt
            }
        }
        out
    }
}

/// The ecosystems DF101 knows: the built-in table, and those a
/// configuration file adds, with every install and build command split
/// into words once.
pub struct Ecosystems {
    extra: Vec<Ecosystem>,
    /// Each command's words, the index of its ecosystem in `all()`, its role.
    commands: Vec<(Vec<String>, usize, Role)>,
    /// The first word of every command, for a quick test of whether a RUN
    /// can hold one.
    first_words: Vec<String>,
}

impl Ecosystems {
    /// A configuration's table, or the built-in one.
    pub fn or_builtin(table: Option<&Ecosystems>) -> &Ecosystems {
        table.unwrap_or_else(|| Ecosystems::builtin())
    }

    /// `transforms/ecosystems.toml` alone.
    pub fn builtin() -> &'static Ecosystems {
        static TABLE: std::sync::OnceLock<Ecosystems> = std::sync::OnceLock::new();
        TABLE.get_or_init(|| Ecosystems::index(Vec::new()))
    }

    /// The built-in table and `extra`; an error names the extra
    /// ecosystem at fault by its index. An extra ecosystem may not take an
    /// earlier one's name or command: which ecosystem a RUN's command
    /// belongs to must not depend on the order of the tables.
    pub fn with(extra: Vec<Ecosystem>) -> Result<Ecosystems, (usize, String)> {
        let table = Ecosystems::index(extra);
        let builtin = ecosystems().len();
        for (i, eco) in table.extra.iter().enumerate() {
            let index = builtin + i;
            let fail = |why: String| Err((i, why));
            if let Some(other) = table.all().take(index).find(|e| e.name == eco.name) {
                return fail(format!(
                    "an ecosystem named `{}` is already defined",
                    other.name
                ));
            }
            // The longest command wins, so a longer one would take an
            // earlier ecosystem's installs (and skip its checks) too.
            let own = table.commands.iter().filter(|(_, at, _)| *at == index);
            for (words, ..) in own.filter(|(words, ..)| !words.is_empty()) {
                if let Some((theirs, other, _)) = table.commands.iter().find(|(w, other, _)| {
                    *other < index && (w.starts_with(words) || words.starts_with(w))
                }) {
                    let other = &table.all().nth(*other).expect("indexed").name;
                    return fail(if theirs == words {
                        format!("`{}` is already {other}'s command", words.join(" "))
                    } else {
                        format!(
                            "`{}` overlaps {other}'s command `{}`",
                            words.join(" "),
                            theirs.join(" ")
                        )
                    });
                }
            }
            table.check(eco).map_err(|why| (i, why))?;
        }
        Ok(table)
    }

    fn index(extra: Vec<Ecosystem>) -> Ecosystems {
        let mut commands = Vec::new();
        for (index, ecosystem) in ecosystems().iter().chain(&extra).enumerate() {
            let roles = ecosystem.install.iter().map(|c| (c, Role::Install));
            for (command, role) in roles.chain(ecosystem.build.iter().map(|c| (c, Role::Build))) {
                let words: Vec<String> = command.split_whitespace().map(String::from).collect();
                commands.push((words, index, role));
            }
        }
        let mut first_words: Vec<String> = commands
            .iter()
            .filter_map(|(words, ..)| words.first().cloned())
            .collect();
        first_words.sort_unstable();
        first_words.dedup();
        Ecosystems {
            extra,
            commands,
            first_words,
        }
    }

    /// Every ecosystem, the built-in ones first.
    pub fn all(&self) -> impl Iterator<Item = &Ecosystem> {
        ecosystems().iter().chain(&self.extra)
    }

    pub fn first_words(&self) -> &[String] {
        &self.first_words
    }

    /// Recognises `words` (a simple command, literal words) as an install
    /// or build of a known ecosystem. The longest matching command wins
    /// (`yarn install` over `yarn`).
    pub fn recognise(&self, words: &[impl AsRef<str>]) -> Option<DepCommand<'_>> {
        // `python3.11 -m pip install` is `python3 -m pip install`.
        let mut words: Vec<String> = words.iter().map(|w| w.as_ref().to_owned()).collect();
        let first = words.first_mut()?;
        *first = shell::program(first).to_string();
        let words = &words;
        let first = &words[0];
        let (prefix, ecosystem, role, matched) = self
            .commands
            .iter()
            .filter(|(prefix, _, _)| prefix.first() == Some(first))
            .filter_map(|(prefix, index, role)| {
                let eco = self.all().nth(*index).expect("indexed ecosystems exist");
                let matched = matches(prefix, words, eco)?;
                Some((prefix, eco, role, matched))
            })
            .max_by_key(|(prefix, ..)| prefix.len())?;
        let args = words
            .iter()
            .enumerate()
            .filter(|(i, _)| !matched.contains(i))
            .map(|(_, w)| w.clone())
            .collect();
        Some(DepCommand {
            ecosystem,
            role: *role,
            args,
            bare: prefix.len() == 1,
        })
    }

    /// What DF101 needs of an ecosystem's entry to move its installs.
    fn check(&self, eco: &Ecosystem) -> Result<(), String> {
        let mut commands = eco.install.iter().chain(&eco.build);
        if eco.install.is_empty() || commands.any(|c| c.trim().is_empty()) {
            return Err(format!(
                "{}: `install` needs at least one command, and no command may be empty",
                eco.name
            ));
        }
        if eco.build.is_empty() != eco.prefetch.is_none() {
            return Err(format!("{}: `build` and `prefetch` go together", eco.name));
        }
        if eco.reader.is_none() && eco.manifests.is_empty() {
            return Err(format!(
                "{}: no `manifests` (nor a `reader`) to copy before the install",
                eco.name
            ));
        }
        // DF101 copies these from the build context.
        let lists = [
            &eco.manifests,
            &eco.lockfiles,
            &eco.config,
            &eco.must_ignore,
        ];
        let mut files = lists
            .into_iter()
            .flatten()
            .chain(eco.block.iter().map(|b| &b.path));
        // One file or directory each: not the context itself, not a glob.
        let not_one_file = |file: &&String| {
            use std::path::Component::{CurDir, ParentDir};
            let path = std::path::Path::new(file.as_str());
            path.is_absolute()
                || path.components().all(|c| c == CurDir)
                || path.components().any(|c| c == ParentDir)
                || file.contains(['*', '?', '[', '\\'])
        };
        if let Some(file) = files.find(not_one_file) {
            return Err(format!(
                "{}: `{file}` is not one file in the build context",
                eco.name
            ));
        }
        // What dockfix inserts must read as an install, or a second run
        // would insert it again.
        if let Some(prefetch) = &eco.prefetch {
            let words: Vec<String> = prefetch.split_whitespace().map(String::from).collect();
            let is_own_install = self
                .recognise(&words)
                .is_some_and(|dep| dep.role == Role::Install && std::ptr::eq(dep.ecosystem, eco));
            if !is_own_install {
                return Err(format!(
                    "{}: `prefetch` must be one of its `install` commands",
                    eco.name
                ));
            }
        }
        Ok(())
    }
}

/// The positions of `words` that spell `prefix`: its first words, or for an
/// ecosystem whose options may come first (`mvn -B -s s.xml
/// dependency:go-offline`), the first word and then the rest among the
/// words that are not options or their values.
fn matches(prefix: &[String], words: &[String], eco: &Ecosystem) -> Option<Vec<usize>> {
    if !eco.options_first {
        let spelled = words.len() >= prefix.len() && prefix.iter().zip(words).all(|(p, w)| p == w);
        return spelled.then(|| (0..prefix.len()).collect());
    }
    let mut matched = vec![0];
    let mut rest = prefix[1..].iter().peekable();
    let mut value = false;
    for (i, word) in words.iter().enumerate().skip(1) {
        let Some(next) = rest.peek() else { break };
        if std::mem::take(&mut value) {
            continue;
        }
        if word.starts_with('-') {
            value = !word.contains('=') && eco.value_flags.iter().any(|f| f == word);
        } else if word == *next {
            matched.push(i);
            rest.next();
        } else {
            return None;
        }
    }
    rest.peek().is_none().then_some(matched)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn recognises_installs_and_builds() {
        let npm = Ecosystems::builtin()
            .recognise(&words("npm ci --omit=dev"))
            .unwrap();
        assert_eq!(
            (npm.ecosystem.name.as_str(), npm.role),
            ("npm", Role::Install)
        );
        assert!(npm.positional().is_empty());
        let yarn = Ecosystems::builtin()
            .recognise(&words("yarn install --frozen-lockfile"))
            .unwrap();
        assert_eq!(yarn.ecosystem.name, "yarn");
        let script = Ecosystems::builtin()
            .recognise(&words("yarn build"))
            .unwrap();
        assert_eq!(script.positional(), ["build"]);
        assert!(script.runs_script());
        assert!(!yarn.runs_script());
        for install in ["yarn", "yarn --frozen-lockfile", "npm install express"] {
            let dep = Ecosystems::builtin().recognise(&words(install)).unwrap();
            assert!(!dep.runs_script(), "{install}");
        }
        let go = Ecosystems::builtin()
            .recognise(&words("go build -o /out/app ."))
            .unwrap();
        assert_eq!((go.ecosystem.name.as_str(), go.role), ("go", Role::Build));
        assert!(Ecosystems::builtin()
            .recognise(&words("apt-get install -y curl"))
            .is_none());
        assert!(Ecosystems::builtin()
            .recognise(&words("npm run build"))
            .is_none());
    }

    #[test]
    fn the_builtin_table_is_consistent() {
        let table = Ecosystems::builtin();
        assert!(table.all().count() >= 7);
        for eco in table.all() {
            assert_eq!(table.check(eco), Ok(()));
        }
    }

    fn extra(toml: &str) -> Result<Ecosystems, (usize, String)> {
        #[derive(serde::Deserialize)]
        struct Extra {
            ecosystem: Vec<Ecosystem>,
        }
        Ecosystems::with(toml::from_str::<Extra>(toml).unwrap().ecosystem)
    }

    #[test]
    fn extra_ecosystems_are_recognised_after_the_builtin_ones() {
        let table = extra(
            "[[ecosystem]]\nname = \"fake\"\ninstall = [\"fakepm install\"]\nmanifests = [\"fake.lock\"]\n",
        )
        .unwrap();
        let dep = table.recognise(&words("fakepm install --quiet")).unwrap();
        assert_eq!(
            (dep.ecosystem.name.as_str(), dep.role),
            ("fake", Role::Install)
        );
        assert!(table.first_words().contains(&"fakepm".to_string()));
        assert_eq!(
            table.recognise(&words("npm ci")).unwrap().ecosystem.name,
            "npm"
        );
        assert!(Ecosystems::builtin()
            .recognise(&words("fakepm install"))
            .is_none());
    }

    #[test]
    fn extra_ecosystems_that_clash_or_cannot_move_are_refused() {
        let one = |body: &str| {
            extra(&format!("[[ecosystem]]\n{body}"))
                .map(|_| ())
                .unwrap_err()
                .1
        };
        assert_eq!(
            one("name = \"npm\"\ninstall = [\"x install\"]\nmanifests = [\"x\"]"),
            "an ecosystem named `npm` is already defined"
        );
        assert_eq!(
            one("name = \"x\"\ninstall = [\"npm ci\"]\nmanifests = [\"x\"]"),
            "`npm ci` is already npm's command"
        );
        // Longer: it would win npm's installs and skip npm's reader.
        assert_eq!(
            one("name = \"x\"\ninstall = [\"npm ci --omit=dev\"]\nmanifests = [\"x\"]"),
            "`npm ci --omit=dev` overlaps npm's command `npm ci`"
        );
        assert!(one("name = \"x\"\ninstall = [\"x install\"]").contains("no `manifests`"));
        for file in ["../x.lock", "/etc/x", ".", "./", "", "*.lock", "a/[x]"] {
            let body = format!("name = \"x\"\ninstall = [\"x i\"]\nmanifests = [\"{file}\"]");
            let why = one(&body);
            assert!(
                why.contains(&format!("`{file}` is not one file in the build context")),
                "{file}: {why}"
            );
        }
        assert!(one("name = \"x\"\ninstall = [\" \"]\nmanifests = [\"x\"]")
            .contains("no command may be empty"));
        let prefetch = "name = \"x\"\ninstall = [\"x install\"]\nmanifests = [\"x\"]\nbuild = [\"x build\"]\nprefetch = \"x fetch\"";
        assert!(one(prefetch).contains("`prefetch` must be one of its `install` commands"));
        // The second of two extra ecosystems is the one at fault.
        let two = "[[ecosystem]]\nname = \"x\"\ninstall = [\"x i\"]\nmanifests = [\"x\"]\n[[ecosystem]]\nname = \"x\"\ninstall = [\"y i\"]\nmanifests = [\"y\"]\n";
        assert_eq!(extra(two).map(|_| ()).unwrap_err().0, 1);
    }

    #[test]
    fn flag_values_and_positionals() {
        let pip = Ecosystems::builtin().recognise(&words("python3 -m pip install --no-cache-dir -r req.txt --requirement=dev.txt -rextra.txt gunicorn")).unwrap();
        assert_eq!(pip.ecosystem.name, "pip");
        assert_eq!(
            pip.flag_values(&["-r", "--requirement"]),
            ["req.txt", "dev.txt", "extra.txt"]
        );
        assert_eq!(pip.positional(), ["gunicorn"]);
        let npm = Ecosystems::builtin()
            .recognise(&words("npm install --prefix /app express"))
            .unwrap();
        assert_eq!(npm.positional(), ["express"]);
    }
}
