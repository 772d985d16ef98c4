//! One `Config`, layered: built-in defaults → TOML file → `BOTBUILDER_*`
//! environment → command-line flags. `validate()` reports every problem at once.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The whole configuration of a botbuilder process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The `SQLite` data file.
    pub data: PathBuf,
    /// Address the HTTP server listens on.
    pub bind: String,
    /// File holding the 32-byte master key (hex). Default: `<data>.key`, created 0600.
    pub secret_key_file: Option<PathBuf>,
    pub log: LogConfig,
    pub http: HttpConfig,
    pub db: DbConfig,
    pub jobs: JobsConfig,
    pub ml: MlConfig,
    pub outbound: OutboundConfig,
    pub runtime: RuntimeConfig,
    pub smtp: SmtpConfig,
    pub rate_limits: RateLimitsConfig,
    pub admin: AdminConfig,
    pub knowledge: KnowledgeConfig,
    pub channels: ChannelsConfig,
    pub files: FilesConfig,
    pub integrations: IntegrationsConfig,
    pub llm: LlmConfig,
    pub fine_tuning: FineTuningConfig,
    pub billing: BillingConfig,
    pub analytics: AnalyticsConfig,
    pub tools: ToolsConfig,
    pub sandbox: SandboxConfig,
    pub sso: SsoConfig,
    pub recovery: RecoveryConfig,
    pub retention: RetentionConfig,
}

/// Retention and archival (`docs/retention.md`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Where archive files are written (one `org-<id>` folder per
    /// organization). Default: `archive/` beside the data file.
    pub archive_dir: Option<PathBuf>,
}

/// Revenue recovery: the platform's own customers (internal events and
/// customer health) and the cost of messages (`docs/recovery.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecoveryConfig {
    /// The operator's organization: it receives the internal events (failed
    /// payments, inactivity, usage drops, churn risk) of the other
    /// organizations and holds their health scores. Unset: both jobs idle.
    pub operator_organization_id: Option<i64>,
    /// Churn probability (0–1) at which a customer is at risk; crossing it raises a churn-risk event.
    pub churn_risk_threshold: f64,
    /// Churned and retained customers each needed to fit the logistic model (else default weights).
    pub health_min_labels: usize,
    /// Days without usage that make a customer inactive.
    pub inactivity_days: u32,
    /// A drop of usage (last 7 days against the 7 before) of at least this percent raises an event.
    pub usage_drop_percent: u32,
    /// Usage of the 7 days before needed to judge a drop.
    pub usage_drop_min: u32,
    /// Cost of one sent message per channel, minor units (analytics cost and ROI).
    pub message_costs: std::collections::BTreeMap<String, i64>,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            operator_organization_id: None,
            churn_risk_threshold: 0.6,
            health_min_labels: 10,
            inactivity_days: 14,
            usage_drop_percent: 50,
            usage_drop_min: 50,
            message_costs: [("email", 0), ("sms", 5), ("whatsapp", 3), ("telegram", 0)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        }
    }
}

impl RecoveryConfig {
    fn problems(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if !(self.churn_risk_threshold > 0.0 && self.churn_risk_threshold < 1.0) {
            errors.push("recovery.churn_risk_threshold: must be between 0 and 1 (exclusive)".to_owned());
        }
        if self.health_min_labels < 2 {
            errors.push("recovery.health_min_labels: must be at least 2".to_owned());
        }
        if self.inactivity_days == 0 {
            errors.push("recovery.inactivity_days: must be at least 1".to_owned());
        }
        if !(1..=100).contains(&self.usage_drop_percent) {
            errors.push("recovery.usage_drop_percent: must be between 1 and 100".to_owned());
        }
        for (k, v) in &self.message_costs {
            if *v < 0 {
                errors.push(format!("recovery.message_costs.{k}: must not be negative"));
            }
        }
        errors
    }
}

/// Single sign-on (OpenID Connect) and SSO domain verification.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SsoConfig {
    /// Clock skew allowed on an ID token's `exp`, `nbf` and `iat`, in seconds (default 60, at most 300).
    pub clock_skew_secs: u64,
    /// How long a fetched JWKS is used before it is fetched again, in seconds (default 3600).
    pub jwks_cache_secs: u64,
    /// An ID token signed with a key id the cached JWKS lacks makes one
    /// re-fetch (the `IdP` rotated its keys), at most once per this many
    /// seconds per configuration (default 60).
    pub jwks_refetch_min_secs: u64,
    /// DNS server (UDP `ip:port`) asked for the `_botbuilder-verification`
    /// TXT records of SSO domains; empty: the first `nameserver` of `/etc/resolv.conf`.
    pub dns_resolver: String,
    /// Where the HTTP well-known verification file of a domain is fetched:
    /// `{domain}` is replaced (default `https://{domain}/.well-known/botbuilder-domain-verification.txt`).
    pub http_verification_url: String,
}

impl Default for SsoConfig {
    fn default() -> Self {
        Self {
            clock_skew_secs: 60,
            jwks_cache_secs: 3600,
            jwks_refetch_min_secs: 60,
            dns_resolver: String::new(),
            http_verification_url: "https://{domain}/.well-known/botbuilder-domain-verification.txt".to_owned(),
        }
    }
}

impl SsoConfig {
    fn check(&self, errors: &mut Vec<String>) {
        if self.clock_skew_secs > 300 {
            errors.push("sso.clock_skew_secs: at most 300".to_owned());
        }
        if !self.dns_resolver.is_empty() && self.dns_resolver.parse::<SocketAddr>().is_err() {
            errors.push(format!("sso.dns_resolver: `{}` is not an address like 10.0.0.2:53", self.dns_resolver));
        }
        if !self.http_verification_url.contains("{domain}")
            || !(self.http_verification_url.starts_with("http://")
                || self.http_verification_url.starts_with("https://"))
        {
            errors.push("sso.http_verification_url: an http(s) URL containing `{domain}`".to_owned());
        }
    }
}

