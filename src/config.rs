//! `.dockfix.toml`: a repository's settings for the Dockerfiles below it.
//! The nearest file walking up from a Dockerfile's directory applies, on
//! its own (files are not merged, as with ruff), with its `[[overrides]]`
//! for matching paths and its extra `[[ecosystem]]` tables.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use toml::Spanned;

use crate::deps::Ecosystems;
use crate::pin::PinMode;
use crate::rules::{self, CacheStyle};
use crate::transforms::Ecosystem;

pub const FILE_NAME: &str = ".dockfix.toml";

/// No runtime image set: `transforms/stages.toml`'s apply.
pub static NO_RUNTIME_IMAGES: BTreeMap<String, String> = BTreeMap::new();

/// What a configuration (its top level, an override) or the command line
/// sets; `None` where it says nothing, so the defaults apply after merging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub select: Option<Vec<String>>,
    pub ignore: Option<Vec<String>>,
    pub unsafe_fixes: Option<bool>,
    pub cache_style: Option<CacheStyle>,
    pub syntax_directive: Option<bool>,
    pub pin: Option<PinMode>,
    pub pin_args: Option<bool>,
    /// DF503's runtime image by ecosystem, over `transforms/stages.toml`'s.
    pub runtime_images: Option<BTreeMap<String, String>>,
}

impl Options {
    /// These options with what `later` sets laid over them, key by key.
    pub fn then(&self, later: &Options) -> Options {
        Options {
            select: later.select.clone().or_else(|| self.select.clone()),
            ignore: later.ignore.clone().or_else(|| self.ignore.clone()),
            unsafe_fixes: later.unsafe_fixes.or(self.unsafe_fixes),
            cache_style: later.cache_style.or(self.cache_style),
            syntax_directive: later.syntax_directive.or(self.syntax_directive),
            pin: later.pin.or(self.pin),
            pin_args: later.pin_args.or(self.pin_args),
            runtime_images: match (&self.runtime_images, &later.runtime_images) {
                (Some(earlier), Some(later)) => {
                    let mut images = earlier.clone();
                    images.extend(later.clone());
                    Some(images)
                }
                (earlier, later) => later.clone().or_else(|| earlier.clone()),
            },
        }
    }
}

/// A configuration file that cannot be used, with the position of the
/// fault when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub path: PathBuf,
    /// 1-based line and column.
    pub at: Option<(usize, usize)>,
    pub message: String,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.at {
            Some((line, column)) => write!(f, "{}:{line}:{column}: ", self.path.display())?,
            None => write!(f, "{}: ", self.path.display())?,
        }
        f.write_str(&self.message)
    }
}

/// A configuration file, read and checked.
pub struct Config {
    pub path: PathBuf,
    /// The absolute directory override globs are relative to.
    dir: PathBuf,
    options: Options,
    overrides: Vec<(GlobSet, Options)>,
    /// The built-in ecosystems and the file's own, when it adds some.
    ecosystems: Option<Ecosystems>,
}

