//! The MCP client: the streamable HTTP transport (MCP 2025-06-18, also
//! 2025-03-26 and 2024-11-05 servers). Each message is a JSON-RPC 2.0 POST
//! to the server's one endpoint, accepting `application/json` and
//! `text/event-stream`; the answer is either a JSON body or an SSE stream
//! whose events carry JSON-RPC messages, of which the one with our request's
//! id is the answer. `initialize` opens a session (the server may return
//! `Mcp-Session-Id`, sent on every later request, and `DELETE`d at the end),
//! then `notifications/initialized`, then the calls. Every request goes
//! through the outbound policy (the SSRF guard), with the credential from the
//! vault in the configured header.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{Value, json};

use super::model::McpTool;
use crate::app::AppState;
use crate::outbound::OutboundError;

/// The version this client asks for first.
pub const LATEST_PROTOCOL_VERSION: &str = "2025-06-18";
/// Versions this client and the server side speak.
pub const PROTOCOL_VERSIONS: [&str; 3] = ["2025-06-18", "2025-03-26", "2024-11-05"];
/// Largest answer read from an MCP server.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// Most tools read from one server (pages of `tools/list` included).
pub const MAX_TOOLS: usize = 500;
/// Error bodies are quoted up to this many characters.
const EXCERPT_CHARS: usize = 300;

/// Why talking to an MCP server failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum McpError {
    /// The policy refused the URL or the server could not be reached.
    #[error("{0}")]
    Unreachable(String),
    /// The URL is refused by the outbound policy.
    #[error("{0}")]
    NotAllowed(String),
    /// The server refused the credential (401/403).
    #[error("{0}")]
    Unauthorized(String),
    /// The server answered something that is not MCP.
    #[error("{0}")]
    Protocol(String),
    /// The server answered with a JSON-RPC error.
    #[error("the MCP server answered error {code}: {message}")]
    Rpc { code: i64, message: String },
    #[error("the MCP server did not answer in time")]
    Timeout,
}

impl McpError {
    /// A stable code (`mcp_unreachable`, `url_not_allowed`, `mcp_unauthorized`, `mcp_protocol_error`, `mcp_error`, `timeout`).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            McpError::Unreachable(_) => "mcp_unreachable",
            McpError::NotAllowed(_) => "url_not_allowed",
            McpError::Unauthorized(_) => "mcp_unauthorized",
            McpError::Protocol(_) => "mcp_protocol_error",
            McpError::Rpc { .. } => "mcp_error",
            McpError::Timeout => "timeout",
        }
    }
}

fn outbound(e: &OutboundError) -> McpError {
    match e {
        OutboundError::Timeout => McpError::Timeout,
        OutboundError::Forbidden(_) | OutboundError::Scheme => McpError::NotAllowed(e.to_string()),
        OutboundError::TooLarge(_) => McpError::Protocol(format!("the MCP server's answer is too large: {e}")),
        OutboundError::InvalidUrl(_) | OutboundError::Failed(_) => {
            McpError::Unreachable(format!("cannot reach the MCP server: {e}"))
        }
    }
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: String,
    /// Header name and value carrying the credential (the value is a secret).
    pub auth: Option<(String, String)>,
}

/// An open session with a server.
pub struct Session<'a> {
    state: &'a AppState,
    endpoint: &'a Endpoint,
    id: Option<String>,
    /// The version the server agreed to.
    pub protocol_version: String,
    /// `serverInfo.name` of the server.
    pub server_name: Option<String>,
    next_id: i64,
    timeout: Duration,
}