/// The code-tool sandbox (`QuickJS`): the most a script may get. A run (a
/// test-run, a code tool's configuration) may ask for less, never for more.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// CPU time of one run, in milliseconds (default 2000).
    pub max_cpu_ms: u64,
    /// Wall-clock time of one run, in milliseconds (default 5000); covers a
    /// script starved of CPU on a busy machine. At least `max_cpu_ms`.
    pub max_wall_ms: u64,
    /// JS heap of one run, in MiB (default 64).
    pub max_memory_mb: u64,
    /// The JSON result plus the captured `console` output of one run, in
    /// bytes (default 1 MiB).
    pub max_output_bytes: u64,
    /// Scripts running at once, each on its own thread (default 4); more
    /// wait for a free slot, up to their wall-clock limit, then get 503
    /// `overloaded`.
    pub max_concurrent: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            max_cpu_ms: 2_000,
            max_wall_ms: 5_000,
            max_memory_mb: 64,
            max_output_bytes: 1024 * 1024,
            max_concurrent: 4,
        }
    }
}

impl SandboxConfig {
    /// Adds an error for every setting out of range.
    fn check(&self, errors: &mut Vec<String>) {
        if !(10..=60_000).contains(&self.max_cpu_ms) {
            errors.push("sandbox.max_cpu_ms: must be 10–60000".to_owned());
        }
        if !(self.max_cpu_ms..=300_000).contains(&self.max_wall_ms) {
            errors.push("sandbox.max_wall_ms: must be at least sandbox.max_cpu_ms and at most 300000".to_owned());
        }
        if !(4..=4096).contains(&self.max_memory_mb) {
            errors.push("sandbox.max_memory_mb: must be 4–4096".to_owned());
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.max_output_bytes) {
            errors.push("sandbox.max_output_bytes: must be 1024–67108864".to_owned());
        }
        if !(1..=256).contains(&self.max_concurrent) {
            errors.push("sandbox.max_concurrent: must be 1–256".to_owned());
        }
    }
}

/// LLM calls (issue 19): retry waits and model prices. Timeouts are per
/// provider (`timeout_ms`); the connect timeout is `outbound.connect_timeout_secs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// First wait before a retry on 429/5xx without `Retry-After` (ms);
    /// doubled per retry, with jitter (50–100 %).
    pub backoff_base_ms: u64,
    /// The longest wait before a retry (ms), whatever `Retry-After` asks for.
    pub max_retry_wait_ms: u64,
    /// Prices per model, used when the provider has no prices of its own.
    pub prices: Vec<ModelPrice>,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self { backoff_base_ms: 250, max_retry_wait_ms: 20_000, prices: Vec::new() }
    }
}

impl LlmConfig {
    fn problems(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if !(1..=60_000).contains(&self.backoff_base_ms) {
            errors.push("llm.backoff_base_ms: must be between 1 and 60000".to_owned());
        }
        if !(1..=600_000).contains(&self.max_retry_wait_ms) {
            errors.push("llm.max_retry_wait_ms: must be between 1 and 600000".to_owned());
        }
        for (i, p) in self.prices.iter().enumerate() {
            if p.model.trim().is_empty() {
                errors.push(format!("llm.prices[{i}].model: must not be empty"));
            }
        }
        errors
    }

    /// The configured price of a model (micro-units per 1M input, output tokens).
    #[must_use]
    pub fn price_of(&self, model: &str) -> Option<(u64, u64)> {
        self.prices.iter().find(|p| p.model == model).map(|p| (p.input_micros, p.output_micros))
    }
}

/// Fine-tuning datasets and remote jobs (`docs/fine-tuning.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FineTuningConfig {
    /// Largest dataset upload in bytes (default 50 MiB); larger is 413 `file_too_large`.
    pub max_dataset_bytes: usize,
    /// Rows with more tokens than this are reported over-long (default 65536,
    /// `OpenAI`'s longest training example for its smaller models).
    pub max_row_tokens: usize,
    /// Seconds between two polls of a remote job (default 30; 0 polls again at once).
    pub poll_interval_secs: u64,
    /// Training prices per model (micro-units per 1M trained tokens), for
    /// the cost estimate before a job starts.
    pub training_prices: Vec<TrainingPrice>,
}

impl Default for FineTuningConfig {
    fn default() -> Self {
        Self {
            max_dataset_bytes: 50 * 1024 * 1024,
            max_row_tokens: 65_536,
            poll_interval_secs: 30,
            training_prices: Vec::new(),
        }
    }
}

impl FineTuningConfig {
    fn problems(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.max_dataset_bytes == 0 {
            errors.push("fine_tuning.max_dataset_bytes: must be at least 1".to_owned());
        }
        if self.max_row_tokens == 0 {
            errors.push("fine_tuning.max_row_tokens: must be at least 1".to_owned());
        }
        if self.poll_interval_secs > 86_400 {
            errors.push("fine_tuning.poll_interval_secs: must be at most 86400".to_owned());
        }
        for (i, p) in self.training_prices.iter().enumerate() {
            if p.model.trim().is_empty() {
                errors.push(format!("fine_tuning.training_prices[{i}].model: must not be empty"));
            }
        }
        errors
    }

    /// The training price of `model` per 1M tokens (micro-units), if configured.
    #[must_use]
    pub fn training_price_of(&self, model: &str) -> Option<u64> {
        self.training_prices.iter().find(|p| p.model == model).map(|p| p.micros_per_million)
    }
}

/// The price of training a model on 1M tokens (each epoch counts), in
/// micro-units of the currency.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingPrice {
    pub model: String,
    pub micros_per_million: u64,
}

/// The price of a model per 1M tokens, in micro-units of the currency
/// (1 USD = 1,000,000 micros: $0.15 per 1M tokens is 150000).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    pub model: String,
    pub input_micros: u64,
    pub output_micros: u64,
}

/// Analytics dashboards (`docs/analytics.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalyticsConfig {
    /// Longest date range a dashboard accepts, in days (default 400:
    /// a year plus room for comparisons); longer ranges get 422
    /// `date_range_too_long`.
    pub max_range_days: u32,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        Self { max_range_days: 400 }
    }
}

