//! The registry `e2e/engine.sh` runs in place of Docker Hub: the digests it
//! reports, and the manifests the engine fetched from it as its Docker Hub
//! mirror (read from its access log).
//!
//! It speaks plain HTTP on the bootstrap engine's bridge address, so a HEAD
//! request over a socket is all the client it needs; no proxy is involved.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use super::Result;

/// What a client that can read indexes and manifests of either kind sends,
/// as Docker does: the registry then reports the digest of what the tag
/// names (an index, for the images `e2e/engine.sh` puts there).
const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.oci.image.manifest.v1+json";

pub struct Registry {
    /// `HOST:PORT`.
    pub addr: String,
    /// Its log, access lines included.
    pub log: PathBuf,
}

impl Registry {
    /// `http://HOST:PORT`, as a mirror is named.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The digest the registry reports for a manifest of `repo` (a tag or a
    /// digest); none when it has no such manifest.
    pub fn digest(&self, repo: &str, reference: &str) -> Result<Option<String>> {
        let path = format!("/v2/{repo}/manifests/{reference}");
        let response = head(&self.addr, &path)?;
        match response.status {
            200 => response
                .header("docker-content-digest")
                .map(|d| Some(d.to_string()))
                .ok_or_else(|| format!("HEAD {path}: no Docker-Content-Digest")),
            404 => Ok(None),
            status => Err(format!("HEAD {path}: status {status}")),
        }
    }

    /// Where the log ends now, to read what comes after it.
    pub fn mark(&self) -> Result<u64> {
        std::fs::metadata(&self.log)
            .map(|m| m.len())
            .map_err(|e| format!("{}: {e}", self.log.display()))
    }

    /// The manifests fetched from the registry as a Docker Hub mirror since
    /// `mark`, as `repo@reference`.
    pub fn mirrored_since(&self, mark: u64) -> Result<Vec<String>> {
        let log = std::fs::read(&self.log).map_err(|e| format!("{}: {e}", self.log.display()))?;
        let after = log.get(mark as usize..).unwrap_or_default();
        Ok(mirrored(&String::from_utf8_lossy(after)))
    }
}

