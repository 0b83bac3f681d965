//! `dockfix pr`: the rewrite `--write` would make, committed on a branch of
//! its own, pushed, and proposed as a GitHub pull request (see `crate::pr`).
//! The checkout itself is never written.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use super::discover::Input;
use super::markdown;
use super::report::{quoted, quoted_path, Output};
use crate::pr::api::{self, Api, Proposal};
use crate::pr::git::{Pushed, Repo};
use crate::pr::{self as plan, Change};
use crate::rules::Rule;

#[derive(Args)]
pub struct PrOptions {
    /// The branch the pull request merges into (default: the branch
    /// checked out).
    #[arg(long, value_name = "BRANCH")]
    base: Option<String>,
    /// The git remote to push the branch to.
    #[arg(long, default_value = "origin", value_name = "NAME")]
    remote: String,
    /// The GitHub repository (default: the remote's, when it is on
    /// github.com, else $GITHUB_REPOSITORY).
    #[arg(long, value_name = "OWNER/NAME")]
    repo: Option<String>,
    /// Print the branch, commit and pull request dockfix would make, and
    /// make none.
    #[arg(long)]
    dry_run: bool,
    /// Build each rewritten Dockerfile before and after the rewrite on the
    /// engine `docker` reaches, and put the image sizes and the rebuild
    /// times after a source edit in the body.
    #[arg(long)]
    pub measure: bool,
}

/// The checkout `dockfix pr` works in, checked before any rewrite.
pub struct Checkout {
    repo: Repo,
    /// The checkout's top, canonical.
    top: PathBuf,
}

impl Checkout {
    /// The checkout holding the current directory, which must be clean; the
    /// inputs inside submodules are left out (they belong to other
    /// repositories).
    pub fn open(inputs: &mut Vec<Input>) -> Result<Checkout, String> {
        let repo = Repo::discover(Path::new("."))?;
        let unclean = repo.unclean()?;
        if !unclean.is_empty() {
            return Err(format!(
                "uncommitted or untracked files: {}; the rewrite reads the checkout, and the pull request must hold only dockfix's rewrite of what is committed",
                unclean.iter().map(|p| quoted(p)).collect::<Vec<_>>().join(", ")
            ));
        }
        let top = canonical(&repo.top)?;
        let submodules = repo.submodules()?;
        let mut outside = Ok(());
        inputs.retain(|input| {
            let Input::File(path) = input else {
                return true;
            };
            let within = match in_repo(&top, path) {
                Ok(within) => within,
                Err(e) => {
                    outside = Err(e);
                    return false;
                }
            };
            match submodules
                .iter()
                .find(|s| within.starts_with(&format!("{s}/")))
            {
                Some(submodule) => {
                    let (within, submodule) = (quoted(&within), quoted(submodule));
                    say!("dockfix pr: leaving out {within}: it is in submodule {submodule}; run dockfix pr there");
                    false
                }
                None => true,
            }
        });
        outside?;
        Ok(Checkout { repo, top })
    }

    /// Refuses configuration files the repository does not hold (above
    /// its top, or ignored by git): the pull request's CI would not read
    /// them, so its checks would disagree with the rewrite.
    pub fn admit_configs<'p>(&self, configs: impl Iterator<Item = &'p Path>) -> Result<(), String> {
        for config in configs {
            let within = in_repo(&self.top, config).map_err(|_| {
                format!(
                    "{} is outside the checkout: the repository's CI would not read it; use --isolated or a configuration in the repository",
                    quoted_path(config)
                )
            })?;
            if !self.repo.tracks(&within) {
                return Err(format!(
                    "{} is not tracked by git: the repository's CI would not read it; commit it or use --isolated",
                    quoted(&within)
                ));
            }
        }
        Ok(())
    }

    /// Paths as the repository names them, in the pull request and its
    /// body, wherever dockfix ran from.
    fn relabel(&self, out: &mut Output) {
        let label = |path: &mut String| {
            if let Ok(within) = in_repo(&self.top, Path::new(path.as_str())) {
                *path = within;
            }
        };
        for file in &mut out.files {
            label(&mut file.path);
            file.companions.iter_mut().for_each(label);
            file.left.iter_mut().for_each(|f| label(&mut f.file));
        }
        out.errors.iter_mut().for_each(|e| label(&mut e.file));
    }
}

/// What `dockfix pr` was asked: the options that decide its pull request.
pub struct Request<'a> {
    pub options: &'a PrOptions,
    /// The paths given (none: the current directory).
    pub paths: &'a [PathBuf],
    /// The options that chose the fixes, as typed.
    pub fix_options: &'a str,
}

/// Turns the run's rewrite into a pull request; the exit code.
pub fn open(checkout: Checkout, out: Output, request: &Request) -> u8 {
    match propose(checkout, out, request) {
        Ok(()) => 0,
        Err(e) => {
            say!("dockfix pr: {e}");
            2
        }
    }
}