impl AnalyticsConfig {
    fn problems(&self) -> Vec<String> {
        if (1..=3660).contains(&self.max_range_days) {
            Vec::new()
        } else {
            vec!["analytics.max_range_days: must be between 1 and 3660".to_owned()]
        }
    }
}

/// Tools (agents' and flows' tools).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ToolsConfig {
    /// Directories whose `SQLite` files `database` tools may read (read-only);
    /// empty (the default): no `database` tool can be saved. The data file
    /// itself is always refused. A list, or one comma-separated string (environment).
    #[serde(deserialize_with = "list_or_commas")]
    pub sqlite_dirs: Vec<String>,
}

/// Files users send (widget uploads, agents' attachments, channel media).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilesConfig {
    /// Largest file accepted, in bytes (default 10 MiB); larger ones are
    /// refused with 413 `file_too_large`.
    pub max_upload_bytes: usize,
}

impl FilesConfig {
    /// The limit as a byte count for downloads (channel media).
    #[must_use]
    pub fn max_bytes(&self) -> u64 {
        u64::try_from(self.max_upload_bytes).unwrap_or(u64::MAX)
    }

    /// The problems of the `files` section.
    fn problems(&self) -> Vec<String> {
        if (1024..=1024 * 1024 * 1024).contains(&self.max_upload_bytes) {
            Vec::new()
        } else {
            vec!["files.max_upload_bytes: must be between 1024 and 1073741824".to_owned()]
        }
    }
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self { max_upload_bytes: 10 * 1024 * 1024 }
    }
}

/// Messaging channels: where the provider APIs are (point them at a mirror
/// on air-gapped networks, or at fakes in tests). Inbound media obey
/// `files.max_upload_bytes` like every file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelsConfig {
    /// Base URL of the Telegram Bot API (`https://api.telegram.org`).
    /// Requests go to `{base}/bot{token}/{method}`.
    pub telegram_api_base: String,
    /// Base URL of Meta's Graph API with its version, for WhatsApp Cloud,
    /// Messenger and Instagram (`https://graph.facebook.com/v21.0`).
    pub graph_api_base: String,
    /// Base URL of the Slack Web API (`https://slack.com/api`).
    pub slack_api_base: String,
    /// Base URL of Twilio's REST API (`https://api.twilio.com`).
    pub twilio_api_base: String,
}

impl ChannelsConfig {
    /// The provider base URLs by configuration key (for validation).
    fn bases(&self) -> [(&'static str, &str); 4] {
        [
            ("channels.telegram_api_base", &self.telegram_api_base),
            ("channels.graph_api_base", &self.graph_api_base),
            ("channels.slack_api_base", &self.slack_api_base),
            ("channels.twilio_api_base", &self.twilio_api_base),
        ]
    }
}

impl Default for ChannelsConfig {
    fn default() -> Self {
        Self {
            telegram_api_base: "https://api.telegram.org".to_owned(),
            graph_api_base: "https://graph.facebook.com/v21.0".to_owned(),
            slack_api_base: "https://slack.com/api".to_owned(),
            twilio_api_base: "https://api.twilio.com".to_owned(),
        }
    }
}

/// Integrations (credentials vault, test-connection, OAuth connect): where
/// each provider's API and OAuth endpoints are. Point them at mirrors on
/// air-gapped networks, or at fakes in tests. `{subdomain}` (Zendesk) and
/// `{shop}` (Shopify) are replaced with the integration's own value.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntegrationsConfig {
    /// Slack Web API host: `{base}/api/auth.test`, `{base}/api/oauth.v2.access`,
    /// and the browser's `{base}/oauth/v2/authorize`.
    pub slack_api_base: String,
    /// `HubSpot` API host: `{base}/account-info/v3/details`, `{base}/oauth/v1/token`.
    pub hubspot_api_base: String,
    /// `HubSpot`'s authorization page (browser).
    pub hubspot_authorize_url: String,
    /// Zendesk account host template: `{base}/api/v2/users/me.json`.
    pub zendesk_api_base: String,
    /// Shopify store host template: `{base}/admin/api/2024-07/shop.json`.
    pub shopify_api_base: String,
    /// Google APIs host (Gmail and Calendar): `{base}/gmail/v1/users/me/profile`,
    /// `{base}/calendar/v3/users/me/calendarList`.
    pub google_api_base: String,
    /// Google's token endpoint.
    pub google_token_url: String,
    /// Google's authorization page (browser).
    pub google_authorize_url: String,
    /// Meta Graph API with its version: `{base}/me`, `{base}/oauth/access_token`, `{base}/me/accounts`.
    pub meta_api_base: String,
    /// Facebook Login's authorization page (browser).
    pub meta_authorize_url: String,
}

impl Default for IntegrationsConfig {
    fn default() -> Self {
        Self {
            slack_api_base: "https://slack.com".to_owned(),
            hubspot_api_base: "https://api.hubapi.com".to_owned(),
            hubspot_authorize_url: "https://app.hubspot.com/oauth/authorize".to_owned(),
            zendesk_api_base: "https://{subdomain}.zendesk.com".to_owned(),
            shopify_api_base: "https://{shop}.myshopify.com".to_owned(),
            google_api_base: "https://www.googleapis.com".to_owned(),
            google_token_url: "https://oauth2.googleapis.com/token".to_owned(),
            google_authorize_url: "https://accounts.google.com/o/oauth2/v2/auth".to_owned(),
            meta_api_base: "https://graph.facebook.com/v21.0".to_owned(),
            meta_authorize_url: "https://www.facebook.com/v21.0/dialog/oauth".to_owned(),
        }
    }
}

