//! The one error type of the HTTP API and its table of stable codes.
//!
//! Every error response has the body
//! `{"error": {"code": "...", "message": "...", "status": 404, "details": {...}}}`.
//! Codes are never renamed or reused; `docs/api-errors.md` lists them and a test
//! checks that the list and this table agree.

use std::fmt;
use std::fmt::Write as _;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Value, json};

macro_rules! error_codes {
    ($($variant:ident => ($code:literal, $status:ident, $doc:literal)),* $(,)?) => {
        /// A stable, machine-readable error code with its HTTP status.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $($variant),* }

        impl ErrorCode {
            /// Every code, in table order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The `snake_case` code sent to clients.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code),* }
            }

            /// The HTTP status this code is answered with.
            #[must_use]
            pub fn status(self) -> StatusCode {
                match self { $(ErrorCode::$variant => StatusCode::$status),* }
            }

            /// One line saying when the code is used.
            #[must_use]
            pub fn description(self) -> &'static str {
                match self { $(ErrorCode::$variant => $doc),* }
            }
        }
    };
}

error_codes! {
    // Request shape
    InvalidJson => ("invalid_json", BAD_REQUEST, "The body is not well-formed JSON."),
    InvalidQuery => ("invalid_query", BAD_REQUEST, "A query-string parameter is missing or malformed."),
    InvalidPath => ("invalid_path", BAD_REQUEST, "A path parameter is malformed (e.g. not a number)."),
    UnsupportedMediaType => ("unsupported_media_type", UNSUPPORTED_MEDIA_TYPE, "The Content-Type is not accepted by this route."),
    PayloadTooLarge => ("payload_too_large", PAYLOAD_TOO_LARGE, "The body exceeds the configured limit."),
    FileTooLarge => ("file_too_large", PAYLOAD_TOO_LARGE, "An uploaded file exceeds `files.max_upload_bytes`; `details.field` is `file`, `details.limit_bytes` the limit."),
    ValidationFailed => ("validation_failed", UNPROCESSABLE_ENTITY, "A field has an invalid value; `details.field` names it."),
    WeakPassword => ("weak_password", UNPROCESSABLE_ENTITY, "The password is too easy to guess (zxcvbn score below 3); `details` has the field, the score, a warning and suggestions."),
    InvisibleCharacters => ("invisible_characters", UNPROCESSABLE_ENTITY, "A name contains a bidirectional-override or zero-width character; `details.field` names the field, `details.code_point` the character."),
    DateRangeInvalid => ("date_range_invalid", UNPROCESSABLE_ENTITY, "A date range ends before it starts; `details.field` is `to`."),
    DateRangeTooLong => ("date_range_too_long", UNPROCESSABLE_ENTITY, "A date range is longer than allowed (`analytics.max_range_days`); `details.field` is `from`, `details.max_days` the limit."),
    TimezoneUnknown => ("timezone_unknown", UNPROCESSABLE_ENTITY, "Not an IANA timezone name (e.g. `Europe/Paris`); `details.field` is `tz`."),
    InvalidReference => ("invalid_reference", UNPROCESSABLE_ENTITY, "A referenced row does not exist or belongs to another organization."),
    // Routing
    RouteNotFound => ("route_not_found", NOT_FOUND, "No API route has this path."),
    MethodNotAllowed => ("method_not_allowed", METHOD_NOT_ALLOWED, "The path exists but not with this method; see the Allow header."),
    // Authentication and authorization
    Unauthenticated => ("unauthenticated", UNAUTHORIZED, "No valid session cookie or API token was presented."),
    InvalidCredentials => ("invalid_credentials", UNAUTHORIZED, "Email or password is wrong (deliberately not saying which)."),
    CsrfFailed => ("csrf_failed", FORBIDDEN, "A cookie-authenticated unsafe request lacks a valid X-CSRF-Token header."),
    Forbidden => ("forbidden", FORBIDDEN, "The caller is a member but lacks the permission this route needs."),
    OriginNotAllowed => ("origin_not_allowed", FORBIDDEN, "The widget is embedded in a page whose origin is not in the bot's allowed origins."),
    AccountSuspended => ("account_suspended", FORBIDDEN, "The user or organization is suspended by an administrator."),
    UploadsDisabled => ("uploads_disabled", FORBIDDEN, "The bot's widget settings switch file uploads off."),
    RateLimited => ("rate_limited", TOO_MANY_REQUESTS, "Too many requests; retry after the Retry-After header."),
    MessageLimitExceeded => ("message_limit_exceeded", TOO_MANY_REQUESTS, "No longer sent: a used-up monthly message allowance is `402 plan_limit_exceeded` with `details.limit` = `messages_per_month` (kept so the code is never reused)."),
    TwoFactorRequired => ("two_factor_required", UNAUTHORIZED, "The password was right; the account has two-factor authentication, send `totp_code` (or a backup code)."),
    InvalidTwoFactorCode => ("invalid_two_factor_code", UNAUTHORIZED, "The authenticator or backup code is wrong, expired or was already used."),
    TokenInvalid => ("token_invalid", BAD_REQUEST, "The emailed token is unknown, already used or revoked."),
    TokenExpired => ("token_expired", GONE, "The emailed token has expired; ask for a new one."),
    RoleEscalation => ("role_escalation", FORBIDDEN, "The request would grant permissions the caller does not have; `details.permissions` lists them."),
    IpNotAllowed => ("ip_not_allowed", FORBIDDEN, "The admin console is not reachable from this IP address (allowlist)."),
    InvitationEmailMismatch => ("invitation_email_mismatch", FORBIDDEN, "The invitation was sent to another email address than the signed-in account's."),
    SignupClosed => ("signup_closed", FORBIDDEN, "Sign-up is closed on this instance (policy `closed`): a superadmin creates accounts in the admin console (`POST /api/v1/admin/users`)."),
    InvitationRequired => ("invitation_required", FORBIDDEN, "Sign-up on this instance needs an invitation (policy `invite_only`): follow the invitation link, which sends `invitation_token`."),
    // Resources
    NotFound => ("not_found", NOT_FOUND, "The resource does not exist or is not visible to the caller."),
    UserNotFound => ("user_not_found", NOT_FOUND, "No such user in this scope."),
    OrgNotFound => ("org_not_found", NOT_FOUND, "No such organization, or the caller is not a member."),
    BotNotFound => ("bot_not_found", NOT_FOUND, "No such bot in the caller's organizations."),
    JobNotFound => ("job_not_found", NOT_FOUND, "No such job in the caller's organizations."),
    SessionNotFound => ("session_not_found", NOT_FOUND, "No such session of the current user."),
    FlowNotFound => ("flow_not_found", NOT_FOUND, "The bot has no flow of this name."),
    FlowVersionNotFound => ("flow_version_not_found", NOT_FOUND, "The flow has no such version."),
    OrchestrationNotFound => ("orchestration_not_found", NOT_FOUND, "No such orchestration in the caller's organizations."),
    CannedMessageNotFound => ("canned_message_not_found", NOT_FOUND, "No such canned bot message in the caller's organizations."),
    ConversationNotFound => ("conversation_not_found", NOT_FOUND, "No such conversation in the caller's organizations."),
    WidgetNotFound => ("widget_not_found", NOT_FOUND, "No bot has this widget key (unknown, or rotated since)."),
    CannedReplyNotFound => ("canned_reply_not_found", NOT_FOUND, "No such canned reply in the caller's organizations."),
    WidgetSessionNotFound => ("widget_session_not_found", NOT_FOUND, "No widget session with this id for this bot."),
    MemberNotFound => ("member_not_found", NOT_FOUND, "The user is not a member of this organization."),
    RoleNotFound => ("role_not_found", NOT_FOUND, "No such role in this organization."),
    TeamNotFound => ("team_not_found", NOT_FOUND, "No such team in the caller's organizations."),
    TeamRoleNotFound => ("team_role_not_found", NOT_FOUND, "No such team role in the caller's organizations."),
    InvitationNotFound => ("invitation_not_found", NOT_FOUND, "No such invitation in the caller's organizations."),
    ApiTokenNotFound => ("api_token_not_found", NOT_FOUND, "No such API token in the caller's organizations."),
    VersionNotFound => ("version_not_found", NOT_FOUND, "No such version in the caller's organizations."),
    BranchNotFound => ("branch_not_found", NOT_FOUND, "No such branch in the caller's organizations."),
    EntityNotFound => ("entity_not_found", NOT_FOUND, "The versioned entity does not exist in this organization."),
    FileNotFound => ("file_not_found", NOT_FOUND, "No such file."),
    AllowlistEntryNotFound => ("allowlist_entry_not_found", NOT_FOUND, "No such admin IP allowlist entry."),
    KnowledgeBaseNotFound => ("knowledge_base_not_found", NOT_FOUND, "No such knowledge base in the caller's organizations."),
    DocumentNotFound => ("document_not_found", NOT_FOUND, "No such document in the caller's organizations."),
    LlmProviderNotFound => ("llm_provider_not_found", NOT_FOUND, "No such LLM provider in the caller's organizations."),
    WebhookNotFound => ("webhook_not_found", NOT_FOUND, "No such webhook in the caller's organizations."),
    ChannelNotFound => ("channel_not_found", NOT_FOUND, "No such channel in the caller's organizations (or no channel has this webhook path)."),
    WebhookDeliveryNotFound => ("webhook_delivery_not_found", NOT_FOUND, "No such webhook delivery in the caller's organizations."),
    IntegrationNotFound => ("integration_not_found", NOT_FOUND, "No such integration in the caller's organizations."),
    MessageNotFound => ("message_not_found", NOT_FOUND, "No such message in this conversation; `details.field` is `message_id`."),
    ToolNotFound => ("tool_not_found", NOT_FOUND, "No such tool in the caller's organizations."),
    AgentNotFound => ("agent_not_found", NOT_FOUND, "No such agent in the caller's organizations."),
    AgentRunNotFound => ("agent_run_not_found", NOT_FOUND, "No such agent run in the caller's organizations."),
    AgentApprovalNotFound => ("agent_approval_not_found", NOT_FOUND, "No such tool-call approval in the caller's organizations."),
    ContactNotFound => ("contact_not_found", NOT_FOUND, "No such contact in the caller's organizations (for a merge also: the other contact is not in the same organization; `details.field` is `other_contact_id`)."),
    ScimTokenNotFound => ("scim_token_not_found", NOT_FOUND, "No such SCIM token in the caller's organizations."),
    // Conflicts and limits
    Conflict => ("conflict", CONFLICT, "The request conflicts with the current state of the resource."),
    EmailTaken => ("email_taken", CONFLICT, "An account with this email already exists (superadmin creation, and sign-up on a server without SMTP; with SMTP sign-up answers 202 either way)."),
    NameTaken => ("name_taken", CONFLICT, "Another resource in the same scope already has this name."),
    PlanLimitExceeded => ("plan_limit_exceeded", PAYMENT_REQUIRED, "The organization's plan does not allow more of this resource; `details.limit` names the limit (`bots`, `messages_per_month`, `knowledge_storage_bytes`, `seats`, `llm_tokens_per_month`, `channels`, `voice_minutes_per_month`), `details.used` and `details.allowed` the figures."),
    PlanNotFound => ("plan_not_found", NOT_FOUND, "No such plan."),
    PlanInUse => ("plan_in_use", CONFLICT, "Organizations are on this plan; move them or deactivate the plan instead (`details.organizations` is their number)."),
    UnknownCurrency => ("unknown_currency", UNPROCESSABLE_ENTITY, "The currency is not an ISO 4217 code; `details.field` names the field."),
    BillingDisabled => ("billing_disabled", NOT_FOUND, "Billing is off on this server (`billing.enabled = false`); billing routes do not exist."),
    FlowInvalid => ("flow_invalid", UNPROCESSABLE_ENTITY, "The flow document has errors; `details.issues` lists them with their node ids."),
    ShortcutTaken => ("shortcut_taken", CONFLICT, "Another canned reply of the organization has this shortcut; `details.field` is `shortcut`."),
    FlowInUse => ("flow_in_use", CONFLICT, "The flow is the bot's entry flow or other flows jump to it; `details.flows` and `details.orchestrations` list what refers to it."),
    PublishBlockedByTests => ("publish_blocked_by_tests", CONFLICT, "The bot's conversation tests failed and its setting `block_publish_on_test_failure` is on; `details.run` has the results."),
    BotInactive => ("bot_inactive", CONFLICT, "The bot is switched off (is_active false) and takes no messages."),
    ConversationNotInHandoff => ("conversation_not_in_handoff", CONFLICT, "The action needs the conversation to be with a human agent (status handoff)."),
    ConversationClosed => ("conversation_closed", CONFLICT, "The conversation is closed."),
    LastOwner => ("last_owner", CONFLICT, "The organization's last owner cannot be removed or demoted; make someone else owner first."),
    AlreadyMember => ("already_member", CONFLICT, "The user is already a member of this organization (or team)."),
    InvitationPending => ("invitation_pending", CONFLICT, "A pending invitation for this email exists; resend or revoke it."),
    RoleInUse => ("role_in_use", CONFLICT, "The role is assigned to members or pending invitations."),
    TwoFactorAlreadyEnabled => ("two_factor_already_enabled", CONFLICT, "Two-factor authentication is already on; disable it first."),
    TwoFactorNotEnabled => ("two_factor_not_enabled", CONFLICT, "Two-factor authentication is not on (run setup, then enable)."),
    DomainTaken => ("domain_taken", CONFLICT, "Another organization already uses this custom domain."),
    MergeConflict => ("merge_conflict", CONFLICT, "Both branches changed the same fields; `details.paths` lists them."),
    UnknownChannelType => ("unknown_channel_type", UNPROCESSABLE_ENTITY, "The channel type is not one this server has an adapter for; `details.field` is `type`, `details.known` lists the types."),
    ChannelCredentialsRejected => ("channel_credentials_rejected", UNPROCESSABLE_ENTITY, "The provider refused the channel's credentials (e.g. a revoked bot token); `details.provider_description` has the provider's words."),
    ChannelProviderUnavailable => ("channel_provider_unavailable", BAD_GATEWAY, "The provider's API could not be reached or answered an error; `details.provider_description` has what it said, if anything."),
    ChannelSignatureInvalid => ("channel_signature_invalid", UNAUTHORIZED, "An inbound channel webhook failed the provider's authentication (Telegram's secret token, Meta's `X-Hub-Signature-256`, Slack's signing secret and timestamp, `X-Twilio-Signature`, the HMAC of the generic and email channels), or a handshake carried the wrong verify token; nothing was stored."),
    TemplateNotFound => ("template_not_found", NOT_FOUND, "No such message template on this channel."),
    TemplateExists => ("template_exists", CONFLICT, "The channel already has a message template of this name and language; `details.field` is `name`."),
    TemplateAlreadySubmitted => ("template_already_submitted", CONFLICT, "The message template was already submitted to the provider; sync its status instead."),
    TemplateNotApproved => ("template_not_approved", CONFLICT, "The message template is not approved by the provider (submit it, then sync its status); `details.status` has its status."),
    TemplateVariablesMissing => ("template_variables_missing", UNPROCESSABLE_ENTITY, "Values for some of the template's variables are missing or empty; `details.field` is `variables`, `details.missing` lists the variable numbers."),
    WebhookInactive => ("webhook_inactive", CONFLICT, "The webhook is switched off (by a user, or by the server after sustained failure); switch it on to send or redeliver."),
    ContactNotMerged => ("contact_not_merged", CONFLICT, "The contact is not merged with another contact, so it cannot be unmerged."),
    UnknownWebhookEvent => ("unknown_webhook_event", UNPROCESSABLE_ENTITY, "An event name is not in the webhook event catalogue; `details.field` names it (e.g. `events[2]`), `details.known` lists the catalogue."),
    UnknownIntegrationType => ("unknown_integration_type", UNPROCESSABLE_ENTITY, "The integration type is not one this server knows; `details.field` is `type`, `details.known` lists the types."),
    IntegrationCredentialsRejected => ("integration_credentials_rejected", UNPROCESSABLE_ENTITY, "The provider refused the integration's credentials (test-connection); `details.provider_description` has the provider's words."),
    IntegrationProviderUnavailable => ("integration_provider_unavailable", BAD_GATEWAY, "The provider's API could not be reached, timed out or answered a server error; `details.provider_description` has what it said, if anything."),
    IntegrationNotConnected => ("integration_not_connected", CONFLICT, "The integration has no usable access token (never connected, expired without a refresh token, or the refresh was refused): connect it again."),
    OauthNotSupported => ("oauth_not_supported", UNPROCESSABLE_ENTITY, "This integration type has no OAuth connect flow; `details.field` is `type`."),
    UnknownToolType => ("unknown_tool_type", UNPROCESSABLE_ENTITY, "The tool type is not one this server runs; `details.field` is `type`, `details.known` lists the types (`GET /orgs/{org_id}/tool-types`)."),
    ToolSchemaInvalid => ("tool_schema_invalid", UNPROCESSABLE_ENTITY, "The tool's `input_schema` is not a valid JSON Schema of an object (or uses a remote `$ref`); `details.field` is `input_schema`, `details.path` the JSON pointer of the fault inside it, `details.issues` every fault."),
    ToolConfigInvalid => ("tool_config_invalid", UNPROCESSABLE_ENTITY, "The tool's `config` does not fit its type's `config_schema` or is refused by the type (a bad template, a file outside `tools.sqlite_dirs`, a query that writes); `details.field` names it, e.g. `config.url`."),
    ToolArgumentsInvalid => ("tool_arguments_invalid", UNPROCESSABLE_ENTITY, "The arguments do not match the tool's `input_schema`; nothing ran. `details.issues` lists each failure with the JSON `pointer` of the failing argument."),
    McpServerNotFound => ("mcp_server_not_found", NOT_FOUND, "No such MCP server connection in the caller's organizations."),
    McpServerUnavailable => ("mcp_server_unavailable", BAD_GATEWAY, "Connecting to the MCP server or reading its tools failed; `details.reason` is `mcp_unreachable`, `url_not_allowed`, `mcp_unauthorized` (the server refused the credential), `mcp_protocol_error`, `mcp_error` (a JSON-RPC error) or `timeout`. The message says what happened; the server's `status` becomes `error`."),
    ToolDisabled => ("tool_disabled", CONFLICT, "The tool is switched off (`is_enabled` false); only test runs are allowed."),
    AgentDisabled => ("agent_disabled", CONFLICT, "The agent is switched off (`is_active` false)."),
    AgentApprovalDecided => ("agent_approval_decided", CONFLICT, "The tool call was already approved or rejected; `details.status` says which."),
    AgentStepLimit => ("agent_step_limit", CONFLICT, "The agent used all `max_steps` model calls of the turn without answering; `details.field` is `max_steps`, `details.run_id` the run with its steps."),
    WorkflowNotFound => ("workflow_not_found", NOT_FOUND, "No such agent workflow in the caller's organizations."),
    WorkflowExecutionNotFound => ("workflow_execution_not_found", NOT_FOUND, "No such workflow execution in the caller's organizations."),
    WorkflowStepTypeUnknown => ("workflow_step_type_unknown", UNPROCESSABLE_ENTITY, "A workflow step's `type` is not one of `agent`, `tool`, `condition`, `parallel`, `join`, `router`, `approval`, `end`; `details.field` is e.g. `definition.steps[2].type`, `details.known` lists the types."),
    WorkflowEdgeDangling => ("workflow_edge_dangling", UNPROCESSABLE_ENTITY, "A workflow edge (`start`, `next`, a branch, a route) leads to a step id that does not exist; `details.field` names the edge, e.g. `definition.steps[0].next`, `details.target` the missing id."),
    WorkflowCycleWithoutExit => ("workflow_cycle_without_exit", UNPROCESSABLE_ENTITY, "Some workflow steps loop with no way out to a step that ends: a loop needs a condition, router or approval branch that leaves it; `details.field` names an edge of the loop, `details.cycle` its step ids."),
    WorkflowInactive => ("workflow_inactive", CONFLICT, "The workflow is switched off (`is_active` false) and cannot be run."),
    WorkflowExecutionFinished => ("workflow_execution_finished", CONFLICT, "The workflow execution already ended (completed, failed or cancelled); `details.status` is its status."),
    WorkflowNotWaiting => ("workflow_not_waiting", CONFLICT, "The workflow execution is not waiting for an approval."),
    WouldLockOut => ("would_lock_out", CONFLICT, "The change would lock the caller's own IP address out of the admin console."),
    // Experiments
    ExperimentNotFound => ("experiment_not_found", NOT_FOUND, "No such A/B experiment in the caller's organizations."),
    ExperimentRunningOnSubject => ("experiment_running_on_subject", CONFLICT, "Another experiment already runs on the same flow, NLU model, agent or knowledge settings of the bot; `details.experiment_id` names it."),
    ExperimentVariantMissing => ("experiment_variant_missing", CONFLICT, "What a variant serves (a flow version, a model version, the agent) was deleted, so the experiment cannot start or promote it; `details.field` names the variant's field."),
    ExperimentStatusConflict => ("experiment_status_conflict", CONFLICT, "The experiment's status does not allow this (e.g. starting a completed one); `details.status` is its status."),
    // NLU
    BotTestNotFound => ("bot_test_not_found", NOT_FOUND, "No such conversation test in the caller's organizations."),
    IntentNotFound => ("intent_not_found", NOT_FOUND, "No such intent in this bot."),
    ExampleNotFound => ("example_not_found", NOT_FOUND, "No such training example in this bot."),
    NluEntityNotFound => ("nlu_entity_not_found", NOT_FOUND, "No such NLU entity in this bot."),
    ModelVersionNotFound => ("model_version_not_found", NOT_FOUND, "No such NLU model version of this bot."),
    NluLogNotFound => ("nlu_log_not_found", NOT_FOUND, "No such logged parse of this bot."),
    BlockedClientNotFound => ("blocked_client_not_found", NOT_FOUND, "No client of this id is refused by the rate limits now."),
    NluNotTrained => ("nlu_not_trained", CONFLICT, "The bot has no trained NLU model yet: train it first (callers may treat this as \"no intent\")."),
    NluModelIncompatible => ("nlu_model_incompatible", CONFLICT, "The bot's NLU model was trained with another embedding model; train it again."),
    NluRoleUndeclared => ("nlu_role_undeclared", UNPROCESSABLE_ENTITY, "An annotation gives a role its entity does not declare (or the entity does not exist); `details` name the field, entity, role and the declared roles."),
    NluTrainingDataInvalid => ("nlu_training_data_invalid", UNPROCESSABLE_ENTITY, "Training needs at least two active intents with examples; `details` lists the intents without examples."),
    ImportInvalid => ("import_invalid", UNPROCESSABLE_ENTITY, "An imported file is malformed; `details.line` names the line (nothing was imported)."),
    DuplicateDocument => ("duplicate_document", CONFLICT, "The knowledge base already holds a document with the same content; `details.document_id` names it."),
    // Documents and ingestion (also the `error_code` of a failed document)
    UnsupportedFileType => ("unsupported_file_type", UNSUPPORTED_MEDIA_TYPE, "The file type is not one of txt, md, html, pdf, docx, csv, json."),
    FileTypeMismatch => ("file_type_mismatch", UNPROCESSABLE_ENTITY, "The file's content does not match its extension or declared type (e.g. a PDF named .docx)."),
    CorruptFile => ("corrupt_file", UNPROCESSABLE_ENTITY, "The file could not be read: it is damaged, encrypted or not valid for its type."),
    DecompressionLimit => ("decompression_limit", UNPROCESSABLE_ENTITY, "The file expands beyond the decompression limits (a zip bomb or an oversized archive)."),
    EmptyDocument => ("empty_document", UNPROCESSABLE_ENTITY, "No text could be extracted from the document."),
    ExtractionTimeout => ("extraction_timeout", UNPROCESSABLE_ENTITY, "Extracting the document's text took longer than `knowledge.extract_timeout_secs`; the extraction was stopped."),
    UrlNotAllowed => ("url_not_allowed", UNPROCESSABLE_ENTITY, "The URL is not http(s) or points to a private, loopback or link-local address."),
    FetchFailed => ("fetch_failed", BAD_GATEWAY, "Fetching the URL failed (unreachable, timeout, error status or too large)."),
    EmbeddingModelUnavailable => ("embedding_model_unavailable", UNPROCESSABLE_ENTITY, "The embedding model is not one this server can run (see /orgs/{org_id}/knowledge/models)."),
    SmtpNotConfigured => ("smtp_not_configured", CONFLICT, "No SMTP server is configured (neither in the console's instance settings nor `smtp.host`), so no email can be sent."),
    EmailDeliveryFailed => ("email_delivery_failed", BAD_GATEWAY, "The SMTP server could not be reached or refused the message; `details.smtp_error` carries its answer."),
    LlmFailed => ("llm_failed", BAD_GATEWAY, "The LLM endpoint failed, timed out or answered something that is not a chat completion."),
    LlmNotConfigured => ("llm_not_configured", CONFLICT, "No usable LLM provider for this call: the bot names none and the organization has no active default provider, the bot's provider is disabled, or the bot's AI is switched off; `details.field` is `provider_id` or `is_enabled`."),
    LlmBudgetExhausted => ("llm_budget_exhausted", PAYMENT_REQUIRED, "The bot used its monthly LLM budget (calendar month, UTC); `details.field` names the budget (`monthly_token_budget` or `monthly_cost_budget_micros`), `details.used` and `details.budget` the amounts."),
    FlowGenerationFailed => ("flow_generation_failed", UNPROCESSABLE_ENTITY, "The model's flow (generated, improved or suggested) was still not a valid flow after the repair rounds, or not JSON at all; `details.issues` lists what was wrong with the last answer and `details.rounds` the model calls made. Nothing was saved."),
    AgentBudgetExhausted => ("agent_budget_exhausted", PAYMENT_REQUIRED, "The conversation used the agent's per-conversation budget; `details.field` names it (`conversation_token_budget` or `conversation_cost_budget_micros`), `details.used` and `details.budget` the amounts, `details.run_id` the run."),
    SecretUnreadable => ("secret_unreadable", CONFLICT, "A stored secret (an LLM provider key, a two-factor secret) cannot be decrypted with this server's master key: the data file was re-keyed or restored with another key. `details` names it; set it again."),
    // Billing: Stripe subscriptions, webhooks, invoices
    BillingNotConfigured => ("billing_not_configured", CONFLICT, "Billing is on but Stripe is not set up (`billing.stripe_secret_key`), so checkout, the portal and plan changes are unavailable."),
    NoSubscription => ("no_subscription", CONFLICT, "The organization has no live Stripe subscription to change, cancel or resume; start one with checkout."),
    AlreadySubscribed => ("already_subscribed", CONFLICT, "The organization already has a live subscription; change its plan instead of checking out again."),
    InvoiceNotFound => ("invoice_not_found", NOT_FOUND, "No such invoice in the caller's organizations."),
    StripeSignatureInvalid => ("stripe_signature_invalid", BAD_REQUEST, "A Stripe webhook's `Stripe-Signature` is missing, malformed, older than `billing.webhook_tolerance_secs`, or matches none of `billing.stripe_webhook_secrets`; nothing was changed."),
    StripeEventInvalid => ("stripe_event_invalid", BAD_REQUEST, "A signed webhook body is not a Stripe event (`object` `event` with `id`, `type`, `created` and `data.object`); `details.field` names what is wrong; nothing was changed."),
    StripeUnavailable => ("stripe_unavailable", BAD_GATEWAY, "The Stripe API could not be reached or answered an error; `details.provider_description` has what it said, if anything."),
    // Code sandbox (the script is at fault; `details.field` is `source`, `details.logs` the console output before the stop)
    SandboxTimeout => ("sandbox_timeout", UNPROCESSABLE_ENTITY, "The script ran out of time and was stopped; `details.limit` is `cpu` (CPU time) or `wall` (wall-clock time), `details.limit_ms` the limit."),
    SandboxMemoryExceeded => ("sandbox_memory_exceeded", UNPROCESSABLE_ENTITY, "The script needed more memory than its limit and was stopped; `details.limit_bytes` is the limit."),
    SandboxOutputTooLarge => ("sandbox_output_too_large", UNPROCESSABLE_ENTITY, "The script's JSON result plus its console output exceed the output limit and it was stopped; `details.limit_bytes` is the limit."),
    SandboxScriptError => ("sandbox_script_error", UNPROCESSABLE_ENTITY, "The script does not compile, threw, defines no `main` or its promise never settles; `details` has the JS error `name`, `line` and `column` (1-based, when known) and the `stack`."),
    // Autonomous agents: runs, schedules, memory
    AutonomousAgentNotFound => ("autonomous_agent_not_found", NOT_FOUND, "No such autonomous agent in the caller's organizations (or an unknown inbound-webhook token)."),
    AutonomousRunNotFound => ("autonomous_run_not_found", NOT_FOUND, "No such autonomous-agent run in the caller's organizations."),
    AutonomousMemoryNotFound => ("autonomous_memory_not_found", NOT_FOUND, "No such memory of an autonomous agent in the caller's organizations."),
    ScheduleInvalid => ("schedule_invalid", UNPROCESSABLE_ENTITY, "The schedule does not parse or never fires; `details.field` is `schedule.cron` (not a cron expression) or `schedule.timezone` (not an IANA time zone)."),
    AutonomousAgentArchived => ("autonomous_agent_archived", CONFLICT, "The autonomous agent is archived (or, for an inbound webhook, not active), so no run starts; `details.field` is `status`."),
    AutonomousRunFinished => ("autonomous_run_finished", CONFLICT, "The run already ended (completed, failed or cancelled); `details.status` says how."),
    AutonomousRunNotPaused => ("autonomous_run_not_paused", CONFLICT, "Only a paused run can be resumed."),
    // Voice: telephony accounts, voice bots, phone numbers, calls and their webhooks
    VoiceBotNotFound => ("voice_bot_not_found", NOT_FOUND, "No such voice bot in the caller's organizations."),
    CallNotFound => ("call_not_found", NOT_FOUND, "No such call in the caller's organizations."),
    PhoneNumberNotFound => ("phone_number_not_found", NOT_FOUND, "No such phone number in the caller's organizations."),
    VoiceAccountNotConfigured => ("voice_account_not_configured", CONFLICT, "The organization has no telephony account yet: set it with `PUT /orgs/{org_id}/voice/account`."),
    VoiceSignatureInvalid => ("voice_signature_invalid", FORBIDDEN, "A voice webhook's `X-Twilio-Signature` is missing or does not match the account's auth token over the URL and parameters (or its `AccountSid` is not the account's); nothing was read or stored, the attempt is logged."),
    VoiceWebhookReplayed => ("voice_webhook_replayed", CONFLICT, "A voice webhook repeats one already handled (the call was already answered, or the gather's turn number is not the call's current one); nothing ran."),
    VoiceProviderRejected => ("voice_provider_rejected", UNPROCESSABLE_ENTITY, "The telephony provider refused the request (bad number, credentials, not allowed); `details.provider_description` has its words, `details.provider_status` its HTTP status."),
    VoiceProviderUnavailable => ("voice_provider_unavailable", BAD_GATEWAY, "The telephony provider could not be reached, timed out or answered a server error; `details.provider_description` says what happened."),
    // Voice bot templates and voice-to-bot (src/voice/templates.rs, src/voice/creation.rs)
    VoiceBotCreationNotFound => ("voice_bot_creation_not_found", NOT_FOUND, "No such voice-to-bot creation in the caller's organizations."),
    VoiceAudioUnsupported => ("voice_audio_unsupported", UNPROCESSABLE_ENTITY, "The uploaded audio is not WAV, MP3, OGG, WebM or M4A (the container is sniffed from the bytes, not the name); `details.field` is `audio`."),
    VoiceAudioTooLarge => ("voice_audio_too_large", UNPROCESSABLE_ENTITY, "The uploaded audio exceeds `files.max_upload_bytes`; `details.field` is `audio`, `details.limit_bytes` the limit."),
    VoiceTranscriptEmpty => ("voice_transcript_empty", UNPROCESSABLE_ENTITY, "The recording was transcribed to no words (silence or noise); record the description again. The creation is kept with status `error`; `details.creation_id` names it."),
    VoiceExtractionInvalid => ("voice_extraction_invalid", UNPROCESSABLE_ENTITY, "The model's extraction of intents, questions and answers did not match the schema; `details.issues` lists what was wrong, `details.creation_id` the creation whose guided form (`PUT /voice-bot-creations/{id}/extraction`) can be filled in instead."),
    // SAML single sign-on (src/saml, docs/sso-saml.md)
    SamlResponseInvalid => ("saml_response_invalid", UNAUTHORIZED, "A SAML response was refused; `details.reason` is the stable reason (`unsigned`, `bad_signature`, `wrapped`, `wrong_audience`, `expired`, `replayed`, … see docs/sso-saml.md)."),
    SamlMetadataInvalid => ("saml_metadata_invalid", UNPROCESSABLE_ENTITY, "IdP metadata or a certificate cannot be used; `details.field` names the field, `details.reason` is `metadata_invalid`, `certificate_invalid`, `doctype_forbidden` or `metadata_unreachable` (the metadata URL could not be fetched)."),
    // Single sign-on (OIDC), SSO domains
    SsoConfigurationNotFound => ("sso_configuration_not_found", NOT_FOUND, "No such SSO configuration in the caller's organizations."),
    SsoDomainNotFound => ("sso_domain_not_found", NOT_FOUND, "No such SSO domain in the caller's organizations."),
    SsoDomainTaken => ("sso_domain_taken", CONFLICT, "The email domain is already claimed by an SSO configuration (of this or another organization); `details.field` is `domain`."),
    SsoDomainVerificationFailed => ("sso_domain_verification_failed", UNPROCESSABLE_ENTITY, "The domain's DNS TXT record or HTTP well-known file does not hold its verification token; `details.method` says which was checked, `details.reason` what was found."),
    SsoDiscoveryFailed => ("sso_discovery_failed", UNPROCESSABLE_ENTITY, "The IdP's `/.well-known/openid-configuration` could not be fetched, is not JSON, lacks a required endpoint, uses a non-https endpoint or names another issuer; `details.field` is `issuer_url`, `details.reason` says which."),
    SsoNotConfigured => ("sso_not_configured", NOT_FOUND, "No enabled SSO configuration has a verified domain for this email address; `details.field` is `email`."),
    SsoRequired => ("sso_required", FORBIDDEN, "The email's domain enforces single sign-on: password sign-in and password reset are refused (API tokens still work); `details.login_url` starts the SSO sign-in."),
    // Revenue recovery (issue 27)
    RecoveryCampaignNotFound => ("recovery_campaign_not_found", NOT_FOUND, "No such recovery campaign in the caller's organizations."),
    RecoverySourceNotFound => ("recovery_source_not_found", NOT_FOUND, "No such recovery event source (or no source has this webhook token)."),
    RecoveryCampaignExists => ("recovery_campaign_exists", CONFLICT, "The organization already has a recovery campaign (or source) with this name; `details.field` is `name`."),
    RecoveryTemplateField => ("recovery_template_field", UNPROCESSABLE_ENTITY, "A step's message references a field the campaign's trigger does not provide; `details.field` names the step field (e.g. `steps[1].body`), `details.placeholder` the field, `details.known` the trigger's fields."),
    RecoveryEventTypeUnknown => ("recovery_event_type_unknown", UNPROCESSABLE_ENTITY, "The event's type is not one recovery knows; the event is stored as rejected with the reason; `details.field` is `type`, `details.event_id` the stored row."),
    RecoverySignatureInvalid => ("recovery_signature_invalid", UNAUTHORIZED, "A recovery source webhook is unsigned or its signature (`X-Shopify-Hmac-Sha256`, `Stripe-Signature`) does not match the source's secret; nothing is stored."),
    RecoveryLinkInvalid => ("recovery_link_invalid", NOT_FOUND, "A click-tracking or unsubscribe link is malformed or its signature does not match."),
    RecoveryHealthNotFound => ("recovery_health_not_found", NOT_FOUND, "No such customer health score in the caller's organizations."),
    // Export and import (src/portability, docs/export.md)
    ExportArchiveInvalid => ("export_archive_invalid", UNPROCESSABLE_ENTITY, "The file is not a usable botbuilder export: not a zip, truncated or damaged, no manifest, a malformed row, or a table or value this server cannot take; `details.field` is `file`; nothing was imported."),
    ExportVersionUnsupported => ("export_version_unsupported", UNPROCESSABLE_ENTITY, "The export file was written in a newer format than this server reads (`details.format_version`, `details.supported`): upgrade botbuilder; nothing was imported."),
    ExportChecksumMismatch => ("export_checksum_mismatch", UNPROCESSABLE_ENTITY, "A table file of the export does not match its SHA-256 in the manifest (`details.entry`): the file was altered or damaged; nothing was imported."),
    ExportKindMismatch => ("export_kind_mismatch", UNPROCESSABLE_ENTITY, "The export file holds another kind of export (`details.kind`, e.g. an organization) than the route imports; nothing was imported."),
    ArchiveDirUnwritable => ("archive_dir_unwritable", SERVICE_UNAVAILABLE, "The retention job cannot write to its archive directory (`retention.archive_dir`, `details.path`; `details.reason` says why): nothing was archived or deleted. Fix the directory's permissions or the setting."),
    OrgExportNotReady => ("org_export_not_ready", CONFLICT, "The organization has no finished export to download (none started, still running, failed or its file removed); `details.job_id` and `details.status` name the latest export job when there is one."),
    // Work clones (issue 29)
    CloneNotFound => ("clone_not_found", NOT_FOUND, "No such work clone visible to the caller: clones are seen by their owner, the organization's admins (`org.manage`) and the members they are shared with."),
    CloneDataNotFound => ("clone_data_not_found", NOT_FOUND, "No such training pair of this clone."),
    CloneResponseNotFound => ("clone_response_not_found", NOT_FOUND, "No such draft of this clone."),
    CloneImportInvalid => ("clone_import_invalid", UNPROCESSABLE_ENTITY, "The training export is not of the stated format or is truncated: `details.line` (and `details.column` or `details.offset` where known) say where, `details.format` what was expected; nothing was imported."),
    CloneTrainingEmpty => ("clone_training_empty", UNPROCESSABLE_ENTITY, "The clone has no enabled training pairs, so there is nothing to train on; `details.pairs` and `details.enabled` give the counts."),
    CloneNotTrained => ("clone_not_trained", CONFLICT, "The clone has no trained version yet: train it before asking for drafts."),
    CloneNoMessage => ("clone_no_message", CONFLICT, "The conversation has no message from the visitor to draft a reply to."),
    CloneShareInvalid => ("clone_share_invalid", UNPROCESSABLE_ENTITY, "A clone can be shared only with another active member of its organization; `details.field` is `user_id`."),
    // Fine-tuning (issue 25)
    FineTuneModelNotFound => ("fine_tune_model_not_found", NOT_FOUND, "No such fine-tune model in the caller's organizations."),
    DatasetNotFound => ("dataset_not_found", NOT_FOUND, "No such fine-tuning dataset in the caller's organizations (`details.field` names the field when it came from the body)."),
    FineTuneJobNotFound => ("fine_tune_job_not_found", NOT_FOUND, "No such fine-tuning job in the caller's organizations."),
    DatasetInvalid => ("dataset_invalid", UNPROCESSABLE_ENTITY, "A dataset file is malformed: `details.line` names the line (or CSV record), `details.format` the expected format; nothing was stored."),
    DatasetDeleted => ("dataset_deleted", CONFLICT, "The dataset was deleted: no job may start on it; `details.field` names the field and `details.dataset_id` the dataset."),
    DatasetNotReady => ("dataset_not_ready", CONFLICT, "The dataset's validation report found problems (`details.report_issues` counts them) or it is of another kind than the job needs; fix and upload it again."),
    // Server side
    Internal => ("internal", INTERNAL_SERVER_ERROR, "An unexpected server error; the request id identifies it in the logs."),
    Unavailable => ("unavailable", SERVICE_UNAVAILABLE, "The server is starting, shutting down or overloaded."),
    ModelsUnavailable => ("models_unavailable", SERVICE_UNAVAILABLE, "The local ML models are still loading or failed to load (see /readyz)."),
    Overloaded => ("overloaded", SERVICE_UNAVAILABLE, "The server is at capacity (`details.reason`: `inference_queue_full`, `write_queue_full` or `sandbox_busy`); retry after the Retry-After header."),
    // Reliability drills (issue 30)
    StorageFull => ("storage_full", INSUFFICIENT_STORAGE, "The disk holding the data file is full: the write was not saved (nothing half-written); reads keep working and writes succeed again once space is freed. `details.retryable` is `true`."),
}