/// The file as written. One table serves the top level and the overrides;
/// `check` refuses a key where it does not belong.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Table {
    select: Option<Vec<Spanned<String>>>,
    ignore: Option<Vec<Spanned<String>>>,
    #[serde(rename = "unsafe")]
    unsafe_fixes: Option<bool>,
    cache_style: Option<CacheStyle>,
    syntax_directive: Option<bool>,
    pin: Option<PinMode>,
    pin_args: Option<bool>,
    runtime_images: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    paths: Option<Spanned<Vec<Spanned<String>>>>,
    overrides: Option<Spanned<Vec<Spanned<Table>>>>,
    ecosystem: Option<Spanned<Vec<Spanned<Ecosystem>>>>,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = crate::context::read_regular(path)
            .and_then(crate::context::utf8)
            .map_err(|e| Error {
                path: path.to_path_buf(),
                at: None,
                message: format!("cannot read: {e}"),
            })?;
        Config::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config, Error> {
        let fail = |span: Option<Range<usize>>, message: String| Error {
            path: path.to_path_buf(),
            at: span.map(|s| crate::syntax::line_col(text.as_bytes(), s.start)),
            message,
        };
        let table: Table = toml::from_str(text).map_err(|e| fail(e.span(), e.message().into()))?;
        let misplaced = |span: Range<usize>, key: &str, place: &str| {
            Err(fail(Some(span), format!("`{key}` belongs {place}")))
        };
        if let Some(paths) = &table.paths {
            return misplaced(paths.span(), "paths", "in an [[overrides]] table");
        }
        let options = table
            .options()
            .map_err(|(span, why)| fail(Some(span), why))?;
        let mut overrides = Vec::new();
        for spanned in table.overrides.iter().flat_map(|o| o.get_ref()) {
            let section = spanned.get_ref();
            if let Some(nested) = &section.overrides {
                return misplaced(nested.span(), "overrides", "at the top level");
            }
            if let Some(ecosystem) = &section.ecosystem {
                return misplaced(ecosystem.span(), "ecosystem", "at the top level");
            }
            let options = section
                .options()
                .map_err(|(span, why)| fail(Some(span), why))?;
            let globs = section
                .globs(spanned.span())
                .map_err(|(span, why)| fail(Some(span), why))?;
            overrides.push((globs, options));
        }
        let ecosystems = match table.ecosystem {
            None => None,
            Some(tables) => {
                let spans: Vec<_> = tables.get_ref().iter().map(Spanned::span).collect();
                let extra = tables.into_inner().into_iter().map(Spanned::into_inner);
                let table = Ecosystems::with(extra.collect())
                    .map_err(|(i, why)| fail(Some(spans[i].clone()), why))?;
                Some(table)
            }
        };
        let dir = absolute(path)
            .parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
        Ok(Config {
            path: path.to_path_buf(),
            dir,
            options,
            overrides,
            ecosystems,
        })
    }

    /// Which overrides apply to `file` (an absolute path), by index.
    pub fn overrides_for(&self, file: &Path) -> Vec<usize> {
        let Ok(relative) = file.strip_prefix(&self.dir) else {
            return Vec::new();
        };
        // As in .gitignore, a pattern naming a directory names what is in it.
        let named = relative
            .ancestors()
            .filter(|path| !path.as_os_str().is_empty());
        (0..self.overrides.len())
            .filter(|&i| named.clone().any(|path| self.overrides[i].0.is_match(path)))
            .collect()
    }

    /// The top level's options with those overrides laid over them, in
    /// order.
    pub fn options(&self, overrides: &[usize]) -> Options {
        overrides.iter().fold(self.options.clone(), |options, &i| {
            options.then(&self.overrides[i].1)
        })
    }

    /// The ecosystem table, if this file extends the built-in one.
    pub fn ecosystems(&self) -> Option<&Ecosystems> {
        self.ecosystems.as_ref()
    }
}

impl Table {
    /// The options this table sets; an unknown rule selector is an error
    /// at its place.
    fn options(&self) -> Result<Options, (Range<usize>, String)> {
        let selectors = |list: &Option<Vec<Spanned<String>>>| {
            list.as_ref()
                .map(|list| {
                    list.iter()
                        .map(|s| match rules::matching(s.get_ref()) {
                            Ok(_) => Ok(s.get_ref().clone()),
                            Err(why) => Err((s.span(), why)),
                        })
                        .collect()
                })
                .transpose()
        };
        Ok(Options {
            select: selectors(&self.select)?,
            ignore: selectors(&self.ignore)?,
            unsafe_fixes: self.unsafe_fixes,
            cache_style: self.cache_style,
            syntax_directive: self.syntax_directive,
            pin: self.pin,
            pin_args: self.pin_args,
            runtime_images: self
                .runtime_images
                .as_ref()
                .map(runtime_images)
                .transpose()?,
        })
    }

    /// An override's `paths`: globs relative to the configuration's
    /// directory, where `*` stays within one directory and `**` crosses
    /// them. A missing `paths` is an error at the table (`at`).
    fn globs(&self, at: Range<usize>) -> Result<GlobSet, (Range<usize>, String)> {
        let Some(paths) = self.paths.as_ref().filter(|p| !p.get_ref().is_empty()) else {
            let span = self.paths.as_ref().map_or(at, Spanned::span);
            return Err((span, "an [[overrides]] table needs `paths`".into()));
        };
        let mut set = GlobSetBuilder::new();
        for pattern in paths.get_ref() {
            let text = pattern.get_ref();
            // `./legacy`, `/legacy` and `legacy/` are `legacy`.
            let text = text.strip_prefix("./").unwrap_or(text);
            let text = text.trim_start_matches('/').trim_end_matches('/');
            let glob = GlobBuilder::new(text)
                .literal_separator(true)
                .build()
                .map_err(|e| (pattern.span(), format!("bad glob: {}", e.kind())))?;
            set.add(glob);
        }
        let set = set.build().map_err(|e| (paths.span(), e.to_string()))?;
        Ok(set)
    }
}

