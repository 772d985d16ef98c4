//! The bridge to knowledge answers (issue 6) for `knowledge` nodes.

use crate::app::AppState;
use crate::flows::engine::{KnowledgeAnswer, KnowledgeQuery};
use crate::http::Tenant;
use crate::ids::BotId;

/// The best answer from the bot's knowledge base, if any.
// TODO(#6): call crate::knowledge::service::answer once issue-knowledge is merged.
#[allow(clippy::unused_async, reason = "the service it will call is async")]
pub async fn answer(
    _state: &AppState,
    _tenant: &Tenant,
    _bot: BotId,
    _query: KnowledgeQuery,
) -> Result<Option<KnowledgeAnswer>, String> {
    Err("knowledge answers are not part of this build yet".to_owned())
}
