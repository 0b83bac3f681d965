//! A real registry for the pinning tests: Debian's `docker-registry` (the
//! CNCF distribution server) on 127.0.0.1 at a port free when it starts,
//! filled through the registry API, and a token server in front of it that
//! answers the bearer-token challenge as Docker Hub does.

use std::collections::BTreeSet;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::common::http;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Debian's registry server, which the tests start.
const PROGRAM: &str = "docker-registry";

/// Whether [`PROGRAM`] is there, installed by the first test that needed it
/// if not; the other tests wait for that answer.
static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();

fn on_path(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs Debian's `docker-registry` with apt-get when it is missing, so
/// the README's test command needs nothing installed by hand. Only root
/// can; anyone else is told what to install. Never a reason to skip.
fn install_if_missing() -> Result<(), String> {
    if on_path(PROGRAM) {
        return Ok(());
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if !root || !on_path("apt-get") {
        return Err(format!(
            "the pinning tests need Debian's `{PROGRAM}`, which is not installed: \
             `sudo apt-get install {PROGRAM}`, or run the tests as root to have them install it"
        ));
    }
    eprintln!("the pinning tests need Debian's `{PROGRAM}`: installing it with apt-get");
    // Another apt-get (another test run) may hold the locks for a while.
    for args in [&["update", "-qq"][..], &["install", "-y", "-qq", PROGRAM]] {
        let output = Command::new("apt-get")
            .args(["-o", "DPkg::Lock::Timeout=600"])
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("apt-get: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "`apt-get {}` failed while installing `{PROGRAM}` for the pinning tests: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
    }
    if on_path(PROGRAM) {
        Ok(())
    } else {
        Err(format!(
            "apt-get installed `{PROGRAM}`, but it is not on PATH"
        ))
    }
}

pub struct Registry {
    /// `127.0.0.1:port`.
    pub addr: String,
    child: Child,
    /// `Authorization` for pushes when the registry wants a password.
    auth: Option<String>,
    _storage: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let pair = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// Ports this process has handed to a registry. The kernel may give a port
/// just released to the next test that asks: two registries started on one
/// port left a test talking to the other test's registry, whose connections
/// were reset when that test ended and stopped it.
static TAKEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A port free now that no registry of this process was given before.
fn untaken_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if TAKEN.lock().unwrap().insert(port) {
            return port;
        }
    }
}

impl Registry {
    /// Starts a registry; with `user`, only that user and password get in
    /// (htpasswd, as a private registry).
    pub fn start(user: Option<(&str, &str)>) -> Registry {
        if let Err(e) = INSTALLED.get_or_init(install_if_missing) {
            panic!("{e}");
        }
        let storage = tempfile::tempdir().unwrap();
        let mut auth_config = String::new();
        if let Some((name, password)) = user {
            let hash = bcrypt::hash(password, 4).unwrap();
            let file = storage.path().join("htpasswd");
            std::fs::write(&file, format!("{name}:{hash}\n")).unwrap();
            auth_config = format!(
                "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                file.display()
            );
        }
        // A port is free when asked for, but another process may take it
        // before the registry binds it: then start again on another.
        for _ in 0..5 {
            let port = untaken_port();
            let addr = format!("127.0.0.1:{port}");
            let config = storage.path().join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n{auth_config}",
                    storage.path().join("data").display()
                ),
            )
            .unwrap();
            let mut child = Command::new(PROGRAM)
                .args(["serve", config.to_str().unwrap()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                if TcpStream::connect(&addr).is_ok() {
                    return Registry {
                        addr,
                        child,
                        auth: user.map(|(n, p)| basic(n, p)),
                        _storage: storage,
                    };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("docker-registry did not start");
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn request(&self, method: &str, url: &str) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut request = match method {
            "POST" => agent.post(url),
            _ => agent.put(url),
        };
        if let Some(auth) = &self.auth {
            request = request.header("Authorization", auth);
        }
        request
    }

    /// Uploads a blob (monolithic upload) and returns its digest.
    pub fn push_blob(&self, repository: &str, bytes: &[u8]) -> String {
        let digest = format!("sha256:{:x}", Sha256::digest(bytes));
        let started = self
            .request(
                "POST",
                &format!("{}/v2/{repository}/blobs/uploads/", self.url()),
            )
            .send_empty()
            .unwrap();
        assert_eq!(started.status(), 202, "upload of a blob to {repository}");
        let location = started.headers()["location"].to_str().unwrap().to_string();
        let location = if location.starts_with("http") {
            location
        } else {
            format!("{}{location}", self.url())
        };
        let join = if location.contains('?') { '&' } else { '?' };
        let done = self
            .request("PUT", &format!("{location}{join}digest={digest}"))
            .header("Content-Type", "application/octet-stream")
            .send(bytes)
            .unwrap();
        assert_eq!(done.status(), 201, "blob {digest}");
        digest
    }

    /// Puts a manifest under each tag (by its digest when there are none)
    /// and returns its digest.
    pub fn push_manifest(
        &self,
        repository: &str,
        media_type: &str,
        bytes: &[u8],
        tags: &[&str],
    ) -> String {
        let digest = format!("sha256:{:x}", Sha256::digest(bytes));
        let by_digest = [digest.as_str()];
        let tags = if tags.is_empty() {
            &by_digest[..]
        } else {
            tags
        };
        for tag in tags {
            let response = self
                .request(
                    "PUT",
                    &format!("{}/v2/{repository}/manifests/{tag}", self.url()),
                )
                .header("Content-Type", media_type)
                .send(bytes)
                .unwrap();
            assert_eq!(response.status(), 201, "{repository}:{tag}");
        }
        digest
    }

    /// A one-layer image for a platform, tagged with each of `tags`; `seed`
    /// makes images differ. Returns the manifest's digest and size.
    pub fn push_image(
        &self,
        repository: &str,
        seed: &str,
        arch: &str,
        tags: &[&str],
    ) -> (String, usize) {
        let layer = format!("layer of {repository} {seed} {arch}");
        let layer_digest = self.push_blob(repository, layer.as_bytes());
        let config = format!(
            r#"{{"architecture":"{arch}","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer_digest}"]}}}}"#
        );
        let config_digest = self.push_blob(repository, config.as_bytes());
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_digest}","size":{}}}]}}"#,
            config.len(),
            layer.len()
        );
        let digest = self.push_manifest(repository, OCI_MANIFEST, manifest.as_bytes(), tags);
        (digest, manifest.len())
    }

    /// A multi-platform image (amd64 and arm64) under `tags`; returns the
    /// index digest and the platform manifests' digests.
    pub fn push_index(&self, repository: &str, seed: &str, tags: &[&str]) -> (String, Vec<String>) {
        let platforms: Vec<(String, usize, &str)> = ["amd64", "arm64"]
            .into_iter()
            .map(|arch| {
                let (digest, size) = self.push_image(repository, seed, arch, &[]);
                (digest, size, arch)
            })
            .collect();
        let entries: Vec<String> = platforms
            .iter()
            .map(|(digest, size, arch)| {
                format!(
                    r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{digest}","size":{size},"platform":{{"architecture":"{arch}","os":"linux"}}}}"#
                )
            })
            .collect();
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
            entries.join(",")
        );
        let digest = self.push_manifest(repository, OCI_INDEX, index.as_bytes(), tags);
        (digest, platforms.into_iter().map(|p| p.0).collect())
    }
}

/// A token server and gate in front of a registry, as Docker Hub, GHCR
/// and Quay work: `/v2/` answers 401 with a `Bearer` challenge, `/token`
/// hands out a token for the scope asked for, and requests that carry it
/// are passed to the registry. It can also answer 503 to the first
/// requests, to see them retried.
pub struct TokenGate {
    pub addr: String,
    /// Requests seen, `/token` included.
    pub requests: Arc<AtomicUsize>,
}

/// What a private token server takes: a password by basic auth on `GET
/// /token`, or a refresh token (`docker login`'s identity token) by `POST`.
#[derive(Clone)]
pub struct Private {
    pub user: String,
    pub password: String,
    pub refresh_token: String,
}

/// How a gate behaves besides asking for a token.
#[derive(Clone, Default)]
pub struct Gate {
    /// Requests answered 503 (with `Retry-After: 0`) before any is served.
    pub failures: usize,
    /// Tokens only for these credentials; anonymous ones otherwise.
    pub private: Option<Private>,
    /// Leave out `Docker-Content-Digest`, which registries need not send.
    pub without_digests: bool,
    /// Answer `HEAD` with 405, as some registries do.
    pub without_head: bool,
    /// Tags whose manifests answer 404 though the tag list names them.
    pub missing: Vec<String>,
    /// Send every tag list page with a `Link` to itself.
    pub looping_links: bool,
    /// Answer manifests with a login page, as a captive portal does.
    pub login_page: bool,
    /// Serve tag lists in pages of at most this many tags, with `Link`
    /// headers, as Docker Hub does (Debian's registry 2.8 ignores `n`).
    pub page_size: Option<usize>,
    /// Hand out tokens as JSON numbers, which a parser's message would quote.
    pub numeric_tokens: bool,
}

impl TokenGate {
    pub fn start(upstream: &str, options: Gate) -> TokenGate {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(AtomicUsize::new(0));
        let seen = requests.clone();
        let upstream = upstream.to_string();
        let gate = addr.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let n = seen.fetch_add(1, Ordering::SeqCst);
                let _ = serve(stream, &upstream, &gate, n < options.failures, &options);
            }
        });
        TokenGate { addr, requests }
    }
}

