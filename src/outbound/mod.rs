//! Outbound HTTP (DESIGN §10): one client with timeouts and an SSRF guard.
//! Requests may only reach public addresses, plus the private targets an
//! operator allow-lists (`outbound.allow_hosts`, `outbound.allow_cidrs`, or
//! everything with `outbound.allow_private`; see [`policy`]).
//!
//! Directly connected requests: the guard checks literal IP hosts, resolves
//! names itself and connects only to addresses that passed (so DNS rebinding
//! cannot slip a private address in), and re-checks every redirect.
//!
//! Proxies: a proxy resolves the target name itself, out of the guard's
//! sight, so proxies from the environment (`HTTP_PROXY`, `HTTPS_PROXY`,
//! `ALL_PROXY`) are ignored. An operator may set `outbound.proxy`; then the
//! guard resolves every target name here first and refuses the request when
//! any address is not allowed (or the name does not resolve), and follows
//! redirects itself so each hop is checked the same way.
//!
//! SMTP (`mail`) connects directly: lettre reads no proxy settings, and its
//! server comes from the operator's configuration, not from users.

pub mod mail;
pub mod policy;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, LOCATION, PROXY_AUTHORIZATION};
use reqwest::{Client, Method, Request, Response, StatusCode, Url};

use self::policy::Policy;
pub use self::policy::is_public;
use crate::config::OutboundConfig;

/// Most redirects followed for one request.
const MAX_REDIRECTS: usize = 5;

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

/// Name resolution; the system resolver in production, a fixed table in tests.
type Lookup = Arc<dyn Fn(String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> + Send + Sync>;

fn system_lookup() -> Lookup {
    Arc::new(|host: String| {
        Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), 0)).await?.map(|a| a.ip()).collect()) })
    })
}

/// The guarded client; cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    client: Client,
    policy: Arc<Policy>,
    lookup: Lookup,
    /// An operator-configured proxy is in use: targets are checked before
    /// each request and redirects are followed here.
    proxied: bool,
    max_response_bytes: usize,
}

impl Outbound {
    /// Builds the client from the configuration.
    pub fn new(config: &OutboundConfig) -> anyhow::Result<Outbound> {
        Self::build(config, system_lookup())
    }

    fn build(config: &OutboundConfig, lookup: Lookup) -> anyhow::Result<Outbound> {
        let policy = Arc::new(Policy::from_config(config).map_err(|e| anyhow::anyhow!("outbound: {e}"))?);
        let proxy = config.proxy.as_deref().map(str::trim).filter(|p| !p.is_empty());
        let resolver = GuardedResolver {
            policy: policy.clone(),
            lookup: lookup.clone(),
            // The operator's proxy may well sit on a private address.
            trusted_host: proxy
                .and_then(|p| Url::parse(p).ok())
                .and_then(|u| u.host_str().map(|h| h.trim_end_matches('.').to_ascii_lowercase())),
        };
        // `no_proxy` first: environment proxies would resolve names where
        // the guard cannot see them.
        let mut builder = Client::builder()
            .no_proxy()
            .user_agent(format!("botbuilder/{}", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(config.connect_timeout_secs))
            .timeout(Duration::from_secs(config.timeout_secs))
            .dns_resolver(Arc::new(resolver));
        if let Some(proxy) = proxy {
            builder = builder
                .proxy(reqwest::Proxy::all(proxy).map_err(|e| anyhow::anyhow!("outbound.proxy: {e}"))?)
                .redirect(reqwest::redirect::Policy::none());
        } else {
            let policy = policy.clone();
            builder = builder.redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    return attempt.error("too many redirects");
                }
                match check_url(attempt.url(), &policy) {
                    Ok(()) => attempt.follow(),
                    Err(e) => attempt.error(e.to_string()),
                }
            }));
        }
        Ok(Outbound {
            client: builder.build()?,
            policy,
            lookup,
            proxied: proxy.is_some(),
            max_response_bytes: config.max_response_bytes,
        })
    }

    /// Parses and checks a URL: http(s) only, and no forbidden literal IPs.
    pub fn check(&self, raw: &str) -> Result<Url, OutboundError> {
        let url = Url::parse(raw).map_err(|e| OutboundError::InvalidUrl(e.to_string()))?;
        check_url(&url, &self.policy)?;
        Ok(url)
    }

    /// Resolves `host` and returns its addresses the policy allows to
    /// connect to, for clients that do not go through HTTP (the database
    /// tool's PostgreSQL): connect to one of these, never to the name again,
    /// so DNS rebinding cannot slip a private address in. Refuses when any
    /// address is forbidden.
    pub async fn allowed_addresses(&self, host: &str) -> Result<Vec<IpAddr>, OutboundError> {
        let addrs = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => (self.lookup)(host.to_owned())
                .await
                .map_err(|e| OutboundError::Failed(format!("cannot resolve {host}: {e}")))?,
        };
        if addrs.is_empty() {
            return Err(OutboundError::Failed(format!("{host} does not resolve")));
        }
        let name = host.parse::<IpAddr>().is_err().then_some(host);
        match addrs.iter().find(|ip| !self.policy.address_allowed(name, **ip)) {
            Some(ip) => Err(OutboundError::Forbidden(format!("{host} resolves to {ip}"))),
            None => Ok(addrs),
        }
    }

    /// A request builder for a checked URL; send it with [`Outbound::send`]
    /// or [`Outbound::send_limited`].
    pub fn request(&self, method: Method, raw_url: &str) -> Result<reqwest::RequestBuilder, OutboundError> {
        let url = self.check(raw_url)?;
        Ok(self.client.request(method, url))
    }

    /// Sends a request built with [`Outbound::request`]. Through a proxy,
    /// the target and every redirect are checked here before they are sent.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<Response, OutboundError> {
        let mut request = request.build()?;
        if !self.proxied {
            // The resolver and the redirect policy guard direct connections.
            check_url(request.url(), &self.policy)?;
            return Ok(self.client.execute(request).await?);
        }
        let mut hops = 0;
        loop {
            self.check_target(request.url()).await?;
            let again = request.try_clone();
            let previous = request.url().clone();
            let response = self.client.execute(request).await?;
            let Some(location) = redirect_target(&response) else { return Ok(response) };
            hops += 1;
            if hops > MAX_REDIRECTS {
                return Err(OutboundError::Failed("too many redirects".into()));
            }
            let mut next = again.ok_or_else(|| {
                OutboundError::Failed("the request body cannot be sent again to follow a redirect".into())
            })?;
            follow(&mut next, response.status(), &previous, location);
            request = next;
        }
    }

    /// Sends a request and reads the body, refusing bodies over the limit
    /// (`max_bytes`, or the configured default).
    pub async fn send_limited(
        &self,
        request: reqwest::RequestBuilder,
        max_bytes: Option<usize>,
    ) -> Result<Fetched, OutboundError> {
        let limit = max_bytes.unwrap_or(self.max_response_bytes);
        let response = self.send(request).await?;
        read_limited(response, limit).await
    }

    /// Checks a target that a proxy will resolve: the URL, then every
    /// address its name resolves to here.
    async fn check_target(&self, url: &Url) -> Result<(), OutboundError> {
        check_url(url, &self.policy)?;
        if self.policy.allows_everything() {
            return Ok(());
        }
        let Some(url::Host::Domain(host)) = url.host() else { return Ok(()) };
        let addrs = (self.lookup)(host.to_owned()).await.map_err(|e| {
            OutboundError::Failed(format!("cannot resolve {host} to check it before using the proxy: {e}"))
        })?;
        if addrs.is_empty() {
            return Err(OutboundError::Failed(format!("{host} does not resolve")));
        }
        match addrs.into_iter().find(|ip| !self.policy.address_allowed(Some(host), *ip)) {
            Some(ip) => Err(OutboundError::Forbidden(format!("{host} resolves to {ip}"))),
            None => Ok(()),
        }
    }
}