impl IntegrationsConfig {
    /// Adds an error for every URL setting that is not http(s).
    fn check(&self, errors: &mut Vec<String>) {
        for (key, url) in self.urls() {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                errors.push(format!("integrations.{key}: `{url}` must start with http:// or https://"));
            }
        }
    }

    /// Every URL setting with its key, for validation.
    #[must_use]
    pub fn urls(&self) -> [(&'static str, &str); 10] {
        [
            ("slack_api_base", &self.slack_api_base),
            ("hubspot_api_base", &self.hubspot_api_base),
            ("hubspot_authorize_url", &self.hubspot_authorize_url),
            ("zendesk_api_base", &self.zendesk_api_base),
            ("shopify_api_base", &self.shopify_api_base),
            ("google_api_base", &self.google_api_base),
            ("google_token_url", &self.google_token_url),
            ("google_authorize_url", &self.google_authorize_url),
            ("meta_api_base", &self.meta_api_base),
            ("meta_authorize_url", &self.meta_authorize_url),
        ]
    }
}

/// The conversation runtime (flows, widget, inbox).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfig {
    /// Messages per second one widget session may send (also the burst);
    /// more are answered 429.
    pub widget_messages_per_second: u32,
    /// Longest end-user message, in characters.
    pub max_message_chars: usize,
    /// Conversations whose state is kept in memory between turns.
    pub conversation_cache: usize,
    /// Most turns written in one transaction by the group-commit writer.
    pub write_batch: usize,
    /// Most turns waiting for the group-commit writer. An end-user turn
    /// that finds the queue full is refused before it runs (503
    /// `overloaded`, or `busy_reply` in the widget); agents' actions wait.
    pub write_queue_turns: usize,
    /// What widget users read when the server is too busy to take their
    /// message (`overloaded`); they send it again.
    pub busy_reply: String,
    /// Seconds a refused client is told to wait (`Retry-After`).
    pub overload_retry_after_secs: u64,
}

impl RuntimeConfig {
    /// Adds what is wrong with these settings to `errors`.
    fn check(&self, errors: &mut Vec<String>) {
        if !(1..=10_000).contains(&self.widget_messages_per_second) {
            errors.push("runtime.widget_messages_per_second: must be between 1 and 10000".to_owned());
        }
        if !(1..=100_000).contains(&self.max_message_chars) {
            errors.push("runtime.max_message_chars: must be between 1 and 100000".to_owned());
        }
        if self.conversation_cache < 16 || !(1..=10_000).contains(&self.write_batch) {
            errors.push("runtime.conversation_cache must be at least 16 and runtime.write_batch 1–10000".to_owned());
        }
        if !(1..=1_000_000).contains(&self.write_queue_turns) {
            errors.push("runtime.write_queue_turns: must be between 1 and 1000000".to_owned());
        }
        if self.busy_reply.trim().is_empty() || self.busy_reply.chars().count() > 500 {
            errors.push("runtime.busy_reply: must be 1–500 characters".to_owned());
        }
        if !(1..=3600).contains(&self.overload_retry_after_secs) {
            errors.push("runtime.overload_retry_after_secs: must be between 1 and 3600".to_owned());
        }
    }
}

/// Default bound of the write queue: the writer commits about 5,000-9,000
/// turns/s here in batches of up to 256, so 1,024 waiting turns are
/// 100-200 ms of work.
pub const DEFAULT_WRITE_QUEUE_TURNS: usize = 1024;

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            widget_messages_per_second: 5,
            max_message_chars: 4000,
            conversation_cache: 50_000,
            write_batch: 256,
            write_queue_turns: DEFAULT_WRITE_QUEUE_TURNS,
            busy_reply: "We are very busy right now. One moment, please, then send your message again.".to_owned(),
            overload_retry_after_secs: 1,
        }
    }
}

/// Billing: plans and limits, and subscriptions through a Stripe-compatible
/// API (`docs/billing.md`). Off by default: no limits beyond what the
/// operator sets, no Stripe calls, no billing screens.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BillingConfig {
    /// Plans, subscriptions and enforced plan limits.
    pub enabled: bool,
    /// With billing off, still enforce each organization's plan limits (the
    /// superadmin assigns plans and edits their limits). Ignored when `enabled`.
    pub enforce_limits: bool,
    // --- Stripe (subscriptions, webhooks, dunning) ---
    /// Base URL of the Stripe API (`https://api.stripe.com`); requests go
    /// to `{base}/v1/...`. Point it at a mirror or a fake.
    pub stripe_api_base: String,
    /// The secret API key (`sk_live_...`); without it checkout, portal and
    /// plan changes answer 409 `billing_not_configured`.
    pub stripe_secret_key: Option<String>,
    /// Webhook signing secrets (`whsec_...`). An event signed with any of
    /// them is accepted, so a secret can be rotated without losing events.
    pub stripe_webhook_secrets: Vec<String>,
    /// How old a webhook's signed timestamp may be, in seconds (Stripe's
    /// default tolerance is 300).
    pub webhook_tolerance_secs: u64,
    /// Days a past-due subscription keeps full service (the grace period).
    pub grace_days: u32,
    /// Days a subscription stays restricted before it is canceled.
    pub restricted_days: u32,
    /// What a restricted organization's bots answer when a new
    /// conversation starts (existing data is untouched).
    pub restricted_notice: String,
}

impl BillingConfig {
    /// Whether Stripe calls can be made (billing on and a secret key set).
    #[must_use]
    pub fn stripe_ready(&self) -> bool {
        self.enabled && self.stripe_secret_key.as_deref().is_some_and(|k| !k.trim().is_empty())
    }

    fn check(&self, errors: &mut Vec<String>) {
        if !(self.stripe_api_base.starts_with("http://") || self.stripe_api_base.starts_with("https://")) {
            errors.push(format!(
                "billing.stripe_api_base: `{}` must start with http:// or https://",
                self.stripe_api_base
            ));
        }
        if self.stripe_webhook_secrets.iter().any(|s| s.trim().is_empty()) {
            errors.push("billing.stripe_webhook_secrets: a secret is empty".to_owned());
        }
        if !(1..=86_400).contains(&self.webhook_tolerance_secs) {
            errors.push("billing.webhook_tolerance_secs: must be between 1 and 86400".to_owned());
        }
        if self.grace_days > 365 || self.restricted_days > 365 {
            errors.push("billing.grace_days and billing.restricted_days: must be at most 365".to_owned());
        }
        if self.restricted_notice.trim().is_empty() || self.restricted_notice.chars().count() > 1000 {
            errors.push("billing.restricted_notice: must be 1–1000 characters".to_owned());
        }
    }
}

