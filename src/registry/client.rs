//! The OCI distribution (Docker Registry v2) API, as far as pinning needs
//! it: a tag's manifest digest, and a repository's tags.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::auth::{Challenge, Credentials, Store};
use super::reference::Reference;
use crate::http::percent_encode;

/// Pages of a tag list dockfix follows before it gives up.
const MAX_PAGES: usize = 1000;

/// Every manifest kind, indexes first, so a multi-platform image answers
/// with its index digest: the one `docker pull` records.
const MANIFEST_TYPES: [&str; 4] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// A registry that answers for another's images, as Docker's
/// `registry-mirrors` answers for Docker Hub: `docker.io=https://mirror.example`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    pub domain: String,
    /// `https://host[:port]`, or `http://` for a plain-HTTP mirror.
    pub url: String,
}

impl std::str::FromStr for Mirror {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let (domain, url) = text.split_once('=').ok_or_else(|| {
            format!("`{text}`: expected DOMAIN=URL, as docker.io=https://mirror.example")
        })?;
        let Some((_, rest)) = url
            .split_once("://")
            .filter(|(scheme, _)| matches!(*scheme, "http" | "https"))
        else {
            return Err(format!(
                "`{url}`: a mirror URL starts with http:// or https://"
            ));
        };
        if rest.contains(['?', '#']) {
            return Err(format!(
                "`{url}`: a mirror URL has no query or fragment (dockfix adds the API's path to it)"
            ));
        }
        if rest.split('/').next().unwrap_or_default().contains('@') {
            return Err(format!(
                "`{domain}=...`: credentials do not belong in a mirror URL (they would show in messages); log in to the mirror's host with `docker login`"
            ));
        }
        let domain = Reference::parse(&format!("{domain}/x/y"))
            .map(|r| r.domain)
            .unwrap_or_else(|_| domain.to_string());
        Ok(Mirror {
            domain,
            url: url.trim_end_matches('/').to_string(),
        })
    }
}

pub struct Options {
    pub mirrors: Vec<Mirror>,
    /// Registries spoken to over plain HTTP; loopback ones always are, as
    /// Docker treats them.
    pub insecure: Vec<String>,
    /// Tags asked for per page of a tag list.
    pub page_size: usize,
    /// Waits before each retry of a request that failed with 429, 5xx or
    /// a broken connection.
    pub retry_delays: Vec<Duration>,
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            mirrors: Vec::new(),
            insecure: Vec::new(),
            page_size: 1000,
            retry_delays: vec![
                Duration::from_millis(500),
                Duration::from_secs(1),
                Duration::from_secs(2),
            ],
            timeout: Duration::from_secs(30),
        }
    }
}

pub struct Client {
    agent: ureq::Agent,
    store: Store,
    options: Options,
    /// `Authorization` values already earned, per API origin and scope.
    authorizations: RefCell<HashMap<String, String>>,
    /// Origins that could not be reached, with why: asked once per run, so
    /// an offline run fails fast for every image after the first.
    unreachable: RefCell<HashMap<String, String>>,
}

type Response = ureq::http::Response<ureq::Body>;

impl Client {
    pub fn new(store: Store, options: Options) -> Client {
        Client {
            agent: crate::http::agent(options.timeout),
            store,
            options,
            authorizations: RefCell::default(),
            unreachable: RefCell::default(),
        }
    }

