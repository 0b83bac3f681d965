//! What the tests share: the corpus and its settings (`inputs.rs`, shared
//! with the fuzzer), tally (`tally.rs`), test servers, terminals.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub mod http;
pub mod inputs;
pub mod schema;
pub mod tally;

#[allow(unused_imports)] // each test uses some
pub use inputs::{all_rules, corpus, dockerfiles, every_setting};

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
