//! Which targets outbound requests may reach. Public addresses always;
//! private ones (RFC 1918, ULA, CGNAT, …) only when the host name is on
//! `outbound.allow_hosts` or the address is in `outbound.allow_cidrs`;
//! loopback, link-local (cloud metadata at 169.254.169.254), unspecified and
//! multicast addresses only when they are in `outbound.allow_cidrs`
//! (an allow-listed name must not be able to point at this machine).
//! `outbound.allow_private` lifts every restriction.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::admin::ipnet::{normalize, parse_entry};
use crate::config::OutboundConfig;

/// One `outbound.allow_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostRule {
    /// `llm.internal`: this name only.
    Exact(String),
    /// `*.corp.example`: any name below `corp.example` (stored as
    /// `.corp.example`), not `corp.example` itself.
    Below(String),
}

/// The checked allow-lists; cheap to share behind an `Arc`.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    allow_private: bool,
    hosts: Vec<HostRule>,
    cidrs: Vec<IpNet>,
}

impl Policy {
    /// Builds the policy, failing on the first entry that does not parse
    /// (`Config::validate` reports all of them earlier).
    pub fn from_config(config: &OutboundConfig) -> Result<Policy, String> {
        let hosts = config.allow_hosts.iter().map(|h| parse_host_rule(h)).collect::<Result<Vec<_>, _>>()?;
        let cidrs = config.allow_cidrs.iter().map(|c| parse_cidr(c)).collect::<Result<Vec<_>, _>>()?;
        Ok(Policy { allow_private: config.allow_private, hosts, cidrs })
    }

    /// Whether every restriction is lifted (`outbound.allow_private`).
    #[must_use]
    pub fn allows_everything(&self) -> bool {
        self.allow_private
    }

    /// Whether `host` (a DNS name) is on `outbound.allow_hosts`.
    #[must_use]
    pub fn host_listed(&self, host: &str) -> bool {
        let host = canonical_host(host);
        self.hosts.iter().any(|rule| match rule {
            HostRule::Exact(name) => *name == host,
            HostRule::Below(suffix) => host.len() > suffix.len() && host.ends_with(suffix.as_str()),
        })
    }

    /// Whether a request may connect to `ip`, reached through the name
    /// `host` (`None` for a literal address in the URL).
    #[must_use]
    pub fn address_allowed(&self, host: Option<&str>, ip: IpAddr) -> bool {
        if self.allow_private || is_public(ip) {
            return true;
        }
        let ip = normalize(ip);
        if self.cidrs.iter().any(|net| net.contains(&ip)) {
            return true;
        }
        !is_local(ip) && host.is_some_and(|h| self.host_listed(h))
    }
}

/// Lower case, without the trailing dot of a fully qualified name.
fn canonical_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// Parses an `outbound.allow_hosts` entry: a DNS name, or `*.` and a name
/// of at least two labels. IP addresses belong in `outbound.allow_cidrs`.
fn parse_host_rule(raw: &str) -> Result<HostRule, String> {
    let entry = raw.trim();
    let (wildcard, name) = match entry.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, entry),
    };
    let name = canonical_host(name);
    if name.parse::<IpAddr>().is_ok() || name.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok() {
        return Err(format!("`{raw}` is an IP address; put addresses in outbound.allow_cidrs"));
    }
    let labels_ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !labels_ok {
        return Err(format!("`{raw}` is not a host name like llm.internal or *.corp.example"));
    }
    if wildcard {
        if !name.contains('.') {
            return Err(format!("`{raw}` is too broad: a wildcard needs at least two labels (*.corp.example)"));
        }
        Ok(HostRule::Below(format!(".{name}")))
    } else {
        Ok(HostRule::Exact(name))
    }
}

/// Parses an `outbound.allow_cidrs` entry (`10.20.0.0/16`, `fd00::/8`, or
/// one address).
fn parse_cidr(raw: &str) -> Result<IpNet, String> {
    parse_entry(raw).ok_or_else(|| format!("`{raw}` is not an IP network like 10.20.0.0/16 or fd00::/8"))
}