/// An API error: a stable code, a human message, optional details and, for
/// server-side failures, the underlying cause (logged, never sent).
pub struct AppError {
    code: ErrorCode,
    message: String,
    details: Option<Value>,
    source: Option<anyhow::Error>,
}

/// The JSON error body, documented in `OpenAPI` as `ErrorBody`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    error: ErrorObject,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorObject {
    /// Stable machine-readable code, e.g. `bot_not_found`.
    code: &'static str,
    message: String,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    details: Option<Value>,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), details: None, source: None }
    }

    /// A 422 naming the field at fault.
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        Self::new(ErrorCode::ValidationFailed, message).with_details(json!({ "field": field }))
    }

    /// A 507: the disk holding the data file is full; nothing was written.
    #[must_use]
    pub fn storage_full() -> Self {
        Self::new(
            ErrorCode::StorageFull,
            "the server's disk is full; the change was not saved. Reads still work; retry once space is freed",
        )
        .with_details(json!({ "retryable": true }))
    }

    /// A 500 carrying its cause for the log.
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        Self { source: Some(source.into()), ..Self::new(ErrorCode::Internal, "internal server error") }
    }

    #[must_use]
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    #[must_use]
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    #[must_use]
    pub fn details(&self) -> Option<&Value> {
        self.details.as_ref()
    }

    fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorObject {
                code: self.code.as_str(),
                message: self.message.clone(),
                status: self.code.status().as_u16(),
                details: self.details.clone(),
            },
        }
    }
}

