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
