//! A minimal HTTP/1.1 server on loopback for fakes of external services
//! (web pages to crawl, an OpenAI-compatible LLM). Each request is answered
//! by the test's handler; requests are recorded for assertions.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct Received {
    #[allow(dead_code, reason = "for assertions in future fakes")]
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// How to answer.
pub enum Reply {
    /// Status, content type, body.
    Full(u16, String, Vec<u8>),
    /// Status, content type, body parts sent with a pause between them (streaming).
    Chunked(u16, String, Vec<Vec<u8>>, Duration),
    /// Wait, then close without answering.
    Hang(Duration),
    /// Status, extra headers, body (e.g. a 429 with `Retry-After`).
    WithHeaders(u16, Vec<(String, String)>, Vec<u8>),
    /// Wait (a slow receiver), then answer status, content type, body.
    Slow(Duration, u16, String, Vec<u8>),
}

pub type Handler = Arc<dyn Fn(&Received) -> Reply + Send + Sync>;

/// A running fake.
pub struct FakeServer {
    pub base: String,
    pub received: Arc<Mutex<Vec<Received>>>,
}

impl FakeServer {
    pub async fn start(handler: Handler) -> FakeServer {
        FakeServer::start_on("127.0.0.1:0", handler).await
    }

    /// Like [`FakeServer::start`] on a chosen address (a receiver that comes back on its port).
    pub async fn start_on(address: &str, handler: Handler) -> FakeServer {
        let listener = TcpListener::bind(address).await.expect("bind fake");
        let base = format!("http://127.0.0.1:{}", listener.local_addr().expect("addr").port());
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else { return };
                let (handler, log) = (handler.clone(), log.clone());
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut socket).await else { return };
                    log.lock().expect("log").push(request.clone());
                    let mut reply = handler(&request);
                    if let Reply::Slow(pause, status, ct, body) = reply {
                        tokio::time::sleep(pause).await;
                        reply = Reply::Full(status, ct, body);
                    }
                    match reply {
                        Reply::Full(status, ct, body) => {
                            let head = format!(
                                "HTTP/1.1 {status} X\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                body.len()
                            );
                            let _ = socket.write_all(head.as_bytes()).await;
                            let _ = socket.write_all(&body).await;
                        }
                        Reply::Chunked(status, ct, parts, pause) => {
                            let head = format!(
                                "HTTP/1.1 {status} X\r\nContent-Type: {ct}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                            );
                            let _ = socket.write_all(head.as_bytes()).await;
                            for part in parts {
                                let _ = socket.write_all(format!("{:x}\r\n", part.len()).as_bytes()).await;
                                let _ = socket.write_all(&part).await;
                                let _ = socket.write_all(b"\r\n").await;
                                let _ = socket.flush().await;
                                tokio::time::sleep(pause).await;
                            }
                            let _ = socket.write_all(b"0\r\n\r\n").await;
                        }
                        Reply::Hang(d) => tokio::time::sleep(d).await,
                        Reply::WithHeaders(status, headers, body) => {
                            let extra: String =
                                headers.iter().flat_map(|(k, v)| [k.as_str(), ": ", v.as_str(), "\r\n"]).collect();
                            let head = format!(
                                "HTTP/1.1 {status} X\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
                                body.len()
                            );
                            let _ = socket.write_all(head.as_bytes()).await;
                            let _ = socket.write_all(&body).await;
                        }
                        Reply::Slow(..) => {}
                    }
                    let _ = socket.shutdown().await;
                });
            }
        });
        FakeServer { base, received }
    }

    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().expect("log").clone()
    }
}

pub async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0_u8; 8192];
    let header_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_owned(), first.next()?.to_owned());
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))).collect();
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buf[header_end..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Received { method, path, headers, body })
}

/// A small valid PDF with one text line per page (offsets computed).
pub fn pdf(pages: &[&str]) -> Vec<u8> {
    let mut objects: Vec<String> = Vec::new();
    let n = pages.len();
    // 1: catalog, 2: pages, 3: font, then per page: page object and content stream.
    objects.push("<< /Type /Catalog /Pages 2 0 R >>".into());
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 4 + i * 2)).collect();
    objects.push(format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")));
    objects.push("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".into());
    for (i, text) in pages.iter().enumerate() {
        let content_id = 5 + i * 2;
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {content_id} 0 R >>"
        ));
        let escaped = text.replace('\\', "\\\\").replace('(', "\\(").replace(')', "\\)");
        let stream = format!("BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET");
        objects.push(format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()));
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, obj) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{obj}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    out
}

/// A minimal DOCX (zip with `word/document.xml`) of (style, text) paragraphs.
pub fn docx(paragraphs: &[(Option<&str>, &str)]) -> Vec<u8> {
    use std::fmt::Write as _;
    use std::io::Write;
    let mut body = String::new();
    for (style, text) in paragraphs {
        body.push_str("<w:p>");
        if let Some(s) = style {
            let _ = write!(body, "<w:pPr><w:pStyle w:val=\"{s}\"/></w:pPr>");
        }
        let escaped = text.replace('&', "&amp;").replace('<', "&lt;");
        let _ = write!(body, "<w:r><w:t xml:space=\"preserve\">{escaped}</w:t></w:r></w:p>");
    }
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
         <w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{body}</w:body></w:document>"
    );
    let mut cursor = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut cursor);
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("[Content_Types].xml", options).expect("zip");
        zip.write_all(
            b"<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"/>",
        )
        .expect("zip");
        zip.start_file("word/document.xml", options).expect("zip");
        zip.write_all(xml.as_bytes()).expect("zip");
        zip.finish().expect("zip");
    }
    cursor.into_inner()
}

/// A DOCX whose document part inflates to `size` bytes (a zip bomb).
pub fn docx_bomb(size: usize) -> Vec<u8> {
    use std::io::Write;
    let mut cursor = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut cursor);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(size > u32::MAX as usize);
        zip.start_file("word/document.xml", options).expect("zip");
        let block = vec![b' '; 1 << 20];
        let mut left = size;
        while left > 0 {
            let n = left.min(block.len());
            zip.write_all(&block[..n]).expect("zip");
            left -= n;
        }
        zip.finish().expect("zip");
    }
    cursor.into_inner()
}
