//! WhatsApp message templates: types, DTOs and the row mapper.

use rusqlite::Row;
use serde::{Deserialize, Serialize};

use crate::db::FromRow;

use super::super::model::ChannelId;

crate::id_type!(
    /// A row of `channel_templates`.
    TemplateId
);

/// A button of a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateButton {
    /// `quick_reply`, `url` or `phone_number`.
    #[serde(rename = "type")]
    #[schema(example = "quick_reply")]
    pub button_type: String,
    /// At most 25 characters.
    pub text: String,
    /// `url` buttons: an `https://` address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `phone_number` buttons: `+` and digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
}

/// A message template of a WhatsApp channel.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChannelTemplate {
    pub id: TemplateId,
    pub channel_id: ChannelId,
    /// Lower-case letters, digits and `_`.
    #[schema(example = "order_update")]
    pub name: String,
    #[schema(example = "en_US")]
    pub language: String,
    /// `marketing`, `utility` or `authentication`.
    pub category: String,
    /// The body with variables `{{1}}`…`{{n}}`.
    #[schema(example = "Hi {{1}}, your order {{2}} has shipped.")]
    pub body: String,
    /// Example values of the body's variables, in order (Meta requires them).
    pub examples: Vec<String>,
    /// `none`, `text`, `image`, `video` or `document`.
    pub header_type: String,
    /// The header text, or for media headers the sample's media handle.
    pub header_content: Option<String>,
    pub footer: Option<String>,
    pub buttons: Vec<TemplateButton>,
    /// `pending` (draft or in review), `approved`, `rejected` or `disabled` (paused by Meta).
    pub status: String,
    /// Whether it was submitted to Meta (it has Meta's template id).
    pub submitted: bool,
    /// Meta's template id.
    pub external_id: Option<String>,
    pub rejection_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

pub const TEMPLATE_COLUMNS: &str = "id, channel_id, name, language, category, content, variables, header_type, \
     header_content, footer, buttons, status, external_id, rejection_reason, created_at, updated_at";

impl FromRow for ChannelTemplate {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let examples: String = row.get("variables")?;
        let buttons: String = row.get("buttons")?;
        let external_id: Option<String> = row.get("external_id")?;
        Ok(ChannelTemplate {
            id: row.get("id")?,
            channel_id: row.get("channel_id")?,
            name: row.get("name")?,
            language: row.get("language")?,
            category: row.get("category")?,
            body: row.get("content")?,
            examples: serde_json::from_str(&examples).unwrap_or_default(),
            header_type: row.get("header_type")?,
            header_content: row.get("header_content")?,
            footer: row.get("footer")?,
            buttons: serde_json::from_str(&buttons).unwrap_or_default(),
            status: row.get("status")?,
            submitted: external_id.is_some(),
            external_id,
            rejection_reason: row.get("rejection_reason")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// `POST /channels/{channel_id}/templates`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTemplateRequest {
    /// `[a-z0-9_]{1,512}`.
    pub name: String,
    /// Default `en_US`.
    pub language: Option<String>,
    /// `marketing`, `utility` or `authentication`.
    pub category: String,
    /// At most 1024 characters; variables `{{1}}`…`{{n}}`, numbered consecutively.
    pub body: String,
    /// One example value per variable.
    #[serde(default)]
    pub examples: Vec<String>,
    /// `none` (default), `text`, `image`, `video` or `document`.
    pub header_type: Option<String>,
    /// Header text (at most 60 characters), or a media header's sample handle.
    pub header_content: Option<String>,
    /// At most 60 characters.
    pub footer: Option<String>,
    /// At most 10.
    #[serde(default)]
    pub buttons: Vec<TemplateButton>,
}

/// `POST /channels/{channel_id}/templates/{template_id}/send`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendTemplateRequest {
    /// The recipient's WhatsApp id (phone number in international format, digits).
    #[schema(example = "4915112345678")]
    pub to: String,
    /// The body's variable values, `{{1}}` first.
    #[serde(default)]
    pub variables: Vec<String>,
    /// For media headers: the `https://` address of the image, video or document.
    pub header_media_url: Option<String>,
}

/// A queued template message.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TemplateSend {
    /// The outbound row in the channel's message log.
    pub message_id: i64,
    pub to: String,
    /// The body as the recipient sees it.
    pub content: String,
    #[schema(example = "queued")]
    pub status: String,
}

/// What Meta said of a template (a sync or a `message_template_status_update` webhook).
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderStatus {
    pub external_id: String,
    pub name: String,
    pub language: String,
    /// `pending`, `approved`, `rejected` or `disabled`.
    pub status: &'static str,
    pub reason: Option<String>,
}

impl ProviderStatus {
    /// From Meta's status word (`APPROVED`, `REJECTED`, `PENDING`, `PAUSED`…).
    #[must_use]
    pub fn from_event(external_id: &str, name: &str, language: &str, word: &str, reason: Option<&str>) -> Self {
        ProviderStatus {
            external_id: external_id.to_owned(),
            name: name.to_owned(),
            language: language.to_owned(),
            status: status_of(word),
            reason: reason.filter(|r| !r.is_empty() && *r != "NONE").map(str::to_owned),
        }
    }
}

/// Meta's template status as stored.
#[must_use]
pub fn status_of(word: &str) -> &'static str {
    match word.to_ascii_uppercase().as_str() {
        "APPROVED" => "approved",
        "REJECTED" => "rejected",
        "PAUSED" | "DISABLED" | "DELETED" | "PENDING_DELETION" | "LIMIT_EXCEEDED" => "disabled",
        _ => "pending",
    }
}
