//! The corpus files and the settings the corpus checks run them with,
//! shared by the corpus tests and the fuzzer (`xtask/src/fuzz/`).

use std::path::{Path, PathBuf};

/// The corpus directory. With `DOCKFIX_CORPUS` set, the folder must exist
/// (a missing corpus fails the test instead of skipping it); without it the
/// corpus beside the repository is used when present.
pub fn corpus() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKFIX_CORPUS") {
        let dir = PathBuf::from(dir);
        assert!(
            dir.is_dir(),
            "DOCKFIX_CORPUS={} is not a directory",
            dir.display()
        );
        return Some(dir);
    }
    // The repository holds Cargo.lock; its crates (xtask) are below it.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())?;
    let beside = root.join("../shared/corpus");
    if beside.is_dir() {
        return Some(beside);
    }
    eprintln!("corpus not found: set DOCKFIX_CORPUS to run the corpus tests");
    None
}

/// Every rule of a cache style (opt-in rules aside), fixing safe fixes only
/// or unsafe ones too, without a build context (the corpus has none).
pub fn all_rules(
    unsafe_fixes: bool,
    style: dockfix::rules::CacheStyle,
) -> dockfix::engine::Settings<'static> {
    dockfix::engine::Settings {
        rules: dockfix::rules::selection(&[], &[], style, &[]).unwrap(),
        unsafe_fixes,
        build_context: None,
        companions: false,
        dockerfile: None,
        pins: None,
        ecosystems: None,
        runtime_images: &dockfix::config::NO_RUNTIME_IMAGES,
    }
}

/// Both cache styles, and with each safe fixes only, then unsafe ones too.
pub fn every_setting() -> Vec<dockfix::engine::Settings<'static>> {
    use dockfix::rules::CacheStyle;
    [CacheStyle::Cleanup, CacheStyle::Mounts]
        .into_iter()
        .flat_map(|style| [false, true].map(|unsafe_fixes| all_rules(unsafe_fixes, style)))
        .collect()
}

/// Every Dockerfile of the corpus: `real/`, `buildkit-testfiles/**/Dockerfile`
/// and `parfum-testfiles/**`, sorted.
pub fn dockerfiles(corpus: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    walk(&corpus.join("real"), &mut |p| files.push(p.to_path_buf()));
    walk(&corpus.join("buildkit-testfiles"), &mut |p| {
        if p.file_name().is_some_and(|n| n == "Dockerfile") {
            files.push(p.to_path_buf())
        }
    });
    walk(&corpus.join("parfum-testfiles"), &mut |p| {
        files.push(p.to_path_buf())
    });
    files.sort();
    files
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, f);
        } else {
            f(&path);
        }
    }
}
