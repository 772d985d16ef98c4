//! The engine's access to the world during a turn: HTTP nodes through the
//! SSRF-guarded client, knowledge answers, entity extraction and NLU.

use futures_util::future::BoxFuture;
use serde_json::Value;

use crate::app::AppState;
use crate::error::AppResult;
use crate::flows::document::HttpMethod;
use crate::flows::engine::{
    AgentAnswer, AgentCall, EngineIo, HttpAnswer, HttpCall, KnowledgeAnswer, KnowledgeQuery, Nlu, ToolNodeCall,
};
use crate::http::Tenant;
use crate::ids::BotId;
use crate::outbound::OutboundError;

/// Largest HTTP node response read.
const MAX_HTTP_RESPONSE: usize = 1024 * 1024;

/// What one turn's nodes may reach.
pub struct RuntimeIo<'a> {
    pub state: &'a AppState,
    pub tenant: &'a Tenant,
    pub bot: BotId,
    /// What the conversation's A/B experiments serve it (agent
    /// configurations, knowledge settings); `None` outside conversations.
    pub served: Option<&'a crate::experiments::runtime::Served>,
}

impl EngineIo for RuntimeIo<'_> {
    fn http(&self, call: HttpCall) -> BoxFuture<'_, Result<HttpAnswer, String>> {
        Box::pin(async move {
            let method = match call.method {
                HttpMethod::Get => reqwest::Method::GET,
                HttpMethod::Post => reqwest::Method::POST,
                HttpMethod::Put => reqwest::Method::PUT,
                HttpMethod::Patch => reqwest::Method::PATCH,
                HttpMethod::Delete => reqwest::Method::DELETE,
            };
            let mut request = self.state.outbound.request(method, &call.url).map_err(describe)?;
            for (name, value) in &call.headers {
                request = request.header(name.as_str(), value.as_str());
            }
            if let Some(body) = &call.body {
                request = request.json(body);
            }
            let fetched = self
                .state
                .outbound
                .send_limited(request.timeout(call.timeout), Some(MAX_HTTP_RESPONSE))
                .await
                .map_err(describe)?;
            let body = serde_json::from_slice(&fetched.body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&fetched.body).into_owned()));
            Ok(HttpAnswer { status: fetched.status.as_u16(), body })
        })
    }

    fn knowledge(&self, query: KnowledgeQuery) -> BoxFuture<'_, Result<Option<KnowledgeAnswer>, String>> {
        Box::pin(async move {
            let settings = self.served.and_then(|s| s.knowledge.as_ref());
            super::knowledge::answer(self.state, self.tenant, self.bot, query, settings).await
        })
    }

    fn agent(&self, call: AgentCall) -> BoxFuture<'_, Result<AgentAnswer, String>> {
        Box::pin(async move {
            let config = self.served.and_then(|s| s.agent(call.agent_id)).cloned();
            crate::agents::runner::flow_turn(self.state, self.tenant, self.bot, call, config.as_ref()).await
        })
    }

    fn tool(&self, call: ToolNodeCall) -> BoxFuture<'_, Result<Value, (String, String)>> {
        Box::pin(async move { crate::agents::runner::flow_tool(self.state, self.tenant, self.bot, call).await })
    }

    fn entity<'a>(&'a self, entity: &'a str, text: &'a str) -> BoxFuture<'a, Result<Option<Value>, String>> {
        Box::pin(async move { super::nlu::extract_entity(self.state, self.tenant, self.bot, entity, text).await })
    }
}

fn describe(e: OutboundError) -> String {
    match e {
        OutboundError::Forbidden(target) => format!("blocked by the SSRF guard: {target} is not a public address"),
        other => other.to_string(),
    }
}

/// NLU of a message for the bot (with an experiment's model version when
/// given); 503 `overloaded` when the model's queue
/// is full and `ml.overload` is `busy`.
pub async fn understand(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    text: &str,
    conversation: i64,
    needs_entities: bool,
    model_version: Option<i64>,
) -> AppResult<Option<Nlu>> {
    super::nlu::parse(state, tenant, bot, text, conversation, needs_entities, model_version).await
}