/// One request per connection: reads it, answers it, closes.
fn serve(
    stream: TcpStream,
    upstream: &str,
    gate: &str,
    fail: bool,
    options: &Gate,
) -> std::io::Result<()> {
    let request = http::read_request(&stream)?;
    let (method, target) = (request.method.as_str(), request.target.as_str());
    let header = |name: &str| request.header(name);
    let answer = |status: &str, extra: &[(String, String)], body: &[u8]| {
        http::respond(&stream, status, extra, body, method != "HEAD")
    };
    if fail {
        return answer(
            "503 Service Unavailable",
            &[("Retry-After".into(), "0".into())],
            b"",
        );
    }
    if target == "/token" || target.starts_with("/token?") {
        // A password comes by GET with basic auth, a refresh token as a POST form.
        let form = if method == "POST" {
            String::from_utf8_lossy(&request.body).into_owned()
        } else {
            target
                .split_once('?')
                .map_or(String::new(), |(_, q)| q.to_string())
        };
        let field = |name: &str| {
            form.split('&')
                .find_map(|p| p.strip_prefix(&format!("{name}=")))
                .unwrap_or("")
                .replace("%3A", ":")
                .replace("%2F", "/")
        };
        // The scope is the one the challenge named; the token grants it.
        let scope = field("scope");
        if field("service") != "gate" || scope.is_empty() {
            return answer("400 Bad Request", &[], b"");
        }
        let allowed = match &options.private {
            None => true,
            Some(p) if method == "POST" => {
                field("grant_type") == "refresh_token" && field("refresh_token") == p.refresh_token
            }
            Some(p) => header("authorization") == Some(basic(&p.user, &p.password)),
        };
        if !allowed {
            return answer("401 Unauthorized", &[], b"");
        }
        let body = match options.numeric_tokens {
            true => r#"{"access_token":4242424242}"#.to_string(),
            false => format!(r#"{{"access_token":"token-for-{scope}"}}"#),
        };
        return answer("200 OK", &[], body.as_bytes());
    }
    let repository = target
        .strip_prefix("/v2/")
        .and_then(|rest| rest.split_once("/manifests/").or(rest.split_once("/tags/")))
        .map(|(repository, _)| repository.to_string())
        .unwrap_or_default();
    let scope = format!("repository:{repository}:pull");
    if header("authorization").as_deref() != Some(&format!("Bearer token-for-{scope}")) {
        let challenge =
            format!(r#"Bearer realm="http://{gate}/token",service="gate",scope="{scope}""#);
        return answer(
            "401 Unauthorized",
            &[("WWW-Authenticate".into(), challenge)],
            b"",
        );
    }
    if let (Some(size), Some((path, query))) = (options.page_size, target.split_once('?')) {
        if path.ends_with("/tags/list") {
            let (headers, body) = tag_page(upstream, path, query, size)?;
            return answer("200 OK", &headers, body.as_bytes());
        }
    }
    if options.login_page && target.contains("/manifests/") {
        let page = b"<html>please log in</html>";
        return answer(
            "200 OK",
            &[("Content-Type".into(), "text/html".into())],
            page,
        );
    }
    if method == "HEAD" && options.without_head {
        return answer("405 Method Not Allowed", &[], b"");
    }
    if options
        .missing
        .iter()
        .any(|tag| target.ends_with(&format!("/manifests/{tag}")))
    {
        return answer("404 Not Found", &[], b"");
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{upstream}{target}");
    let request = if method == "HEAD" {
        agent.head(&url)
    } else {
        agent.get(&url)
    };
    let mut response = request
        .header("Accept", header("accept").unwrap_or_default())
        .call()
        .map_err(std::io::Error::other)?;
    let mut kept: Vec<(String, String)> = ["docker-content-digest", "content-type", "link"]
        .iter()
        .filter(|name| !(options.without_digests && name.starts_with("docker-")))
        .filter_map(|name| {
            let value = response.headers().get(*name)?.to_str().ok()?;
            Some((name.to_string(), value.to_string()))
        })
        .collect();
    if options.looping_links && target.contains("/tags/list") {
        kept.push(("link".into(), format!("<{target}>; rel=\"next\"")));
    }
    let status = response.status();
    let mut body = Vec::new();
    if method != "HEAD" {
        response.body_mut().as_reader().read_to_end(&mut body)?;
    }
    answer(
        &format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        ),
        &kept,
        &body,
    )
}

/// One page of a tag list, in tag order after `last`, with a relative
/// `Link` to the next page while tags remain: its headers and body.
fn tag_page(
    upstream: &str,
    path: &str,
    query: &str,
    size: usize,
) -> std::io::Result<(Vec<(String, String)>, String)> {
    let field = |name: &str| {
        query
            .split('&')
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
    };
    let n = field("n")
        .and_then(|n| n.parse().ok())
        .unwrap_or(size)
        .min(size);
    let last = field("last").unwrap_or_default();
    let text = ureq::get(&format!("{upstream}{path}"))
        .call()
        .map_err(std::io::Error::other)?
        .body_mut()
        .read_to_string()
        .map_err(std::io::Error::other)?;
    let full: serde_json::Value = serde_json::from_str(&text).map_err(std::io::Error::other)?;
    let mut tags: Vec<String> = serde_json::from_value(full["tags"].clone()).unwrap_or_default();
    tags.sort();
    let rest: Vec<&String> = tags
        .iter()
        .filter(|t| last.is_empty() || **t > last)
        .collect();
    let page = &rest[..n.min(rest.len())];
    let mut headers = Vec::new();
    if let (true, Some(end)) = (rest.len() > page.len(), page.last()) {
        headers.push((
            "Link".into(),
            format!("<{path}?n={n}&last={end}>; rel=\"next\""),
        ));
    }
    Ok((headers, serde_json::json!({ "tags": page }).to_string()))
}

/// A Docker config in a temporary directory, as `docker login` leaves it.
pub fn docker_config(dir: &Path, json: &str) {
    std::fs::write(dir.join("config.json"), json).unwrap();
}