impl fmt::Debug for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)?;
        if let Some(source) = &self.source {
            write!(f, "\ncaused by: {source:?}")?;
        }
        Ok(())
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for AppError {}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        if self.code == ErrorCode::Overloaded {
            // Expected under load, counted in /metrics; one log line per
            // refusal would add to the load.
            tracing::debug!(error.code = self.code.as_str(), error.cause_chain = ?self, "request refused");
        } else if self.code.status().is_server_error() {
            // Logged once here, where it becomes a response; the body hides it.
            tracing::error!(error.code = self.code.as_str(), error.cause_chain = ?self, "request failed");
        }
        let mut response = HttpResponse::build(self.code.status());
        if matches!(self.code, ErrorCode::RateLimited | ErrorCode::Overloaded)
            && let Some(secs) = self.details.as_ref().and_then(|d| d.get("retry_after_secs")).and_then(Value::as_u64)
        {
            response.insert_header(("Retry-After", secs.to_string()));
        }
        response.json(self.body())
    }
}

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        Self::internal(err)
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(err: tokio::task::JoinError) -> Self {
        Self::internal(err)
    }
}

impl From<r2d2::Error> for AppError {
    fn from(err: r2d2::Error) -> Self {
        Self { source: Some(err.into()), ..Self::new(ErrorCode::Unavailable, "database connection pool exhausted") }
    }
}