impl Default for BillingConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            enforce_limits: false,
            stripe_api_base: "https://api.stripe.com".to_owned(),
            stripe_secret_key: None,
            stripe_webhook_secrets: Vec::new(),
            webhook_tolerance_secs: 300,
            grace_days: 7,
            restricted_days: 14,
            restricted_notice: "This service is temporarily unavailable. Please try again later.".to_owned(),
        }
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (a local relay or a test sink only).
    None,
    /// Upgrade with STARTTLS (submission port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// The SMTP server outgoing email (verification, password reset,
/// invitations, security notices) is handed to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// Server host name; unset means email is queued but cannot be sent
    /// (the jobs fail with "SMTP is not configured").
    pub host: Option<String>,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    /// Never printed by `config check`.
    #[serde(skip_serializing)]
    pub password: Option<String>,
    /// Default sender, `Name <address>` or `address`.
    pub from: String,
    /// Whole-conversation timeout, in seconds.
    pub timeout_secs: u64,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: None,
            port: 587,
            tls: SmtpTls::Starttls,
            username: None,
            password: None,
            from: "botbuilder <no-reply@localhost>".to_owned(),
            timeout_secs: 30,
        }
    }
}

/// One rate limit: `per_ip` and `per_account` requests within `window_secs`
/// (a token bucket: the whole allowance may be used at once, then it refills
/// evenly over the window). 0 disables that side.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub per_ip: u32,
    pub per_account: u32,
    pub window_secs: u64,
}

/// Abuse limits on the authentication endpoints.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitsConfig {
    /// Off: no limits at all (benchmarks).
    pub enabled: bool,
    /// Sign-in (user and admin console); the account is the email.
    pub login: Limit,
    /// Sign-up; per IP only.
    pub register: Limit,
    /// Password-reset and verification emails; the account is the email.
    pub reset: Limit,
    /// Endpoints that take a secret token (reset, verification, invitations)
    /// and API-token creation (the account is the user).
    pub token: Limit,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            login: Limit { per_ip: 30, per_account: 10, window_secs: 300 },
            register: Limit { per_ip: 10, per_account: 0, window_secs: 3600 },
            reset: Limit { per_ip: 10, per_account: 3, window_secs: 3600 },
            token: Limit { per_ip: 30, per_account: 20, window_secs: 300 },
        }
    }
}

/// The superadmin console.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// IPs or CIDR ranges always allowed to use the console; merged into the
    /// allowlist (which, once non-empty, is enforced) at start-up.
    pub ip_allowlist: Vec<String>,
    /// Lifetime of an admin session, in hours.
    pub session_hours: u32,
    /// Failed admin sign-ins per email within the window before a lockout.
    pub max_failures_per_email: u32,
    /// Failed admin sign-ins per IP within the window before a lockout.
    pub max_failures_per_ip: u32,
    /// The lockout window, in seconds.
    pub lockout_window_secs: u64,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            ip_allowlist: Vec::new(),
            session_hours: 8,
            max_failures_per_email: 5,
            max_failures_per_ip: 10,
            lockout_window_secs: 900,
        }
    }
}

/// Knowledge bases: extra embedding models a knowledge base may choose, and
/// the limits of text extraction (run in a worker process per document).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KnowledgeConfig {
    /// Embedding models beside the built-in one, loaded on first use.
    pub extra_models: Vec<ExtraEmbeddingModel>,
    /// Longest time the text extraction of one document may take (seconds);
    /// its worker is then killed and the document fails `extraction_timeout`.
    pub extract_timeout_secs: u64,
    /// Memory an extraction worker may allocate beyond its size at start (MiB).
    pub extract_memory_mib: u64,
    /// The botbuilder executable that runs extraction workers. Default: this
    /// executable (tests point it at the built binary).
    pub extract_worker: Option<PathBuf>,
}

impl KnowledgeConfig {
    /// The problems of the `knowledge` section.
    fn problems(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if !(1..=3600).contains(&self.extract_timeout_secs) {
            errors.push("knowledge.extract_timeout_secs: must be between 1 and 3600".to_owned());
        }
        if self.extract_memory_mib < 512 {
            errors.push(
                "knowledge.extract_memory_mib: must be at least 512 (documents may inflate to 256 MiB)".to_owned(),
            );
        }
        if let Some(worker) = &self.extract_worker
            && !worker.is_file()
        {
            errors.push(format!("knowledge.extract_worker: {} is not a file", worker.display()));
        }
        errors
    }
}

impl Default for KnowledgeConfig {
    fn default() -> Self {
        Self { extra_models: Vec::new(), extract_timeout_secs: 60, extract_memory_mib: 1024, extract_worker: None }
    }
}

/// An additional ONNX sentence-embedding model (same vector dimension as
/// the vector index, 384).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraEmbeddingModel {
    /// The name knowledge bases use for it.
    pub name: String,
    /// ONNX file; absent = the embedded model's weights (with other settings).
    pub model_path: Option<PathBuf>,
    /// Its `tokenizer.json`; required with `model_path`.
    pub tokenizer_path: Option<PathBuf>,
    /// Longest input in tokens.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
}

fn default_max_tokens() -> usize {
    256
}

