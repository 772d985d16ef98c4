//! Integrations: the per-type schemas, DTOs and row mappers.

use std::collections::BTreeMap;

use rusqlite::Row;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::FromRow;
use crate::ids::OrgId;

crate::id_type!(
    /// A row of `integrations`.
    IntegrationId
);
crate::id_type!(
    /// A row of `integration_logs`.
    IntegrationLogId
);

/// One field of a type's schema.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct FieldSpec {
    pub name: &'static str,
    pub label: &'static str,
    /// Needed at creation (for credentials: unless the OAuth app is given instead, see `oauth`).
    pub required: bool,
    pub help: &'static str,
}

const fn field(name: &'static str, label: &'static str, required: bool, help: &'static str) -> FieldSpec {
    FieldSpec { name, label, required, help }
}

/// How a type connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OAuthSupport {
    /// Credentials only.
    None,
    /// A static token, or the OAuth connect flow with the app's `client_id`/`client_secret`.
    Optional,
    /// Only through the OAuth connect flow.
    Required,
}

/// A type of integration: what its config and credentials hold.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TypeSpec {
    #[serde(rename = "type")]
    pub name: &'static str,
    pub label: &'static str,
    /// Non-secret settings (returned as they are).
    pub config: &'static [FieldSpec],
    /// Secret fields (stored sealed; the API only says which are set).
    pub credentials: &'static [FieldSpec],
    pub oauth: OAuthSupport,
    /// Scopes asked for by the connect flow when the integration names none.
    pub default_scopes: &'static [&'static str],
    /// What "Test connection" calls.
    pub test_call: &'static str,
}

const CLIENT_ID: FieldSpec = field("client_id", "OAuth client id", false, "The OAuth app's client id (for Connect).");
const CLIENT_ID_REQ: FieldSpec = field("client_id", "OAuth client id", true, "The OAuth app's client id.");
const CLIENT_SECRET: FieldSpec =
    field("client_secret", "OAuth client secret", false, "The OAuth app's client secret (for Connect).");
const CLIENT_SECRET_REQ: FieldSpec =
    field("client_secret", "OAuth client secret", true, "The OAuth app's client secret.");