fn propose(checkout: Checkout, mut out: Output, request: &Request) -> Result<(), String> {
    let options = request.options;
    checkout.relabel(&mut out);
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
    let Checkout { repo, top } = &checkout;
    let changes = out
        .changes
        .iter()
        .map(|c| {
            Ok(Change {
                path: in_repo(top, &c.path)?,
                before: c.before.clone(),
                after: c.after.clone(),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let rewritten: Vec<(String, Vec<&'static Rule>)> = out
        .files
        .iter()
        .filter(|f| !f.applied.is_empty())
        .map(|f| (f.path.clone(), f.applied.clone()))
        .collect();
    let base = match &options.base {
        Some(base) => base.clone(),
        None => repo
            .current_branch()
            .ok_or("no branch is checked out: name the pull request's base with --base")?,
    };
    // The pull request holds the rewrite, not commits the remote lacks. A
    // dry run needs no network: it goes by the branch as last fetched.
    let head = repo.head()?;
    let tip = if options.dry_run {
        repo.fetched_branch(&options.remote, &base)
    } else {
        repo.remote_branch(&options.remote, &base)?
    };
    match tip {
        Some(tip) if tip == head => {}
        Some(tip) => {
            return Err(format!(
                "HEAD ({}) is not {}'s {base} ({}): the pull request would carry other commits; check out {base} as the remote has it",
                &head[..12.min(head.len())],
                options.remote,
                &tip[..12.min(tip.len())]
            ))
        }
        None if options.dry_run => {
            return Err(format!(
                "no branch {base} was fetched from {}: a dry run does not ask the remote; run git fetch first",
                options.remote
            ))
        }
        None => return Err(format!("{} has no branch {base}", options.remote)),
    }
    let branch = plan::branch(&base, &changes);
    let paths: Vec<String> = match request.paths {
        [] => vec![in_repo(top, Path::new("."))?],
        paths => paths
            .iter()
            .map(|p| in_repo(top, p))
            .collect::<Result<_, _>>()?,
    };
    let scope = plan::scope(&base, &paths, request.fix_options);
    let title = plan::title(&rewritten);
    let message = plan::commit_message(&rewritten);
    let body = format!(
        "{}\n{scope}\n",
        markdown::body(&out, !options.dry_run, request.fix_options)
    );
    if options.dry_run {
        let files: Vec<_> = changes.iter().map(|c| quoted(&c.path)).collect();
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
        None => github_repository(repo, &options.remote)?,
    };
    let url = std::env::var("GITHUB_API_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| api::DEFAULT_URL.into());
    let api = Api::new(&url, token, name);
    let earlier = api.from_branch(&branch)?;
    let open = earlier.iter().find(|p| p.is_open());
    if let (None, Some(closed)) = (open, earlier.first()) {
        say!(
            "dockfix pr: pull request #{} for this change was closed; not opening it again",
            closed.number
        );
        return Ok(());
    }
    let commit = repo.commit(&head, &changes, &message)?;
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
    let (verb, number, link) = match open {
        Some(open) if open.title == title && open.body.as_deref() == Some(&body) => {
            ("kept", open.number, open.html_url.clone())
        }
        Some(open) => {
            let pull = api.update(open.number, &proposal)?;
            ("updated", pull.number, pull.html_url)
        }
        None => {
            let pull = api.create(&proposal)?;
            ("opened", pull.number, pull.html_url)
        }
    };
    say!("dockfix pr: {verb} pull request #{number}");
    supersede(&api, &base, &branch, &scope, number)?;
    println!("{link}");
    Ok(())
}

/// Closes the open pull requests an earlier run made for the same files
/// (same scope, another branch): the new one replaces them.
fn supersede(api: &Api, base: &str, branch: &str, scope: &str, number: u64) -> Result<(), String> {
    for old in api.open_into(base)? {
        let ours = old.head.branch.starts_with("dockfix/")
            && old.head.branch != branch
            && old
                .head
                .repo
                .as_ref()
                .is_some_and(|r| r.full_name == api.repo())
            && old.body.as_deref().is_some_and(|b| b.contains(scope));
        if ours {
            let body = format!(
                "Superseded by #{number}: the same files were rewritten again.\n\n{}",
                old.body.as_deref().unwrap_or_default()
            );
            api.close(old.number, &body)?;
            say!(
                "dockfix pr: closed pull request #{}, superseded",
                old.number
            );
        }
    }
    Ok(())
}

/// The repository to open the pull request in: the remote's, when it is
/// on github.com, else `$GITHUB_REPOSITORY` (GitHub Enterprise in Actions).
fn github_repository(repo: &Repo, remote: &str) -> Result<String, String> {
    let url = repo.remote_url(remote)?;
    if let Some(name) = api::repo_of_remote(&url) {
        return Ok(name);
    }
    std::env::var("GITHUB_REPOSITORY")
        .ok()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            format!(
                "remote {remote} ({}) is not on github.com: name the repository with --repo OWNER/NAME or GITHUB_REPOSITORY",
                api::without_credentials(&url)
            )
        })
}

fn canonical(path: &Path) -> Result<PathBuf, String> {
    path.canonicalize()
        .map_err(|e| format!("{}: {e}", quoted_path(path)))
}

/// `path` relative to the checkout's top, with `/`: the file a symbolic
/// link points to, as `--write` writes there; a file that does not exist
/// yet (a new .dockerignore) is placed by its directory.
fn in_repo(top: &Path, path: &Path) -> Result<String, String> {
    let full = match path.canonicalize() {
        Ok(full) => full,
        Err(_) => {
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let name = path
                .file_name()
                .ok_or_else(|| format!("{}: not a file", quoted_path(path)))?;
            canonical(dir)?.join(name)
        }
    };
    let relative = full.strip_prefix(top).map_err(|_| {
        format!(
            "{} is outside the git checkout {}",
            quoted_path(path),
            quoted_path(top)
        )
    })?;
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Ok(parts.join("/"))
}
