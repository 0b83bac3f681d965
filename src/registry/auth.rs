//! Who dockfix is to a registry: the challenge a `401` carries, and the
//! user's credentials from their Docker config (`auths`, `credHelpers`,
//! `credsStore`), as `docker login` leaves them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;

/// A `WWW-Authenticate` header: `Basic realm="..."` or `Bearer
/// realm="...",service="...",scope="..."`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        params: BTreeMap<String, String>,
    },
}

impl Challenge {
    pub fn parse(header: &str) -> Option<Challenge> {
        let (scheme, rest) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Challenge::Basic);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let mut params = auth_params(rest);
        let realm = params.remove("realm")?;
        Some(Challenge::Bearer { realm, params })
    }
}

/// `key=value` or `key="quoted, value"` pairs separated by commas.
fn auth_params(text: &str) -> BTreeMap<String, String> {
    let mut params = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ',' || c.is_whitespace()).is_some() {}
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
        if key.is_empty() || chars.next().is_none() {
            return params;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => value.extend(chars.next()),
                    c => value.push(c),
                }
            }
        } else {
            value.extend(std::iter::from_fn(|| chars.next_if(|c| *c != ',')));
        }
        params.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A user name and password (or personal access token).
    Password { username: String, password: String },
    /// An OAuth refresh token, which only a token server takes.
    IdentityToken(String),
}

impl Credentials {
    /// The `Authorization` value for a `Basic` challenge or a token request.
    pub fn basic(&self) -> Option<String> {
        match self {
            Credentials::Password { username, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            )),
            Credentials::IdentityToken(_) => None,
        }
    }
}

/// The Docker config dockfix reads credentials from: `$DOCKER_CONFIG/config.json`,
/// or `~/.docker/config.json`.
pub fn docker_config_path() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => Some(PathBuf::from(dir).join("config.json")),
        None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json")),
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    creds_store: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    identitytoken: Option<String>,
}

/// Where credentials come from for each registry host.
#[derive(Debug, Default)]
pub struct Store {
    config: DockerConfig,
}

impl Store {
    /// Reads the Docker config; a missing file means no credentials, an
    /// unreadable or invalid one is an error naming the file.
    pub fn load(path: Option<&Path>) -> Result<Store, String> {
        let Some(path) = path else {
            return Ok(Store::default());
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Store::default()),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let config = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}:{}:{}: invalid Docker config: {e}",
                path.display(),
                e.line(),
                e.column()
            )
        })?;
        Ok(Store { config })
    }

    /// The credentials for a registry domain (`docker.io`, `ghcr.io`), in
    /// Docker's order: its credential helper, the default store, `auths`.
    pub fn get(&self, domain: &str) -> Result<Option<Credentials>, String> {
        // Docker Hub's credentials are filed under its v1 index address.
        let server = if domain == super::reference::DOCKER_HUB {
            "https://index.docker.io/v1/".to_string()
        } else {
            domain.to_string()
        };
        let helper = self
            .config
            .cred_helpers
            .iter()
            .find(|(host, _)| same_host(host, domain))
            .map(|(_, helper)| helper)
            .or(self.config.creds_store.as_ref());
        if let Some(helper) = helper {
            if let Some(found) = from_helper(helper, &server)? {
                return Ok(Some(found));
            }
        }
        let Some(entry) = self
            .config
            .auths
            .iter()
            .find(|(host, _)| same_host(host, domain))
            .map(|(_, entry)| entry)
        else {
            return Ok(None);
        };
        if let Some(token) = entry.identitytoken.as_ref().filter(|t| !t.is_empty()) {
            return Ok(Some(Credentials::IdentityToken(token.clone())));
        }
        if let (Some(username), Some(password)) = (&entry.username, &entry.password) {
            return Ok(Some(Credentials::Password {
                username: username.clone(),
                password: password.clone(),
            }));
        }
        let Some(auth) = entry.auth.as_ref().filter(|a| !a.is_empty()) else {
            return Ok(None);
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| {
                text.split_once(':')
                    .map(|(u, p)| (u.to_string(), p.to_string()))
            });
        match decoded {
            Some((username, password)) => Ok(Some(Credentials::Password { username, password })),
            None => Err(format!(
                "the Docker config's `auths` entry for {domain} is not base64 of `user:password`"
            )),
        }
    }
}

