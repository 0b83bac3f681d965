//! Locating `../shared/corpus` for the corpus-driven tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub mod http;
pub mod schema;

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
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if beside.is_dir() {
        return Some(beside);
    }
    eprintln!("corpus not found: set DOCKFIX_CORPUS to run the corpus tests");
    None
}

/// The entries of a directory, sorted.
pub fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    entries
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
        pins: None,
        ecosystems: dockfix::deps::Ecosystems::builtin(),
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

/// Which of a command's outputs goes to the terminal in `on_tty`.
pub enum Tty {
    Stdout,
    Stderr,
}

/// Runs a command with one output on a fresh pseudo-terminal (the other
/// discarded) and returns what it printed there (the terminal turns `\n`
/// into `\r\n`).
#[cfg(target_os = "linux")]
pub fn on_tty(mut cmd: std::process::Command, tty: Tty) -> String {
    use std::ffi::CStr;
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::os::raw::{c_char, c_int};
    use std::os::unix::fs::OpenOptionsExt;

    extern "C" {
        fn grantpt(fd: c_int) -> c_int;
        fn unlockpt(fd: c_int) -> c_int;
        fn ptsname_r(fd: c_int, buf: *mut c_char, len: usize) -> c_int;
    }
    const O_NOCTTY: i32 = 0o400;
    let open = |path: &Path| {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(O_NOCTTY)
            .open(path)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
    };
    let mut master = open(Path::new("/dev/ptmx"));
    let mut name = [0 as c_char; 128];
    // SAFETY: plain libc calls on a file descriptor we own and a buffer of the given length.
    unsafe {
        assert_eq!(grantpt(master.as_raw_fd()), 0);
        assert_eq!(unlockpt(master.as_raw_fd()), 0);
        assert_eq!(
            ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()),
            0
        );
    }
    // SAFETY: ptsname_r succeeded, so `name` holds a NUL-terminated string.
    let slave_path = unsafe { CStr::from_ptr(name.as_ptr()) }
        .to_str()
        .unwrap()
        .to_owned();
    let slave = open(Path::new(&slave_path));
    cmd.stdin(std::process::Stdio::null());
    match tty {
        Tty::Stdout => cmd.stdout(slave).stderr(std::process::Stdio::null()),
        Tty::Stderr => cmd.stderr(slave).stdout(std::process::Stdio::null()),
    };
    let mut child = cmd.spawn().expect("dockfix starts");
    drop(cmd); // closes our copy of the terminal's slave end
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        // Reading fails with EIO once dockfix has closed the terminal.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    });
    child.wait().expect("dockfix finishes");
    String::from_utf8(reader.join().unwrap()).unwrap()
}
