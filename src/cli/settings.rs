//! The settings each file is processed with: its configuration (the
//! nearest `.dockfix.toml`, the one `--config` names, or none with
//! `--isolated`), the overrides that match the file, and the command line
//! over both. Each configuration file is read once, and each combination
//! of a configuration and the overrides that apply is resolved once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::discover::Input;
use super::report::ErrorReport;
use super::FixArgs;
use crate::config::{self, Config, Discovery, Options};
use crate::deps::Ecosystems;
use crate::pin::PinMode;
use crate::rules::{self, Rule};

/// What one file is processed with.
pub struct FileSettings {
    pub rules: Vec<&'static Rule>,
    pub unsafe_fixes: bool,
    /// What pinning writes: `None` without pinning, or when neither DF401
    /// nor DF402 runs.
    pub pin: Option<PinMode>,
    pub pin_args: bool,
    /// DF503's runtime images the configuration sets, by ecosystem.
    pub runtime_images: std::collections::BTreeMap<String, String>,
    config: Option<Rc<Config>>,
}

impl FileSettings {
    /// The configuration's ecosystem table, if it extends the built-in one.
    pub fn ecosystems(&self) -> Option<&Ecosystems> {
        self.config.as_deref().and_then(Config::ecosystems)
    }
}

enum Source {
    /// `--isolated`: no configuration.
    Isolated,
    /// `--config`: one file for every input.
    Given(Rc<Config>),
    /// The nearest `.dockfix.toml` up from each file.
    Nearest(Discovery),
}

pub struct Resolver {
    command_line: Options,
    /// `--ignore`: added to what the configuration ignores, so a run's
    /// own ignores never turn on a rule a repository turned off.
    also_ignore: Vec<String>,
    source: Source,
    /// Each configuration file read, by path; `None` when it cannot be used.
    configs: HashMap<PathBuf, Option<Rc<Config>>>,
    /// By configuration file and the overrides that apply.
    resolved: HashMap<(Option<PathBuf>, Vec<usize>), Rc<FileSettings>>,
    /// Configuration files that cannot be used, each once.
    errors: Vec<config::Error>,
}

impl Resolver {
    /// The command line's options, and the configuration `--config`
    /// names; the error is the message to print.
    pub fn new(args: &FixArgs) -> Result<Resolver, String> {
        for selector in args.select.iter().chain(&args.ignore) {
            if !selector.is_empty() {
                rules::matching(selector).map_err(|e| format!("dockfix: {e}"))?;
            }
        }
        let source = match &args.config {
            _ if args.isolated => Source::Isolated,
            Some(path) => Source::Given(Rc::new(Config::load(path).map_err(|e| e.to_string())?)),
            None => Source::Nearest(Discovery::default()),
        };
        let given = |flag: bool| flag.then_some(true);
        Ok(Resolver {
            command_line: Options {
                select: Some(args.select.clone()).filter(|s| !s.is_empty()),
                ignore: None,
                unsafe_fixes: given(args.unsafe_fixes),
                cache_style: args.cache_style,
                syntax_directive: given(args.syntax_directive),
                pin: args.pin,
                pin_args: given(args.pin_args),
                runtime_images: None,
            },
            also_ignore: args.ignore.clone(),
            source,
            configs: HashMap::new(),
            resolved: HashMap::new(),
            errors: Vec::new(),
        })
    }

    /// The configuration files the inputs resolved so far use.
    pub fn configs_used(&self) -> impl Iterator<Item = &Path> {
        self.resolved.keys().filter_map(|(path, _)| path.as_deref())
    }

    /// The settings for an input; `None` when its configuration cannot be
    /// used (see `errors`), and the file is left alone.
    /// Standard input is placed at `--stdin-filename`, else in the
    /// current directory.
    pub fn settings(
        &mut self,
        input: &Input,
        stdin_filename: Option<&str>,
    ) -> Option<Rc<FileSettings>> {
        let file = match input {
            Input::File(path) => Some(config::absolute(path)),
            Input::Stdin => stdin_filename.map(|name| config::absolute(Path::new(name))),
        };
        let dir = file
            .as_deref()
            .and_then(Path::parent)
            .map_or_else(|| config::absolute(Path::new(".")), Path::to_path_buf);
        let nearest = match &mut self.source {
            Source::Nearest(discovery) => discovery.nearest(&dir),
            _ => None,
        };
        let config = match (&self.source, nearest) {
            (Source::Given(config), _) => Some(config.clone()),
            (_, Some(path)) => Some(self.load(path)?),
            _ => None,
        };
        let overrides = match (&config, &file) {
            (Some(config), Some(file)) => config.overrides_for(file),
            _ => Vec::new(),
        };
        let key = (config.as_ref().map(|c| c.path.clone()), overrides);
        if let Some(known) = self.resolved.get(&key) {
            return Some(known.clone());
        }
        let options = match &config {
            Some(config) => config.options(&key.1).then(&self.command_line),
            None => self.command_line.clone(),
        };
        let settings = Rc::new(resolve(&options, &self.also_ignore, config));
        self.resolved.insert(key, settings.clone());
        Some(settings)
    }

