//! Conversations: the runtime that runs them, the API and emulator entry
//! points, transcripts with search, and the human handoff inbox.

pub mod model;
pub mod runtime;
pub mod service;
pub mod store;
pub mod visitor;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{
    AgentReplyRequest, AgentTextRequest, AssignRequest, CloseRequest, Conversation, ConversationFilter,
    ConversationResource, EmulatorRequest, HandoffRequest, InboxFilter, Message, ReplayReport, SendMessageRequest,
    StartConversationRequest, TurnResponse, TypingRequest, UploadParams,
};
use self::model::{
    CannedReply, CannedReplyPatch, CannedReplyRequest, CannedReplyResource, MarkReadRequest, UnreadSummary,
};
use self::runtime::hub::{conversation_stream, inbox_stream, ready_event};
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody};
use crate::http::sse::sse_response;
use crate::http::{BotScope, Json, OrgScope, Page, PageParams, Scoped};
use crate::permissions::perm;

type ConvScope<P> = Scoped<ConversationResource, P>;

/// Registers the conversation routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(start_conversation)
        .service(send_message)
        .service(list_conversations)
        .service(get_conversation)
        .service(list_messages)
        .service(conversation_events)
        .service(emulate)
        .service(replay)
        .service(inbox)
        .service(inbox_events)
        .service(inbox_unread)
        .service(mark_read)
        .service(list_canned_replies)
        .service(create_canned_reply)
        .service(update_canned_reply)
        .service(delete_canned_reply)
        .service(assign)
        .service(reply)
        .service(upload_file)
        .service(note)
        .service(handoff)
        .service(handback)
        .service(close)
        .service(typing);
}

/// Starts (or continues, by `external_user_id`) a conversation with the bot's published flows.
#[utoipa::path(
    tag = "conversations",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = StartConversationRequest,
    responses(
        (status = 200, body = TurnResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`bot_inactive`"), (status = 422, body = ErrorBody),
        (status = 402, body = ErrorBody, description = "`plan_limit_exceeded` (`details.limit` = `messages_per_month`): the plan's messages for the month are used"),
    ),
    security(("session" = ["conversations.write"]), ("api_token" = ["conversations.write"]))
)]
#[post("/bots/{bot_id}/conversations")]
async fn start_conversation(
    scope: BotScope<perm::ConversationsWrite>,
    state: web::Data<AppState>,
    body: Json<StartConversationRequest>,
) -> AppResult<web::Json<TurnResponse>> {
    let bot = scope.id();
    Ok(web::Json(service::start(&state, scope.into_tenant(), bot, body.into_inner()?).await?))
}

/// Sends an end-user message; answers with the stored message and the bot's replies.
#[utoipa::path(
    tag = "conversations",
    params(("conversation_id" = i64, Path, description = "Conversation id")),
    request_body = SendMessageRequest,
    responses(
        (status = 200, body = TurnResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`bot_inactive`"), (status = 422, body = ErrorBody),
        (status = 402, body = ErrorBody, description = "`plan_limit_exceeded` (`messages_per_month`)"),
    ),
    security(("session" = ["conversations.write"]), ("api_token" = ["conversations.write"]))
)]
#[post("/conversations/{conversation_id}/messages")]
async fn send_message(
    scope: ConvScope<perm::ConversationsWrite>,
    state: web::Data<AppState>,
    body: Json<SendMessageRequest>,
) -> AppResult<web::Json<TurnResponse>> {
    let id = scope.id();
    Ok(web::Json(service::send(&state, scope.into_tenant(), id, body.into_inner()?.text).await?))
}