/// Whether a config key (`https://index.docker.io/v1/`, `ghcr.io`,
/// `http://localhost:5000/v2/`) names the registry domain.
fn same_host(key: &str, domain: &str) -> bool {
    let host = key
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    let hub = |h: &str| matches!(h, "docker.io" | "index.docker.io" | "registry-1.docker.io");
    host.eq_ignore_ascii_case(domain) || (hub(host) && hub(domain))
}

#[derive(serde::Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// Asks `docker-credential-<helper> get`, as Docker does. A helper that
/// knows nothing of the server answers "credentials not found". What a
/// helper writes is never shown: its answer is a secret, and a failing one
/// may print secrets with its error (on stdout, as the protocol has it, or
/// on stderr), so a failure names only the helper and its exit status.
fn from_helper(helper: &str, server: &str) -> Result<Option<Credentials>, String> {
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run the credential helper {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("{program}: {e}"))?;
    let stdout = crate::syntax::lossy(&output.stdout);
    let run_it = format!("run `echo {server} | {program} get` to see its message");
    if !output.status.success() {
        if stdout.contains("credentials not found") {
            return Ok(None);
        }
        return Err(format!(
            "the credential helper {program} failed for {server} ({}); {run_it}",
            output.status
        ));
    }
    // serde's messages quote the values they could not read.
    let answer: HelperAnswer = serde_json::from_str(&stdout).map_err(|_| {
        format!("the credential helper {program} answered something other than its JSON for {server}; {run_it}")
    })?;
    Ok(Some(if answer.username == "<token>" {
        Credentials::IdentityToken(answer.secret)
    } else {
        Credentials::Password {
            username: answer.username,
            password: answer.secret,
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_with_quoted_commas() {
        let header = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/node:pull,push""#;
        let Some(Challenge::Bearer { realm, params }) = Challenge::parse(header) else {
            panic!("a bearer challenge");
        };
        assert_eq!(realm, "https://auth.docker.io/token");
        assert_eq!(params["service"], "registry.docker.io");
        assert_eq!(params["scope"], "repository:library/node:pull,push");
        assert_eq!(
            Challenge::parse(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(Challenge::parse("Negotiate x"), None);
        assert_eq!(Challenge::parse("Bearer service=x"), None, "no realm");
    }

    #[test]
    fn docker_config_auths_by_host() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("me:secret");
        std::fs::write(
            &path,
            format!(
                r#"{{"auths": {{"https://index.docker.io/v1/": {{"auth": "{auth}"}},
                    "http://localhost:5000/v2/": {{"identitytoken": "tok"}},
                    "ghcr.io": {{"auth": "!!"}}}}}}"#
            ),
        )
        .unwrap();
        let store = Store::load(Some(&path)).unwrap();
        assert_eq!(
            store.get("docker.io").unwrap(),
            Some(Credentials::Password {
                username: "me".into(),
                password: "secret".into()
            })
        );
        assert_eq!(
            store.get("localhost:5000").unwrap(),
            Some(Credentials::IdentityToken("tok".into()))
        );
        assert_eq!(store.get("quay.io").unwrap(), None);
        assert!(store.get("ghcr.io").is_err(), "bad base64 is an error");
        std::fs::write(&path, "{\n  \"auths\": [").unwrap();
        let error = Store::load(Some(&path)).unwrap_err();
        assert!(error.contains("config.json:2:"), "{error}");
        assert!(Store::load(Some(&dir.path().join("none.json"))).is_ok());
    }
}