    /// Why configuration files met so far cannot be used, each named
    /// relative to the current directory when it is below it.
    pub fn errors(&self) -> impl Iterator<Item = ErrorReport> + '_ {
        let cwd = config::absolute(Path::new("."));
        self.errors.iter().map(move |e| ErrorReport {
            file: e
                .path
                .strip_prefix(&cwd)
                .unwrap_or(&e.path)
                .display()
                .to_string(),
            line: e.at.map(|a| a.0),
            column: e.at.map(|a| a.1),
            message: e.message.clone(),
        })
    }

    fn load(&mut self, path: PathBuf) -> Option<Rc<Config>> {
        let errors = &mut self.errors;
        self.configs
            .entry(path)
            .or_insert_with_key(|path| match Config::load(path) {
                Ok(config) => Some(Rc::new(config)),
                Err(e) => {
                    errors.push(e);
                    None
                }
            })
            .clone()
    }
}

/// The rules and options that `options` mean, with the defaults where
/// nothing set them.
fn resolve(options: &Options, also_ignore: &[String], config: Option<Rc<Config>>) -> FileSettings {
    let select = options.select.clone().unwrap_or_default();
    let mut ignore = options.ignore.clone().unwrap_or_default();
    ignore.extend(also_ignore.iter().cloned());
    let pin = options.pin;
    // An option opts its rule in, within what `select` names.
    let selected = |rule: &Rule| {
        select.iter().all(String::is_empty) || select.iter().any(|s| rules::selects(s, rule))
    };
    let opted: Vec<&'static Rule> = rules::OPT_IN
        .iter()
        .copied()
        .filter(|r| match r.id {
            "DF303" => options.syntax_directive.unwrap_or(false),
            _ => pin.is_some_and(PinMode::digests),
        })
        .filter(|r| selected(r))
        .collect();
    let rules = rules::selection(
        &select,
        &ignore,
        options.cache_style.unwrap_or_default(),
        &opted,
    )
    .expect("selectors are checked when read");
    // Pin only what a selected rule writes: no registry questions otherwise.
    let has = |id: &str| rules.iter().any(|r| r.id == id);
    let pin = pin.and_then(|mode| {
        PinMode::of(
            mode.versions() && has("DF401"),
            mode.digests() && has("DF402"),
        )
    });
    FileSettings {
        unsafe_fixes: options.unsafe_fixes.unwrap_or(false),
        pin,
        pin_args: options.pin_args.unwrap_or(false),
        runtime_images: options.runtime_images.clone().unwrap_or_default(),
        rules,
        config,
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn each_configuration_is_read_once_and_each_combination_resolved_once() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("legacy")).unwrap();
        std::fs::write(
            root.path().join(config::FILE_NAME),
            "ignore = [\"DF002\"]\n[[overrides]]\npaths = [\"legacy/*\"]\nunsafe = true\n",
        )
        .unwrap();
        let cli = super::super::Cli::parse_from(["dockfix", "--ignore", "DF001"]);
        let mut resolver = Resolver::new(&cli.run.fix).unwrap();
        let mut settings = |path: &str| {
            let input = Input::File(root.path().join(path));
            resolver.settings(&input, None).unwrap()
        };
        let (a, b) = (settings("Dockerfile"), settings("api.Dockerfile"));
        let (old, older) = (
            settings("legacy/Dockerfile"),
            settings("legacy/x.Dockerfile"),
        );
        assert!(Rc::ptr_eq(&a, &b) && Rc::ptr_eq(&old, &older));
        assert!(!a.unsafe_fixes && old.unsafe_fixes);
        // The file's ignore and the command line's, together.
        let ids: Vec<&str> = a.rules.iter().map(|r| r.id).collect();
        assert!(!ids.contains(&"DF001") && !ids.contains(&"DF002"));
        assert_eq!(resolver.configs.len(), 1);
        assert_eq!(resolver.resolved.len(), 2);
    }
}