impl<'a> Session<'a> {
    /// Connects: `initialize`, then `notifications/initialized`.
    pub async fn open(state: &'a AppState, endpoint: &'a Endpoint, timeout: Duration) -> Result<Session<'a>, McpError> {
        let mut session = Session {
            state,
            endpoint,
            id: None,
            protocol_version: LATEST_PROTOCOL_VERSION.to_owned(),
            server_name: None,
            next_id: 1,
            timeout,
        };
        let params = json!({
            "protocolVersion": LATEST_PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": { "name": "botbuilder", "version": env!("CARGO_PKG_VERSION") }
        });
        let (result, session_id) = session.exchange("initialize", Some(params)).await?;
        let version = result["protocolVersion"]
            .as_str()
            .ok_or_else(|| McpError::Protocol("the `initialize` answer has no `protocolVersion`".into()))?;
        if !PROTOCOL_VERSIONS.contains(&version) {
            return Err(McpError::Protocol(format!(
                "the MCP server speaks protocol version {version}; this server speaks {}",
                PROTOCOL_VERSIONS.join(", ")
            )));
        }
        version.clone_into(&mut session.protocol_version);
        session.id = session_id;
        session.server_name = result.pointer("/serverInfo/name").and_then(Value::as_str).map(str::to_owned);
        session.notify("notifications/initialized").await?;
        Ok(session)
    }

    fn request(&self, method: Method) -> Result<reqwest::RequestBuilder, McpError> {
        let mut request = self
            .state
            .outbound
            .request(method, &self.endpoint.url)
            .map_err(|e| outbound(&e))?
            .timeout(self.timeout)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", self.protocol_version.as_str());
        if let Some(id) = &self.id {
            request = request.header("mcp-session-id", id.as_str());
        }
        if let Some((name, value)) = &self.endpoint.auth {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| McpError::Protocol(format!("`{name}` is not a header name")))?;
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| McpError::Unauthorized("the stored credential is not a header value".into()))?;
            value.set_sensitive(true);
            request = request.header(name, value);
        }
        Ok(request)
    }

    async fn post(&self, body: &Value) -> Result<crate::outbound::Fetched, McpError> {
        let request = self.request(Method::POST)?.json(body);
        let fetched =
            self.state.outbound.send_limited(request, Some(MAX_RESPONSE_BYTES)).await.map_err(|e| outbound(&e))?;
        let status = fetched.status.as_u16();
        if status == 401 || status == 403 {
            return Err(McpError::Unauthorized(format!(
                "the MCP server refused the credential ({}): check the integration it uses",
                fetched.status
            )));
        }
        if status == 404 && self.id.is_some() {
            return Err(McpError::Protocol("the MCP server ended the session (404)".into()));
        }
        if !fetched.status.is_success() {
            let excerpt: String = String::from_utf8_lossy(&fetched.body).chars().take(EXCERPT_CHARS).collect();
            return Err(McpError::Unreachable(format!("the MCP server answered {}: {excerpt}", fetched.status)));
        }
        Ok(fetched)
    }

    /// Sends a notification (no answer expected beyond 202).
    async fn notify(&self, method: &str) -> Result<(), McpError> {
        self.post(&json!({ "jsonrpc": "2.0", "method": method })).await.map(|_| ())
    }

    /// Sends a request and returns its result and the `Mcp-Session-Id` answered.
    async fn exchange(&mut self, method: &str, params: Option<Value>) -> Result<(Value, Option<String>), McpError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut body = json!({ "jsonrpc": "2.0", "id": id, "method": method });
        if let Some(p) = params {
            body["params"] = p;
        }
        let fetched = self.post(&body).await?;
        let session_id = fetched
            .headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.bytes().all(|b| (0x21..=0x7e).contains(&b)))
            .map(str::to_owned);
        let content_type =
            fetched.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
        let message = if content_type.starts_with("text/event-stream") {
            answer_in_stream(&fetched.body, id)?
        } else if content_type.starts_with("application/json") {
            serde_json::from_slice::<Value>(&fetched.body)
                .map_err(|e| McpError::Protocol(format!("the MCP server's answer is not JSON: {e}")))?
        } else {
            return Err(McpError::Protocol(format!(
                "the MCP server answered `{content_type}`, not application/json or text/event-stream"
            )));
        };
        Ok((result_of(&message, id)?, session_id))
    }

    /// Sends a request in the session.
    pub async fn call(&mut self, method: &str, params: Option<Value>) -> Result<Value, McpError> {
        self.exchange(method, params).await.map(|(r, _)| r)
    }

    /// Every tool of the server (following `nextCursor`).
    pub async fn list_tools(&mut self) -> Result<Vec<McpTool>, McpError> {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let params = cursor.as_ref().map(|c| json!({ "cursor": c }));
            let result = self.call("tools/list", params).await?;
            let page = result["tools"]
                .as_array()
                .ok_or_else(|| McpError::Protocol("the `tools/list` answer has no `tools` array".into()))?;
            for t in page {
                let name = t["name"]
                    .as_str()
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| McpError::Protocol("a tool of `tools/list` has no name".into()))?;
                tools.push(McpTool {
                    name: name.to_owned(),
                    description: t["description"].as_str().map(str::to_owned),
                    input_schema: t
                        .get("inputSchema")
                        .cloned()
                        .unwrap_or_else(|| json!({ "type": "object", "properties": {} })),
                });
                if tools.len() >= MAX_TOOLS {
                    return Ok(tools);
                }
            }
            match result["nextCursor"].as_str() {
                Some(next) if !next.is_empty() && cursor.as_deref() != Some(next) => cursor = Some(next.to_owned()),
                _ => return Ok(tools),
            }
        }
    }

    /// Ends the session (servers that keep none answer 405, which is fine).
    pub async fn close(self) {
        if self.id.is_none() {
            return;
        }
        if let Ok(request) = self.request(Method::DELETE) {
            // Best effort: the server also expires idle sessions itself.
            let _ = self.state.outbound.send_limited(request, Some(4096)).await;
        }
    }
}

