//! `dockfix pr`: the rewrite `--write` would make, committed on a branch of
//! its own, pushed, and proposed as a GitHub pull request (see `crate::pr`).
//! The checkout itself is never written.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use super::markdown;
use super::report::Output;
use crate::pr::api::{self, Api, Proposal};
use crate::pr::git::{Pushed, Repo};
use crate::pr::{self as plan, Change};

#[derive(Args)]
pub struct PrOptions {
    /// The branch the pull request merges into (default: the branch
    /// checked out).
    #[arg(long, value_name = "BRANCH")]
    base: Option<String>,
    /// The git remote to push the branch to.
    #[arg(long, default_value = "origin", value_name = "NAME")]
    remote: String,
    /// The GitHub repository (default: $GITHUB_REPOSITORY, else the
    /// remote's github.com URL).
    #[arg(long, value_name = "OWNER/NAME")]
    repo: Option<String>,
    /// Print the branch, commit and pull request dockfix would make, and
    /// make none.
    #[arg(long)]
    dry_run: bool,
}

/// Turns the run's rewrite into a pull request; the exit code.
pub fn open(out: &Output, options: &PrOptions, fix_options: &str) -> u8 {
    match propose(out, options, fix_options) {
        Ok(()) => 0,
        Err(e) => {
            say!("dockfix pr: {e}");
            2
        }
    }
}

fn propose(out: &Output, options: &PrOptions, fix_options: &str) -> Result<(), String> {
    if !out.errors.is_empty() {
        for error in &out.errors {
            say!("{}", error.text());
        }
        return Err("nothing committed: the pull request would leave these files out".into());
    }
    if out.changes.is_empty() {
        say!("dockfix pr: nothing to change");
        return Ok(());
    }
    let repo = Repo::discover(Path::new("."))?;
    let uncommitted = repo.uncommitted()?;
    if !uncommitted.is_empty() {
        return Err(format!(
            "uncommitted changes to {}: commit or stash them, the pull request holds only dockfix's rewrite",
            uncommitted.join(", ")
        ));
    }
    let top = canonical(&repo.top)?;
    let changes = out
        .changes
        .iter()
        .map(|c| {
            Ok(Change {
                path: in_repo(&top, &c.path)?,
                before: c.before.clone(),
                after: c.after.clone(),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let rewritten = out
        .files
        .iter()
        .filter(|f| !f.applied.is_empty())
        .map(|f| Ok((in_repo(&top, Path::new(&f.path))?, f.applied.clone())))
        .collect::<Result<Vec<_>, String>>()?;
    let branch = plan::branch(&changes);
    let base = match &options.base {
        Some(base) => base.clone(),
        None => repo
            .current_branch()
            .ok_or("no branch is checked out: name the pull request's base with --base")?,
    };
    let title = plan::title(&rewritten);
    let message = plan::commit_message(&rewritten);
    let body = markdown::body(out, true, fix_options);
    if options.dry_run {
        let files: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        println!(
            "branch: {branch} (pushed to {}, based on {base})",
            options.remote
        );
        println!("files: {}", files.join(", "));
        println!("commit:\n\n{message}");
        println!("pull request: {title}\n\n{body}");
        return Ok(());
    }
    let token = std::env::var("GITHUB_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .ok_or("GITHUB_TOKEN is not set: it is the token the pull request is opened with")?;
    let name = match &options.repo {
        Some(name) => name.clone(),
        None => github_repository(&repo, &options.remote)?,
    };
    let url = std::env::var("GITHUB_API_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| api::DEFAULT_URL.into());
    let api = Api::new(&url, token, name);
    let commit = repo.commit(&repo.head()?, &changes, &message)?;
    let pushed = repo.push(&options.remote, &branch, &commit)?;
    say!(
        "dockfix pr: {branch} {} on {}",
        match pushed {
            Pushed::Created => "pushed",
            Pushed::Updated => "updated",
            Pushed::Unchanged => "already up to date",
        },
        options.remote
    );
    let proposal = Proposal {
        title: &title,
        body: &body,
        head: &branch,
        base: &base,
    };
    let (verb, pull) = match api.find_open(&branch)? {
        Some(open) => ("updated", api.update(open.number, &proposal)?),
        None => ("opened", api.create(&proposal)?),
    };
    say!("dockfix pr: {verb} pull request #{}", pull.number);
    println!("{}", pull.html_url);
    Ok(())
}

/// The repository to open the pull request in.
fn github_repository(repo: &Repo, remote: &str) -> Result<String, String> {
    if let Some(name) = std::env::var("GITHUB_REPOSITORY")
        .ok()
        .filter(|n| !n.is_empty())
    {
        return Ok(name);
    }
    let url = repo.remote_url(remote)?;
    api::repo_of_remote(&url).ok_or_else(|| {
        format!("remote {remote} ({url}) is not on github.com: name the repository with --repo OWNER/NAME or GITHUB_REPOSITORY")
    })
}

fn canonical(path: &Path) -> Result<PathBuf, String> {
    path.canonicalize()
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// `path` relative to the checkout's top, with `/`; a file that does not
/// exist yet (a new .dockerignore) is placed by its directory.
fn in_repo(top: &Path, path: &Path) -> Result<String, String> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| format!("{}: not a file", path.display()))?;
    let full = canonical(dir)?.join(name);
    let relative = full.strip_prefix(top).map_err(|_| {
        format!(
            "{} is outside the git checkout {}",
            path.display(),
            top.display()
        )
    })?;
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Ok(parts.join("/"))
}
