//! The three GitHub REST API calls `dockfix pr` makes, as GitHub documents
//! them (API version 2022-11-28): list a branch's open pull requests,
//! create one, update one.

use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use serde_json::json;

use crate::http::percent_encode;

pub const DEFAULT_URL: &str = "https://api.github.com";

pub struct Api {
    agent: ureq::Agent,
    /// `https://api.github.com`, or a GitHub Enterprise server's API.
    url: String,
    token: String,
    /// `OWNER/NAME`.
    repo: String,
}

#[derive(Debug, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    pub html_url: String,
    /// `open` or `closed` (merged ones too).
    pub state: String,
    pub title: String,
    pub body: Option<String>,
    pub head: Head,
}

#[derive(Debug, Deserialize)]
pub struct Head {
    #[serde(rename = "ref")]
    pub branch: String,
    /// `None` when the fork it came from was deleted.
    pub repo: Option<HeadRepo>,
}

#[derive(Debug, Deserialize)]
pub struct HeadRepo {
    pub full_name: String,
}

impl PullRequest {
    pub fn is_open(&self) -> bool {
        self.state == "open"
    }
}

/// How long to wait before asking GitHub again: after a rate limit, a
/// server error (not for a POST, which may have been done), or no answer.
const RETRY_DELAYS: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(4)];
/// The longest `Retry-After` honoured, in seconds: a bot moves on rather
/// than stall.
const MAX_RETRY_AFTER: u64 = 60;

struct Answer {
    status: u16,
    text: String,
    retry_after: Option<Duration>,
}

impl Answer {
    /// Whether asking again may succeed: a rate limit that says when
    /// (429, or a secondary limit's 403 with `Retry-After`; a spent
    /// hourly limit is not worth waiting for), or a server error for a
    /// request that can be repeated.
    fn again(&self, method: &str) -> bool {
        match self.status {
            429 => true,
            403 => self.retry_after.is_some(),
            500..=599 => method != "POST",
            _ => false,
        }
    }
}

/// What a pull request says.
pub struct Proposal<'a> {
    pub title: &'a str,
    pub body: &'a str,
    /// The branch with the change.
    pub head: &'a str,
    /// The branch it merges into.
    pub base: &'a str,
}

impl Api {
    pub fn new(url: &str, token: String, repo: String) -> Api {
        Api {
            agent: crate::http::agent(Duration::from_secs(30)),
            url: url.trim_end_matches('/').to_string(),
            token,
            repo,
        }
    }

    pub fn repo(&self) -> &str {
        &self.repo
    }

    /// The pull requests from `branch` of this repository, open or closed.
    pub fn from_branch(&self, branch: &str) -> Result<Vec<PullRequest>, String> {
        let owner = self.repo.split('/').next().unwrap_or_default();
        let head = percent_encode(&format!("{owner}:{branch}"), "");
        self.list(&format!("state=all&head={head}"))
    }

    /// The open pull requests into `base` (the first hundred).
    pub fn open_into(&self, base: &str) -> Result<Vec<PullRequest>, String> {
        self.list(&format!(
            "state=open&base={}&per_page=100",
            percent_encode(base, "")
        ))
    }

    fn list(&self, query: &str) -> Result<Vec<PullRequest>, String> {
        let url = format!("{}/repos/{}/pulls?{query}", self.url, self.repo);
        self.call("GET", &url, None, 200)
    }

    pub fn create(&self, proposal: &Proposal) -> Result<PullRequest, String> {
        let url = format!("{}/repos/{}/pulls", self.url, self.repo);
        let body = json!({
            "title": proposal.title,
            "head": proposal.head,
            "base": proposal.base,
            "body": proposal.body,
        });
        self.call("POST", &url, Some(body), 201)
    }

    /// Brings an open pull request's text up to date with the change.
    pub fn update(&self, number: u64, proposal: &Proposal) -> Result<PullRequest, String> {
        let url = format!("{}/repos/{}/pulls/{number}", self.url, self.repo);
        let body = json!({
            "title": proposal.title,
            "body": proposal.body,
            "base": proposal.base,
        });
        self.call("PATCH", &url, Some(body), 200)
    }