/// The JSON-RPC message answering `id` in an SSE body.
fn answer_in_stream(body: &[u8], id: i64) -> Result<Value, McpError> {
    let text = String::from_utf8_lossy(body);
    let mut data = String::new();
    let mut events = Vec::new();
    for line in text.lines().chain(std::iter::once("")) {
        if line.is_empty() {
            if !data.is_empty() {
                events.push(std::mem::take(&mut data));
            }
        } else if let Some(rest) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(rest.strip_prefix(' ').unwrap_or(rest));
        }
    }
    for event in events {
        let Ok(message) = serde_json::from_str::<Value>(&event) else { continue };
        if message["id"].as_i64() == Some(id) && (message.get("result").is_some() || message.get("error").is_some()) {
            return Ok(message);
        }
    }
    Err(McpError::Protocol("the MCP server's event stream ended without the answer".into()))
}

/// The `result` of a JSON-RPC answer to `id`, or its error.
fn result_of(message: &Value, id: i64) -> Result<Value, McpError> {
    if message["jsonrpc"] != "2.0" || message["id"].as_i64() != Some(id) {
        return Err(McpError::Protocol("the MCP server's answer is not a JSON-RPC 2.0 answer to the request".into()));
    }
    if let Some(error) = message.get("error") {
        return Err(McpError::Rpc {
            code: error["code"].as_i64().unwrap_or_default(),
            message: error["message"].as_str().unwrap_or("no message").chars().take(EXCERPT_CHARS).collect(),
        });
    }
    message.get("result").cloned().ok_or_else(|| McpError::Protocol("the answer has neither result nor error".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_found_among_the_events_of_a_stream() {
        let body =
            b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n\
                     id: 7\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\ndata: \"result\":{\"ok\":true}}\n\n";
        let found = answer_in_stream(body, 3).expect("answer");
        assert_eq!(result_of(&found, 3).expect("result"), json!({ "ok": true }));
        assert!(matches!(answer_in_stream(body, 4), Err(McpError::Protocol(_))));
        let error = json!({ "jsonrpc": "2.0", "id": 2, "error": { "code": -32601, "message": "no such method" } });
        assert!(matches!(result_of(&error, 2), Err(McpError::Rpc { code: -32601, .. })));
    }
}
