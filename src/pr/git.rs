//! The git side of `dockfix pr`, through the `git` command. The commit is
//! built with plumbing in a temporary index, so the checkout (its working
//! tree, index and current branch) is never touched.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::Change;

pub struct Repo {
    /// The checkout's top directory.
    pub top: PathBuf,
}

/// What a push did to the remote branch.
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed {
    Created,
    Updated,
    /// It already held this commit.
    Unchanged,
}

impl Repo {
    /// The checkout holding `dir`, which must have a commit to build on.
    pub fn discover(dir: &Path) -> Result<Repo, String> {
        let top = git(dir, &["rev-parse", "--show-toplevel"], None, &[])
            .map_err(|e| format!("not in a git checkout: {e}"))?;
        let repo = Repo {
            top: PathBuf::from(top),
        };
        repo.run(&["rev-parse", "--verify", "-q", "HEAD^{commit}"])
            .map_err(|_| "the repository has no commit yet".to_string())?;
        Ok(repo)
    }

    fn run(&self, args: &[&str]) -> Result<String, String> {
        git(&self.top, args, None, &[])
    }

    /// Files that differ from `HEAD` or are not tracked (ignored ones
    /// aside): a rewrite read from them would commit someone's work in
    /// progress, or name files the repository does not have.
    pub fn unclean(&self) -> Result<Vec<String>, String> {
        let status = self.run(&["status", "--porcelain", "-z"])?;
        let mut files = Vec::new();
        let mut entries = status.split('\0').filter(|e| !e.is_empty());
        while let Some(entry) = entries.next() {
            let (code, path) = entry.split_at(3.min(entry.len()));
            files.push(path.to_string());
            // A rename or copy names its source next.
            if code.starts_with(['R', 'C']) {
                entries.next();
            }
        }
        Ok(files)
    }

    /// Whether git tracks the file (`path` relative to the top).
    pub fn tracks(&self, path: &str) -> bool {
        self.run(&["ls-files", "--error-unmatch", "--", path])
            .is_ok()
    }

    /// The submodules' paths: their files belong to other repositories.
    pub fn submodules(&self) -> Result<Vec<String>, String> {
        let staged = self.run(&["ls-files", "--stage", "-z"])?;
        Ok(staged
            .split('\0')
            .filter_map(|entry| {
                let (info, path) = entry.split_once('\t')?;
                info.starts_with("160000 ").then(|| path.to_string())
            })
            .collect())
    }

    /// The branch checked out, if any.
    pub fn current_branch(&self) -> Option<String> {
        self.run(&["symbolic-ref", "--short", "-q", "HEAD"]).ok()
    }

    pub fn head(&self) -> Result<String, String> {
        self.run(&["rev-parse", "--verify", "HEAD^{commit}"])
    }

    /// The commit `branch` is at on `remote`, if it exists there.
    pub fn remote_branch(&self, remote: &str, branch: &str) -> Result<Option<String>, String> {
        let refname = format!("refs/heads/{branch}");
        let listed = self.run(&["ls-remote", remote, &refname])?;
        Ok(listed
            .lines()
            .find(|l| l.ends_with(&format!("\t{refname}")))
            .and_then(|l| l.split('\t').next())
            .map(String::from))
    }

    /// The commit `branch` was at on `remote` when it was last fetched
    /// (its remote-tracking branch), without asking the remote.
    pub fn fetched_branch(&self, remote: &str, branch: &str) -> Option<String> {
        let tracking = format!("refs/remotes/{remote}/{branch}^{{commit}}");
        self.run(&["rev-parse", "--verify", "-q", &tracking]).ok()
    }

    /// The remote's URL, to tell which GitHub repository it is.
    pub fn remote_url(&self, remote: &str) -> Result<String, String> {
        self.run(&["remote", "get-url", remote])
    }