impl From<rusqlite::Error> for AppError {
    /// Constraint failures raised by our triggers carry a stable prefix
    /// (`plan_limit_exceeded: bots`, `tenant_mismatch: …`, `parent_mismatch: …`); they become client
    /// errors. Everything else is a server error.
    fn from(err: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(e, Some(msg)) = &err
            && e.code == rusqlite::ErrorCode::ConstraintViolation
            && let Some(mapped) = map_trigger_message(msg)
        {
            return mapped;
        }
        if is_disk_full(&err) {
            return Self { source: Some(err.into()), ..Self::storage_full() };
        }
        Self::internal(err)
    }
}

/// `SQLITE_FULL`: SQLite's unix VFS reports a write that met `ENOSPC` so
/// (main file, WAL and temporary files alike); the disk is at fault, not the request.
fn is_disk_full(err: &rusqlite::Error) -> bool {
    matches!(err, rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::DiskFull)
}

fn map_trigger_message(msg: &str) -> Option<AppError> {
    let (prefix, subject) = msg.split_once(':').map_or((msg, ""), |(p, s)| (p, s.trim()));
    let error = match prefix {
        "plan_limit_exceeded" => AppError::new(
            ErrorCode::PlanLimitExceeded,
            format!("your plan does not allow more {subject}; upgrade to add more"),
        )
        .with_details(json!({ "resource": subject, "limit": subject })),
        "tenant_mismatch" | "parent_mismatch" => {
            AppError::new(ErrorCode::InvalidReference, "a referenced resource was not found")
                .with_details(json!({ "field": subject.rsplit('.').next().unwrap_or(subject) }))
        }
        "append_only" => AppError::new(ErrorCode::Conflict, format!("{subject} is append-only")),
        _ => return None,
    };
    Some(error)
}

