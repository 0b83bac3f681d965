//! The data that drives the passes (`transforms/*.toml`), embedded in the
//! binary and read once.

use std::sync::OnceLock;

use serde::Deserialize;

/// One dependency ecosystem; see `transforms/ecosystems.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ecosystem {
    pub name: String,
    pub install: Vec<String>,
    #[serde(default)]
    pub value_flags: Vec<String>,
    #[serde(default)]
    pub manifests: Vec<String>,
    #[serde(default)]
    pub lockfiles: Vec<String>,
    #[serde(default)]
    pub config: Vec<String>,
    #[serde(default)]
    pub block: Vec<Block>,
    pub reader: Option<Reader>,
    #[serde(default)]
    pub build: Vec<String>,
    pub prefetch: Option<String>,
    /// What the install creates in its directory, which .dockerignore must
    /// exclude so the full copy cannot overwrite it.
    #[serde(default)]
    pub must_ignore: Vec<String>,
    /// What a build of the project writes in its directory: the build
    /// context's copy is unneeded where the image builds (DF601).
    #[serde(default)]
    pub outputs: Vec<String>,
    /// Options that make the tool work in another directory than the
    /// current one: DF601 then cannot say where it remakes them.
    #[serde(default)]
    pub directory_flags: Vec<String>,
    /// Base-name globs of the files that mark a project's directory, where
    /// `must_ignore` and `outputs` are made; the manifests when empty.
    #[serde(default)]
    pub project_files: Vec<String>,
    /// Flags for an install that runs before the full copy while the
    /// original install stays after it (composer: scripts and autoloader
    /// need the sources; poetry and uv: the project itself), unless the
    /// install has them all already.
    #[serde(default)]
    pub prepare_flags: Vec<String>,
    /// Flags the prepare step leaves out (they contradict its flags).
    #[serde(default)]
    pub prepare_drop: Vec<String>,
    /// Commands that clear what the install cached; they move with it.
    #[serde(default)]
    pub cleanup: Vec<String>,
    /// The install may name files (project files), not only packages.
    #[serde(default)]
    pub names_files: bool,
    /// Files the tool reads from the directories above its project, when
    /// dockfix knows them: an install in a subdirectory of the copy's
    /// destination is fixed only then, and none of these may lie above it
    /// in the build context. Unset: such an install is reported.
    pub parent_files: Option<Vec<String>>,
    /// Flags that make the install install the project itself, which
    /// needs its sources (`npm install -g`).
    #[serde(default)]
    pub project_flags: Vec<String>,
    #[serde(default)]
    pub settings_env: Vec<String>,
    /// Options may come before the command's other words (`mvn -B
    /// dependency:go-offline`).
    #[serde(default)]
    pub options_first: bool,
    /// Why the fix this ecosystem's installs get is unsafe: the step
    /// before the full copy runs the tool on less than the whole project,
    /// and dockfix cannot prove the tool reads nothing else.
    pub unsafe_fix: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Block {
    pub path: String,
    /// Blocks only when the file holds this text.
    pub contains: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reader {
    Node,
    Pip,
    Go,
    Composer,
    Maven,
    Dotnet,
    Gradle,
    Cargo,
    Poetry,
}

/// A table of `transforms/`, as build.rs writes it: the TOML file as JSON,
/// which serde reads into the same types several times faster.
macro_rules! table {
    ($name:literal) => {
        include_str!(concat!(env!("OUT_DIR"), "/", $name, ".json"))
    };
}

mod recommends_table {
    use super::Needs;
    include!(concat!(env!("OUT_DIR"), "/recommends.rs"));
}

/// Packages that need what they only recommend, sorted by name: one
/// package manager's part of `transforms/recommends.toml`, which build.rs
/// turns into arrays (thousands of packages, too many to parse per run)
/// that hold no pointer but the four here (see build.rs).
pub struct Needs {
    /// The names one after another.
    names: &'static str,
    /// Where each name ends in `names`.
    ends: &'static [u32],
    /// Each name's index in `lists`.
    needed: &'static [u8],
    lists: &'static [&'static [&'static str]],
}

impl Needs {
    fn name(&self, index: usize) -> &'static str {
        let start = index.checked_sub(1).map_or(0, |i| self.ends[i] as usize);
        &self.names[start..self.ends[index] as usize]
    }

    /// What `package` needs but only recommends.
    pub fn get(&self, package: &str) -> Option<&'static [&'static str]> {
        let (mut low, mut high) = (0, self.ends.len());
        while low < high {
            let middle = low + (high - low) / 2;
            match self.name(middle).cmp(package) {
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
                std::cmp::Ordering::Equal => {
                    return Some(self.lists[usize::from(self.needed[middle])]);
                }
            }
        }
        None
    }
}