/// `repo@reference` of each manifest a GET fetched with success for
/// Docker Hub, in the registry's access log lines (`IP - - [time] "GET
/// /v2/library/debian/manifests/sha256:...?ns=docker.io HTTP/1.1" 200 ...`):
/// an engine that uses a registry as its Docker Hub mirror adds `ns=docker.io`.
pub fn mirrored(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|line| {
            let mut quoted = line.split('"');
            let request = quoted.nth(1)?;
            let status = quoted.next()?.split_whitespace().next()?;
            let target = request.strip_prefix("GET ")?.split(' ').next()?;
            let (path, query) = target.split_once('?')?;
            if status != "200" || !query.split('&').any(|q| q == "ns=docker.io") {
                return None;
            }
            let (repo, reference) = path.strip_prefix("/v2/")?.split_once("/manifests/")?;
            Some(format!("{repo}@{reference}"))
        })
        .collect()
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn head(addr: &str, path: &str) -> Result<Response> {
    let fail = |e: std::io::Error| format!("HEAD http://{addr}{path}: {e}");
    let mut stream = TcpStream::connect(addr).map_err(fail)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(fail)?;
    let request = format!(
        "HEAD {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: {ACCEPT}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(fail)?;
    let mut text = String::new();
    stream.read_to_string(&mut text).map_err(fail)?;
    parse_head(&text).ok_or_else(|| format!("HEAD http://{addr}{path}: no HTTP response"))
}

fn parse_head(text: &str) -> Option<Response> {
    let mut lines = text.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Some(Response { status, headers })
}

/// A registry that reports a digest for each manifest path it knows
/// (`/v2/library/debian/manifests/bookworm`) and 404 for the others.
#[cfg(test)]
pub fn fake(manifests: &[(&str, &str)]) -> Registry {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let manifests: Vec<(String, String)> = manifests
        .iter()
        .map(|(path, digest)| (path.to_string(), digest.to_string()))
        .collect();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = String::new();
            let mut buffer = [0; 1024];
            while !request.ends_with("\r\n\r\n") {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request += &String::from_utf8_lossy(&buffer[..n]),
                }
            }
            let path = request.split(' ').nth(1).unwrap_or_default();
            let answer = match manifests.iter().find(|(p, _)| p == path) {
                Some((_, digest)) => {
                    format!("HTTP/1.1 200 OK\r\nDocker-Content-Digest: {digest}\r\n\r\n")
                }
                None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string(),
            };
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    Registry {
        addr,
        log: PathBuf::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn only_successful_mirror_gets_of_manifests_count() {
        let log = r#"time="2026-12-01T15:15:20Z" level=info msg="response completed" http.request.uri="/v2/library/debian/manifests/sha256:e7?ns=docker.io"
172.17.0.2 - - [01/Dec/2026:15:15:20 +0000] "HEAD /v2/library/debian/manifests/sha256:e7?ns=docker.io HTTP/1.1" 200 289 "" "buildkit/v0.0-dev"
172.17.0.2 - - [01/Dec/2026:15:15:20 +0000] "GET /v2/library/debian/manifests/sha256:e7?ns=docker.io HTTP/1.1" 200 289 "" "buildkit/v0.0-dev"
172.17.0.2 - - [01/Dec/2026:15:15:20 +0000] "GET /v2/library/debian/blobs/sha256:2e?ns=docker.io HTTP/1.1" 200 931 "" "buildkit/v0.0-dev"
172.17.0.2 - - [01/Dec/2026:15:15:21 +0000] "GET /v2/library/node/manifests/18?ns=docker.io HTTP/1.1" 404 0 "" "buildkit/v0.0-dev"
192.0.2.2 - - [01/Dec/2026:15:15:22 +0000] "GET /v2/library/rust/manifests/sha256:aa HTTP/1.1" 200 289 "" "curl/7.88.1"
"#;
        assert_eq!(mirrored(log), ["library/debian@sha256:e7"]);
    }

    #[test]
    fn a_head_response_gives_status_and_digest() {
        let response = parse_head(
            "HTTP/1.1 200 OK\r\nContent-Length: 289\r\nDocker-Content-Digest: sha256:e755\r\n\r\n",
        )
        .unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(
            response.header("docker-content-digest"),
            Some("sha256:e755")
        );
        assert!(parse_head("").is_none());
    }

    /// A registry that answers one request, to see what the client sends.
    #[test]
    fn digests_are_asked_for_any_kind_of_manifest() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let mut seen = vec![];
            for answer in [
                "HTTP/1.1 200 OK\r\nDocker-Content-Digest: sha256:abc\r\nContent-Length: 289\r\n\r\n",
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            ] {
                let (mut stream, _) = listener.accept().unwrap();
                let mut request = String::new();
                let mut buffer = [0; 1024];
                while !request.ends_with("\r\n\r\n") {
                    let n = stream.read(&mut buffer).unwrap();
                    request += &String::from_utf8_lossy(&buffer[..n]);
                }
                seen.push(request);
                stream.write_all(answer.as_bytes()).unwrap();
            }
            seen
        });
        let registry = Registry {
            addr: addr.clone(),
            log: PathBuf::new(),
        };
        assert_eq!(
            registry.digest("library/debian", "bookworm").unwrap(),
            Some("sha256:abc".into())
        );
        assert_eq!(registry.digest("library/debian", "sid").unwrap(), None);
        let seen = server.join().unwrap();
        assert!(seen[0].starts_with("HEAD /v2/library/debian/manifests/bookworm HTTP/1.1\r\n"));
        assert!(seen[0].contains("application/vnd.oci.image.index.v1+json"));
        assert!(seen[0].contains(&format!("Host: {addr}\r\n")));
        assert_eq!(registry.url(), format!("http://{addr}"));
    }
}
