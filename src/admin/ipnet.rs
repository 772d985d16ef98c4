//! IP allowlist entries: a single address or a CIDR range, IPv4 or IPv6.
//! IPv4-mapped IPv6 client addresses (`::ffff:10.0.0.1`) match IPv4 entries.

use std::net::IpAddr;

use ipnet::IpNet;

/// Parses an allowlist entry (`10.0.0.0/8`, `192.168.1.7`, `2001:db8::/32`)
/// into its canonical network (host bits cleared).
#[must_use]
pub fn parse_entry(raw: &str) -> Option<IpNet> {
    let raw = raw.trim();
    if let Ok(net) = raw.parse::<IpNet>() {
        return Some(net.trunc());
    }
    raw.parse::<IpAddr>().ok().map(|ip| IpNet::from(normalize(ip)))
}

/// The address with IPv4-mapped IPv6 unwrapped.
#[must_use]
pub fn normalize(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// Whether `ip` falls in any of `entries` (unparseable entries match nothing).
#[must_use]
pub fn allowed<'a>(ip: IpAddr, entries: impl IntoIterator<Item = &'a str>) -> bool {
    let ip = normalize(ip);
    entries.into_iter().filter_map(parse_entry).any(|net| net.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_and_match() {
        assert_eq!(parse_entry("10.1.2.3/8").map(|n| n.to_string()).as_deref(), Some("10.0.0.0/8"));
        assert_eq!(parse_entry(" 192.168.1.7 ").map(|n| n.to_string()).as_deref(), Some("192.168.1.7/32"));
        assert!(parse_entry("10.0.0.0/33").is_none());
        assert!(parse_entry("example.com").is_none());
        let ip: IpAddr = "10.9.8.7".parse().expect("ip");
        assert!(allowed(ip, ["10.0.0.0/8"]));
        assert!(!allowed(ip, ["192.168.0.0/16", "nonsense"]));
        let mapped: IpAddr = "::ffff:10.9.8.7".parse().expect("ip");
        assert!(allowed(mapped, ["10.0.0.0/8"]));
        let v6: IpAddr = "2001:db8::1".parse().expect("ip");
        assert!(allowed(v6, ["2001:db8::/32"]));
    }
}
