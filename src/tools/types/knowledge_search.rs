//! `knowledge_search`: the hybrid retrieval of `src/knowledge/` over the
//! tool's knowledge bases — those its config lists, else those linked to
//! the bot of the call (or of the tool), else those linked to the agent —
//! with citations: document, chunk, score, snippet.

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::{ToolCall, ToolError, ToolType};
use crate::app::AppState;
use crate::error::AppError;
use crate::knowledge::model::KnowledgeBaseId;
use crate::knowledge::search::{MAX_TOP_K, SearchMode, SearchOptions};

pub struct KnowledgeSearchTool;

impl ToolType for KnowledgeSearchTool {
    fn name(&self) -> &'static str {
        "knowledge_search"
    }

    fn label(&self) -> &'static str {
        "Knowledge search"
    }

    fn description(&self) -> &'static str {
        "Searches knowledge bases (keyword and vector, fused) and returns the best passages with citations: \
         document, chunk and score."
    }

    fn config_schema(&self) -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "knowledge_base_ids": {
                    "type": "array", "items": { "type": "integer", "minimum": 1 }, "maxItems": 50, "uniqueItems": true,
                    "title": "Knowledge bases (default: the bot's)"
                },
                "top_k": { "type": "integer", "minimum": 1, "maximum": MAX_TOP_K, "default": 5, "title": "Results" },
                "mode": { "enum": ["hybrid", "keyword", "vector"], "default": "hybrid", "title": "Search mode" }
            }
        })
    }

    fn config_example(&self) -> Value {
        json!({ "top_k": 5, "mode": "hybrid" })
    }

    fn input_schema_example(&self) -> Value {
        json!({
            "type": "object",
            "properties": { "query": { "type": "string", "minLength": 1, "maxLength": 2000, "description": "What to look up" } },
            "required": ["query"],
            "additionalProperties": false
        })
    }

    fn check_config(&self, _state: &AppState, _config: &mut Value) -> Result<(), AppError> {
        Ok(())
    }

    fn run<'a>(&'a self, call: ToolCall<'a>) -> BoxFuture<'a, Result<Value, ToolError>> {
        Box::pin(async move {
            let config = &call.tool.config;
            let query = call.args["query"]
                .as_str()
                .ok_or_else(|| ToolError::failed("tool_misconfigured", "the arguments need a string `query`"))?;
            let mut ids: Vec<KnowledgeBaseId> = config["knowledge_base_ids"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_i64).map(KnowledgeBaseId).collect())
                .unwrap_or_default();
            let failed = |e: AppError| ToolError::failed(e.code().as_str(), e.message().to_owned());
            if ids.is_empty()
                && let Some(bot) = call.ctx.bot_id.or(call.tool.bot_id)
            {
                ids = crate::knowledge::service::bot_knowledge_bases(call.state, call.tenant, bot)
                    .await
                    .map_err(failed)?
                    .into_iter()
                    .map(|k| k.knowledge_base_id)
                    .collect();
            }
            if ids.is_empty()
                && let Some(agent) = call.ctx.agent_id
            {
                ids = crate::knowledge::service::agent_knowledge_bases(call.state, call.tenant, agent)
                    .await
                    .map_err(failed)?;
            }
            if ids.is_empty() {
                return Err(ToolError::failed(
                    "no_knowledge_bases",
                    "the tool lists no knowledge bases and the bot has none linked",
                ));
            }
            let mode = match config["mode"].as_str() {
                Some("keyword") => SearchMode::Keyword,
                Some("vector") => SearchMode::Vector,
                _ => SearchMode::Hybrid,
            };
            let top_k = config["top_k"].as_u64().and_then(|k| usize::try_from(k).ok()).unwrap_or(5);
            let opts = SearchOptions::from_request(Some(top_k), Some(mode), None).map_err(failed)?;
            let response = crate::knowledge::service::search_many(call.state, call.tenant, &ids, query, &opts)
                .await
                .map_err(failed)?;
            let results: Vec<Value> = response
                .results
                .into_iter()
                .map(|r| {
                    json!({
                        "content": r.content,
                        "snippet": r.snippet,
                        "score": r.score,
                        "citation": {
                            "knowledge_base_id": r.knowledge_base_id,
                            "document_id": r.document_id,
                            "document_name": r.document_name,
                            "chunk_id": r.chunk_id,
                            "chunk_index": r.chunk_index,
                            "heading_path": r.heading_path,
                            "source_url": r.source_url,
                        }
                    })
                })
                .collect();
            Ok(json!({ "query": query, "mode": response.mode, "results": results }))
        })
    }
}