/// Outbound HTTP (webhooks, URL ingestion, LLM endpoints, flow HTTP nodes).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundConfig {
    /// Allow requests to every private, loopback and link-local address
    /// (off: the SSRF guard refuses them). Prefer `allow_hosts`/`allow_cidrs`.
    pub allow_private: bool,
    /// Host names that may resolve to private addresses (`llm.internal`,
    /// `*.corp.example` for any name below it); never to loopback or
    /// link-local ones. A list, or one comma-separated string (environment).
    #[serde(deserialize_with = "list_or_commas")]
    pub allow_hosts: Vec<String>,
    /// Networks requests may reach although private (`10.20.0.0/16`,
    /// `fd00::/8`, or one address); the only way to allow loopback or
    /// link-local targets short of `allow_private`.
    #[serde(deserialize_with = "list_or_commas")]
    pub allow_cidrs: Vec<String>,
    /// Send outbound HTTP through this proxy (`http://proxy.corp:3128`).
    /// `HTTP_PROXY`/`HTTPS_PROXY`/`ALL_PROXY` are ignored: a proxy resolves
    /// names out of the guard's sight, so with this set every target name is
    /// resolved and checked here first.
    pub proxy: Option<String>,
    /// Whole-request timeout, in seconds.
    pub timeout_secs: u64,
    /// Connection timeout, in seconds.
    pub connect_timeout_secs: u64,
    /// Largest response body read into memory, in bytes.
    pub max_response_bytes: usize,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            allow_private: false,
            allow_hosts: Vec::new(),
            allow_cidrs: Vec::new(),
            proxy: None,
            timeout_secs: 30,
            connect_timeout_secs: 10,
            max_response_bytes: 10 * 1024 * 1024,
        }
    }
}

impl OutboundConfig {
    /// Adds what is wrong with these settings to `errors`.
    fn check(&self, errors: &mut Vec<String>) {
        if self.timeout_secs == 0 || self.connect_timeout_secs == 0 {
            errors.push("outbound.timeout_secs and outbound.connect_timeout_secs: must be at least 1".to_owned());
        }
        crate::outbound::policy::check_lists(self, errors);
        if let Some(proxy) = &self.proxy {
            match url::Url::parse(proxy.trim()) {
                Ok(url)
                    if matches!(url.scheme(), "http" | "https")
                        && url.host_str().is_some_and(|h| !h.is_empty())
                        && matches!(url.path(), "" | "/")
                        && url.query().is_none() => {}
                _ => errors.push(format!("outbound.proxy: `{proxy}` is not a proxy URL like http://proxy.corp:3128")),
            }
        }
    }
}

/// A list of strings from TOML, or one comma-separated string (how a list
/// is easiest to give in an environment variable; `["a","b"]` works too).
fn list_or_commas<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrText {
        List(Vec<String>),
        Text(String),
    }
    Ok(match ListOrText::deserialize(deserializer)? {
        ListOrText::List(items) => items,
        ListOrText::Text(text) => text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
    })
}

/// Local inference settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MlConfig {
    /// Load the embedded models (off only for tools that need no inference).
    pub enabled: bool,
    /// Another ONNX sentence-embedding model instead of the embedded one
    /// (its dimension is read from the model); needs `tokenizer_path`.
    pub model_path: Option<PathBuf>,
    /// The `tokenizer.json` of `model_path`.
    pub tokenizer_path: Option<PathBuf>,
    /// Another ONNX Runtime shared library instead of the embedded one.
    pub runtime_path: Option<PathBuf>,
    /// Inference sessions (each holds the model in memory).
    pub sessions: usize,
    /// Threads per session.
    pub threads_per_session: usize,
    /// Longest input in tokens.
    pub max_tokens: usize,
    /// Micro-batching window, in microseconds (with `max_batch_texts` > 1).
    pub batch_wait_us: u64,
    /// Most texts in one inference; only texts of the same token count are
    /// batched. 1: each text runs alone, so its vector never depends on
    /// other traffic (the int8 model scales activations per inference).
    pub max_batch_texts: usize,
    /// Most texts queued or running in the embedder. Background jobs wait
    /// for room; a conversation turn that finds the queue full is handled
    /// as `overload` says.
    pub queue_max_texts: usize,
    /// A turn whose message cannot be embedded because the queue is full:
    /// `busy` refuses it (503 `overloaded` with `Retry-After`, the widget's
    /// busy reply); `keywords` runs it without the model (no intent:
    /// keywords, entities and the flow's out-of-scope path).
    pub overload: OverloadPolicy,
    /// Where the multilingual model's two files are (see models/README.md);
    /// `None`: next to the executable, then the build's `models/` folder.
    pub multilingual_dir: Option<PathBuf>,
}

/// What a turn does when the inference queue is full (`ml.overload`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverloadPolicy {
    /// Refuse the turn quickly: 503 `overloaded` + `Retry-After`.
    #[default]
    Busy,
    /// Understand the message without the model (keyword/flow-only).
    Keywords,
}

impl Default for MlConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            model_path: None,
            tokenizer_path: None,
            runtime_path: None,
            sessions: 1,
            threads_per_session: 2,
            max_tokens: 256,
            batch_wait_us: 500,
            max_batch_texts: 32,
            queue_max_texts: crate::ml::embedder::DEFAULT_QUEUE_MAX_TEXTS,
            overload: OverloadPolicy::Busy,
            multilingual_dir: None,
        }
    }
}

impl MlConfig {
    /// Adds what is wrong with these settings to `errors`.
    fn check(&self, errors: &mut Vec<String>) {
        if !(1..=16).contains(&self.sessions)
            || !(1..=64).contains(&self.threads_per_session)
            || self.max_batch_texts == 0
        {
            errors
                .push("ml.sessions must be 1–16, ml.threads_per_session 1–64 and ml.max_batch_texts at least 1".into());
        }
        if !(16..=8192).contains(&self.max_tokens) {
            errors.push("ml.max_tokens: must be between 16 and 8192".to_owned());
        }
        if !(1..=1_000_000).contains(&self.queue_max_texts) {
            errors.push("ml.queue_max_texts: must be between 1 and 1000000".to_owned());
        }
    }