/// Lists a bot's conversations, newest first; `q` searches the transcripts.
#[utoipa::path(
    tag = "conversations",
    params(("bot_id" = i64, Path, description = "Bot id"), ConversationFilter, PageParams),
    responses((status = 200, body = Page<Conversation>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["conversations.read"]), ("api_token" = ["conversations.read"]))
)]
#[get("/bots/{bot_id}/conversations")]
async fn list_conversations(
    scope: BotScope<perm::ConversationsRead>,
    state: web::Data<AppState>,
    filter: web::Query<ConversationFilter>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Conversation>>> {
    let bot = scope.id();
    Ok(web::Json(service::list(&state, scope.into_tenant(), bot, filter.into_inner(), page.into_inner()).await?))
}

/// Shows a conversation with its flow position and variables.
#[utoipa::path(
    tag = "conversations",
    params(("conversation_id" = i64, Path, description = "Conversation id")),
    responses((status = 200, body = Conversation), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["conversations.read"]), ("api_token" = ["conversations.read"]))
)]
#[get("/conversations/{conversation_id}")]
async fn get_conversation(
    scope: ConvScope<perm::ConversationsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Conversation>> {
    let id = scope.id();
    Ok(web::Json(service::get(&state, scope.into_tenant(), id).await?))
}

/// The transcript, oldest first (with agents' internal notes).
#[utoipa::path(
    tag = "conversations",
    params(("conversation_id" = i64, Path, description = "Conversation id"), PageParams),
    responses((status = 422, body = ErrorBody, description = "`validation_failed`: `limit` outside 1–200 or a malformed `after` cursor"), (status = 200, body = Page<Message>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["conversations.read"]), ("api_token" = ["conversations.read"]))
)]
#[get("/conversations/{conversation_id}/messages")]
async fn list_messages(
    scope: ConvScope<perm::ConversationsRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Message>>> {
    let id = scope.id();
    Ok(web::Json(service::transcript(&state, scope.into_tenant(), id, page.into_inner()).await?))
}

/// Live events of a conversation (Server-Sent Events): `message`, `typing`, `status`.
#[utoipa::path(
    tag = "conversations",
    params(("conversation_id" = i64, Path, description = "Conversation id")),
    responses((status = 200, description = "text/event-stream", content_type = "text/event-stream"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["conversations.read"]), ("api_token" = ["conversations.read"]))
)]
#[get("/conversations/{conversation_id}/events")]
async fn conversation_events(
    scope: ConvScope<perm::ConversationsRead>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let rx = state.runtime.hub().subscribe(scope.id());
    let stream =
        futures_util::stream::select(futures_util::stream::iter([ready_event()]), conversation_stream(rx, false));
    Ok(sse_response(stream))
}

/// Chats with the bot's draft (default) or published flows; each answer carries the
/// debugger's trace: NLU, node path, variables before and after, HTTP calls, problems, timing.
#[utoipa::path(
    tag = "conversations",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = EmulatorRequest,
    responses((status = 200, body = TurnResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/emulator")]
async fn emulate(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<EmulatorRequest>,
) -> AppResult<web::Json<TurnResponse>> {
    let bot = scope.id();
    Ok(web::Json(service::emulate(&state, scope.into_tenant(), bot, body.into_inner()?).await?))
}

/// Replays the end user's messages of a transcript against the draft flows (nothing is stored).
#[utoipa::path(
    tag = "conversations",
    params(("conversation_id" = i64, Path, description = "Conversation id")),
    responses((status = 200, body = ReplayReport), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/conversations/{conversation_id}/replay")]
async fn replay(scope: ConvScope<perm::BotsWrite>, state: web::Data<AppState>) -> AppResult<web::Json<ReplayReport>> {
    let id = scope.id();
    Ok(web::Json(service::replay(&state, scope.into_tenant(), id).await?))
}

/// The inbox across all bots of the organization: by default conversations waiting
/// for or with a human agent, oldest first (the caller's teams' and those without a
/// team; admins see all), each with the caller's unread count. Filters: bot, status
/// (`waiting`, `assigned`, `mine`, `closed`, `open`), channel, text; emulator
/// conversations only with `include_emulator=true`.
#[utoipa::path(
    tag = "conversations",
    params(("org_id" = i64, Path, description = "Organization id"), InboxFilter, PageParams),
    responses((status = 422, body = ErrorBody, description = "`validation_failed`: `limit` outside 1–200 or a malformed `after` cursor"), (status = 200, body = Page<Conversation>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["conversations.handle"]), ("api_token" = ["conversations.handle"]))
)]
#[get("/orgs/{org_id}/inbox")]
async fn inbox(
    scope: OrgScope<perm::ConversationsHandle>,
    state: web::Data<AppState>,
    filter: web::Query<InboxFilter>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Conversation>>> {
    Ok(web::Json(service::inbox(&state, scope.into_tenant(), filter.into_inner(), page.into_inner()).await?))
}

/// Live inbox changes (Server-Sent Events `conversation`): handoffs, messages, assignments, closes.
#[utoipa::path(
    tag = "conversations",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, description = "text/event-stream", content_type = "text/event-stream"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["conversations.handle"]), ("api_token" = ["conversations.handle"]))
)]
#[get("/orgs/{org_id}/inbox/events")]
async fn inbox_events(
    scope: OrgScope<perm::ConversationsHandle>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let tenant = scope.into_tenant();
    let teams = service::visible_teams(&state, &tenant).await?;
    let rx = state.runtime.hub().subscribe_inbox(tenant.org_id());
    let visible = move |e: &runtime::hub::InboxEvent| match (&teams, e.team_id) {
        (None, _) | (_, None) => true,
        (Some(ts), Some(t)) => ts.contains(&t),
    };
    let stream = futures_util::stream::select(futures_util::stream::iter([ready_event()]), inbox_stream(rx, visible));
    Ok(sse_response(stream))
}