    /// Closes a pull request with a new body saying why.
    pub fn close(&self, number: u64, body: &str) -> Result<PullRequest, String> {
        let url = format!("{}/repos/{}/pulls/{number}", self.url, self.repo);
        self.call(
            "PATCH",
            &url,
            Some(json!({ "state": "closed", "body": body })),
            200,
        )
    }

    fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        url: &str,
        body: Option<serde_json::Value>,
        expected: u16,
    ) -> Result<T, String> {
        let mut delays = RETRY_DELAYS.iter();
        let answer = loop {
            match (self.send(method, url, body.as_ref()), delays.next()) {
                (Ok(answer), Some(delay)) if answer.again(method) => {
                    std::thread::sleep(answer.retry_after.map_or(*delay, |d| d.max(*delay)))
                }
                // Unanswered: sent again only where twice does no harm.
                (Err(_), Some(delay)) if method != "POST" => std::thread::sleep(*delay),
                (Ok(answer), _) => break answer,
                (Err(e), _) => return Err(format!("{method} {url}: {e}")),
            }
        };
        let Answer { status, text, .. } = answer;
        if status != expected {
            let why = refusal(status, &text, &self.token);
            return Err(format!("{method} {url}: HTTP {status}{why}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("{method} {url}: unexpected answer: {e}"))
    }

    fn send(
        &self,
        method: &str,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, String> {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("Accept", "application/vnd.github+json")
            .header("Authorization", format!("Bearer {}", self.token))
            .header("X-GitHub-Api-Version", "2022-11-28");
        let result = match body {
            Some(body) => self.agent.run(
                request
                    .header("Content-Type", "application/json")
                    .body(body.to_string())
                    .map_err(|e| e.to_string())?,
            ),
            None => self.agent.run(request.body(()).map_err(|e| e.to_string())?),
        };
        let mut response = result.map_err(|e| e.to_string())?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        };
        let retry_after = header("retry-after")
            .and_then(|s| s.trim().parse().ok())
            .map(|s: u64| Duration::from_secs(s.min(MAX_RETRY_AFTER)));
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        Ok(Answer {
            status,
            text,
            retry_after,
        })
    }
}

/// Why GitHub refused, as far as it is safe to show: the JSON `message`
/// (with `errors`' messages) and `documentation_url`, scrubbed of anything
/// that looks like the token or an `Authorization` value. A body that is
/// not GitHub's JSON (a proxy's page, say) is never shown: it may echo the
/// request's headers. Empty, or `: ...` to follow the status.
fn refusal(status: u16, text: &str, token: &str) -> String {
    let Ok(answer) = serde_json::from_str::<serde_json::Value>(text) else {
        let reason = ureq::http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason());
        return reason.map(|r| format!(" {r}")).unwrap_or_default();
    };
    let errors = answer["errors"].as_array().into_iter().flatten();
    let messages: Vec<&str> = std::iter::once(&answer)
        .chain(errors)
        .filter_map(|v| v["message"].as_str())
        .filter(|m| !m.trim().is_empty())
        .collect();
    let mut why = messages.join("; ");
    if let Some(url) = answer["documentation_url"].as_str() {
        why += &format!(" (see {url})");
    }
    match why.trim() {
        "" => String::new(),
        why => format!(": {}", redact(why, token)),
    }
}

/// `text` with the token, `Authorization` values, credentials after an
/// auth scheme and strings shaped like GitHub tokens replaced.
fn redact(text: &str, token: &str) -> String {
    static SECRETS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(concat!(
            r#"(?i)(authorization["']?\s*[:=]\s*)["']?[^"'\s,;}]+(\s+[^"'\s,;}]+)?"#,
            r"|(\b(?:bearer|token|basic)\s+)[A-Za-z0-9._~+/=-]{8,}",
            r"|\b(?:gh[pousr]_[A-Za-z0-9_]{16,}|github_pat_[A-Za-z0-9_]{16,})",
        ))
        .expect("valid")
    });
    let text = if token.is_empty() {
        text.to_string()
    } else {
        text.replace(token, "[redacted]")
    };
    SECRETS
        .replace_all(&text, |c: &regex::Captures| {
            let whole = &c[0];
            match (c.get(1), c.get(3)) {
                (Some(name), _) => format!("{}[redacted]", name.as_str()),
                // After a scheme's name, only what looks like a credential,
                // not a word (`Basic authentication`).
                (_, Some(scheme)) => {
                    let value = &whole[scheme.len()..];
                    if value.len() >= 20 || !value[1..].bytes().all(|b| b.is_ascii_lowercase()) {
                        format!("{}[redacted]", scheme.as_str())
                    } else {
                        whole.to_string()
                    }
                }
                _ => "[redacted]".to_string(),
            }
        })
        .into_owned()
}