/// A `[runtime-images]` table: each key an ecosystem of DF503's runtime
/// table, each value an image reference, with `{release}` only where the
/// ecosystem's toolchain tags name a release, and `{jdk}` and `{variant}`
/// only for Java's.
fn runtime_images(
    table: &BTreeMap<Spanned<String>, Spanned<String>>,
) -> Result<BTreeMap<String, String>, (Range<usize>, String)> {
    let runtimes = &crate::transforms::stages().runtime;
    let mut images = BTreeMap::new();
    for (key, image) in table {
        let Some(runtime) = runtimes.iter().find(|r| r.ecosystem == *key.get_ref()) else {
            let known: Vec<&str> = runtimes.iter().map(|r| r.ecosystem.as_str()).collect();
            return Err((
                key.span(),
                format!(
                    "no runtime image for `{}`: the ecosystems are {}",
                    key.get_ref(),
                    known.join(", ")
                ),
            ));
        };
        let text = image.get_ref();
        if text.is_empty() || text.contains(char::is_whitespace) || text.starts_with('-') {
            return Err((image.span(), format!("`{text}` is not an image reference")));
        }
        if text.contains("{release}") && runtime.releases.is_empty() {
            return Err((
                image.span(),
                format!(
                    "`{{release}}` has no value for `{}`: its toolchain tags name no release",
                    runtime.ecosystem
                ),
            ));
        }
        let names_jdk = |t: &str| t.contains("{jdk}") || t.contains("{variant}");
        if names_jdk(text) && !names_jdk(&runtime.image) {
            return Err((
                image.span(),
                format!(
                    "`{{jdk}}` and `{{variant}}` have no value for `{}`: only Java's toolchain tags name a JDK",
                    runtime.ecosystem
                ),
            ));
        }
        images.insert(key.get_ref().clone(), text.clone());
    }
    Ok(images)
}

