//! The bridge to NLU (issue 5): a message's intent and entities, entity
//! extraction for entity-typed questions, and the intents a bot's model
//! knows (to report flows naming deleted intents).

use std::collections::HashSet;

use serde_json::Value;

use crate::app::AppState;
use crate::error::AppResult;
use crate::flows::engine::Nlu;
use crate::http::Tenant;
use crate::ids::BotId;

/// The NLU result of a message; `None` when the bot has no trained model.
// TODO(#5): call crate::nlu::service::parse once issue-nlu is merged.
#[allow(clippy::unused_async, reason = "the service it will call is async")]
pub async fn parse(_state: &AppState, _tenant: &Tenant, _bot: BotId, _text: &str) -> Option<Nlu> {
    None
}

/// A value of `entity` in `text`.
// TODO(#5): call the NLU entity extractor once issue-nlu is merged.
#[allow(clippy::unused_async, reason = "the service it will call is async")]
pub async fn extract_entity(
    _state: &AppState,
    _tenant: &Tenant,
    _bot: BotId,
    entity: &str,
    _text: &str,
) -> Result<Option<Value>, String> {
    Err(format!("entity `{entity}` cannot be recognised: NLU is not part of this build yet"))
}

/// The intents the bot's model knows, when it has one.
// TODO(#5): read the bot's intents through the NLU service once issue-nlu is merged.
pub fn known_intents(
    _conn: &rusqlite::Connection,
    _tenant: &Tenant,
    _bot: BotId,
) -> AppResult<Option<HashSet<String>>> {
    Ok(None)
}
