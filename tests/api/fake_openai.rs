//! A fake `OpenAI`-compatible server for tests: started on a random loopback
//! port, it answers `POST /v1/chat/completions` from a script (a queue of
//! replies: text, tool calls, an error status with headers such as a 429
//! with `Retry-After`, each optionally slow), in JSON or — when the request
//! says `stream: true` — in `chat.completion.chunk` server-sent events exactly
//! like `OpenAI`'s (role first, text a word per chunk, each tool call's
//! arguments split across several chunks by index, the finish reason, a
//! usage chunk when `stream_options.include_usage`, then `data: [DONE]`).
//! Every request is recorded (body as JSON, headers, arrival time) so tests
//! can assert what was sent; streams the client closed early are counted.
//!
//! `POST /v1/audio/transcriptions` speaks `OpenAI`'s audio API: a multipart
//! form with `file` and `model` (400 `invalid_request_error` naming the
//! missing `param` otherwise), answered from a queue of transcripts pushed
//! with [`FakeOpenAi::push_transcript`] as `{"text": …}` (`response_format`
//! `json`, the default), `verbose_json` or plain `text`. The recorded body
//! is a summary of the form: its text fields, and `file_name`,
//! `file_bytes` and `file_content_type` of the audio.
//!
//! ```ignore
//! let llm = FakeOpenAi::start().await;
//! llm.push(Step::tool_calls(&[("call_1", "get_weather", r#"{"city":"Paris"}"#)]));
//! llm.push(Step::text("It is sunny."));
//! // … provider with base_url = llm.base_url() …
//! assert_eq!(llm.bodies()[1]["messages"][2]["role"], "tool");
//! ```

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::fake_http::read_request;

/// What one scripted reply says.
#[derive(Debug, Clone)]
pub enum Kind {
    /// An assistant text.
    Text(String),
    /// Tool calls: (id, function name, arguments JSON text — sent verbatim, malformed or not).
    ToolCalls(Vec<(String, String, String)>),
    /// An error status with extra headers and a body.
    Status(u16, Vec<(String, String)>, String),
}

/// One scripted reply.
#[derive(Debug, Clone)]
pub struct Step {
    pub kind: Kind,
    /// `usage.prompt_tokens`, `usage.completion_tokens`.
    pub usage: (u64, u64),
    /// Wait before answering (a slow model).
    pub delay: Duration,
    /// Wait between two stream chunks.
    pub pause: Duration,
}

impl Step {
    fn of(kind: Kind) -> Step {
        Step { kind, usage: (10, 5), delay: Duration::ZERO, pause: Duration::from_millis(2) }
    }

    /// The model answers `text`.
    pub fn text(text: &str) -> Step {
        Step::of(Kind::Text(text.to_owned()))
    }

    /// The model calls tools: (id, name, arguments).
    pub fn tool_calls(calls: &[(&str, &str, &str)]) -> Step {
        Step::of(Kind::ToolCalls(
            calls.iter().map(|(i, n, a)| ((*i).to_owned(), (*n).to_owned(), (*a).to_owned())).collect(),
        ))
    }

    /// `429 Too Many Requests` with `Retry-After: retry_after`.
    pub fn rate_limited(retry_after: &str) -> Step {
        Step::of(Kind::Status(
            429,
            vec![("Retry-After".into(), retry_after.into())],
            json!({ "error": { "message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded" } })
                .to_string(),
        ))
    }

    /// `500` with an `OpenAI`-style error body.
    pub fn server_error() -> Step {
        Step::of(Kind::Status(
            500,
            Vec::new(),
            json!({ "error": { "message": "The server had an error", "type": "server_error" } }).to_string(),
        ))
    }

    /// Reports these token counts.
    #[must_use]
    pub fn usage(mut self, prompt: u64, completion: u64) -> Step {
        self.usage = (prompt, completion);
        self
    }

    /// Answers only after `d`.
    #[must_use]
    pub fn delay(mut self, d: Duration) -> Step {
        self.delay = d;
        self
    }