    /// A commit of `parent`'s tree with `changes`, dated as `parent` so
    /// the same change on the same parent is the same commit: a second run
    /// pushes nothing.
    pub fn commit(
        &self,
        parent: &str,
        changes: &[Change],
        message: &str,
    ) -> Result<String, String> {
        self.run(&["var", "GIT_AUTHOR_IDENT"]).map_err(|_| {
            "git has no identity to commit with: set user.name and user.email (git config), \
             or GIT_AUTHOR_NAME, GIT_AUTHOR_EMAIL, GIT_COMMITTER_NAME and GIT_COMMITTER_EMAIL"
                .to_string()
        })?;
        let index = tempfile::NamedTempFile::new_in(self.git_dir()?)
            .map_err(|e| format!("cannot create a temporary index: {e}"))?;
        let index_path = index.path().to_string_lossy().into_owned();
        let env = [("GIT_INDEX_FILE", index_path.as_str())];
        git(&self.top, &["read-tree", parent], None, &env)?;
        for change in changes {
            // `--path`: the file's attributes apply (line endings, filters),
            // as when `git add` stores it.
            let blob = git(
                &self.top,
                &["hash-object", "-w", "--stdin", "--path", &change.path],
                Some(&change.after),
                &[],
            )?;
            let mode = self.mode(parent, &change.path)?;
            let info = format!("{mode},{blob},{}", change.path);
            git(
                &self.top,
                &["update-index", "--add", "--cacheinfo", &info],
                None,
                &env,
            )?;
        }
        let tree = git(&self.top, &["write-tree"], None, &env)?;
        let date = self.run(&["log", "-1", "--format=%cd", "--date=raw", parent])?;
        let dates = [
            ("GIT_AUTHOR_DATE", date.as_str()),
            ("GIT_COMMITTER_DATE", date.as_str()),
        ];
        git(
            &self.top,
            &["commit-tree", &tree, "-p", parent, "-F", "-"],
            Some(message.as_bytes()),
            &dates,
        )
    }

    /// The file mode `path` has in `commit`; a new file is a plain file.
    fn mode(&self, commit: &str, path: &str) -> Result<String, String> {
        let entry = self.run(&["ls-tree", commit, "--", path])?;
        Ok(entry
            .split_whitespace()
            .next()
            .unwrap_or("100644")
            .to_string())
    }

    fn git_dir(&self) -> Result<PathBuf, String> {
        let dir = self.run(&["rev-parse", "--absolute-git-dir"])?;
        Ok(PathBuf::from(dir))
    }

    /// Points the local branch at `commit`, for people who want to look at
    /// it (git refuses while a worktree has it checked out), and
    /// force-pushes it: `dockfix/` branches are dockfix's own.
    pub fn push(&self, remote: &str, branch: &str, commit: &str) -> Result<Pushed, String> {
        self.run(&["branch", "-f", branch, commit])?;
        let local = format!("refs/heads/{branch}");
        let refspec = format!("+{local}:{local}");
        let report = self.run(&["push", "--porcelain", remote, &refspec])?;
        // `<flag>\t<from>:<to>\t<summary>`: `*` new, `+` forced, `=` up to date.
        let pushed = format!("{local}:{local}");
        let flag = report
            .lines()
            .find(|l| l.split('\t').nth(1) == Some(&pushed))
            .and_then(|l| l.chars().next());
        match flag {
            Some('*') => Ok(Pushed::Created),
            Some('=') => Ok(Pushed::Unchanged),
            Some(' ' | '+') => Ok(Pushed::Updated),
            _ => Err(format!("unexpected push report: {report}")),
        }
    }
}

/// Runs git in `dir`, feeding `input`, and returns its trimmed output, or
/// its error message.
fn git(
    dir: &Path,
    args: &[&str],
    input: Option<&[u8]>,
    env: &[(&str, &str)],
) -> Result<String, String> {
    let mut command = Command::new("git");
    // No optional locks: reading the status must not rewrite the index.
    command
        .arg("--no-optional-locks")
        .arg("-C")
        .arg(dir)
        .args(args)
        .envs(env.iter().copied())
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if let Some(input) = input {
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin
            .write_all(input)
            .map_err(|e| format!("cannot feed git: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("git failed: {e}"))?;
    if out.status.success() {
        Ok(crate::syntax::lossy(&out.stdout).trim_end().to_string())
    } else {
        let stderr = crate::syntax::lossy(&out.stderr);
        Err(format!(
            "git {} failed: {}",
            args.first().unwrap_or(&""),
            stderr.trim()
        ))
    }
}