    /// The embedder's options.
    #[must_use]
    pub fn embedder_options(&self) -> crate::ml::EmbedderOptions {
        crate::ml::EmbedderOptions {
            model_path: self.model_path.clone(),
            tokenizer_path: self.tokenizer_path.clone(),
            sessions: self.sessions,
            threads_per_session: self.threads_per_session,
            max_tokens: self.max_tokens,
            batch_wait: std::time::Duration::from_micros(self.batch_wait_us),
            max_batch_texts: self.max_batch_texts,
            queue_max_texts: self.queue_max_texts,
            ..crate::ml::EmbedderOptions::default()
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// Background job workers (0 disables them; tests drive the queue themselves).
    pub workers: usize,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self { workers: 2 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `botbuilder=debug,actix_web=info`.
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Largest JSON body accepted, in bytes.
    pub max_json_bytes: usize,
    /// Largest upload accepted, in bytes.
    pub max_upload_bytes: usize,
    /// HTTP worker threads (default: number of CPUs).
    pub workers: Option<usize>,
    /// Seconds in-flight requests get to finish on shutdown.
    pub shutdown_timeout_secs: u64,
    /// Public base URL used in emails and links (default: `http://<bind>`).
    pub public_url: Option<String>,
    /// Use plain `bb_session` cookies without `Secure`/`__Host-` (plain-HTTP LAN
    /// deployments only; browsers treat localhost as secure anyway).
    pub insecure_cookies: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DbConfig {
    /// Read-only connections in the reader pool.
    pub readers: u32,
    /// How long a connection waits for a lock, in milliseconds.
    pub busy_timeout_ms: u32,
    /// Page cache per connection, in MiB.
    pub cache_mib: u32,
    /// Who folds the WAL back into the data file: `internal` (botbuilder's
    /// checkpointer thread and a TRUNCATE checkpoint on shutdown) or
    /// `external` (a replicator such as Litestream does it; botbuilder never
    /// checkpoints). See docs/operations.md.
    pub checkpoints: CheckpointMode,
}

/// Who runs WAL checkpoints on the data file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckpointMode {
    /// botbuilder's own thread (passive, every 250 ms) and TRUNCATE on shutdown.
    #[default]
    Internal,
    /// Never by botbuilder: Litestream (or another WAL replicator) must run
    /// beside it, or the WAL grows without bound.
    External,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data: PathBuf::from("botbuilder.db"),
            bind: "127.0.0.1:8080".to_owned(),
            secret_key_file: None,
            log: LogConfig::default(),
            http: HttpConfig::default(),
            db: DbConfig::default(),
            jobs: JobsConfig::default(),
            ml: MlConfig::default(),
            outbound: OutboundConfig::default(),
            runtime: RuntimeConfig::default(),
            smtp: SmtpConfig::default(),
            rate_limits: RateLimitsConfig::default(),
            admin: AdminConfig::default(),
            knowledge: KnowledgeConfig::default(),
            channels: ChannelsConfig::default(),
            files: FilesConfig::default(),
            integrations: IntegrationsConfig::default(),
            llm: LlmConfig::default(),
            fine_tuning: FineTuningConfig::default(),
            billing: BillingConfig::default(),
            analytics: AnalyticsConfig::default(),
            tools: ToolsConfig::default(),
            sandbox: SandboxConfig::default(),
            sso: SsoConfig::default(),
            recovery: RecoveryConfig::default(),
            retention: RetentionConfig::default(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { format: LogFormat::Text, level: "info".to_owned() }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_json_bytes: 2 * 1024 * 1024,
            max_upload_bytes: 50 * 1024 * 1024,
            workers: None,
            shutdown_timeout_secs: 10,
            public_url: None,
            insecure_cookies: false,
        }
    }
}

impl Default for DbConfig {
    fn default() -> Self {
        Self { readers: 4, busy_timeout_ms: 5_000, cache_mib: 16, checkpoints: CheckpointMode::Internal }
    }
}

/// Values given on the command line; `None` leaves lower layers in force.
#[derive(Debug, Default, Clone, Serialize)]
pub struct CliOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key_file: Option<PathBuf>,
}

/// What went wrong while loading or validating the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration: {0}")]
    Load(String),
    #[error("invalid configuration:\n{}", .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<String>),
}