    /// The digest a tag (or the reference's digest) names: the index
    /// digest for a multi-platform image. `None` when the registry has no
    /// such tag.
    pub fn digest(&self, image: &Reference) -> Result<Option<String>, String> {
        let target = image.digest.as_deref().unwrap_or(image.tag_or_latest());
        let url = format!(
            "{}/v2/{}/manifests/{target}",
            self.api_origin(image),
            image.path
        );
        let head = self.send("HEAD", &url, image)?;
        // Registries need not answer HEAD (405) nor send the header; the
        // digest is then the hash of the manifest's bytes.
        if head.status() != 405 {
            let Some(found) = self.found(head, image)? else {
                return Ok(None);
            };
            let digest = header(&found, "docker-content-digest");
            if let Some(digest) = digest.filter(|d| d.starts_with("sha256:")) {
                return Ok(Some(digest));
            }
        }
        let Some(manifest) = self.found(self.send("GET", &url, image)?, image)? else {
            return Ok(None);
        };
        // Only a manifest's hash is its digest, not a login page's.
        let kind = header(&manifest, "content-type").unwrap_or_default();
        let bytes = body(manifest, 4 << 20, &url)?;
        let version = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|m| m.get("schemaVersion")?.as_u64());
        let media_type = kind.split(';').next().unwrap_or_default().trim();
        if !MANIFEST_TYPES.contains(&media_type) || version != Some(2) {
            return Err(format!(
                "{url}: the answer is not an image manifest (Content-Type `{kind}`)"
            ));
        }
        Ok(Some(format!("sha256:{:x}", Sha256::digest(&bytes))))
    }

    /// Every tag of the image's repository, following `Link` pages.
    pub fn tags(&self, image: &Reference) -> Result<Vec<String>, String> {
        #[derive(serde::Deserialize)]
        struct Page {
            tags: Option<Vec<String>>,
        }
        let base = self.api_origin(image);
        let mut url = format!(
            "{base}/v2/{}/tags/list?n={}",
            image.path, self.options.page_size
        );
        let mut tags = Vec::new();
        let mut visited = std::collections::HashSet::new();
        loop {
            if !visited.insert(url.clone()) || visited.len() > MAX_PAGES {
                return Err(format!("{url}: the tag list's pages do not end"));
            }
            let Some(response) = self.found(self.send("GET", &url, image)?, image)? else {
                return Err(format!(
                    "{}/{}: no such repository",
                    image.domain, image.path
                ));
            };
            let next = header(&response, "link").and_then(|l| next_link(&l));
            let page: Page = serde_json::from_slice(&body(response, 64 << 20, &url)?)
                .map_err(|e| format!("{url}: not a tag list: {e}"))?;
            tags.extend(page.tags.unwrap_or_default());
            match next {
                Some(next) if next.starts_with("http") => url = next,
                Some(next) => url = format!("{base}{next}"),
                None => return Ok(tags),
            }
        }
    }

    /// The repository's address in the API (`https://registry-1.docker.io/v2/library/node`),
    /// which also tells answers from different mirrors apart.
    pub fn locate(&self, image: &Reference) -> String {
        format!("{}/v2/{}", self.api_origin(image), image.path)
    }

    /// The origin whose `/v2/` API serves the image: a mirror, or its
    /// registry over HTTPS (HTTP for loopback and `insecure` ones).
    pub fn api_origin(&self, image: &Reference) -> String {
        if let Some(mirror) = self
            .options
            .mirrors
            .iter()
            .find(|m| m.domain == image.domain)
        {
            return mirror.url.clone();
        }
        let host = image.api_host();
        let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
        let plain = loopback(host) || self.options.insecure.iter().any(|h| h == host || h == name);
        format!("{}://{host}", if plain { "http" } else { "https" })
    }

    /// The response when it is a success, `None` for 404, an error otherwise.
    fn found(&self, response: Response, image: &Reference) -> Result<Option<Response>, String> {
        let status = response.status().as_u16();
        let what = format!("{}/{}", image.domain, image.path);
        match status {
            200..=299 => Ok(Some(response)),
            404 => Ok(None),
            401 | 403 => Err(format!(
                "{what}: access denied ({status}); log in with `docker login {}` if it is private",
                image.domain
            )),
            _ => Err(format!("{what}: the registry answered {status}")),
        }
    }

    /// One request, authenticated on the registry's challenge and retried
    /// with backoff on 429, 5xx and broken connections (a timeout once).
    /// An origin that still fails is not asked again in this run.
    fn send(&self, method: &str, url: &str, image: &Reference) -> Result<Response, String> {
        let origin = origin(url);
        if let Some(why) = self.unreachable.borrow().get(origin) {
            return Err(why.clone());
        }
        let give_up = |why: String| {
            let mut unreachable = self.unreachable.borrow_mut();
            unreachable.insert(origin.to_string(), why.clone());
            Err(why)
        };
        let scope = format!("repository:{}:pull", image.path);
        let key = format!("{origin} {scope}");
        let mut authorization = self.authorizations.borrow().get(&key).cloned();
        let mut challenged = false;
        let mut timed_out = false;
        let mut delays = self.options.retry_delays.iter();
        loop {
            let request = match method {
                "HEAD" => self.agent.head(url),
                _ => self.agent.get(url),
            };
            let mut request = request.header("Accept", MANIFEST_TYPES.join(", "));
            if let Some(value) = &authorization {
                request = request.header("Authorization", value);
            }
            let response = match request.call() {
                Ok(response) => response,
                Err(e) => {
                    let timeout = matches!(e, ureq::Error::Timeout(_));
                    match delays.next() {
                        Some(delay) if retryable(&e) && !(timeout && timed_out) => {
                            timed_out |= timeout;
                            std::thread::sleep(*delay);
                            continue;
                        }
                        _ => return give_up(self.unreachable_because(origin, &e)),
                    }
                }
            };
            let status = response.status().as_u16();
            if status == 401 && !challenged {
                challenged = true;
                let challenge = header(&response, "www-authenticate").unwrap_or_default();
                let value = self.authorize(&challenge, url, image, &scope)?;
                self.authorizations
                    .borrow_mut()
                    .insert(key.clone(), value.clone());
                authorization = Some(value);
                continue;
            }
            if status == 429 || status >= 500 {
                match delays.next() {
                    Some(delay) => {
                        std::thread::sleep(retry_after(&response).unwrap_or(*delay));
                        continue;
                    }
                    None => {
                        let tries = self.options.retry_delays.len() + 1;
                        return give_up(format!(
                            "{origin} answered {status} {tries} times in a row"
                        ));
                    }
                }
            }
            return Ok(response);
        }
    }

    /// Why a registry could not be reached, with a hint where one helps.
    fn unreachable_because(&self, origin: &str, error: &ureq::Error) -> String {
        if matches!(error, ureq::Error::Timeout(_)) {
            let seconds = self.options.timeout.as_secs_f32();
            return format!("no answer from {origin} within {seconds} s");
        }
        let text = error.to_string();
        let tls = origin.starts_with("https://")
            && (text.contains("corrupt message") || text.to_lowercase().contains("tls"));
        let hint = if tls {
            "; if it speaks plain HTTP, pass --insecure-registry"
        } else {
            ""
        };
        format!("cannot reach {origin}: {text}{hint}")
    }

    /// The `Authorization` value a challenge asks for: the user's password
    /// for `Basic`, a token from the realm for `Bearer`.
    fn authorize(
        &self,
        header: &str,
        url: &str,
        image: &Reference,
        scope: &str,
    ) -> Result<String, String> {
        let host = origin(url)
            .split("://")
            .nth(1)
            .unwrap_or_default()
            .to_string();
        // Credentials are filed under the registry's name; a mirror's under its own.
        let domain = if self
            .options
            .mirrors
            .iter()
            .any(|m| m.domain == image.domain)
        {
            host.clone()
        } else {
            image.domain.clone()
        };
        let credentials = self.store.get(&domain)?;
        match Challenge::parse(header) {
            Some(Challenge::Basic) => credentials
                .as_ref()
                .and_then(Credentials::basic)
                .ok_or_else(|| {
                    format!("{host} asks for a user name and password: log in with `docker login {domain}`")
                }),
            Some(Challenge::Bearer { realm, params }) => {
                let token = self.token(&realm, &params, scope, credentials.as_ref())?;
                Ok(format!("Bearer {token}"))
            }
            None => Err(format!("{host} answered 401 without a challenge dockfix knows (`{header}`)")),
        }
    }

    /// A pull token from a token server, anonymous or with the user's
    /// credentials (a refresh token is exchanged by POST, as Docker does).
    fn token(
        &self,
        realm: &str,
        params: &std::collections::BTreeMap<String, String>,
        scope: &str,
        credentials: Option<&Credentials>,
    ) -> Result<String, String> {
        let service = params
            .get("service")
            .map(String::as_str)
            .unwrap_or_default();
        let scope = params.get("scope").map(String::as_str).unwrap_or(scope);
        let mut delays = self.options.retry_delays.iter();
        let response = loop {
            let result = match credentials {
                Some(Credentials::IdentityToken(refresh)) => {
                    let form = [
                        ("grant_type", "refresh_token"),
                        ("service", service),
                        ("scope", scope),
                        ("client_id", "dockfix"),
                        ("refresh_token", refresh.as_str()),
                    ];
                    self.agent.post(realm).send_form(form)
                }
                _ => {
                    let url = format!(
                        "{realm}{}service={}&scope={}",
                        if realm.contains('?') { '&' } else { '?' },
                        percent_encode(service, ""),
                        percent_encode(scope, "")
                    );
                    let mut request = self.agent.get(&url);
                    if let Some(basic) = credentials.and_then(Credentials::basic) {
                        request = request.header("Authorization", basic);
                    }
                    request.call()
                }
            };
            match result {
                Ok(r) if (r.status() == 429 || r.status().as_u16() >= 500) && delays.len() > 0 => {
                    std::thread::sleep(retry_after(&r).unwrap_or(*delays.next().expect("checked")));
                }
                Ok(r) => break r,
                Err(e) => match delays.next() {
                    Some(delay) if retryable(&e) => std::thread::sleep(*delay),
                    _ => return Err(format!("token server {realm}: {e}")),
                },
            }
        };
        let status = response.status().as_u16();
        let text = body(response, 1 << 20, realm).unwrap_or_default();
        if status != 200 {
            let denied = if credentials.is_some() {
                "the credentials were refused"
            } else {
                "anonymous access was refused"
            };
            return Err(format!("token server {realm} answered {status}: {denied}"));
        }
        #[derive(serde::Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let token: Token = serde_json::from_slice(&text)
            // Not serde's message: it would quote the answer, a token.
            .map_err(|_| format!("token server {realm}: the answer is not JSON holding a token"))?;
        token
            .token
            .or(token.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| format!("token server {realm}: the answer holds no token"))
    }
}