/// Where a redirect response points, if it is one to follow.
fn redirect_target(response: &Response) -> Option<Url> {
    let status = response.status();
    if !matches!(
        status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    ) {
        return None;
    }
    let location = response.headers().get(LOCATION)?.to_str().ok()?;
    response.url().join(location).ok()
}

/// Turns `request` into the next hop of a redirect, as browsers and
/// reqwest do: 303 (and 301/302 after a POST) become a bodiless GET, and
/// credentials are dropped when the host or port changes.
fn follow(request: &mut Request, status: StatusCode, previous: &Url, next: Url) {
    let to_get = status == StatusCode::SEE_OTHER && request.method() != Method::HEAD
        || matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND) && request.method() == Method::POST;
    if to_get {
        *request.method_mut() = Method::GET;
        *request.body_mut() = None;
        request.headers_mut().remove(CONTENT_TYPE);
        request.headers_mut().remove(CONTENT_LENGTH);
    }
    if next.host_str() != previous.host_str() || next.port_or_known_default() != previous.port_or_known_default() {
        for name in [AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION] {
            request.headers_mut().remove(name);
        }
    }
    *request.url_mut() = next;
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

fn check_url(url: &Url, policy: &Policy) -> Result<(), OutboundError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(OutboundError::Scheme);
    }
    match url.host() {
        None => Err(OutboundError::InvalidUrl("the URL has no host".into())),
        Some(url::Host::Ipv4(ip)) if !policy.address_allowed(None, IpAddr::V4(ip)) => {
            Err(OutboundError::Forbidden(ip.to_string()))
        }
        Some(url::Host::Ipv6(ip)) if !policy.address_allowed(None, IpAddr::V6(ip)) => {
            Err(OutboundError::Forbidden(ip.to_string()))
        }
        Some(url::Host::Domain(d)) if is_localhost(d) && !policy.allows_everything() && !policy.host_listed(d) => {
            Err(OutboundError::Forbidden(d.to_owned()))
        }
        Some(_) => Ok(()),
    }
}

/// `localhost` and names below it, with or without the trailing dot.
fn is_localhost(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

/// Resolves names and drops addresses the policy refuses; fails when none is left.
struct GuardedResolver {
    policy: Arc<Policy>,
    lookup: Lookup,
    /// The configured proxy's host name, which is the operator's choice.
    trusted_host: Option<String>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let (policy, lookup) = (self.policy.clone(), self.lookup.clone());
        let host = name.as_str().to_owned();
        let trusted = self.trusted_host.as_deref() == Some(host.trim_end_matches('.').to_ascii_lowercase().as_str());
        Box::pin(async move {
            let allowed = resolve_allowed(&host, &policy, &lookup, trusted).await?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The addresses of `host` a request may connect to.
async fn resolve_allowed(
    host: &str,
    policy: &Policy,
    lookup: &Lookup,
    trusted: bool,
) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
    let addrs = lookup(host.to_owned()).await?;
    let allowed: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|ip| trusted || policy.address_allowed(Some(host), *ip))
        .map(|ip| SocketAddr::new(ip, 0))
        .collect();
    if allowed.is_empty() {
        return Err(Box::new(ForbiddenTarget(host.to_owned())));
    }
    Ok(allowed)
}

#[cfg(test)]
mod tests;