/// Every type, in the order the UI lists them.
pub const TYPES: [TypeSpec; 9] = [
    TypeSpec {
        name: "slack",
        label: "Slack",
        config: &[CLIENT_ID],
        credentials: &[
            field("bot_token", "Bot token", true, "xoxb-… token of an installed app (or use Connect)."),
            CLIENT_SECRET,
        ],
        oauth: OAuthSupport::Optional,
        default_scopes: &["chat:write", "channels:history", "im:history", "users:read"],
        test_call: "POST auth.test",
    },
    TypeSpec {
        name: "hubspot",
        label: "HubSpot",
        config: &[CLIENT_ID],
        credentials: &[
            field("access_token", "Private app access token", true, "pat-… token of a private app (or use Connect)."),
            CLIENT_SECRET,
        ],
        oauth: OAuthSupport::Optional,
        default_scopes: &["crm.objects.contacts.read", "crm.objects.contacts.write"],
        test_call: "GET /account-info/v3/details",
    },
    TypeSpec {
        name: "gmail",
        label: "Gmail",
        config: &[CLIENT_ID_REQ],
        credentials: &[CLIENT_SECRET_REQ],
        oauth: OAuthSupport::Required,
        default_scopes: &[
            "https://www.googleapis.com/auth/gmail.readonly",
            "https://www.googleapis.com/auth/gmail.send",
        ],
        test_call: "GET /gmail/v1/users/me/profile",
    },
    TypeSpec {
        name: "google_calendar",
        label: "Google Calendar",
        config: &[CLIENT_ID_REQ],
        credentials: &[CLIENT_SECRET_REQ],
        oauth: OAuthSupport::Required,
        default_scopes: &["https://www.googleapis.com/auth/calendar.events"],
        test_call: "GET /calendar/v3/users/me/calendarList",
    },
    TypeSpec {
        name: "meta",
        label: "Meta (Facebook Page)",
        config: &[
            field("client_id", "App id", true, "The Meta app's id."),
            field("page_id", "Page id", false, "The Facebook Page whose long-lived page token is kept."),
        ],
        credentials: &[field("client_secret", "App secret", true, "The Meta app's secret.")],
        oauth: OAuthSupport::Required,
        default_scopes: &["pages_show_list", "pages_messaging", "pages_manage_metadata"],
        test_call: "GET /me",
    },
    TypeSpec {
        name: "zendesk",
        label: "Zendesk",
        config: &[
            field("subdomain", "Subdomain", true, "`acme` for acme.zendesk.com."),
            field("email", "Agent email", true, "The agent the API token belongs to."),
        ],
        credentials: &[field("api_token", "API token", true, "Admin Center → Apps and integrations → Zendesk API.")],
        oauth: OAuthSupport::None,
        default_scopes: &[],
        test_call: "GET /api/v2/users/me.json",
    },
    TypeSpec {
        name: "shopify",
        label: "Shopify",
        config: &[field("shop", "Shop", true, "`acme` for acme.myshopify.com.")],
        credentials: &[field("access_token", "Admin API access token", true, "shpat_… token of a custom app.")],
        oauth: OAuthSupport::None,
        default_scopes: &[],
        test_call: "GET /admin/api/2024-07/shop.json",
    },
    TypeSpec {
        name: "salesforce",
        label: "Salesforce",
        config: &[field("instance_url", "Instance URL", true, "https://acme.my.salesforce.com")],
        credentials: &[field("access_token", "Access token", true, "A session or connected-app access token.")],
        oauth: OAuthSupport::None,
        default_scopes: &[],
        test_call: "GET /services/oauth2/userinfo",
    },
    TypeSpec {
        name: "custom",
        label: "Custom HTTP API",
        config: &[
            field("url", "Test URL", true, "An http(s) URL answered with 2xx when the secret is right."),
            field(
                "header_name",
                "Header",
                false,
                "Header carrying the secret; default `Authorization: Bearer <secret>`.",
            ),
        ],
        credentials: &[field("secret", "Secret", true, "API key or bearer token.")],
        oauth: OAuthSupport::None,
        default_scopes: &[],
        test_call: "GET <url>",
    },
];

/// The schema of a type.
#[must_use]
pub fn spec(name: &str) -> Option<&'static TypeSpec> {
    TYPES.iter().find(|t| t.name == name)
}

/// Secret fields the server itself writes (OAuth tokens); never accepted from clients.
pub const TOKEN_FIELDS: [&str; 3] = ["access_token", "refresh_token", "user_access_token"];

/// An integration as the API shows it: secrets are never included, only
/// which secret fields are set.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Integration {
    pub id: IntegrationId,
    pub organization_id: OrgId,
    #[serde(rename = "type")]
    #[schema(example = "slack")]
    pub integration_type: String,
    pub name: String,
    /// Non-secret settings.
    #[schema(value_type = Object, example = json!({"client_id": "1234.5678"}))]
    pub config: Value,
    /// Which secret fields are set (OAuth tokens included), e.g. `{"bot_token": "set"}`.
    #[schema(value_type = Object, example = json!({"bot_token": "set"}))]
    pub credentials: BTreeMap<String, String>,
    pub scopes: Vec<String>,
    /// `disconnected`, `connected` (the last test or connect worked) or `error`.
    pub status: String,
    pub token_expires_at: Option<String>,
    /// When the provider was last called successfully or not.
    pub last_sync_at: Option<String>,
    /// The last error, cleared by the next success.
    pub error_message: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

pub const INTEGRATION_COLUMNS: &str = "id, organization_id, type, name, config, metadata, scopes, status, \
     token_expires_at, last_sync_at, error_message, created_at, updated_at, \
     coalesce(length(credentials_encrypted), 0) > 0 AS has_secrets";

