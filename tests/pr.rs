//! `dockfix pr`: the git side against a real local bare repository, and the
//! GitHub side as contract tests against a local server that accepts only
//! the requests GitHub's REST API documents (API version 2022-11-28):
//! list pull requests by head, create one, update one.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use common::http::{self, Request};

const TOKEN: &str = "ghs_test-token";

/// A Dockerfile with two safe fixes: the pip install moves before the full
/// copy (DF101) and loses its cache (DF204).
const DOCKERFILE: &str = "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\nCMD [\"python\", \"app.py\"]\n";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// A checkout of `acme/app` with a bare `origin` beside it.
struct Checkout {
    _dir: tempfile::TempDir,
    work: PathBuf,
    origin: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim_end()
        .to_string()
}

fn checkout(dockerfile: &str) -> Checkout {
    let dir = tempfile::tempdir().unwrap();
    let origin = dir.path().join("origin.git");
    let work = dir.path().join("app");
    std::fs::create_dir_all(&work).unwrap();
    git(
        dir.path(),
        &["init", "-q", "--bare", "-b", "main", "origin.git"],
    );
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["config", "user.name", "Dock Fix"]);
    git(&work, &["config", "user.email", "bot@example.com"]);
    std::fs::write(work.join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(work.join("requirements.txt"), "flask==3.0.0\n").unwrap();
    std::fs::write(work.join("app.py"), "print('hi')\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "app"]);
    git(
        &work,
        &["remote", "add", "origin", origin.to_str().unwrap()],
    );
    git(&work, &["push", "-q", "origin", "main"]);
    Checkout {
        _dir: dir,
        work,
        origin,
    }
}

fn dockfix_pr(checkout: &Checkout, github: &FakeGitHub, args: &[&str]) -> Run {
    dockfix_pr_with(checkout, github, args, &[])
}

fn dockfix_pr_with(
    checkout: &Checkout,
    github: &FakeGitHub,
    args: &[&str],
    env: &[(&str, &str)],
) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_dockfix"))
        .current_dir(&checkout.work)
        .arg("pr")
        .args(args)
        .envs(env.iter().copied())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", &checkout.work)
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_REPOSITORY", "acme/app")
        .env("GITHUB_API_URL", &github.url)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The `dockfix/` branches of the bare repository, with their commits.
fn remote_branches(checkout: &Checkout) -> Vec<(String, String)> {
    git(
        &checkout.origin,
        &[
            "for-each-ref",
            "--format=%(refname:short) %(objectname)",
            "refs/heads/dockfix",
        ],
    )
    .lines()
    .map(|l| {
        let (name, sha) = l.split_once(' ').unwrap();
        (name.to_string(), sha.to_string())
    })
    .collect()
}

#[derive(Clone, Debug)]
struct PullRequest {
    number: u64,
    open: bool,
    head: String,
    base: String,
    title: String,
    body: String,
}

#[derive(Default)]
struct State {
    /// Every request, as `METHOD target`.
    log: Vec<String>,
    /// Requests the documented API would not accept, and why.
    violations: Vec<String>,
    pulls: Vec<PullRequest>,
    /// Answers every request with this status and GitHub error message.
    refuse: Option<(u16, String)>,
    /// Answers the next requests with these statuses, and `Retry-After: 0`
    /// where asked, as GitHub does when busy or rate limiting (`None`: as
    /// usual).
    hiccups: std::collections::VecDeque<Option<(u16, bool)>>,
}

/// A stand-in for api.github.com serving the repository `acme/app`, which
/// checks each request against GitHub's documentation and keeps pull
/// requests as GitHub does (one open pull request per head).
struct FakeGitHub {
    url: String,
    state: Arc<Mutex<State>>,
}

impl FakeGitHub {
    fn start() -> FakeGitHub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let base = url.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let Ok(request) = http::read_request(&stream) else {
                    continue;
                };
                let mut headers =
                    vec![("Content-Type".to_string(), "application/json".to_string())];
                let (status, body) = {
                    let mut state = shared.lock().unwrap();
                    match state.hiccups.pop_front().flatten() {
                        Some((status, retry_after)) => {
                            state
                                .log
                                .push(format!("{} {} ({status})", request.method, request.target));
                            if retry_after {
                                headers.push(("Retry-After".into(), "0".into()));
                            }
                            (status, json!({ "message": "try again" }))
                        }
                        None => answer(&mut state, &request, &base),
                    }
                };
                let reason = match status {
                    200 => "200 OK",
                    201 => "201 Created",
                    401 => "401 Unauthorized",
                    403 => "403 Forbidden",
                    404 => "404 Not Found",
                    422 => "422 Unprocessable Entity",
                    429 => "429 Too Many Requests",
                    502 => "502 Bad Gateway",
                    _ => "400 Bad Request",
                };
                let _ = http::respond(&stream, reason, &headers, body.to_string().as_bytes(), true);
            }
        });
        FakeGitHub { url, state }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

fn pull_json(pull: &PullRequest, base_url: &str) -> Value {
    json!({
        "number": pull.number,
        "html_url": format!("{base_url}/acme/app/pull/{}", pull.number),
        "state": if pull.open { "open" } else { "closed" },
        "title": pull.title,
        "body": pull.body,
        "head": {
            "ref": pull.head,
            "label": format!("acme:{}", pull.head),
            "repo": { "full_name": "acme/app" },
        },
        "base": { "ref": pull.base },
    })
}