/// apt's packages that need what they only recommend.
pub fn recommends_needed() -> &'static Needs {
    &recommends_table::APT_NEEDS
}

/// The same for zypper, by openSUSE's package names.
pub fn zypper_recommends_needed() -> &'static Needs {
    &recommends_table::ZYPPER_NEEDS
}

/// One system package manager; see `transforms/package_managers.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageManager {
    pub name: String,
    pub programs: Vec<String>,
    /// What `rm` may remove in a RUN that only manages packages.
    pub caches: Vec<String>,
    /// Commands that fetch the package index, word by word.
    pub updates: Vec<String>,
    /// Commands that only remove what the manager downloaded.
    pub cleanups: Vec<String>,
    /// Shell patterns of packages whose install may add a package source.
    pub source_packages: Vec<String>,
    /// Whether an added source serves the next install without an update.
    pub sources_at_once: bool,
}

pub fn package_managers() -> &'static [PackageManager] {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Managers {
        manager: Vec<PackageManager>,
    }
    static TABLE: OnceLock<Vec<PackageManager>> = OnceLock::new();
    TABLE.get_or_init(|| {
        serde_json::from_str::<Managers>(table!("package_managers"))
            .expect("transforms/package_managers.toml is valid (checked by a test)")
            .manager
    })
}

/// A package manager's download caches, for the mounts cache style; see
/// `transforms/cache_mounts.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheManager {
    pub name: String,
    pub programs: Vec<String>,
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub subcommands: Vec<String>,
    pub caches: Vec<CacheDir>,
    #[serde(default)]
    pub defeat_flags: Vec<DefeatFlag>,
    #[serde(default)]
    pub defeat_commands: Vec<String>,
    #[serde(default)]
    pub disabled_by: Vec<String>,
    #[serde(default)]
    pub offline: Vec<String>,
    #[serde(default)]
    pub moved_by: Vec<String>,
    #[serde(default)]
    pub offline_env: Vec<String>,
    #[serde(default)]
    pub config_commands: Vec<String>,
    pub yarn: Option<YarnRelease>,
    pub unsafe_reason: Option<String>,
    #[serde(default)]
    pub root_only: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheDir {
    pub id: String,
    pub dir: String,
    pub root_dir: Option<String>,
    #[serde(default)]
    pub env: Vec<String>,
    pub sharing: Option<String>,
    #[serde(default)]
    pub index: bool,
    #[serde(default)]
    pub output: bool,
    #[serde(default)]
    pub subcommands: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefeatFlag {
    pub flag: String,
    pub replace: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum YarnRelease {
    Classic,
    Berry,
}

/// A user an official image creates.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageUser {
    pub image: String,
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheMounts {
    pub manager: Vec<CacheManager>,
    /// Variables official images set, by image name.
    pub image_env: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    pub image_user: Vec<ImageUser>,
}

pub fn cache_mounts() -> &'static CacheMounts {
    static TABLE: OnceLock<CacheMounts> = OnceLock::new();
    TABLE.get_or_init(|| {
        serde_json::from_str::<CacheMounts>(table!("cache_mounts"))
            .expect("transforms/cache_mounts.toml is valid (checked by a test)")
    })
}

/// How base-image tags are read; see `transforms/pinning.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pinning {
    pub floating: Vec<String>,
    pub flavors: Vec<String>,
    pub unpulled: Vec<String>,
}