    /// Waits `d` between stream chunks.
    #[must_use]
    pub fn pause(mut self, d: Duration) -> Step {
        self.pause = d;
        self
    }
}

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct Call {
    pub at: Instant,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Call {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Step>>,
    transcripts: Mutex<VecDeque<String>>,
    calls: Mutex<Vec<Call>>,
    aborted: AtomicUsize,
    finished: AtomicUsize,
}

/// A running fake; stops with the test's runtime.
#[derive(Clone)]
pub struct FakeOpenAi {
    base: String,
    shared: Arc<Shared>,
}

impl FakeOpenAi {
    /// Starts the fake on a random loopback port.
    pub async fn start() -> FakeOpenAi {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fake openai");
        let base = format!("http://127.0.0.1:{}", listener.local_addr().expect("addr").port());
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        tokio::spawn(async move {
            let mut n = 0_u64;
            loop {
                let Ok((socket, _)) = listener.accept().await else { return };
                n += 1;
                tokio::spawn(serve(socket, s.clone(), n));
            }
        });
        FakeOpenAi { base, shared }
    }

    /// The `base_url` of a provider (`…/v1`).
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.base)
    }

    /// Queues a reply.
    pub fn push(&self, step: Step) -> &FakeOpenAi {
        self.shared.script.lock().expect("script").push_back(step);
        self
    }

    /// Queues what the next transcription hears.
    pub fn push_transcript(&self, text: &str) -> &FakeOpenAi {
        self.shared.transcripts.lock().expect("transcripts").push_back(text.to_owned());
        self
    }

    /// Replies not used yet.
    pub fn pending(&self) -> usize {
        self.shared.script.lock().expect("script").len()
    }

    /// Every request so far.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().expect("calls").clone()
    }

    /// The request bodies so far.
    pub fn bodies(&self) -> Vec<Value> {
        self.calls().into_iter().map(|c| c.body).collect()
    }

    /// Streams the client closed before their end.
    pub fn aborted_streams(&self) -> usize {
        self.shared.aborted.load(Ordering::SeqCst)
    }

    /// Streams sent to the end.
    pub fn finished_streams(&self) -> usize {
        self.shared.finished.load(Ordering::SeqCst)
    }
}

