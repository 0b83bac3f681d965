//! Dependency installs: recognising an ecosystem's install or build command
//! from its words (by `transforms/ecosystems.toml`), and reading the
//! manifests to learn which files the install needs.

pub mod readers;

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
pub struct DepCommand {
    pub ecosystem: &'static Ecosystem,
    pub role: Role,
    /// The words after the command itself (`ci --omit=dev` for `npm ci ...`).
    pub args: Vec<String>,
}

impl DepCommand {
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

/// Every install and build command of the table, split into words once.
fn commands() -> &'static [(Vec<String>, &'static Ecosystem, Role)] {
    static COMMANDS: std::sync::OnceLock<Vec<(Vec<String>, &'static Ecosystem, Role)>> =
        std::sync::OnceLock::new();
    COMMANDS.get_or_init(|| {
        let mut all = Vec::new();
        for ecosystem in ecosystems() {
            let roles = ecosystem.install.iter().map(|c| (c, Role::Install));
            for (command, role) in roles.chain(ecosystem.build.iter().map(|c| (c, Role::Build))) {
                all.push((
                    command.split_whitespace().map(String::from).collect(),
                    ecosystem,
                    role,
                ));
            }
        }
        all
    })
}

/// The first word of every install and build command, for a quick test of
/// whether a RUN can hold one.
pub fn first_words() -> &'static [&'static str] {
    static FIRST: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    FIRST.get_or_init(|| {
        let mut words: Vec<&'static str> = commands()
            .iter()
            .map(|(prefix, _, _)| prefix[0].as_str())
            .collect();
        words.sort_unstable();
        words.dedup();
        words
    })
}

/// Recognises `words` (a simple command, literal words) as an install or
/// build of a known ecosystem. The longest matching command wins
/// (`yarn install` over `yarn`).
pub fn recognise(words: &[String]) -> Option<DepCommand> {
    let first = words.first()?;
    let (prefix, ecosystem, role) = commands()
        .iter()
        .filter(|(prefix, _, _)| {
            &prefix[0] == first
                && words.len() >= prefix.len()
                && prefix.iter().zip(words).all(|(p, w)| p == w)
        })
        .max_by_key(|(prefix, _, _)| prefix.len())?;
    Some(DepCommand {
        ecosystem,
        role: *role,
        args: words[prefix.len()..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn recognises_installs_and_builds() {
        let npm = recognise(&words("npm ci --omit=dev")).unwrap();
        assert_eq!(
            (npm.ecosystem.name.as_str(), npm.role),
            ("npm", Role::Install)
        );
        assert!(npm.positional().is_empty());
        let yarn = recognise(&words("yarn install --frozen-lockfile")).unwrap();
        assert_eq!(yarn.ecosystem.name, "yarn");
        assert_eq!(
            recognise(&words("yarn build")).unwrap().positional(),
            ["build"]
        );
        let go = recognise(&words("go build -o /out/app .")).unwrap();
        assert_eq!((go.ecosystem.name.as_str(), go.role), ("go", Role::Build));
        assert!(recognise(&words("apt-get install -y curl")).is_none());
        assert!(recognise(&words("npm run build")).is_none());
    }

    #[test]
    fn flag_values_and_positionals() {
        let pip = recognise(&words("python3 -m pip install --no-cache-dir -r req.txt --requirement=dev.txt -rextra.txt gunicorn")).unwrap();
        assert_eq!(pip.ecosystem.name, "pip");
        assert_eq!(
            pip.flag_values(&["-r", "--requirement"]),
            ["req.txt", "dev.txt", "extra.txt"]
        );
        assert_eq!(pip.positional(), ["gunicorn"]);
        let npm = recognise(&words("npm install --prefix /app express")).unwrap();
        assert_eq!(npm.positional(), ["express"]);
    }
}
