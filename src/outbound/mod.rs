//! Outbound HTTP (DESIGN §10): one client with timeouts and an SSRF guard.
//! Requests may only reach public addresses: the guard checks literal IP
//! hosts, resolves names itself and connects only to addresses that passed
//! (so DNS rebinding cannot slip a private address in), and re-checks every
//! redirect. Operators (and tests, whose fakes listen on loopback) can allow
//! private targets with `outbound.allow_private`.

pub mod mail;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Client, Method, Response, Url};

use crate::config::OutboundConfig;

/// Why an outbound request was not made or failed.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("the URL is not valid: {0}")]
    InvalidUrl(String),
    #[error("only http and https URLs are allowed")]
    Scheme,
    #[error("requests to private, loopback or link-local addresses are not allowed ({0})")]
    Forbidden(String),
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the request timed out")]
    Timeout,
    #[error("the request failed: {0}")]
    Failed(String),
}

impl From<reqwest::Error> for OutboundError {
    fn from(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            return OutboundError::Timeout;
        }
        // The guard's refusals surface as connect errors; keep their message.
        let mut source: Option<&dyn std::error::Error> = Some(&e);
        while let Some(err) = source {
            if let Some(forbidden) = err.downcast_ref::<ForbiddenTarget>() {
                return OutboundError::Forbidden(forbidden.0.clone());
            }
            source = err.source();
        }
        OutboundError::Failed(e.without_url().to_string())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0} is not a public address")]
struct ForbiddenTarget(String);

/// The guarded client; cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    client: Client,
    allow_private: bool,
    max_response_bytes: usize,
}

impl Outbound {
    /// Builds the client from the configuration.
    pub fn new(config: &OutboundConfig) -> anyhow::Result<Outbound> {
        let allow_private = config.allow_private;
        let client = Client::builder()
            .user_agent(format!("botbuilder/{}", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(config.connect_timeout_secs))
            .timeout(Duration::from_secs(config.timeout_secs))
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 5 {
                    return attempt.error("too many redirects");
                }
                match check_url(attempt.url(), allow_private) {
                    Ok(()) => attempt.follow(),
                    Err(e) => attempt.error(e.to_string()),
                }
            }))
            .build()?;
        Ok(Outbound { client, allow_private, max_response_bytes: config.max_response_bytes })
    }

    /// Parses and checks a URL: http(s) only, and no private literal IPs.
    pub fn check(&self, raw: &str) -> Result<Url, OutboundError> {
        let url = Url::parse(raw).map_err(|e| OutboundError::InvalidUrl(e.to_string()))?;
        check_url(&url, self.allow_private)?;
        Ok(url)
    }

    /// A request builder for a checked URL. Names are resolved by the guard.
    pub fn request(&self, method: Method, raw_url: &str) -> Result<reqwest::RequestBuilder, OutboundError> {
        let url = self.check(raw_url)?;
        Ok(self.client.request(method, url))
    }

    /// Sends a request and reads the body, refusing bodies over the limit
    /// (`max_bytes`, or the configured default).
    pub async fn send_limited(
        &self,
        request: reqwest::RequestBuilder,
        max_bytes: Option<usize>,
    ) -> Result<Fetched, OutboundError> {
        let limit = max_bytes.unwrap_or(self.max_response_bytes);
        let response = request.send().await?;
        read_limited(response, limit).await
    }

    /// The underlying client, for streaming responses (LLM tokens). Build
    /// requests with [`Outbound::request`] so the URL is checked.
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// A response read into memory.
#[derive(Debug)]
pub struct Fetched {
    pub status: reqwest::StatusCode,
    pub url: Url,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

async fn read_limited(response: Response, limit: usize) -> Result<Fetched, OutboundError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(OutboundError::TooLarge(limit));
    }
    let (status, url, headers) = (response.status(), response.url().clone(), response.headers().clone());
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > limit {
            return Err(OutboundError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched { status, url, headers, body })
}

fn check_url(url: &Url, allow_private: bool) -> Result<(), OutboundError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(OutboundError::Scheme);
    }
    match url.host() {
        None => Err(OutboundError::InvalidUrl("the URL has no host".into())),
        Some(url::Host::Ipv4(ip)) if !allow_private && !is_public(IpAddr::V4(ip)) => {
            Err(OutboundError::Forbidden(ip.to_string()))
        }
        Some(url::Host::Ipv6(ip)) if !allow_private && !is_public(IpAddr::V6(ip)) => {
            Err(OutboundError::Forbidden(ip.to_string()))
        }
        Some(url::Host::Domain(d))
            if !allow_private && (d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost")) =>
        {
            Err(OutboundError::Forbidden(d.to_owned()))
        }
        Some(_) => Ok(()),
    }
}

/// Whether an address is globally routable (not loopback, private,
/// link-local, CGNAT, multicast, documentation or unspecified).
#[must_use]
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

/// Resolves names and drops non-public addresses; fails when none is left.
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let allowed = resolve_allowed(&host, allow_private).await?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The addresses of `host` a request may connect to.
async fn resolve_allowed(
    host: &str,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
    let allowed: Vec<SocketAddr> = addrs.into_iter().filter(|a| allow_private || is_public(a.ip())).collect();
    if allowed.is_empty() {
        return Err(Box::new(ForbiddenTarget(host.to_owned())));
    }
    Ok(allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "224.0.0.1",
        ] {
            assert!(!is_public(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[test]
    fn urls_are_checked() {
        let guard = |u: &str| check_url(&Url::parse(u).expect("url"), false);
        assert!(matches!(guard("ftp://example.com/x"), Err(OutboundError::Scheme)));
        assert!(matches!(guard("file:///etc/passwd"), Err(OutboundError::Scheme)));
        assert!(matches!(guard("http://127.0.0.1:8080/"), Err(OutboundError::Forbidden(_))));
        assert!(matches!(guard("http://[::1]/"), Err(OutboundError::Forbidden(_))));
        assert!(matches!(guard("http://localhost/"), Err(OutboundError::Forbidden(_))));
        assert!(matches!(guard("http://169.254.169.254/latest/meta-data"), Err(OutboundError::Forbidden(_))));
        assert!(guard("https://example.com/page").is_ok());
        assert!(check_url(&Url::parse("http://127.0.0.1/").expect("url"), true).is_ok());
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused() {
        let err = resolve_allowed("localhost", false).await.expect_err("loopback only");
        assert!(err.downcast_ref::<ForbiddenTarget>().is_some(), "{err}");
        assert!(!resolve_allowed("localhost", true).await.expect("allowed").is_empty());
    }
}