impl FromRow for Integration {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let config: String = row.get("config")?;
        let metadata: String = row.get("metadata")?;
        let scopes: String = row.get("scopes")?;
        // `metadata.secret_fields` lists the sealed fields (names only); a
        // re-keyed data file (`--rekey`) cleared the sealed column, so nothing is set.
        let has_secrets: bool = row.get("has_secrets")?;
        let metadata: Value =
            if has_secrets { serde_json::from_str(&metadata).unwrap_or(Value::Null) } else { Value::Null };
        let credentials = metadata
            .get("secret_fields")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(|f| (f.to_owned(), "set".to_owned())).collect())
            .unwrap_or_default();
        Ok(Integration {
            id: row.get("id")?,
            organization_id: row.get("organization_id")?,
            integration_type: row.get("type")?,
            name: row.get("name")?,
            config: serde_json::from_str(&config).unwrap_or(Value::Null),
            credentials,
            scopes: serde_json::from_str(&scopes).unwrap_or_default(),
            status: row.get("status")?,
            token_expires_at: row.get("token_expires_at")?,
            last_sync_at: row.get("last_sync_at")?,
            error_message: row.get("error_message")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// `POST /orgs/{org_id}/integrations`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIntegrationRequest {
    /// A type of `GET /orgs/{org_id}/integration-types`.
    #[serde(rename = "type")]
    #[schema(example = "slack")]
    pub integration_type: String,
    /// 1–200 characters, unique per type in the organization.
    pub name: String,
    /// The type's non-secret fields (strings).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: BTreeMap<String, Value>,
    /// The type's secret fields (strings).
    #[serde(default)]
    pub credentials: BTreeMap<String, String>,
    /// OAuth scopes to ask for (default: the type's `default_scopes`).
    pub scopes: Option<Vec<String>>,
}

/// `PATCH /integrations/{integration_id}`: absent fields stay; `config`
/// replaces the settings; each credential given replaces that field, `null`
/// removes it.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateIntegrationRequest {
    pub name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub config: Option<BTreeMap<String, Value>>,
    #[schema(value_type = Option<Object>)]
    pub credentials: Option<BTreeMap<String, Option<String>>>,
    pub scopes: Option<Vec<String>>,
}

/// The answer of a successful test-connection.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConnectionTest {
    pub ok: bool,
    /// What the provider said about the account (e.g. Slack's team and user), secrets removed.
    #[schema(value_type = Object)]
    pub account: Value,
    pub duration_ms: i64,
    pub integration: Integration,
}

/// The answer of `POST /integrations/{integration_id}/oauth/start`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OAuthStart {
    /// Send the browser here; the provider comes back to `redirect_uri`.
    pub authorize_url: String,
    pub redirect_uri: String,
    /// The `state` expires then (10 minutes).
    pub expires_at: String,
}

/// One provider call of an integration.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IntegrationLog {
    pub id: IntegrationLogId,
    pub integration_id: IntegrationId,
    /// e.g. `test_connection`, `oauth.token`, `oauth.refresh`, `oauth.denied`.
    pub action: String,
    /// `test`, `oauth` or `api_call`.
    pub action_type: String,
    /// Method and URL (no query string, no secrets).
    #[schema(value_type = Object)]
    pub request: Value,
    /// Status and an excerpt of the body with secret-looking fields removed.
    #[schema(value_type = Object)]
    pub response: Value,
    /// `success` or `failure`.
    pub result: String,
    pub error_message: Option<String>,
    pub duration_ms: Option<i64>,
    pub created_at: String,
}

pub const LOG_COLUMNS: &str = "id, integration_id, action, action_type, request_data, response_data, result, \
     error_message, duration_ms, created_at";

impl FromRow for IntegrationLog {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let parse = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or(Value::Null);
        Ok(IntegrationLog {
            id: row.get("id")?,
            integration_id: row.get("integration_id")?,
            action: row.get("action")?,
            action_type: row.get("action_type")?,
            request: parse(row.get("request_data")?),
            response: parse(row.get("response_data")?),
            result: row.get("result")?,
            error_message: row.get("error_message")?,
            duration_ms: row.get("duration_ms")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// What `GET /oauth/callback` receives from the provider.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    /// Set by the provider when the user refused (`access_denied`) or on its errors.
    pub error: Option<String>,
    pub error_description: Option<String>,
}