/// Adds what is wrong with the allow-lists to `errors` (every entry).
pub fn check_lists(config: &OutboundConfig, errors: &mut Vec<String>) {
    for host in &config.allow_hosts {
        if let Err(e) = parse_host_rule(host) {
            errors.push(format!("outbound.allow_hosts: {e}"));
        }
    }
    for cidr in &config.allow_cidrs {
        if let Err(e) = parse_cidr(cidr) {
            errors.push(format!("outbound.allow_cidrs: {e}"));
        }
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

/// Addresses of this machine or its link: loopback, link-local (cloud
/// metadata), unspecified (`0.0.0.0` reaches local services), multicast
/// and broadcast. An allow-listed host name may not resolve to these.
fn is_local(ip: IpAddr) -> bool {
    match normalize(ip) {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.octets()[0] == 0
        }
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(hosts: &[&str], cidrs: &[&str]) -> Policy {
        let config = OutboundConfig {
            allow_hosts: hosts.iter().map(|s| (*s).to_owned()).collect(),
            allow_cidrs: cidrs.iter().map(|s| (*s).to_owned()).collect(),
            ..OutboundConfig::default()
        };
        Policy::from_config(&config).expect("valid lists")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for a in [
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
            assert!(!is_public(ip(a)), "{a}");
        }
        for a in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(ip(a)), "{a}");
        }
    }

    #[test]
    fn allow_listed_hosts_may_reach_private_but_not_local_addresses() {
        let p = policy(&["llm.internal", "*.corp.example"], &[]);
        assert!(p.address_allowed(Some("llm.internal"), ip("10.0.0.5")));
        assert!(p.address_allowed(Some("LLM.Internal."), ip("192.168.3.4")));
        assert!(p.address_allowed(Some("a.corp.example"), ip("fd00::7")));
        assert!(p.address_allowed(Some("b.a.corp.example"), ip("172.16.1.1")));
        // The apex of a wildcard, other names and literal addresses are not listed.
        assert!(!p.address_allowed(Some("corp.example"), ip("10.0.0.5")));
        assert!(!p.address_allowed(Some("evilcorp.example"), ip("10.0.0.5")));
        assert!(!p.address_allowed(Some("llm.internal.evil.com"), ip("10.0.0.5")));
        assert!(!p.address_allowed(None, ip("10.0.0.5")));
        // A listed name must not point at this machine or the metadata service.
        for local in ["127.0.0.1", "169.254.169.254", "0.0.0.0", "::1", "fe80::1", "::ffff:127.0.0.1"] {
            assert!(!p.address_allowed(Some("llm.internal"), ip(local)), "{local}");
        }
        // Public addresses stay allowed for every name.
        assert!(p.address_allowed(Some("example.com"), ip("93.184.216.34")));
        assert!(p.address_allowed(None, ip("2606:4700:4700::1111")));
    }

    #[test]
    fn allowed_cidrs_admit_their_addresses_only() {
        let p = policy(&[], &["10.20.0.0/16", "fd00::/8", "169.254.169.254"]);
        assert!(p.address_allowed(None, ip("10.20.255.1")));
        assert!(p.address_allowed(Some("any.name"), ip("10.20.0.9")));
        assert!(p.address_allowed(None, ip("::ffff:10.20.1.1")));
        assert!(p.address_allowed(None, ip("fd12::1")));
        assert!(p.address_allowed(None, ip("169.254.169.254")), "explicitly listed");
        assert!(!p.address_allowed(None, ip("10.21.0.1")));
        assert!(!p.address_allowed(Some("any.name"), ip("192.168.0.1")));
        assert!(!p.address_allowed(None, ip("169.254.169.253")));
        assert!(!p.address_allowed(None, ip("127.0.0.1")));
        assert!(!policy(&[], &[]).address_allowed(None, ip("10.20.0.1")));
        let open =
            Policy::from_config(&OutboundConfig { allow_private: true, ..OutboundConfig::default() }).expect("policy");
        assert!(open.address_allowed(None, ip("127.0.0.1")));
    }

    #[test]
    fn bad_entries_are_all_reported() {
        let config = OutboundConfig {
            allow_hosts: vec![
                "ok.internal".into(),
                "10.0.0.1".into(),
                "*.com".into(),
                "bad name".into(),
                "*".into(),
                "[::1]".into(),
            ],
            allow_cidrs: vec!["10.0.0.0/8".into(), "10.0.0.0/33".into(), "example.com".into()],
            ..OutboundConfig::default()
        };
        let mut errors = Vec::new();
        check_lists(&config, &mut errors);
        assert_eq!(errors.len(), 7, "{errors:#?}");
        assert!(errors[0].contains("`10.0.0.1` is an IP address; put addresses in outbound.allow_cidrs"), "{errors:?}");
        assert!(errors[1].contains("too broad"), "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("outbound.allow_cidrs: `10.0.0.0/33`")), "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("outbound.allow_cidrs: `example.com`")), "{errors:?}");
        assert!(Policy::from_config(&config).is_err());
    }
}