/// GitHub's answer, after checking the request against the documented
/// contract (a violation is recorded and answered 400).
fn answer(state: &mut State, request: &Request, base_url: &str) -> (u16, Value) {
    state
        .log
        .push(format!("{} {}", request.method, request.target));
    let mut violation = |why: String| {
        state
            .violations
            .push(format!("{} {}: {why}", request.method, request.target));
        (400, json!({ "message": why }))
    };
    // Headers every call must carry (docs: "Getting started with the REST API").
    for (name, expected) in [
        ("accept", Some("application/vnd.github+json")),
        ("authorization", Some(&*format!("Bearer {TOKEN}"))),
        ("x-github-api-version", Some("2022-11-28")),
        ("user-agent", None),
    ] {
        match (request.header(name), expected) {
            (None, _) => return violation(format!("no {name} header")),
            (Some(got), Some(expected)) if got != expected => {
                return violation(format!("{name}: {got}"))
            }
            _ => {}
        }
    }
    if let Some((status, message)) = &state.refuse {
        return (
            *status,
            json!({ "message": message, "documentation_url": "https://docs.github.com/rest" }),
        );
    }
    let (path, query) = request
        .target
        .split_once('?')
        .unwrap_or((&request.target, ""));
    let params: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), percent_decode(v))
        })
        .collect();
    let body: Value = if request.body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(e) => return violation(format!("body is not JSON: {e}")),
        }
    };
    let json_body = request.header("content-type").as_deref() == Some("application/json");
    match (request.method.as_str(), path) {
        // GET /repos/{owner}/{repo}/pulls: state, head (`user:ref-name`), base, sort, direction, per_page, page.
        ("GET", "/repos/acme/app/pulls") => {
            let known = [
                "state",
                "head",
                "base",
                "sort",
                "direction",
                "per_page",
                "page",
            ];
            if let Some((k, _)) = params.iter().find(|(k, _)| !known.contains(&k.as_str())) {
                return violation(format!("unknown parameter {k}"));
            }
            let param = |name: &str| {
                params
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            };
            let wanted = param("state").unwrap_or_else(|| "open".into());
            if !["open", "closed", "all"].contains(&wanted.as_str()) {
                return violation(format!("state is {wanted}"));
            }
            let head = match param("head") {
                Some(head) => match head.strip_prefix("acme:") {
                    Some(branch) => Some(branch.to_string()),
                    None => return violation(format!("head is not `user:ref-name`: {head}")),
                },
                None => None,
            };
            let base = param("base");
            if head.is_none() && base.is_none() {
                return violation("lists every pull request of the repository".into());
            }
            let found: Vec<Value> = state
                .pulls
                .iter()
                .filter(|p| head.as_ref().is_none_or(|h| &p.head == h))
                .filter(|p| base.as_ref().is_none_or(|b| &p.base == b))
                .filter(|p| wanted == "all" || p.open == (wanted == "open"))
                .map(|p| pull_json(p, base_url))
                .collect();
            (200, Value::Array(found))
        }
        // POST /repos/{owner}/{repo}/pulls: title, head, base required; body, head_repo, maintainer_can_modify, draft, issue.
        ("POST", "/repos/acme/app/pulls") => {
            if !json_body {
                return violation("body not sent as application/json".into());
            }
            let known = [
                "title",
                "head",
                "head_repo",
                "base",
                "body",
                "maintainer_can_modify",
                "draft",
                "issue",
            ];
            if let Some(k) = body
                .as_object()
                .and_then(|o| o.keys().find(|k| !known.contains(&k.as_str())))
            {
                return violation(format!("unknown field {k}"));
            }
            let field = |name: &str| body[name].as_str().map(String::from);
            let (Some(title), Some(head), Some(base)) =
                (field("title"), field("head"), field("base"))
            else {
                return violation("title, head and base are required strings".into());
            };
            if state.pulls.iter().any(|p| p.head == head && p.open) {
                return (
                    422,
                    json!({ "message": "Validation Failed", "errors": [{ "message": format!("A pull request already exists for acme:{head}.") }] }),
                );
            }
            let pull = PullRequest {
                number: 7 + state.pulls.len() as u64,
                open: true,
                head,
                base,
                title,
                body: field("body").unwrap_or_default(),
            };
            state.pulls.push(pull.clone());
            (201, pull_json(&pull, base_url))
        }
        // PATCH /repos/{owner}/{repo}/pulls/{pull_number}: title, body, state, base, maintainer_can_modify.
        ("PATCH", p) if p.starts_with("/repos/acme/app/pulls/") => {
            if !json_body {
                return violation("body not sent as application/json".into());
            }
            let known = ["title", "body", "state", "base", "maintainer_can_modify"];
            if let Some(k) = body
                .as_object()
                .and_then(|o| o.keys().find(|k| !known.contains(&k.as_str())))
            {
                return violation(format!("unknown field {k}"));
            }
            let number: u64 = match p["/repos/acme/app/pulls/".len()..].parse() {
                Ok(n) => n,
                Err(_) => return violation("pull_number is not a number".into()),
            };
            let Some(pull) = state.pulls.iter_mut().find(|p| p.number == number) else {
                return (404, json!({ "message": "Not Found" }));
            };
            if let Some(title) = body["title"].as_str() {
                pull.title = title.into();
            }
            if let Some(text) = body["body"].as_str() {
                pull.body = text.into();
            }
            if let Some(base) = body["base"].as_str() {
                pull.base = base.into();
            }
            match body["state"].as_str() {
                Some("closed") => pull.open = false,
                Some("open") => pull.open = true,
                Some(_) => return (422, json!({ "message": "Validation Failed" })),
                None => {}
            }
            let pull = pull.clone();
            (200, pull_json(&pull, base_url))
        }
        _ => violation("not an endpoint dockfix may call".into()),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Commits everything in the checkout and pushes it to `main`.
fn commit_all(checkout: &Checkout, message: &str) {
    git(&checkout.work, &["add", "-A"]);
    git(&checkout.work, &["commit", "-q", "-m", message]);
    git(&checkout.work, &["push", "-q", "origin", "main"]);
}

#[test]
fn contract_pr_opens_a_pull_request_then_keeps_it_instead_of_opening_another() {
    let checkout = checkout(DOCKERFILE);
    let github = FakeGitHub::start();
    let first = dockfix_pr(&checkout, &github, &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let branches = remote_branches(&checkout);
    assert_eq!(branches.len(), 1, "{branches:?}");
    let (branch, commit) = branches[0].clone();
    assert!(branch.starts_with("dockfix/"), "{branch}");
    assert_eq!(
        first.stdout.trim(),
        format!("{}/acme/app/pull/7", github.url)
    );
    {
        let state = github.state();
        assert!(state.violations.is_empty(), "{:?}", state.violations);
        let head = format!("head=acme%3A{}", branch.replace('/', "%2F"));
        assert_eq!(
            state.log,
            [
                format!("GET /repos/acme/app/pulls?state=all&{head}"),
                "POST /repos/acme/app/pulls".to_string(),
                "GET /repos/acme/app/pulls?state=open&base=main&per_page=100".to_string(),
            ]
        );
        let pull = &state.pulls[0];
        assert_eq!(
            (pull.head.as_str(), pull.base.as_str()),
            (branch.as_str(), "main")
        );
        assert_eq!(pull.title, "dockfix: rewrite Dockerfile (DF101, DF204)");
        for expected in [
            "dockfix rewrote 1 Dockerfile (2 fixes)",
            "| DF101 `install-before-copy` | 1 |",
            "dependency install now cached across source edits",
            "| DF204 `pip-no-cache-dir` | 1 |",
            "<!-- dockfix-scope: ",
        ] {
            assert!(pull.body.contains(expected), "{expected}: {}", pull.body);
        }
    }

    // The commit is the rewrite `--write` makes, on the checkout's commit,
    // with a message naming the rules; the checkout itself is untouched.
    let head = git(&checkout.work, &["rev-parse", "HEAD"]);
    assert_eq!(
        git(&checkout.origin, &["rev-parse", &format!("{commit}^")]),
        head
    );
    let message = git(&checkout.origin, &["log", "-1", "--format=%B", &commit]);
    assert!(
        message.starts_with(
            "dockfix: rewrite Dockerfile (DF101, DF204)\n\n- DF101 install-before-copy: "
        ),
        "{message}"
    );
    assert!(message.contains("- DF204 pip-no-cache-dir: "), "{message}");
    let committed = git(&checkout.origin, &["show", &format!("{commit}:Dockerfile")]);
    assert_eq!(
        std::fs::read_to_string(checkout.work.join("Dockerfile")).unwrap(),
        DOCKERFILE
    );
    assert_eq!(git(&checkout.work, &["status", "--porcelain"]), "");
    assert_eq!(
        git(&checkout.work, &["rev-parse", "--abbrev-ref", "HEAD"]),
        "main"
    );
    let written = Command::new(env!("CARGO_BIN_EXE_dockfix"))
        .current_dir(&checkout.work)
        .args(["--write", "Dockerfile"])
        .output()
        .unwrap();
    assert_eq!(written.status.code(), Some(0));
    assert_eq!(
        committed + "\n",
        std::fs::read_to_string(checkout.work.join("Dockerfile")).unwrap()
    );
    git(&checkout.work, &["checkout", "-q", "--", "."]);

    // The same change again: the same branch and commit, nothing pushed,
    // and the open pull request kept rather than a second one opened.
    let second = dockfix_pr(&checkout, &github, &[]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second.stderr.contains("already up to date"),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains("kept pull request #7"),
        "{}",
        second.stderr
    );
    assert_eq!(remote_branches(&checkout), branches);
    let state = github.state();
    assert!(state.violations.is_empty(), "{:?}", state.violations);
    assert_eq!(state.log.len(), 5, "{:?}", state.log);
    assert!(state.log[3].starts_with("GET /repos/acme/app/pulls?state=all&head="));
    assert!(state.log[4].starts_with("GET /repos/acme/app/pulls?state=open&base=main"));
    assert_eq!(state.pulls.len(), 1);
}

#[test]
fn contract_pr_updates_an_open_pull_request_whose_text_changed() {
    let checkout = checkout(DOCKERFILE);
    let github = FakeGitHub::start();
    assert_eq!(dockfix_pr(&checkout, &github, &[]).code, 0);
    github.state().pulls[0].body = "edited by hand".into();
    let run = dockfix_pr(&checkout, &github, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("updated pull request #7"),
        "{}",
        run.stderr
    );
    let state = github.state();
    assert!(state.violations.is_empty(), "{:?}", state.violations);
    assert!(state
        .log
        .contains(&"PATCH /repos/acme/app/pulls/7".to_string()));
    assert!(state.pulls[0].body.starts_with("## dockfix"));
    assert_eq!(state.pulls.len(), 1);
}

#[test]
fn pr_after_an_unrelated_commit_keeps_the_branch_and_moves_it_onto_the_new_base() {
    let checkout = checkout(DOCKERFILE);
    let github = FakeGitHub::start();
    assert_eq!(dockfix_pr(&checkout, &github, &[]).code, 0);
    let before = remote_branches(&checkout);
    std::fs::write(checkout.work.join("README"), "docs\n").unwrap();
    commit_all(&checkout, "docs");
    let run = dockfix_pr(&checkout, &github, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains(" updated on origin"), "{}", run.stderr);
    let after = remote_branches(&checkout);
    assert_eq!(
        after[0].0, before[0].0,
        "the same change names the same branch"
    );
    assert_ne!(after[0].1, before[0].1);
    let head = git(&checkout.work, &["rev-parse", "HEAD"]);
    assert_eq!(
        git(
            &checkout.origin,
            &["rev-parse", &format!("{}^", after[0].1)]
        ),
        head
    );
    assert_eq!(github.state().pulls.len(), 1);
}

#[test]
fn contract_pr_closes_the_pull_request_a_new_rewrite_of_the_same_files_supersedes() {
    let checkout = checkout(DOCKERFILE);
    let github = FakeGitHub::start();
    assert_eq!(dockfix_pr(&checkout, &github, &[]).code, 0);
    // Another scope (other options) has a pull request of its own.
    assert_eq!(
        dockfix_pr(&checkout, &github, &["--select", "DF204"]).code,
        0
    );
    std::fs::write(
        checkout.work.join("Dockerfile"),
        DOCKERFILE.replace("3.12", "3.13"),
    )
    .unwrap();
    commit_all(&checkout, "python 3.13");
    let run = dockfix_pr(&checkout, &github, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("opened pull request #9"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("closed pull request #7, superseded"),
        "{}",
        run.stderr
    );
    let state = github.state();
    assert!(state.violations.is_empty(), "{:?}", state.violations);
    let open: Vec<u64> = state
        .pulls
        .iter()
        .filter(|p| p.open)
        .map(|p| p.number)
        .collect();
    assert_eq!(open, [8, 9]);
    assert!(
        state.pulls[0].body.starts_with("Superseded by #9"),
        "{}",
        state.pulls[0].body
    );
}

#[test]
fn contract_pr_does_not_reopen_a_change_a_person_closed() {
    let checkout = checkout(DOCKERFILE);
    let github = FakeGitHub::start();
    assert_eq!(dockfix_pr(&checkout, &github, &[]).code, 0);
    let (branch, commit) = remote_branches(&checkout)[0].clone();
    github.state().pulls[0].open = false;
    std::fs::write(checkout.work.join("README"), "docs\n").unwrap();
    commit_all(&checkout, "docs");
    let run = dockfix_pr(&checkout, &github, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("#7 for this change was closed"),
        "{}",
        run.stderr
    );
    assert_eq!(
        remote_branches(&checkout),
        [(branch, commit)],
        "nothing pushed"
    );
    let state = github.state();
    assert_eq!(state.pulls.len(), 1);
    assert!(
        state.log.last().unwrap().starts_with("GET "),
        "{:?}",
        state.log
    );
}

#[test]
fn pr_dry_run_prints_the_plan_and_makes_no_commit_push_or_request() {
    let checkout = checkout(DOCKERFILE);
    let github = FakeGitHub::start();
    let run = dockfix_pr(&checkout, &github, &["--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("branch: dockfix/"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("pull request: dockfix: rewrite Dockerfile (DF101, DF204)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("dockfix would rewrite 1 Dockerfile"),
        "{}",
        run.stdout
    );
    assert!(remote_branches(&checkout).is_empty());
    assert!(git(&checkout.work, &["branch", "--list", "dockfix/*"]).is_empty());
    assert!(github.state().log.is_empty());
    // The branch it names is the one a real run pushes.
    let planned = run.stdout.lines().next().unwrap()["branch: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(dockfix_pr(&checkout, &github, &[]).code, 0);
    assert_eq!(remote_branches(&checkout)[0].0, planned);
}

#[test]
fn pr_dry_run_needs_no_network() {
    let checkout = checkout(DOCKERFILE);
    let github = FakeGitHub::start();
    // The remote cannot be reached, as offline.
    let gone = checkout.origin.with_extension("gone");
    std::fs::rename(&checkout.origin, &gone).unwrap();
    let run = dockfix_pr(&checkout, &github, &["--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("branch: dockfix/"), "{}", run.stdout);
    assert!(github.state().log.is_empty());
    // It still goes by the branch as last fetched: a local commit the
    // remote lacks is refused.
    std::fs::write(checkout.work.join("wip.txt"), "wip\n").unwrap();
    git(&checkout.work, &["add", "wip.txt"]);
    git(&checkout.work, &["commit", "-q", "-m", "wip"]);
    let run = dockfix_pr(&checkout, &github, &["--dry-run"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("is not origin's main"),
        "{}",
        run.stderr
    );
    // A base never fetched is named as such.
    let run = dockfix_pr(&checkout, &github, &["--dry-run", "--base", "release"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(
            "no branch release was fetched from origin: a dry run does not ask the remote"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn pr_dry_run_quotes_a_path_with_a_newline() {
    let checkout = checkout("FROM scratch\nCOPY app /app\n");
    std::fs::create_dir(checkout.work.join("odd\nname")).unwrap();
    std::fs::write(
        checkout.work.join("odd\nname/Dockerfile"),
        "FROM scratch\nCMD prog\n",
    )
    .unwrap();
    commit_all(&checkout, "odd");
    let github = FakeGitHub::start();
    let run = dockfix_pr(&checkout, &github, &["--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("\nfiles: \"odd\\nname/Dockerfile\"\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn pr_with_nothing_to_change_pushes_and_asks_nothing() {
    let checkout = checkout("FROM scratch\nCOPY app /app\n");
    let github = FakeGitHub::start();
    let run = dockfix_pr(&checkout, &github, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("nothing to change"), "{}", run.stderr);
    assert!(remote_branches(&checkout).is_empty());
    assert!(github.state().log.is_empty());
}

#[test]
fn pr_refuses_uncommitted_untracked_and_unpushed_work() {
    let checkout = checkout(DOCKERFILE);
    let github = FakeGitHub::start();
    std::fs::write(checkout.work.join("app.py"), "print('changed')\n").unwrap();
    let run = dockfix_pr(&checkout, &github, &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("uncommitted or untracked files: app.py;"),
        "{}",
        run.stderr
    );
    git(&checkout.work, &["checkout", "-q", "--", "."]);
    // An untracked Dockerfile would be committed as a new file.
    std::fs::create_dir(checkout.work.join("scratch")).unwrap();
    std::fs::write(checkout.work.join("scratch/Dockerfile"), DOCKERFILE).unwrap();
    let run = dockfix_pr(&checkout, &github, &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("untracked files: scratch/"),
        "{}",
        run.stderr
    );
    std::fs::remove_dir_all(checkout.work.join("scratch")).unwrap();
    // A local commit the remote lacks would ride along.
    std::fs::write(checkout.work.join("wip.txt"), "wip\n").unwrap();
    git(&checkout.work, &["add", "wip.txt"]);
    git(&checkout.work, &["commit", "-q", "-m", "wip"]);
    let run = dockfix_pr(&checkout, &github, &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("is not origin's main"),
        "{}",
        run.stderr
    );
    assert!(remote_branches(&checkout).is_empty());
    assert!(github.state().log.is_empty());
}

#[test]
fn pr_commits_nothing_while_a_dockerfile_has_errors() {
    let checkout = checkout(DOCKERFILE);
    std::fs::create_dir(checkout.work.join("broken")).unwrap();
    std::fs::write(checkout.work.join("broken/Dockerfile"), "FROM x\nENV FOO\n").unwrap();
    commit_all(&checkout, "broken");
    let github = FakeGitHub::start();
    let run = dockfix_pr(&checkout, &github, &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("broken/Dockerfile:2:1: "),
        "{}",
        run.stderr
    );
    assert!(remote_branches(&checkout).is_empty());
    assert!(github.state().log.is_empty());
}

#[test]
fn pr_names_files_as_the_repository_does_from_any_directory() {
    let checkout = checkout(DOCKERFILE);
    std::fs::create_dir(checkout.work.join("docs")).unwrap();
    std::fs::write(checkout.work.join("docs/README"), "docs\n").unwrap();
    commit_all(&checkout, "docs");
    let out = Command::new(env!("CARGO_BIN_EXE_dockfix"))
        .current_dir(checkout.work.join("docs"))
        .args(["pr", "--dry-run", "../Dockerfile"])
        .env("HOME", &checkout.work)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("files: Dockerfile\n"), "{stdout}");
    assert!(stdout.contains("### `Dockerfile`"), "{stdout}");
    assert!(!stdout.contains(".."), "{stdout}");
}

#[test]
fn pr_commits_through_symbolic_links_and_git_attributes() {
    let checkout = checkout(DOCKERFILE);
    let work = &checkout.work;
    std::fs::create_dir(work.join("docker")).unwrap();
    git(work, &["mv", "Dockerfile", "docker/Dockerfile.real"]);
    std::os::unix::fs::symlink("docker/Dockerfile.real", work.join("Dockerfile")).unwrap();
    // Stored with LF, checked out with CRLF.
    std::fs::write(work.join(".gitattributes"), "docker/* text eol=crlf\n").unwrap();
    commit_all(&checkout, "layout");
    std::fs::remove_file(work.join("docker/Dockerfile.real")).unwrap();
    git(work, &["checkout", "-q", "--", "docker/Dockerfile.real"]);
    let github = FakeGitHub::start();
    let run = dockfix_pr(&checkout, &github, &["Dockerfile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (branch, _) = remote_branches(&checkout)[0].clone();
    let changed = git(&checkout.origin, &["diff", "--numstat", "main", &branch]);
    let rows: Vec<&str> = changed.lines().collect();
    assert_eq!(rows.len(), 1, "{changed}");
    // Only the moved lines, not every line's ending; the link stays a link.
    assert!(rows[0].ends_with("\tdocker/Dockerfile.real"), "{changed}");
    let added: usize = rows[0].split('\t').next().unwrap().parse().unwrap();
    assert!(added <= 3, "{changed}");
    let link = git(&checkout.origin, &["ls-tree", &branch, "Dockerfile"]);
    assert!(link.starts_with("120000 "), "{link}");
}

#[test]
fn pr_leaves_out_dockerfiles_in_submodules() {
    let checkout = checkout(DOCKERFILE);
    let library = checkout.work.parent().unwrap().join("library");
    std::fs::create_dir(&library).unwrap();
    git(&library, &["init", "-q", "-b", "main"]);
    git(&library, &["config", "user.name", "Dock Fix"]);
    git(&library, &["config", "user.email", "bot@example.com"]);
    std::fs::write(library.join("Dockerfile"), "FROM scratch\nCMD prog\n").unwrap();
    git(&library, &["add", "."]);
    git(&library, &["commit", "-q", "-m", "library"]);
    git(
        &checkout.work,
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "-q",
            library.to_str().unwrap(),
            "library",
        ],
    );
    commit_all(&checkout, "submodule");
    let github = FakeGitHub::start();
    let run = dockfix_pr(&checkout, &github, &["--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("leaving out library/Dockerfile: it is in submodule library"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("files: Dockerfile\n"), "{}", run.stdout);
}

#[test]
fn pr_commits_one_dockerignore_for_dockerfiles_that_share_it() {
    let node = "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci\n";
    let checkout = checkout(node);
    std::fs::write(checkout.work.join("Dockerfile.dev"), node).unwrap();
    std::fs::write(checkout.work.join("package.json"), "{\"name\": \"app\"}\n").unwrap();
    std::fs::write(
        checkout.work.join("package-lock.json"),
        "{\"lockfileVersion\": 3}\n",
    )
    .unwrap();
    commit_all(&checkout, "node");
    let github = FakeGitHub::start();
    let plan = dockfix_pr(&checkout, &github, &["--select", "DF101", "--dry-run"]);
    let files = plan.stdout.lines().find(|l| l.starts_with("files: "));
    assert_eq!(
        files,
        Some("files: Dockerfile, .dockerignore, Dockerfile.dev"),
        "{}",
        plan.stdout
    );
    let run = dockfix_pr(&checkout, &github, &["--select", "DF101"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (branch, _) = remote_branches(&checkout)[0].clone();
    let changed = git(&checkout.origin, &["diff", "--name-only", "main", &branch]);
    assert_eq!(changed, ".dockerignore\nDockerfile\nDockerfile.dev");
    let ignore = git(
        &checkout.origin,
        &["show", &format!("{branch}:.dockerignore")],
    );
    assert_eq!(ignore, "node_modules");
}

#[test]
fn contract_pr_reports_github_refusals_with_its_message() {
    let checkout = checkout(DOCKERFILE);
    let github = FakeGitHub::start();
    github.state().refuse = Some((401, "Bad credentials".into()));
    let run = dockfix_pr(&checkout, &github, &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("HTTP 401: Bad credentials"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(TOKEN));
    assert!(github.state().violations.is_empty());
    assert!(
        remote_branches(&checkout).is_empty(),
        "asked before pushing"
    );
}

#[test]
fn pr_without_a_token_stops_before_pushing() {
    let checkout = checkout(DOCKERFILE);
    let github = FakeGitHub::start();
    let out = Command::new(env!("CARGO_BIN_EXE_dockfix"))
        .current_dir(&checkout.work)
        .arg("pr")
        .env("HOME", &checkout.work)
        .env_remove("GITHUB_TOKEN")
        .env("GITHUB_API_URL", &github.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("GITHUB_TOKEN is not set"));
    assert!(remote_branches(&checkout).is_empty());
}

#[test]
fn pr_takes_the_fix_options_and_no_output_options() {
    let checkout = checkout(DOCKERFILE);
    let github = FakeGitHub::start();
    for args in [&["--write"][..], &["--format", "json"], &["-"]] {
        let run = dockfix_pr(&checkout, &github, args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
    }
    let run = dockfix_pr(&checkout, &github, &["--dry-run", "--select", "DF204"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("(DF204)"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("Made with `dockfix --write --select DF204`"),
        "{}",
        run.stdout
    );
    assert!(github.state().log.is_empty());
}

#[test]
fn pr_reads_only_configurations_the_repository_holds() {
    let checkout = checkout(DOCKERFILE);
    let github = FakeGitHub::start();
    let above = checkout.work.parent().unwrap().join(".dockfix.toml");
    std::fs::write(&above, "ignore = [\"DF204\"]\n").unwrap();
    let run = dockfix_pr(&checkout, &github, &["--dry-run"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr.contains("is outside the checkout"),
        "{}",
        run.stderr
    );
    let isolated = dockfix_pr(&checkout, &github, &["--dry-run", "--isolated"]);
    assert_eq!(isolated.code, 0, "{}", isolated.stderr);
    std::fs::remove_file(&above).unwrap();
    // Ignored by git: CI would not have it.
    std::fs::write(checkout.work.join(".gitignore"), ".dockfix.toml\n").unwrap();
    commit_all(&checkout, "ignore");
    std::fs::write(
        checkout.work.join(".dockfix.toml"),
        "ignore = [\"DF204\"]\n",
    )
    .unwrap();
    let run = dockfix_pr(&checkout, &github, &["--dry-run"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(".dockfix.toml is not tracked by git"),
        "{}",
        run.stderr
    );
    // A committed one applies, and it is part of what the run was asked.
    std::fs::write(checkout.work.join(".gitignore"), "").unwrap();
    commit_all(&checkout, "config");
    let run = dockfix_pr(&checkout, &github, &["--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("(DF101)"), "{}", run.stdout);
    let scope = |stdout: &str| {
        stdout
            .lines()
            .find(|l| l.contains("dockfix-scope"))
            .map(String::from)
    };
    assert_ne!(scope(&run.stdout), scope(&isolated.stdout));
    assert!(github.state().log.is_empty());
}

#[test]
fn contract_pr_asks_again_when_github_is_busy_but_never_posts_twice() {
    let checkout = checkout(DOCKERFILE);
    let github = FakeGitHub::start();
    // A 502 on the list, a secondary rate limit on the create: both retried.
    github
        .state()
        .hiccups
        .extend([Some((502, false)), None, Some((403, true))]);
    let run = dockfix_pr(&checkout, &github, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    {
        let state = github.state();
        assert!(state.violations.is_empty(), "{:?}", state.violations);
        let methods: Vec<&str> = state
            .log
            .iter()
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        assert_eq!(
            methods,
            ["GET", "GET", "POST", "POST", "GET"],
            "{:?}",
            state.log
        );
        assert!(state.log[2].ends_with("(403)"), "{:?}", state.log);
        assert_eq!(state.pulls.len(), 1);
    }
    // A server error on a create may have created it: not sent again.
    let checkout = self::checkout(DOCKERFILE);
    let github = FakeGitHub::start();
    github.state().hiccups.extend([None, Some((502, false))]);
    let run = dockfix_pr(&checkout, &github, &[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("HTTP 502"), "{}", run.stderr);
    let state = github.state();
    let posts = state.log.iter().filter(|l| l.starts_with("POST")).count();
    assert_eq!(posts, 1, "{:?}", state.log);
}

/// A server that refuses every request with `status`, its body echoing the
/// request's headers (as some proxies and misconfigured servers do), in
/// GitHub's JSON (`json`) or as a page.
fn echoing_server(status: &'static str, json: bool) -> FakeGitHub {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let Ok(request) = http::read_request(&stream) else {
                continue;
            };
            let echo: Vec<String> = request
                .headers
                .iter()
                .map(|(name, value)| format!("{name}: {value}"))
                .collect();
            let body = if json {
                json!({
                    "message": format!("Bad credentials; you sent {}", echo.join(", ")),
                    "errors": [{ "message": format!("token {TOKEN} is not valid") }, { "request": echo }],
                    "documentation_url": "https://docs.github.com/rest",
                })
                .to_string()
            } else {
                format!("<html><pre>{}</pre></html>", echo.join("\n"))
            };
            let headers = [("Content-Type".to_string(), "text/plain".to_string())];
            let _ = http::respond(&stream, status, &headers, body.as_bytes(), true);
        }
    });
    FakeGitHub {
        url,
        state: Arc::default(),
    }
}

#[test]
fn pr_never_prints_the_token_an_error_body_echoes() {
    for (status, json, shown) in [
        (
            "401 Unauthorized",
            true,
            "HTTP 401: Bad credentials; you sent user-agent: dockfix/",
        ),
        ("502 Bad Gateway", false, "HTTP 502 Bad Gateway\n"),
    ] {
        let checkout = checkout(DOCKERFILE);
        let github = echoing_server(status, json);
        let run = dockfix_pr(&checkout, &github, &[]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains(shown), "{}", run.stderr);
        if json {
            for part in [
                "authorization: [redacted]",
                "(see https://docs.github.com/rest)",
            ] {
                assert!(run.stderr.contains(part), "{}", run.stderr);
            }
        }
        let output = run.stdout + &run.stderr;
        for secret in [TOKEN, "test-token", "Bearer ghs"] {
            assert!(!output.contains(secret), "{secret}: {output}");
        }
        assert!(remote_branches(&checkout).is_empty());
    }
}

/// A stand-in for the docker CLI, as `dockfix pr --measure` uses it. A
/// build prints BuildKit's plain progress: a header per instruction, and
/// after the source edit `CACHED` for each instruction before the first
/// copy of the whole context, as BuildKit serves them. An image's size is
/// its Dockerfile's length in kilobytes. Every call is logged.
const FAKE_DOCKER: &str = r##"#!/bin/sh
echo "$*" >> "$FAKE_DOCKER_LOG"
case "$1" in
version) echo 27.1.0 ;;
build)
    shift
    while [ $# -gt 1 ]; do
        case "$1" in -f) file=$2; shift ;; -t) tag=$2; shift ;; esac
        shift
    done
    context=$1
    ls -A "$context" >> "$FAKE_DOCKER_LOG"
    cat "$context/Dockerfile" >> "$FAKE_DOCKER_LOG"
    echo $(( $(wc -c < "$file") * 1000 )) > "$FAKE_DOCKER_LOG.$tag"
    edited=no
    [ -f "$context/dockfix-measure-edit" ] && edited=yes
    n=$(grep -cE '^(FROM|RUN|COPY|WORKDIR)' "$file")
    k=0
    grep -E '^(FROM|RUN|COPY|WORKDIR)' "$file" | while read -r line; do
        k=$((k + 1))
        echo "#$((k + 3)) [$k/$n] $line" >&2
        case "$line" in "COPY . "*) edited=no ;; esac
        if [ "$edited" = yes ] && [ "$k" -gt 1 ]; then echo "#$((k + 3)) CACHED" >&2; else echo "#$((k + 3)) DONE 0.1s" >&2; fi
    done ;;
image)
    case "$2" in
    inspect) cat "$FAKE_DOCKER_LOG.$5" ;;
    rm) ;;
    esac ;;
*) exit 1 ;;
esac
"##;

fn fake_docker(dir: &Path, script: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let docker = bin.join("docker");
    std::fs::write(&docker, script).unwrap();
    std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn pr_measure_builds_both_sides_and_puts_the_figures_in_the_body() {
    let checkout = checkout(DOCKERFILE);
    std::fs::write(checkout.work.join(".dockerignore"), "notes\n").unwrap();
    std::fs::create_dir_all(checkout.work.join("notes")).unwrap();
    std::fs::write(checkout.work.join("notes/todo.md"), "x\n").unwrap();
    commit_all(&checkout, "ignore notes");
    let tools = tempfile::tempdir().unwrap();
    let path = fake_docker(tools.path(), FAKE_DOCKER);
    let log = tools.path().join("docker.log");
    let github = FakeGitHub::start();
    let run = dockfix_pr_with(
        &checkout,
        &github,
        &["--dry-run", "--measure"],
        &[("PATH", &path), ("FAKE_DOCKER_LOG", log.to_str().unwrap())],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let sentence = run
        .stdout
        .lines()
        .find(|l| l.starts_with("Measured on Docker 27.1.0 (`--measure`): "))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    // The original: FROM, WORKDIR, COPY . ., RUN; the WORKDIR stays cached
    // (the stand-in never caches FROM).
    // The rewrite copies requirements.txt and installs before the copy.
    let before_size = DOCKERFILE.len() as f64 / 1000.0;
    assert!(
        sentence.contains(&format!(
            "the image is {before_size:.1} MB before the rewrite"
        )),
        "{sentence}"
    );
    assert!(
        sentence.contains("(1 of 4 steps cached) before and "),
        "{sentence}"
    );
    assert!(
        sentence.ends_with("(3 of 5 steps cached) after."),
        "{sentence}"
    );
    // The prediction above it is no longer marked unmeasured.
    assert!(
        run.stdout
            .contains("Predicted from BuildKit's cache rules (`dockfix cache`).\n"),
        "{}",
        run.stdout
    );
    // Each side was built from a copy of what the context sends, twice, and
    // its image removed; the checkout is untouched.
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        calls.matches("build --progress=plain").count(),
        4,
        "{calls}"
    );
    assert_eq!(calls.matches("image rm --force").count(), 2, "{calls}");
    assert!(!calls.contains("notes"), "{calls}");
    assert!(calls.contains("dockfix-measure-edit"), "{calls}");
    assert_eq!(git(&checkout.work, &["status", "--porcelain"]), "");
    // The context's own Dockerfile, in each side's copy, is that side's.
    let rewritten =
        "COPY requirements.txt ./\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\n";
    assert_eq!(calls.matches(DOCKERFILE).count(), 2, "{calls}");
    assert_eq!(calls.matches(rewritten).count(), 2, "{calls}");
}

#[test]
fn pr_measure_leaves_a_dockerfile_the_context_does_not_send_out_of_the_copy() {
    let checkout = checkout(DOCKERFILE);
    std::fs::write(checkout.work.join(".dockerignore"), "Dockerfile\n").unwrap();
    commit_all(&checkout, "ignore the Dockerfile");
    let tools = tempfile::tempdir().unwrap();
    let path = fake_docker(tools.path(), FAKE_DOCKER);
    let log = tools.path().join("docker.log");
    let github = FakeGitHub::start();
    let run = dockfix_pr_with(
        &checkout,
        &github,
        &["--dry-run", "--measure"],
        &[("PATH", &path), ("FAKE_DOCKER_LOG", log.to_str().unwrap())],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("Measured on Docker 27.1.0"),
        "{}",
        run.stdout
    );
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(!calls.contains("FROM python"), "{calls}");
    assert_eq!(git(&checkout.work, &["status", "--porcelain"]), "");
}

#[test]
fn pr_measure_without_an_engine_says_so_and_keeps_the_prediction() {
    let checkout = checkout(DOCKERFILE);
    let tools = tempfile::tempdir().unwrap();
    let path = fake_docker(
        tools.path(),
        "#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n",
    );
    let github = FakeGitHub::start();
    let run = dockfix_pr_with(
        &checkout,
        &github,
        &["--dry-run", "--measure"],
        &[("PATH", &path)],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("\nNot measured (`--measure`): no Docker engine answered `docker version` (Cannot connect to the Docker daemon).\n"), "{}", run.stdout);
    assert!(
        run.stdout.contains("(`dockfix cache`), not measured.\n"),
        "{}",
        run.stdout
    );
}