/// The code table as Markdown (the body of `docs/api-errors.md`).
#[must_use]
pub fn codes_markdown() -> String {
    let mut out = String::from(
        "# API error codes\n\nEvery error response has the body\n\n```json\n\
         {\"error\": {\"code\": \"bot_not_found\", \"message\": \"...\", \"status\": 404, \"details\": {}}}\n```\n\n\
         Codes are stable: never renamed or reused. Validation errors name the field in `details.field`.\n\
         This file is generated from `src/error.rs` (`UPDATE_DOCS=1 cargo test --lib error`).\n\n\
         | code | HTTP status | meaning |\n|---|---|---|\n",
    );
    for code in ErrorCode::ALL {
        let _ = writeln!(out, "| `{}` | {} | {} |", code.as_str(), code.status().as_u16(), code.description());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_list_every_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/api-errors.md");
        let expected = codes_markdown();
        if std::env::var("UPDATE_DOCS").is_ok() {
            std::fs::write(path, &expected).expect("write docs");
        }
        let actual = std::fs::read_to_string(path).unwrap_or_default();
        assert!(actual == expected, "docs/api-errors.md is out of date: run UPDATE_DOCS=1 cargo test --lib error");
    }

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code {}", code.as_str());
            assert!(code.as_str().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        }
    }

    #[test]
    fn a_full_disk_is_a_507_storage_full_not_a_500() {
        // `max_page_count` makes SQLite answer exactly what a full disk does: SQLITE_FULL.
        let conn = rusqlite::Connection::open_in_memory().expect("db");
        conn.execute_batch("CREATE TABLE t (b BLOB); PRAGMA max_page_count = 8;").expect("setup");
        let err = conn.execute("INSERT INTO t (b) VALUES (zeroblob(100000))", []).expect_err("the file is full");
        let e = AppError::from(err);
        assert_eq!(e.code(), ErrorCode::StorageFull);
        assert_eq!(e.code().status().as_u16(), 507);
        assert_eq!(e.details().and_then(|d| d["retryable"].as_bool()), Some(true));
        // Reads still work on the same connection, and the row count is unchanged.
        let n: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).expect("read");
        assert_eq!(n, 0);
    }

    #[test]
    fn trigger_messages_map_to_client_errors() {
        let e = map_trigger_message("plan_limit_exceeded: bots").expect("mapped");
        assert_eq!(e.code(), ErrorCode::PlanLimitExceeded);
        let e = map_trigger_message("tenant_mismatch: chunks.document_id").expect("mapped");
        assert_eq!(e.code(), ErrorCode::InvalidReference);
        assert_eq!(e.details().and_then(|d| d["field"].as_str()), Some("document_id"));
        assert!(map_trigger_message("UNIQUE constraint failed: users.email").is_none());
    }
}
