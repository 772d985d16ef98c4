//! Bot types.

use rusqlite::Row;
use serde::{Deserialize, Serialize};

use crate::db::FromRow;
use crate::ids::{BotId, OrgId};

/// A bot as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Bot {
    pub id: BotId,
    pub organization_id: OrgId,
    pub name: String,
    pub description: Option<String>,
    /// BCP 47 language tag (`en`, `pt-BR`) or `auto`.
    pub language: String,
    pub is_active: bool,
    /// Public key embedding the web widget (`<script data-bot-key=…>`).
    pub widget_key: String,
    pub total_messages_received: i64,
    pub total_messages_sent: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl FromRow for Bot {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Bot {
            id: row.get("id")?,
            organization_id: row.get("organization_id")?,
            name: row.get("name")?,
            description: row.get("description")?,
            language: row.get("language")?,
            is_active: row.get("is_active")?,
            widget_key: row.get("widget_key")?,
            total_messages_received: row.get("total_messages_received")?,
            total_messages_sent: row.get("total_messages_sent")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// `POST /orgs/{org_id}/bots`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBotRequest {
    #[schema(example = "Support bot")]
    pub name: String,
    pub description: Option<String>,
    /// Default `en`.
    pub language: Option<String>,
}

/// `PATCH /bots/{bot_id}`: absent fields stay as they are.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBotRequest {
    pub name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub language: Option<String>,
    pub is_active: Option<bool>,
}