/// Whether a failed request may succeed when sent again: not when nothing
/// listens (offline, wrong port), as Docker does not retry those either.
fn retryable(error: &ureq::Error) -> bool {
    match error {
        ureq::Error::Io(e) => e.kind() != std::io::ErrorKind::ConnectionRefused,
        ureq::Error::Timeout(_) | ureq::Error::ConnectionFailed => true,
        _ => false,
    }
}

/// A `Retry-After` in seconds, capped so a registry cannot stall dockfix.
fn retry_after(response: &Response) -> Option<Duration> {
    let seconds: u64 = header(response, "retry-after")?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds.min(10)))
}

fn header(response: &Response, name: &str) -> Option<String> {
    let value = response.headers().get(name)?.to_str().ok()?;
    Some(value.to_string())
}

/// A response's body, up to `limit` bytes (a registry is not trusted to
/// send a sane amount).
fn body(mut response: Response, limit: u64, url: &str) -> Result<Vec<u8>, String> {
    response
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| format!("{url}: {e}"))
}

/// The target of a `Link: </v2/x/tags/list?last=a&n=2>; rel="next"` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|link| {
        let (target, params) = link.split_once(';')?;
        let next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"" || p.trim() == "rel=next");
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        next.then(|| target.to_string())
    })
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> &str {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..].find('/').map_or(url.len(), |i| start + i);
    &url[..end]
}