pub fn pinning() -> &'static Pinning {
    static TABLE: OnceLock<Pinning> = OnceLock::new();
    TABLE.get_or_init(|| {
        serde_json::from_str::<Pinning>(table!("pinning"))
            .expect("transforms/pinning.toml is valid (checked by a test)")
    })
}

/// What multi-stage builds leave behind; see `transforms/stages.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stages {
    pub build_tools: Vec<String>,
    pub removals: Vec<String>,
    pub repository_files: Vec<String>,
    pub runtime: Vec<Runtime>,
    pub python: Python,
}

/// DF503's split of a Python image whose packages compile against build
/// tools it installs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Python {
    pub toolchains: Vec<String>,
    pub venv: String,
    pub releases: Vec<String>,
    /// Header packages (shell patterns) and the library packages they
    /// describe, in file order.
    pub runtime_libraries: Vec<(String, Library)>,
}

/// A library's package: one name, or one per Debian release.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Library {
    Same(String),
    PerRelease(std::collections::BTreeMap<String, String>),
}

/// The runtime stage of one ecosystem's split build.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Runtime {
    pub ecosystem: String,
    pub language: String,
    pub toolchains: Vec<String>,
    pub image: String,
    #[serde(default)]
    pub releases: Vec<String>,
    #[serde(default)]
    pub shell: bool,
    #[serde(default)]
    pub newest_release: Option<String>,
    #[serde(default)]
    pub newest_up_to: Option<String>,
    pub files: Vec<String>,
    pub shared_dirs: Vec<String>,
    pub users: Vec<String>,
    pub build_commands: Vec<String>,
    pub code: Vec<String>,
    pub build_only: Vec<String>,
    pub build_only_dirs: Vec<String>,
    pub needs_system: Vec<(String, String)>,
    pub embeds: Vec<(String, String)>,
    #[serde(default)]
    pub keep_image: Vec<String>,
    #[serde(default)]
    pub starts_toolchain: Vec<String>,
    #[serde(default)]
    pub runs_programs: Vec<String>,
    #[serde(default)]
    pub package_installs: bool,
    #[serde(default)]
    pub builtins: Vec<String>,
    #[serde(default)]
    pub links: Vec<String>,
    #[serde(default)]
    pub builds_own: Vec<String>,
}

pub fn stages() -> &'static Stages {
    static TABLE: OnceLock<Stages> = OnceLock::new();
    TABLE.get_or_init(|| {
        serde_json::from_str::<Stages>(table!("stages"))
            .expect("transforms/stages.toml is valid (checked by a test)")
    })
}

/// What a build context holds that no build needs, and files that look
/// like secrets; see `transforms/context.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextTable {
    pub unneeded: Vec<Unneeded>,
    pub vcs_readers: Vec<String>,
    pub vcs_files: Vec<String>,
    pub secret: Vec<Secret>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unneeded {
    pub path: String,
    pub kind: UnneededKind,
    pub what: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnneededKind {
    Vcs,
    Cache,
    Editor,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    pub names: Vec<String>,
    pub except: Vec<String>,
    pub content: Option<String>,
    pub what: String,
    #[serde(default)]
    pub readers: Vec<String>,
    #[serde(default)]
    pub reader_files: Vec<String>,
    #[serde(default)]
    pub installs: Vec<String>,
}

pub fn context() -> &'static ContextTable {
    static TABLE: OnceLock<ContextTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        serde_json::from_str::<ContextTable>(table!("context"))
            .expect("transforms/context.toml is valid (checked by a test)")
    })
}

#[derive(Deserialize)]
struct Table {
    ecosystem: Vec<Ecosystem>,
}

