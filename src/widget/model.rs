//! Widget settings and the public widget's types.

use serde::{Deserialize, Serialize};

use crate::conversations::model::{ConvStatus, Message};

/// Where the launcher sits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WidgetPosition {
    #[default]
    BottomRight,
    BottomLeft,
}

/// How the widget looks (`widget_configs.config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
#[allow(clippy::struct_excessive_bools, reason = "independent switches of the designer, stored as one JSON object")]
pub struct WidgetConfig {
    /// The header title (default: the bot's name).
    pub title: Option<String>,
    pub subtitle: Option<String>,
    /// `#rrggbb`: header, launcher and the user's bubbles.
    pub primary_color: String,
    /// `#rrggbb`: text on the primary colour.
    pub primary_text_color: String,
    /// `#rrggbb`: the panel background.
    pub background_color: String,
    /// `#rrggbb`: text of the bot's bubbles.
    pub text_color: String,
    pub position: WidgetPosition,
    /// Shown first in the panel (not stored in the transcript).
    pub welcome_message: Option<String>,
    pub placeholder: String,
    /// Text beside the launcher icon.
    pub launcher_label: Option<String>,
    pub show_avatar: bool,
    /// Hide "Powered by botbuilder".
    pub white_label: bool,
    /// Open the panel when the page loads.
    pub open_on_load: bool,
    /// Let end users send images and files (the paper clip); off: uploads
    /// are refused with 403 `uploads_disabled`.
    #[serde(default = "yes")]
    pub uploads_enabled: bool,
}

impl Default for WidgetConfig {
    fn default() -> Self {
        WidgetConfig {
            title: None,
            subtitle: None,
            primary_color: "#6d28d9".into(),
            primary_text_color: "#ffffff".into(),
            background_color: "#ffffff".into(),
            text_color: "#1f2937".into(),
            position: WidgetPosition::BottomRight,
            welcome_message: Some("Hi! How can we help?".into()),
            placeholder: "Type a message…".into(),
            launcher_label: None,
            show_avatar: true,
            white_label: false,
            open_on_load: false,
            uploads_enabled: true,
        }
    }
}

/// The widget settings of a bot as the designer edits them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WidgetSettingsView {
    pub widget_key: String,
    pub config: WidgetConfig,
    /// Origins (`https://shop.example.com`) whose pages may embed the widget;
    /// empty: any origin.
    pub allowed_origins: Vec<String>,
    /// The tag to paste into a page.
    pub embed_code: String,
}

/// `PUT /bots/{bot_id}/widget`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WidgetSettingsRequest {
    pub config: WidgetConfigRequest,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}

/// Every field of [`WidgetConfig`], strictly.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(clippy::struct_excessive_bools, reason = "independent switches of the designer, stored as one JSON object")]
pub struct WidgetConfigRequest {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub subtitle: Option<String>,
    pub primary_color: Option<String>,
    pub primary_text_color: Option<String>,
    pub background_color: Option<String>,
    pub text_color: Option<String>,
    #[serde(default)]
    pub position: WidgetPosition,
    #[serde(default)]
    pub welcome_message: Option<String>,
    pub placeholder: Option<String>,
    #[serde(default)]
    pub launcher_label: Option<String>,
    #[serde(default = "yes")]
    pub show_avatar: bool,
    #[serde(default)]
    pub white_label: bool,
    #[serde(default)]
    pub open_on_load: bool,
    #[serde(default = "yes")]
    pub uploads_enabled: bool,
}

fn yes() -> bool {
    true
}

/// What the public widget loads.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicWidget {
    pub bot_name: String,
    /// Whether the bot takes messages now.
    pub available: bool,
    pub avatar_url: Option<String>,
    pub config: WidgetConfig,
    /// The largest file the widget may send (`files.max_upload_bytes`).
    pub max_upload_bytes: usize,
}

/// `POST /widget/{widget_key}/sessions` (optional body): where the visitor is,
/// shown to agents in the inbox's visitor details.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WidgetSessionRequest {
    /// The page the widget was opened on (`location.href`; http(s) only).
    #[serde(default)]
    pub page_url: Option<String>,
    /// `document.title`.
    #[serde(default)]
    pub page_title: Option<String>,
    /// `navigator.language` (default: the `Accept-Language` header).
    #[serde(default)]
    pub language: Option<String>,
}

/// A new widget session.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WidgetSession {
    /// Keep it (e.g. in `sessionStorage`) to continue the conversation.
    pub session_id: String,
    pub status: ConvStatus,
    /// Whether a human agent has taken the conversation (status `handoff` and
    /// assigned); while false in `handoff` the visitor waits for a person.
    pub assigned: bool,
    /// The bot's opening messages.
    pub messages: Vec<Message>,
}

/// The history of a widget session.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WidgetHistory {
    pub status: ConvStatus,
    /// Whether a human agent has taken the conversation.
    pub assigned: bool,
    pub messages: Vec<Message>,
}

/// `?name=&caption=` of a widget upload.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WidgetUploadParams {
    /// The file's name on the visitor's device.
    #[serde(default)]
    pub name: Option<String>,
    /// Text sent with the file; it runs as the turn's message.
    #[serde(default)]
    pub caption: Option<String>,
}