fn loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_and_origins() {
        assert_eq!(
            next_link(r#"</v2/library/node/tags/list?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/library/node/tags/list?last=b&n=2")
        );
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
        assert_eq!(origin("https://ghcr.io/v2/x"), "https://ghcr.io");
        assert_eq!(origin("http://127.0.0.1:5000"), "http://127.0.0.1:5000");
        assert!(loopback("127.0.0.1:5000") && loopback("localhost") && loopback("[::1]:80"));
        assert!(!loopback("ghcr.io") && !loopback("10.0.0.1:5000"));
        assert_eq!(
            percent_encode("repository:a/b:pull", ""),
            "repository%3Aa%2Fb%3Apull"
        );
    }

    #[test]
    fn mirrors_are_domain_equals_url() {
        let mirror: Mirror = "docker.io=http://127.0.0.1:5000/".parse().unwrap();
        assert_eq!(mirror.domain, "docker.io");
        assert_eq!(mirror.url, "http://127.0.0.1:5000");
        let hub: Mirror = "index.docker.io=https://m.example".parse().unwrap();
        assert_eq!(hub.domain, "docker.io");
        assert!("docker.io".parse::<Mirror>().is_err());
        assert!("docker.io=ftp://x".parse::<Mirror>().is_err());
        assert!("docker.io=https://m.example/?token=x"
            .parse::<Mirror>()
            .is_err());
        assert!("docker.io=https://me:pw@m.example"
            .parse::<Mirror>()
            .is_err());
    }
}
