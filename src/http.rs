//! The HTTP agent dockfix's network features share (registries, GitHub's
//! API): the platform's trusted roots, dockfix's User-Agent, credentials
//! kept across redirects only within a host, and statuses returned as
//! responses, so callers read an error's body.

use std::time::Duration;

pub fn agent(timeout: Duration) -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        // A moved repository redirects within its host; keep the token.
        .redirect_auth_headers(ureq::config::RedirectAuthHeaders::SameHost)
        .timeout_global(Some(timeout))
        .user_agent(concat!("dockfix/", env!("CARGO_PKG_VERSION")))
        .tls_config(tls)
        .build()
        .into()
}

/// `text` with every byte but URI unreserved characters and those in
/// `keep` (`/` for a path) percent-encoded.
pub fn percent_encode(text: &str, keep: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ if keep.as_bytes().contains(&b) => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn percent_encoding_keeps_unreserved_characters_and_those_asked() {
        use super::percent_encode;
        assert_eq!(
            percent_encode("acme:dockfix/0a1b", ""),
            "acme%3Adockfix%2F0a1b"
        );
        assert_eq!(percent_encode("my dir/é#1", "/"), "my%20dir/%C3%A9%231");
    }
}