pub fn ecosystems() -> &'static [Ecosystem] {
    static TABLE: OnceLock<Vec<Ecosystem>> = OnceLock::new();
    TABLE.get_or_init(|| {
        serde_json::from_str::<Table>(table!("ecosystems"))
            .expect("transforms/ecosystems.toml is valid (checked by a test)")
            .ecosystem
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_package_manager_table_reads() {
        let names: Vec<_> = package_managers().iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["apt", "apk", "dnf", "zypper"]);
    }

    #[test]
    fn the_cache_mount_table_reads() {
        let table = cache_mounts();
        assert!(table.manager.iter().any(|m| m.name == "apt"));
        for manager in &table.manager {
            assert!(!manager.programs.is_empty(), "{}", manager.name);
            for cache in &manager.caches {
                assert!(
                    cache.dir.starts_with('/') || cache.dir.starts_with("~/") || cache.output,
                    "{}: {}",
                    manager.name,
                    cache.dir
                );
                // Each entry's own subcommands are the manager's.
                assert!(cache
                    .subcommands
                    .iter()
                    .all(|s| manager.subcommands.contains(s)));
            }
        }
        assert_eq!(table.image_env["golang"]["GOPATH"], "/go");
    }

    #[test]
    fn the_context_table_reads() {
        let table = context();
        assert!(table
            .unneeded
            .iter()
            .any(|u| u.path == ".git" && u.kind == UnneededKind::Vcs));
        for secret in &table.secret {
            if let Some(content) = &secret.content {
                regex::bytes::Regex::new(content).expect("a valid content pattern");
            }
            for name in secret.names.iter().chain(&secret.except) {
                assert!(!name.contains('/'), "base names only: {name}");
            }
        }
        // Each ecosystem an entry names exists.
        for name in table.secret.iter().flat_map(|s| &s.installs) {
            assert!(ecosystems().iter().any(|e| &e.name == name), "{name}");
        }
    }

    #[test]
    fn the_pinning_table_reads() {
        let table = pinning();
        assert!(table.floating.contains(&"latest".to_string()));
        assert!(table.unpulled.contains(&"scratch".to_string()));
    }

    #[test]
    fn the_stages_table_reads() {
        let table = stages();
        assert!(table.build_tools.contains(&"build-essential".to_string()));
        assert!(table.removals.contains(&"purge".to_string()));
        let go = &table.runtime[0];
        assert_eq!(
            (go.ecosystem.as_str(), go.image.as_str()),
            ("go", "scratch")
        );
        assert!(go.code.contains(&"*.go".to_string()));
        // `{release}` is read from a toolchain tag only among `releases`.
        for runtime in &table.runtime {
            assert_eq!(
                runtime.image.contains("{release}"),
                !runtime.releases.is_empty(),
                "{}",
                runtime.ecosystem
            );
            if let Some(newest) = &runtime.newest_release {
                assert!(runtime.releases.contains(newest), "{newest}");
                assert!(runtime.newest_up_to.is_some(), "{}", runtime.ecosystem);
            }
        }
    }

    #[test]
    fn the_recommends_table_reads() {
        assert_eq!(
            recommends_needed().get("curl"),
            Some(&["ca-certificates"][..])
        );
        assert_eq!(recommends_needed().get("gcc"), Some(&["libc6-dev"][..]));
        assert_eq!(recommends_needed().get("build-essential"), None);
        assert_eq!(
            zypper_recommends_needed().get("curl"),
            Some(&["ca-certificates-mozilla"][..])
        );
    }

    #[test]
    fn every_package_of_the_recommends_file_is_found_with_its_list() {
        let text = include_str!("../transforms/recommends.toml");
        let file: toml::Table = toml::from_str(text).unwrap();
        for (part, table) in [
            ("needs", recommends_needed()),
            ("zypper", zypper_recommends_needed()),
        ] {
            let packages = file[part].as_table().unwrap();
            assert_eq!(packages.len(), table.ends.len());
            for (package, needs) in packages {
                let needs: Vec<&str> = needs
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_str().unwrap())
                    .collect();
                assert_eq!(table.get(package), Some(&needs[..]), "{package}");
                // Between two names, or a name's prefix: not in the table.
                assert_eq!(table.get(&format!("{package}\0")), None);
                assert_eq!(
                    table.get(&package[..package.len() - 1]).is_some(),
                    packages.contains_key(&package[..package.len() - 1])
                );
            }
        }
    }
}