/// Takes a conversation from the inbox (or assigns it to another agent).
#[utoipa::path(
    tag = "conversations",
    params(("conversation_id" = i64, Path, description = "Conversation id")),
    request_body = AssignRequest,
    responses((status = 200, body = TurnResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`conversation_not_in_handoff`"), (status = 422, body = ErrorBody)),
    security(("session" = ["conversations.handle"]), ("api_token" = ["conversations.handle"]))
)]
#[post("/conversations/{conversation_id}/assign")]
async fn assign(
    scope: ConvScope<perm::ConversationsHandle>,
    state: web::Data<AppState>,
    body: Json<AssignRequest>,
) -> AppResult<web::Json<TurnResponse>> {
    let id = scope.id();
    Ok(web::Json(service::assign(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Writes to the end user as a human agent: text, files (uploaded first with
/// `POST /conversations/{id}/files`) or both, delivered through the
/// conversation's channel (live to an open widget). In the inbox an
/// unassigned conversation is taken; while the bot is in control it is a
/// proactive message and the bot stays in control.
#[utoipa::path(
    tag = "conversations",
    params(("conversation_id" = i64, Path, description = "Conversation id")),
    request_body = AgentReplyRequest,
    responses((status = 200, body = TurnResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`conversation_closed`"), (status = 422, body = ErrorBody)),
    security(("session" = ["conversations.handle"]), ("api_token" = ["conversations.handle"]))
)]
#[post("/conversations/{conversation_id}/reply")]
async fn reply(
    scope: ConvScope<perm::ConversationsHandle>,
    state: web::Data<AppState>,
    body: Json<AgentReplyRequest>,
) -> AppResult<web::Json<TurnResponse>> {
    let id = scope.id();
    Ok(web::Json(service::reply(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Uploads a file an agent will attach to a reply: the raw bytes as the body
/// (the type is recognised from them; the declared Content-Type is ignored),
/// at most `files.max_upload_bytes`. Send its `file_id` in `reply`'s `attachments`.
#[utoipa::path(
    tag = "conversations",
    params(("conversation_id" = i64, Path, description = "Conversation id"), UploadParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"),
    responses(
        (status = 201, body = crate::files::model::Attachment), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody, description = "`file_too_large`"),
        (status = 415, body = ErrorBody, description = "`unsupported_media_type`: not an accepted image, document, text or audio file"),
        (status = 422, body = ErrorBody),
    ),
    security(("session" = ["conversations.handle"]), ("api_token" = ["conversations.handle"]))
)]
#[post("/conversations/{conversation_id}/files")]
async fn upload_file(
    req: actix_web::HttpRequest,
    scope: ConvScope<perm::ConversationsHandle>,
    state: web::Data<AppState>,
    query: web::Query<UploadParams>,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let data = crate::files::service::read_upload(&req, payload, state.config.files.max_upload_bytes).await?;
    let attachment = service::upload(&state, scope.into_tenant(), id, data, query.into_inner().name).await?;
    Ok(HttpResponse::Created().json(attachment))
}

/// Adds an internal note (never shown to the end user).
#[utoipa::path(
    tag = "conversations",
    params(("conversation_id" = i64, Path, description = "Conversation id")),
    request_body = AgentTextRequest,
    responses((status = 200, body = TurnResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["conversations.handle"]), ("api_token" = ["conversations.handle"]))
)]
#[post("/conversations/{conversation_id}/notes")]
async fn note(
    scope: ConvScope<perm::ConversationsHandle>,
    state: web::Data<AppState>,
    body: Json<AgentTextRequest>,
) -> AppResult<web::Json<TurnResponse>> {
    let id = scope.id();
    Ok(web::Json(service::note(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Moves a conversation to the team inbox.
#[utoipa::path(
    tag = "conversations",
    params(("conversation_id" = i64, Path, description = "Conversation id")),
    request_body = HandoffRequest,
    responses((status = 200, body = TurnResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["conversations.handle"]), ("api_token" = ["conversations.handle"]))
)]
#[post("/conversations/{conversation_id}/handoff")]
async fn handoff(
    scope: ConvScope<perm::ConversationsHandle>,
    state: web::Data<AppState>,
    body: Json<HandoffRequest>,
) -> AppResult<web::Json<TurnResponse>> {
    let id = scope.id();
    Ok(web::Json(service::handoff(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Hands a conversation back to the bot; the flow continues after its handoff node.
#[utoipa::path(
    tag = "conversations",
    params(("conversation_id" = i64, Path, description = "Conversation id")),
    responses((status = 200, body = TurnResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`conversation_not_in_handoff`")),
    security(("session" = ["conversations.handle"]), ("api_token" = ["conversations.handle"]))
)]
#[post("/conversations/{conversation_id}/handback")]
async fn handback(
    scope: ConvScope<perm::ConversationsHandle>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<TurnResponse>> {
    let id = scope.id();
    Ok(web::Json(service::handback(&state, scope.into_tenant(), id).await?))
}

/// Closes a conversation with a resolution; asks the end user for a rating when CSAT is on.
#[utoipa::path(
    tag = "conversations",
    params(("conversation_id" = i64, Path, description = "Conversation id")),
    request_body = CloseRequest,
    responses((status = 200, body = TurnResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`conversation_closed`"), (status = 422, body = ErrorBody)),
    security(("session" = ["conversations.handle"]), ("api_token" = ["conversations.handle"]))
)]
#[post("/conversations/{conversation_id}/close")]
async fn close(
    scope: ConvScope<perm::ConversationsHandle>,
    state: web::Data<AppState>,
    body: Json<CloseRequest>,
) -> AppResult<web::Json<TurnResponse>> {
    let id = scope.id();
    Ok(web::Json(service::close(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Shows (or hides) "agent is typing" to the end user.
#[utoipa::path(
    tag = "conversations",
    params(("conversation_id" = i64, Path, description = "Conversation id")),
    request_body = TypingRequest,
    responses((status = 204, description = "Sent"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["conversations.handle"]), ("api_token" = ["conversations.handle"]))
)]
#[post("/conversations/{conversation_id}/typing")]
async fn typing(
    scope: ConvScope<perm::ConversationsHandle>,
    state: web::Data<AppState>,
    body: Json<TypingRequest>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let on = body.into_inner()?.typing;
    service::typing(&state, scope.into_tenant(), id, on).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's unread visitor messages in the inbox (conversations waiting for an
/// agent or assigned to the caller; emulator conversations never count).
#[utoipa::path(
    tag = "conversations",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = UnreadSummary), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["conversations.handle"]), ("api_token" = ["conversations.handle"]))
)]
#[get("/orgs/{org_id}/inbox/unread")]
async fn inbox_unread(
    scope: OrgScope<perm::ConversationsHandle>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<UnreadSummary>> {
    Ok(web::Json(service::unread(&state, scope.into_tenant()).await?))
}

/// Marks the conversation read by the caller (up to `message_id`, default the newest message).
#[utoipa::path(
    tag = "conversations",
    params(("conversation_id" = i64, Path, description = "Conversation id")),
    request_body = MarkReadRequest,
    responses((status = 204, description = "Marked"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["conversations.handle"]), ("api_token" = ["conversations.handle"]))
)]
#[post("/conversations/{conversation_id}/read")]
async fn mark_read(
    scope: ConvScope<perm::ConversationsHandle>,
    state: web::Data<AppState>,
    body: Json<MarkReadRequest>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::mark_read(&state, scope.into_tenant(), id, body.into_inner()?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The organization's canned replies (saved replies agents insert with `/shortcut`).
#[utoipa::path(
    tag = "conversations",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams),
    responses((status = 200, body = Page<CannedReply>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["conversations.handle"]), ("api_token" = ["conversations.handle"]))
)]
#[get("/orgs/{org_id}/canned-replies")]
async fn list_canned_replies(
    scope: OrgScope<perm::ConversationsHandle>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<CannedReply>>> {
    Ok(web::Json(service::canned_replies(&state, scope.into_tenant(), page.into_inner()).await?))
}

/// Saves a canned reply for the organization's agents.
#[utoipa::path(
    tag = "conversations",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = CannedReplyRequest,
    responses((status = 201, body = CannedReply), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`shortcut_taken`"), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/orgs/{org_id}/canned-replies")]
async fn create_canned_reply(
    scope: OrgScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<CannedReplyRequest>,
) -> AppResult<HttpResponse> {
    let r = service::create_canned_reply(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(r))
}

/// Changes a canned reply's shortcut or text.
#[utoipa::path(
    tag = "conversations",
    params(("canned_reply_id" = i64, Path, description = "Canned reply id")),
    request_body = CannedReplyPatch,
    responses((status = 200, body = CannedReply), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`shortcut_taken`"), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[patch("/canned-replies/{canned_reply_id}")]
async fn update_canned_reply(
    scope: Scoped<CannedReplyResource, perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<CannedReplyPatch>,
) -> AppResult<web::Json<CannedReply>> {
    let id = scope.id();
    Ok(web::Json(service::update_canned_reply(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Deletes a canned reply.
#[utoipa::path(
    tag = "conversations",
    params(("canned_reply_id" = i64, Path, description = "Canned reply id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[delete("/canned-replies/{canned_reply_id}")]
async fn delete_canned_reply(
    scope: Scoped<CannedReplyResource, perm::BotsWrite>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete_canned_reply(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}
