//! A local SMTP sink for tests: a real TCP server speaking enough SMTP
//! (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) for lettre to deliver to
//! it, keeping every message, and a minimal MIME reader to get the text.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use botbuilder::config::{SmtpConfig, SmtpTls};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One delivered message.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

/// The running sink.
#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    /// Binds on loopback and serves until the test ends.
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind smtp sink");
        let port = listener.local_addr().expect("addr").port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let store = mails.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let _ = serve(socket, store).await;
                });
            }
        });
        SmtpSink { port, mails }
    }

    /// The `[smtp]` configuration pointing at the sink.
    pub fn config(&self) -> SmtpConfig {
        SmtpConfig {
            host: Some("127.0.0.1".into()),
            port: self.port,
            tls: SmtpTls::None,
            from: "botbuilder <no-reply@botbuilder.test>".into(),
            ..SmtpConfig::default()
        }
    }

    pub fn all(&self) -> Vec<Mail> {
        self.mails.lock().expect("lock").clone()
    }

    /// Messages delivered to `to`.
    pub fn to(&self, to: &str) -> Vec<Mail> {
        self.all().into_iter().filter(|m| m.to.iter().any(|t| t == to)).collect()
    }
}

async fn serve(socket: tokio::net::TcpStream, store: Arc<Mutex<Vec<Mail>>>) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP test sink\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if upper.starts_with("HELO") {
            b"250 sink.test\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&line);
            to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            to.push(address(&line));
            b"250 OK\r\n"
        } else if upper.starts_with("DATA") {
            write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').filter(|_| line.starts_with("..")).unwrap_or(&line));
            }
            store.lock().expect("lock").push(Mail { from: from.clone(), to: to.clone(), data });
            b"250 OK queued\r\n"
        } else if upper.starts_with("RSET") || upper.starts_with("NOOP") {
            b"250 OK\r\n"
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"502 command not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
}

fn address(line: &str) -> String {
    line.split_once('<').and_then(|(_, rest)| rest.split_once('>')).map(|(a, _)| a.to_owned()).unwrap_or_default()
}

impl Mail {
    /// A header's (unfolded) value.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    /// The decoded text/plain body.
    pub fn text(&self) -> String {
        self.part("text/plain").unwrap_or_default()
    }

    /// The decoded text/html body.
    pub fn html(&self) -> String {
        self.part("text/html").unwrap_or_default()
    }

    fn part(&self, wanted: &str) -> Option<String> {
        let content_type = self.header("Content-Type").unwrap_or_default();
        if let Some(boundary) = content_type.split("boundary=").nth(1) {
            let boundary = boundary.trim_matches('"').split(';').next().unwrap_or_default().trim_matches('"');
            for part in self.data.split(&format!("--{boundary}")) {
                let Some((head, body)) = part.split_once("\r\n\r\n") else { continue };
                let head_lower = head.to_ascii_lowercase();
                if head_lower.contains(&format!("content-type: {wanted}")) {
                    return Some(decode(&head_lower, body));
                }
            }
            return None;
        }
        let (head, body) = self.data.split_once("\r\n\r\n")?;
        Some(decode(&head.to_ascii_lowercase(), body))
    }

    /// The first link in the text that contains `path`.
    pub fn link(&self, path: &str) -> Option<String> {
        self.text().split_whitespace().find(|w| w.starts_with("http") && w.contains(path)).map(str::to_owned)
    }

    /// The `token` query parameter of the first link containing `path`.
    pub fn token(&self, path: &str) -> String {
        let link = self.link(path).unwrap_or_else(|| panic!("no link to {path} in:\n{}", self.text()));
        link.split("token=").nth(1).expect("token parameter").split('&').next().expect("token").to_owned()
    }
}

fn decode(head_lower: &str, body: &str) -> String {
    if head_lower.contains("content-transfer-encoding: base64") {
        let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        let compact = compact.trim_end_matches('-');
        let bytes = base64::engine::general_purpose::STANDARD.decode(compact).unwrap_or_default();
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    if head_lower.contains("content-transfer-encoding: quoted-printable") {
        let joined = body.replace("=\r\n", "");
        let mut out = Vec::new();
        let bytes = joined.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'='
                && i + 3 <= bytes.len()
                && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
            {
                out.push(b);
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        return String::from_utf8_lossy(&out).into_owned();
    }
    body.to_owned()
}

/// Waits until `sink` holds `n` messages for `to` (the jobs must have run).
pub async fn wait_for(sink: &SmtpSink, to: &str, n: usize) -> Vec<Mail> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mails = sink.to(to);
        if mails.len() >= n {
            return mails;
        }
        assert!(Instant::now() < deadline, "expected {n} mails to {to}, got {}", mails.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