impl Config {
    /// Loads the layers. `file` is an explicit TOML path; without it
    /// `./botbuilder.toml` is read when present.
    pub fn load(file: Option<&Path>, cli: &CliOverrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                if !path.is_file() {
                    return Err(ConfigError::Load(format!("config file {} does not exist", path.display())));
                }
                figment = figment.merge(Toml::file_exact(path));
            }
            None => figment = figment.merge(Toml::file("botbuilder.toml")),
        }
        let config: Config = figment
            .merge(Env::prefixed("BOTBUILDER_").split("__").ignore(&["config"]))
            .merge(Serialized::defaults(cli))
            .extract()
            .map_err(|e| ConfigError::Load(e.to_string()))?;
        Ok(config)
    }

    /// What is wrong with the data file's path, if anything.
    fn data_problem(&self) -> Option<String> {
        if self.data.as_os_str().is_empty() {
            return Some("data: must name a file".to_owned());
        }
        if self.data.is_dir() {
            return Some(format!("data: {} is a directory, not a file", self.data.display()));
        }
        let dir = self.data_dir();
        if !dir.is_dir() {
            Some(format!("data: directory {} does not exist", dir.display()))
        } else if !dir_is_writable(&dir) {
            Some(format!("data: directory {} is not writable", dir.display()))
        } else {
            None
        }
    }

    /// Checks every setting and reports all problems together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut errors = self.knowledge.problems();
        errors.extend(self.files.problems());
        errors.extend(self.llm.problems());
        errors.extend(self.fine_tuning.problems());
        errors.extend(self.analytics.problems());
        errors.extend(self.recovery.problems());
        if self.bind.parse::<SocketAddr>().is_err() {
            errors.push(format!("bind: `{}` is not an address like 127.0.0.1:8080", self.bind));
        }
        errors.extend(self.data_problem());
        if self.http.max_json_bytes < 1024 {
            errors.push("http.max_json_bytes: must be at least 1024".to_owned());
        }
        if self.http.max_upload_bytes < self.http.max_json_bytes {
            errors.push("http.max_upload_bytes: must be at least http.max_json_bytes".to_owned());
        }
        if self.http.workers == Some(0) {
            errors.push("http.workers: must be at least 1".to_owned());
        }
        for (key, base) in self.channels.bases() {
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                errors.push(format!("{key}: `{base}` must start with http:// or https://"));
            }
        }
        self.integrations.check(&mut errors);
        self.sandbox.check(&mut errors);
        self.sso.check(&mut errors);
        if let Some(url) = &self.http.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            errors.push(format!("http.public_url: `{url}` must start with http:// or https://"));
        }
        if self.ml.model_path.is_some() != self.ml.tokenizer_path.is_some() {
            errors.push("ml.model_path and ml.tokenizer_path: set both or neither".to_owned());
        }
        for (key, path) in [
            ("ml.model_path", &self.ml.model_path),
            ("ml.tokenizer_path", &self.ml.tokenizer_path),
            ("ml.runtime_path", &self.ml.runtime_path),
        ] {
            if let Some(p) = path.as_ref().filter(|p| !p.is_file()) {
                errors.push(format!("{key}: {} is not a file", p.display()));
            }
        }
        self.ml.check(&mut errors);
        self.outbound.check(&mut errors);
        self.runtime.check(&mut errors);
        self.billing.check(&mut errors);
        if self.jobs.workers > 64 {
            errors.push("jobs.workers: must be at most 64".to_owned());
        }
        if self.db.readers == 0 || self.db.readers > 64 {
            errors.push("db.readers: must be between 1 and 64".to_owned());
        }
        if let Some(host) = &self.smtp.host
            && (host.is_empty() || host.contains(char::is_whitespace))
        {
            errors.push(format!("smtp.host: `{host}` is not a host name"));
        }
        if self.smtp.port == 0 {
            errors.push("smtp.port: must be 1–65535".to_owned());
        }
        if self.smtp.from.parse::<lettre::message::Mailbox>().is_err() {
            errors
                .push(format!("smtp.from: `{}` is not an address like `Name <no-reply@example.com>`", self.smtp.from));
        }
        if self.smtp.username.is_some() != self.smtp.password.is_some() {
            errors.push("smtp.username and smtp.password: set both or neither".to_owned());
        }
        for (key, limit) in [
            ("login", &self.rate_limits.login),
            ("register", &self.rate_limits.register),
            ("reset", &self.rate_limits.reset),
            ("token", &self.rate_limits.token),
        ] {
            if limit.window_secs == 0 {
                errors.push(format!("rate_limits.{key}.window_secs: must be at least 1"));
            }
        }
        for entry in &self.admin.ip_allowlist {
            if crate::admin::ipnet::parse_entry(entry).is_none() {
                errors.push(format!("admin.ip_allowlist: `{entry}` is not an IP address or CIDR range"));
            }
        }
        if !(1..=72).contains(&self.admin.session_hours) {
            errors.push("admin.session_hours: must be 1–72".to_owned());
        }
        if self.admin.max_failures_per_email == 0 || self.admin.max_failures_per_ip == 0 {
            errors.push("admin.max_failures_per_email and admin.max_failures_per_ip: must be at least 1".to_owned());
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            errors.push(format!("log.level: `{}` is not a valid filter", self.log.level));
        }
        if errors.is_empty() { Ok(()) } else { Err(ConfigError::Invalid(errors)) }
    }

    /// The parsed bind address (valid after `validate`).
    pub fn bind_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.bind.parse().map_err(|_| ConfigError::Invalid(vec![format!("bind: `{}` is not an address", self.bind)]))
    }

    /// The directory holding the data file.
    #[must_use]
    pub fn data_dir(&self) -> PathBuf {
        match self.data.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// The archive directory of the retention job: configured, or `archive/`
    /// beside the data file.
    #[must_use]
    pub fn archive_dir(&self) -> PathBuf {
        self.retention.archive_dir.clone().unwrap_or_else(|| self.data_dir().join("archive"))
    }

    /// The master-key file: configured, or `<data>.key` beside the data file.
    #[must_use]
    pub fn secret_key_path(&self) -> PathBuf {
        self.secret_key_file.clone().unwrap_or_else(|| {
            let mut name = self.data.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_default();
            name.push(".key");
            self.data_dir().join(name)
        })
    }

    /// The base URL for links in emails and the UI.
    #[must_use]
    pub fn public_url(&self) -> String {
        self.http.public_url.clone().unwrap_or_else(|| format!("http://{}", self.bind)).trim_end_matches('/').to_owned()
    }
}

fn dir_is_writable(dir: &Path) -> bool {
    tempfile::Builder::new().prefix(".botbuilder-probe").tempfile_in(dir).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_in_a_writable_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config { data: dir.path().join("x.db"), ..Config::default() };
        config.validate().expect("valid");
        assert_eq!(config.secret_key_path(), dir.path().join("x.db.key"));
    }

    #[test]
    fn all_errors_are_reported_together() {
        let config = Config {
            data: PathBuf::from("/nonexistent-dir/x.db"),
            bind: "nope".into(),
            db: DbConfig { readers: 0, ..DbConfig::default() },
            ml: MlConfig { max_batch_texts: 0, ..MlConfig::default() },
            sandbox: SandboxConfig { max_cpu_ms: 5, max_concurrent: 0, ..SandboxConfig::default() },
            ..Config::default()
        };
        let message = config.validate().expect_err("invalid").to_string();
        assert!(message.contains("bind:"), "{message}");
        assert!(message.contains("data: directory /nonexistent-dir does not exist"), "{message}");
        assert!(message.contains("db.readers"), "{message}");
        assert!(message.contains("ml.max_batch_texts"), "{message}");
        assert!(message.contains("sandbox.max_cpu_ms"), "{message}");
        assert!(message.contains("sandbox.max_concurrent"), "{message}");
    }

    #[test]
    fn cli_overrides_win() {
        let cli = CliOverrides { bind: Some("0.0.0.0:9000".into()), ..CliOverrides::default() };
        let config = Config::load(None, &cli).expect("load");
        assert_eq!(config.bind, "0.0.0.0:9000");
    }
}