/// `path` made absolute against the current directory, with `.` and `..`
/// folded away, without asking the file system (`../x/Dockerfile` and a
/// `--stdin-filename` that does not exist work alike).
pub fn absolute(path: &Path) -> PathBuf {
    // An absolute path needs no current directory: asking for it costs a
    // system call per file of a run.
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Finds the nearest configuration file up from a directory, remembering
/// what each directory looked at resolves to, so a walk of many files
/// looks at each directory once.
#[derive(Default)]
pub struct Discovery {
    nearest: HashMap<PathBuf, Option<PathBuf>>,
}

impl Discovery {
    /// The configuration file for files in `dir` (absolute), if any.
    pub fn nearest(&mut self, dir: &Path) -> Option<PathBuf> {
        let mut visited = Vec::new();
        let mut found = None;
        for ancestor in dir.ancestors() {
            if let Some(known) = self.nearest.get(ancestor) {
                found = known.clone();
                break;
            }
            visited.push(ancestor.to_path_buf());
            let candidate = ancestor.join(FILE_NAME);
            if candidate.is_file() {
                found = Some(candidate);
                break;
            }
        }
        for dir in visited {
            self.nearest.insert(dir, found.clone());
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, Error> {
        Config::parse(Path::new("repo/.dockfix.toml"), text)
    }

    fn error(text: &str) -> String {
        parse(text).err().expect("an error").to_string()
    }

    #[test]
    fn keys_and_overrides_in_order() {
        let config = parse(
            "select = [\"DF1\", \"exec-form\"]\nunsafe = true\ncache-style = \"mounts\"\npin = \"digest\"\n\n\
             [runtime-images]\ngo = \"registry.example/base/static:1\"\nrust = \"debian:{release}-slim\"\n\n\
             [[overrides]]\npaths = [\"legacy/**\"]\nignore = [\"DF204\"]\nunsafe = false\n\n\
             [[overrides]]\npaths = [\"./legacy/old/*\", \"*.Dockerfile\"]\ncache-style = \"cleanup\"\n\
             runtime-images = { go = \"busybox:1.36\" }\n",
        )
        .unwrap();
        let dir = absolute(Path::new("repo"));
        assert_eq!(
            config.overrides_for(&dir.join("Dockerfile")),
            Vec::<usize>::new()
        );
        assert_eq!(config.overrides_for(&dir.join("legacy/a/Dockerfile")), [0]);
        assert_eq!(
            config.overrides_for(&dir.join("legacy/old/Dockerfile")),
            [0, 1]
        );
        // `*` stays within its directory.
        assert_eq!(
            config.overrides_for(&dir.join("x/api.Dockerfile")),
            Vec::<usize>::new()
        );
        assert_eq!(config.overrides_for(&dir.join("api.Dockerfile")), [1]);
        // As in .gitignore, a directory's pattern covers what is in it.
        for pattern in ["legacy", "legacy/", "/legacy", "./legacy/"] {
            let config = parse(&format!("[[overrides]]\npaths = [\"{pattern}\"]\n")).unwrap();
            assert_eq!(
                config.overrides_for(&dir.join("legacy/a/Dockerfile")),
                [0],
                "{pattern}"
            );
            assert!(
                config
                    .overrides_for(&dir.join("legacyx/Dockerfile"))
                    .is_empty(),
                "{pattern}"
            );
        }
        assert_eq!(
            config.options(&[0, 1]),
            Options {
                select: Some(vec!["DF1".into(), "exec-form".into()]),
                ignore: Some(vec!["DF204".into()]),
                unsafe_fixes: Some(false),
                cache_style: Some(CacheStyle::Cleanup),
                syntax_directive: None,
                pin: Some(PinMode::Digest),
                pin_args: None,
                // Key by key: the override's Go image, the top level's Rust one.
                runtime_images: Some(BTreeMap::from([
                    ("go".into(), "busybox:1.36".into()),
                    ("rust".into(), "debian:{release}-slim".into()),
                ])),
            }
        );
    }

    #[test]
    fn errors_point_at_their_place() {
        let path = "repo/.dockfix.toml";
        assert_eq!(
            error("select = [\"DF1\"]\ncache_style = \"mounts\"\n"),
            format!("{path}:2:1: unknown field `cache_style`, expected one of `select`, `ignore`, `unsafe`, `cache-style`, `syntax-directive`, `pin`, `pin-args`, `runtime-images`, `paths`, `overrides`, `ecosystem`")
        );
        assert_eq!(
            error("ignore = [\"DF001\", \"DF999\"]\n"),
            format!("{path}:1:20: unknown rule selector `DF999` (see `dockfix rules`)")
        );
        assert!(error("unsafe = \"yes\"\n").starts_with(&format!("{path}:1:10: invalid type")));
        assert!(error("cache-style = \"both\"\n")
            .starts_with(&format!("{path}:1:15: unknown variant `both`")));
        assert_eq!(
            error("[[overrides]]\npaths = [\"legacy/[\"]\n"),
            format!("{path}:2:10: bad glob: unclosed character class; missing ']'")
        );
        assert_eq!(
            error("unsafe = true\n[[overrides]]\nunsafe = true\n"),
            format!("{path}:2:1: an [[overrides]] table needs `paths`")
        );
        assert_eq!(
            error("paths = [\"x\"]\n"),
            format!("{path}:1:9: `paths` belongs in an [[overrides]] table")
        );
        assert_eq!(
            error("[[overrides]]\npaths = []\n"),
            format!("{path}:2:9: an [[overrides]] table needs `paths`")
        );
        assert_eq!(
            error("[runtime-images]\ndotnet = \"mcr.example/aspnet:8.0\"\n"),
            format!("{path}:2:1: no runtime image for `dotnet`: the ecosystems are go, rust, node, java")
        );
        assert_eq!(
            error("[runtime-images]\ngo = \"eclipse-temurin:{jdk}-jre\"\n"),
            format!("{path}:2:6: `{{jdk}}` and `{{variant}}` have no value for `go`: only Java's toolchain tags name a JDK")
        );
        assert_eq!(
            error("[runtime-images]\ngo = \"scratch {release}\"\n"),
            format!("{path}:2:6: `scratch {{release}}` is not an image reference")
        );
        assert_eq!(
            error("[runtime-images]\ngo = \"debian:{release}-slim\"\n"),
            format!("{path}:2:6: `{{release}}` has no value for `go`: its toolchain tags name no release")
        );
        // An extra ecosystem's fault is reported at its table.
        assert_eq!(
            error("unsafe = true\n\n[[ecosystem]]\nname = \"npm\"\ninstall = [\"x\"]\nmanifests = [\"x\"]\n"),
            format!("{path}:3:1: an ecosystem named `npm` is already defined")
        );
    }

    #[test]
    fn options_lay_over_key_by_key() {
        let base = Options {
            select: Some(vec!["DF1".into()]),
            unsafe_fixes: Some(true),
            ..Default::default()
        };
        let later = Options {
            select: Some(vec!["DF2".into()]),
            pin: Some(PinMode::Version),
            ..Default::default()
        };
        let merged = base.then(&later);
        assert_eq!(merged.select, Some(vec!["DF2".into()]));
        assert_eq!(merged.unsafe_fixes, Some(true));
        assert_eq!(merged.pin, Some(PinMode::Version));
    }

    #[test]
    fn nearest_configuration_up_from_a_directory() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("a/b/c");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(root.path().join("a").join(FILE_NAME), "").unwrap();
        let mut discovery = Discovery::default();
        let found = Some(root.path().join("a").join(FILE_NAME));
        assert_eq!(discovery.nearest(&deep), found);
        // Remembered for every directory on the way.
        std::fs::write(deep.join(FILE_NAME), "").unwrap();
        assert_eq!(discovery.nearest(&deep), found);
        assert_eq!(discovery.nearest(&root.path().join("a/b")), found);
    }

    #[test]
    fn absolute_paths_fold_dots() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            absolute(Path::new("../x/./Dockerfile")),
            cwd.parent().unwrap().join("x/Dockerfile")
        );
    }
}