/// `OWNER/NAME` of a github.com remote URL (`https://github.com/o/r.git`,
/// `git@github.com:o/r.git`, `ssh://git@github.com/o/r`, with or without
/// credentials).
pub fn repo_of_remote(url: &str) -> Option<String> {
    let url = without_credentials(url);
    let rest = [
        "https://github.com/",
        "http://github.com/",
        "ssh://github.com/",
        "ssh://ssh.github.com:443/",
    ]
    .iter()
    .find_map(|prefix| url.strip_prefix(prefix))
    .or_else(|| url.strip_prefix("github.com:"))?;
    let rest = rest.trim_end_matches('/');
    let rest = rest.strip_suffix(".git").unwrap_or(rest);
    let (owner, name) = rest.split_once('/')?;
    (!owner.is_empty() && !name.is_empty() && !name.contains('/'))
        .then(|| format!("{owner}/{name}"))
}

/// A remote URL without the user and password it may carry (a token, in
/// CI), fit to match and to show.
pub fn without_credentials(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), url),
    };
    let host_end = rest.find('/').unwrap_or(rest.len());
    match rest[..host_end].rfind('@') {
        Some(at) => format!("{scheme}{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_remotes_name_their_repository() {
        for url in [
            "https://github.com/acme/app.git",
            "https://github.com/acme/app",
            "https://x-access-token:ghs_secret@github.com/acme/app.git",
            "git@github.com:acme/app.git",
            "ssh://git@github.com/acme/app.git",
            "ssh://git@ssh.github.com:443/acme/app.git",
        ] {
            assert_eq!(repo_of_remote(url).as_deref(), Some("acme/app"), "{url}");
        }
        for url in [
            "/srv/git/app.git",
            "https://gitlab.com/acme/app.git",
            "https://github.com/acme",
            "https://github.com/acme/app/tree",
        ] {
            assert_eq!(repo_of_remote(url), None, "{url}");
        }
    }

    #[test]
    fn refusals_show_github_s_message_never_the_body_or_a_secret() {
        let token = "ghs_abc-123.DEF";
        let body = json!({
            "message": format!("Bad credentials {token}; got Authorization: Bearer {token}, authorization=token xyz0123456789"),
            "errors": [{ "message": "A pull request already exists" }, { "code": "custom", "value": token }],
            "documentation_url": "https://docs.github.com/rest",
            "headers": { "Authorization": format!("Bearer {token}") },
        });
        let why = refusal(401, &body.to_string(), token);
        assert_eq!(
            why,
            ": Bad credentials [redacted]; got Authorization: [redacted], authorization=[redacted]; \
             A pull request already exists (see https://docs.github.com/rest)"
        );
        let echoed = format!("<html>Authorization: Bearer {token}</html>");
        assert_eq!(refusal(502, &echoed, token), " Bad Gateway");
        assert_eq!(refusal(599, &echoed, token), "");
        assert_eq!(refusal(404, "{}", token), "");
        assert_eq!(
            redact("tokens ghp_0123456789abcdefABCD and github_pat_11AAAAAAA0123456789_x, Basic dXNlcjpwYXNz", ""),
            "tokens [redacted] and [redacted], Basic [redacted]"
        );
        for plain in [
            "Not Found",
            "Basic authentication is off",
            "Bearer required",
        ] {
            assert_eq!(redact(plain, ""), plain);
        }
    }

    #[test]
    fn credentials_never_show() {
        assert_eq!(
            without_credentials("https://x-access-token:ghs_secret@ghe.example/acme/app.git"),
            "https://ghe.example/acme/app.git"
        );
        assert_eq!(
            without_credentials("git@github.com:acme/app.git"),
            "github.com:acme/app.git"
        );
        assert_eq!(without_credentials("/srv/git/a@b.git"), "/srv/git/a@b.git");
    }
}
