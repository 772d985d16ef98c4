//! A minimal DNS client for one question: the TXT records of a name, over
//! UDP, from one configured resolver (`sso.dns_resolver`, else the first
//! `nameserver` of `/etc/resolv.conf`). Domain verification needs nothing
//! more, and a pointed-at resolver is what air-gapped and split-horizon
//! installs want; a full resolver crate would add much for this one call.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;

const TXT: u16 = 16;
const CLASS_IN: u16 = 1;

/// The resolver to ask.
pub fn resolver(configured: &str) -> Result<SocketAddr, String> {
    if !configured.is_empty() {
        return configured.parse().map_err(|_| format!("sso.dns_resolver `{configured}` is not an ip:port"));
    }
    let conf = std::fs::read_to_string("/etc/resolv.conf").map_err(|e| format!("cannot read /etc/resolv.conf: {e}"))?;
    conf.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|ip| ip.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .next()
        .ok_or_else(|| "no nameserver in /etc/resolv.conf; set sso.dns_resolver".to_owned())
}

/// Builds the query for `name`'s TXT records.
fn query(id: u16, name: &str) -> Result<Vec<u8>, String> {
    let mut q = Vec::with_capacity(32 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD; one question
    for label in name.trim_end_matches('.').split('.') {
        let len = u8::try_from(label.len())
            .ok()
            .filter(|l| (1..=63).contains(l))
            .ok_or("a label of the name is empty or too long")?;
        q.push(len);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&TXT.to_be_bytes());
    q.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(q)
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, String> {
    b.get(at..at + 2).map(|s| u16::from_be_bytes([s[0], s[1]])).ok_or_else(|| "truncated DNS answer".to_owned())
}

/// Skips a (possibly compressed) name; answers the offset after it.
fn skip_name(b: &[u8], mut at: usize) -> Result<usize, String> {
    loop {
        let len = *b.get(at).ok_or("truncated DNS name")?;
        match len {
            0 => return Ok(at + 1),
            l if l & 0xC0 == 0xC0 => return Ok(at + 2),
            l => at += 1 + usize::from(l),
        }
    }
}

/// Reads the TXT records of an answer to query `id`.
fn parse(id: u16, b: &[u8]) -> Result<Vec<String>, String> {
    if u16_at(b, 0)? != id {
        return Err("the DNS answer is for another query".into());
    }
    let flags = u16_at(b, 2)?;
    if flags & 0x0200 != 0 {
        return Err("the DNS answer is truncated (TXT records too large for UDP)".into());
    }
    match flags & 0x000F {
        0 => {}
        3 => return Ok(Vec::new()), // NXDOMAIN: no record
        rcode => return Err(format!("the DNS server answered error code {rcode}")),
    }
    let (qd, an) = (u16_at(b, 4)?, u16_at(b, 6)?);
    let mut at = 12;
    for _ in 0..qd {
        at = skip_name(b, at)? + 4;
    }
    let mut out = Vec::new();
    for _ in 0..an {
        at = skip_name(b, at)?;
        let (kind, len) = (u16_at(b, at)?, usize::from(u16_at(b, at + 8)?));
        let data = b.get(at + 10..at + 10 + len).ok_or("truncated DNS record")?;
        at += 10 + len;
        if kind != TXT {
            continue;
        }
        let mut text = Vec::new();
        let mut i = 0;
        while i < data.len() {
            let l = usize::from(data[i]);
            text.extend_from_slice(data.get(i + 1..i + 1 + l).ok_or("truncated TXT string")?);
            i += 1 + l;
        }
        out.push(String::from_utf8_lossy(&text).into_owned());
    }
    Ok(out)
}

/// The TXT records of `name` (empty when it has none).
pub async fn txt_records(resolver: SocketAddr, name: &str) -> Result<Vec<String>, String> {
    let id: u16 = rand::random();
    let q = query(id, name)?;
    let bind: SocketAddr = if resolver.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0_u16; 8], 0).into() };
    let socket = UdpSocket::bind(bind).await.map_err(|e| format!("DNS: {e}"))?;
    socket.connect(resolver).await.map_err(|e| format!("DNS: {e}"))?;
    let mut buf = vec![0_u8; 4096];
    for _ in 0..2 {
        socket.send(&q).await.map_err(|e| format!("DNS: {e}"))?;
        match tokio::time::timeout(Duration::from_secs(3), socket.recv(&mut buf)).await {
            Ok(Ok(n)) => return parse(id, &buf[..n]),
            Ok(Err(e)) => return Err(format!("DNS: {e}")),
            Err(_) => {}
        }
    }
    Err(format!("the DNS server {resolver} did not answer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_answer_with_compression_and_split_strings() {
        let id = 0x1234;
        let mut a = query(id, "_v.example.com").expect("query");
        a[2] = 0x81;
        a[3] = 0x80;
        a[7] = 2; // two answers
        for text in [&[b"abc".as_slice(), b"def".as_slice()][..], &[b"x".as_slice()][..]] {
            a.extend_from_slice(&[0xC0, 12, 0, 16, 0, 1, 0, 0, 0, 60]);
            let data: Vec<u8> = text
                .iter()
                .flat_map(|t| std::iter::once(u8::try_from(t.len()).unwrap_or(0)).chain(t.iter().copied()))
                .collect();
            a.extend_from_slice(&u16::try_from(data.len()).unwrap_or(0).to_be_bytes());
            a.extend_from_slice(&data);
        }
        assert_eq!(parse(id, &a).expect("parse"), vec!["abcdef".to_owned(), "x".to_owned()]);
        assert!(parse(id + 1, &a).is_err());
    }
}
