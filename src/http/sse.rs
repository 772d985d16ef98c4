//! Server-Sent Events responses: conversation streams, inbox updates, job
//! progress and LLM tokens.

use std::fmt::Write as _;
use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::web::Bytes;
use futures_util::{Stream, StreamExt};

/// One event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub event: Option<String>,
    pub id: Option<String>,
    pub data: String,
}

impl SseEvent {
    /// A named event carrying JSON.
    #[must_use]
    pub fn json(event: &str, data: &serde_json::Value) -> SseEvent {
        SseEvent { event: Some(event.to_owned()), id: None, data: data.to_string() }
    }

    fn encode(&self) -> Bytes {
        let mut out = String::new();
        if let Some(id) = &self.id {
            let _ = writeln!(out, "id: {id}");
        }
        if let Some(event) = &self.event {
            let _ = writeln!(out, "event: {event}");
        }
        for line in self.data.split('\n') {
            out.push_str("data: ");
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
        Bytes::from(out)
    }
}

/// Streams `events` as `text/event-stream`, with a keep-alive comment every
/// 15 s so proxies keep the connection open. The response ends when `events`
/// ends.
pub fn sse_response<S>(events: S) -> HttpResponse
where
    S: Stream<Item = SseEvent> + Unpin + 'static,
{
    let keep_alive = futures_util::stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_secs(15)).await;
        Some((Some(Bytes::from_static(b": keep-alive\n\n")), ()))
    });
    // `None` marks the end of the events; the keep-alive alone never ends.
    let events = events.map(|e| Some(e.encode())).chain(futures_util::stream::once(async { None }));
    let body = futures_util::stream::select(events, Box::pin(keep_alive))
        .take_while(|item| std::future::ready(item.is_some()))
        .filter_map(|item| std::future::ready(item.map(Ok::<_, std::convert::Infallible>)));
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        // Not compressed: the compressor would hold events back.
        .insert_header(("Content-Encoding", "identity"))
        .streaming(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_encode_multiline_data() {
        let e = SseEvent { event: Some("token".into()), id: Some("7".into()), data: "a\nb".into() };
        assert_eq!(e.encode(), Bytes::from("id: 7\nevent: token\ndata: a\ndata: b\n\n"));
    }
}