async fn serve(mut socket: TcpStream, shared: Arc<Shared>, n: u64) {
    let Some(request) = read_request(&mut socket).await else { return };
    if request.path == "/v1/audio/transcriptions" {
        transcribe(&mut socket, &shared, &request).await;
        return;
    }
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    shared.calls.lock().expect("calls").push(Call {
        at: Instant::now(),
        path: request.path.clone(),
        headers: request.headers.clone(),
        body: body.clone(),
    });
    if request.path != "/v1/chat/completions" {
        let _ = write_full(&mut socket, 404, &[], "application/json", r#"{"error":{"message":"unknown path"}}"#).await;
        return;
    }
    let step = shared.script.lock().expect("script").pop_front();
    let Some(step) = step else {
        let _ =
            write_full(&mut socket, 500, &[], "application/json", r#"{"error":{"message":"no scripted reply left"}}"#)
                .await;
        return;
    };
    tokio::time::sleep(step.delay).await;
    let model = body["model"].as_str().unwrap_or("fake-model").to_owned();
    let id = format!("chatcmpl-fake-{n}");
    match &step.kind {
        Kind::Status(status, headers, text) => {
            let _ = write_full(&mut socket, *status, headers, "application/json", text).await;
        }
        _ if body["stream"] == true => {
            let include_usage = body["stream_options"]["include_usage"] == true;
            let chunks = stream_chunks(&step, &id, &model, include_usage);
            match write_stream(&mut socket, &chunks, step.pause).await {
                Ok(()) => shared.finished.fetch_add(1, Ordering::SeqCst),
                Err(_) => shared.aborted.fetch_add(1, Ordering::SeqCst),
            };
        }
        _ => {
            let reply = completion(&step, &id, &model);
            let _ = write_full(&mut socket, 200, &[], "application/json", &reply.to_string()).await;
        }
    }
    let _ = socket.shutdown().await;
}

fn usage_json(step: &Step) -> Value {
    json!({ "prompt_tokens": step.usage.0, "completion_tokens": step.usage.1, "total_tokens": step.usage.0 + step.usage.1 })
}

/// A `chat.completion` body.
fn completion(step: &Step, id: &str, model: &str) -> Value {
    let (message, finish) = match &step.kind {
        Kind::Text(t) => (json!({ "role": "assistant", "content": t }), "stop"),
        Kind::ToolCalls(calls) => (
            json!({ "role": "assistant", "content": null, "tool_calls": calls.iter().map(|(i, n, a)| json!({
                "id": i, "type": "function", "function": { "name": n, "arguments": a } })).collect::<Vec<_>>() }),
            "tool_calls",
        ),
        Kind::Status(..) => (Value::Null, "stop"),
    };
    json!({
        "id": id, "object": "chat.completion", "created": 1_765_000_000, "model": model,
        "choices": [{ "index": 0, "message": message, "logprobs": null, "finish_reason": finish }],
        "usage": usage_json(step), "system_fingerprint": "fp_fake"
    })
}

/// The `chat.completion.chunk` events of a streamed reply.
fn stream_chunks(step: &Step, id: &str, model: &str, include_usage: bool) -> Vec<Value> {
    let chunk = |delta: Value, finish: Value| {
        let mut c = json!({ "id": id, "object": "chat.completion.chunk", "created": 1_765_000_000, "model": model,
                            "system_fingerprint": "fp_fake",
                            "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }] });
        if include_usage {
            c["usage"] = Value::Null;
        }
        c
    };
    let mut out = vec![chunk(json!({ "role": "assistant", "content": "", "refusal": null }), Value::Null)];
    let finish = match &step.kind {
        Kind::Text(t) => {
            for piece in t.split_inclusive(' ') {
                out.push(chunk(json!({ "content": piece }), Value::Null));
            }
            "stop"
        }
        Kind::ToolCalls(calls) => {
            for (index, (call_id, name, args)) in calls.iter().enumerate() {
                out.push(chunk(
                    json!({ "tool_calls": [{ "index": index, "id": call_id, "type": "function",
                                             "function": { "name": name, "arguments": "" } }] }),
                    Value::Null,
                ));
                let chars: Vec<char> = args.chars().collect();
                for piece in chars.chunks(4) {
                    let piece: String = piece.iter().collect();
                    out.push(chunk(
                        json!({ "tool_calls": [{ "index": index, "function": { "arguments": piece } }] }),
                        Value::Null,
                    ));
                }
            }
            "tool_calls"
        }
        Kind::Status(..) => "stop",
    };
    out.push(chunk(json!({}), json!(finish)));
    if include_usage {
        out.push(json!({ "id": id, "object": "chat.completion.chunk", "created": 1_765_000_000, "model": model,
                         "system_fingerprint": "fp_fake", "choices": [], "usage": usage_json(step) }));
    }
    out
}

async fn write_full(
    socket: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    content_type: &str,
    body: &str,
) -> std::io::Result<()> {
    let extra: String = headers.iter().flat_map(|(k, v)| [k.as_str(), ": ", v.as_str(), "\r\n"]).collect();
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await?;
    socket.write_all(body.as_bytes()).await?;
    socket.flush().await
}

async fn write_stream(socket: &mut TcpStream, chunks: &[Value], pause: Duration) -> std::io::Result<()> {
    socket
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        .await?;
    let events = chunks.iter().map(|c| format!("data: {c}\n\n")).chain(std::iter::once("data: [DONE]\n\n".to_owned()));
    for event in events {
        socket.write_all(format!("{:x}\r\n{event}\r\n", event.len()).as_bytes()).await?;
        socket.flush().await?;
        tokio::time::sleep(pause).await;
    }
    socket.write_all(b"0\r\n\r\n").await?;
    socket.flush().await
}

/// One part of a multipart form: its name, file name, content type and bytes.
struct FormPart {
    name: String,
    file_name: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

/// Splits a `multipart/form-data` body (RFC 7578) at its boundary.
fn form_parts(content_type: &str, body: &[u8]) -> Option<Vec<FormPart>> {
    let boundary = content_type.split(';').find_map(|p| p.trim().strip_prefix("boundary="))?.trim_matches('"');
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut at = find(body, &delimiter, 0)? + delimiter.len();
    loop {
        if body.get(at..at + 2) == Some(b"--") {
            return Some(parts);
        }
        let head_start = at + 2;
        let head_end = find(body, b"\r\n\r\n", head_start)?;
        let head = String::from_utf8_lossy(&body[head_start..head_end]).into_owned();
        let next = find(body, &[b"\r\n".as_slice(), &delimiter].concat(), head_end + 4)?;
        let mut part = FormPart {
            name: String::new(),
            file_name: None,
            content_type: None,
            data: body[head_end + 4..next].to_vec(),
        };
        for line in head.split("\r\n") {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("content-disposition:") {
                for attr in line.split(';').skip(1) {
                    if let Some((k, v)) = attr.trim().split_once('=') {
                        let v = v.trim_matches('"').to_owned();
                        match k {
                            "name" => part.name = v,
                            "filename" => part.file_name = Some(v),
                            _ => {}
                        }
                    }
                }
            } else if lower.starts_with("content-type:") {
                part.content_type = line.split_once(':').map(|(_, v)| v.trim().to_owned());
            }
        }
        parts.push(part);
        at = next + 2 + delimiter.len();
    }
}

/// `POST /v1/audio/transcriptions` as `OpenAI` answers it.
async fn transcribe(socket: &mut TcpStream, shared: &Shared, request: &crate::fake_http::Received) {
    let invalid = |message: &str, param: &str| {
        json!({ "error": { "message": message, "type": "invalid_request_error", "param": param, "code": null } })
            .to_string()
    };
    let Some(parts) = request.header("content-type").and_then(|ct| form_parts(ct, &request.body)) else {
        let _ =
            write_full(socket, 400, &[], "application/json", &invalid("Expected a multipart/form-data body.", "file"))
                .await;
        return;
    };
    let mut summary = serde_json::Map::new();
    for p in &parts {
        if p.name == "file" {
            summary.insert("file_name".into(), json!(p.file_name));
            summary.insert("file_bytes".into(), json!(p.data.len()));
            summary.insert("file_content_type".into(), json!(p.content_type));
        } else {
            summary.insert(p.name.clone(), json!(String::from_utf8_lossy(&p.data)));
        }
    }
    shared.calls.lock().expect("calls").push(Call {
        at: Instant::now(),
        path: request.path.clone(),
        headers: request.headers.clone(),
        body: Value::Object(summary.clone()),
    });
    if !summary.contains_key("file_bytes") {
        let _ = write_full(socket, 400, &[], "application/json", &invalid("You must provide a file.", "file")).await;
        return;
    }
    if !summary.contains_key("model") {
        let _ =
            write_full(socket, 400, &[], "application/json", &invalid("you must provide a model parameter", "model"))
                .await;
        return;
    }
    let text = shared.transcripts.lock().expect("transcripts").pop_front().unwrap_or_default();
    let _ = match summary.get("response_format").and_then(Value::as_str).unwrap_or("json") {
        "text" => write_full(socket, 200, &[], "text/plain; charset=utf-8", &text).await,
        "verbose_json" => {
            let body = json!({ "task": "transcribe", "language": "english", "duration": 3.2, "text": text,
                               "segments": [{ "id": 0, "seek": 0, "start": 0.0, "end": 3.2, "text": text,
                                              "tokens": [], "temperature": 0.0, "avg_logprob": -0.2,
                                              "compression_ratio": 1.1, "no_speech_prob": 0.01 }] });
            write_full(socket, 200, &[], "application/json", &body.to_string()).await
        }
        _ => {
            let body = json!({ "text": text, "usage": { "type": "duration", "seconds": 4 } });
            write_full(socket, 200, &[], "application/json", &body.to_string()).await
        }
    };
    let _ = socket.shutdown().await;
}
