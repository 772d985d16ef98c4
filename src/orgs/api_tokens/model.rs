//! API token types.

use rusqlite::Row;
use serde::{Deserialize, Serialize};

use crate::db::FromRow;
use crate::ids::{ApiTokenId, BotId, UserId};
use crate::permissions::PermissionSet;

/// An API token as listed (never the secret).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub name: String,
    /// The first characters of the token, to recognise it.
    pub prefix: String,
    /// Permission names the token carries (never more than its creator's).
    pub scopes: Vec<&'static str>,
    /// When set, the token works only on this bot's routes.
    pub bot_id: Option<BotId>,
    pub user_id: UserId,
    pub created_by: String,
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub created_at: String,
    /// active, expired or revoked.
    pub status: String,
}

impl FromRow for ApiToken {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(ApiToken {
            id: row.get("id")?,
            name: row.get("token_name")?,
            prefix: row.get("token_prefix")?,
            scopes: PermissionSet::from_json(&row.get::<_, String>("scopes")?).names(),
            bot_id: row.get("bot_id")?,
            user_id: row.get("user_id")?,
            created_by: row.get("created_by")?,
            last_used_at: row.get("last_used_at")?,
            expires_at: row.get("expires_at")?,
            revoked_at: row.get("revoked_at")?,
            created_at: row.get("created_at")?,
            status: row.get("status")?,
        })
    }
}

/// A new token: the secret is in `token`, shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedApiToken {
    #[serde(flatten)]
    pub api_token: ApiToken,
    /// `bb_…`: send as `Authorization: Bearer <token>`. Not shown again.
    pub token: String,
}

/// `POST /orgs/{org_id}/api-tokens`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiTokenRequest {
    #[schema(example = "CI deploy")]
    pub name: String,
    /// Permission names; each must be one the caller holds.
    #[schema(example = json!(["bots.read", "bots.write"]))]
    pub scopes: Vec<String>,
    /// Limit the token to one bot of the organization.
    #[serde(default)]
    pub bot_id: Option<BotId>,
    /// When it stops working (RFC 3339, in the future); none: until revoked.
    #[serde(default)]
    pub expires_at: Option<String>,
}
