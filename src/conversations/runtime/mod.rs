//! The conversation runtime: one pipeline for every entry point (the API,
//! the widget, the emulator, human agents and the channel adapters of
//! later issues). Per action it finds or creates the conversation, takes
//! the conversation's lock (turns of one conversation run one at a time),
//! runs NLU and the engine, and hands the transcript messages, the new
//! conversation row (flow position, variables, status) and the usage counts
//! to the group-commit writer, which stores them in one transaction; only
//! then are replies returned and events published.
//!
//! Nothing is read from the database on a turn of a known conversation: the
//! compiled program of each bot (flows, orchestration, canned messages,
//! settings) and the conversations' rows are cached in memory, the programs
//! invalidated by every change to what they are built from. The database
//! stays the truth: a restart loses nothing, the caches refill on demand.

pub mod hub;
pub mod io;
pub mod knowledge;
pub mod limiter;
pub mod nlu;
pub mod usage;
pub mod writer;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use self::hub::{ConvEvent, Hub, InboxEvent, OutboundEvent};
use self::io::{RuntimeIo, understand};
use self::limiter::RateLimiter;
use self::usage::UsageMeter;
pub use self::writer::TurnHook;
use self::writer::{NewMessage, TurnWrite, UsageAlert, Writer};
use super::model::{ConvEntry, ConvStatus, ConversationId, Message, Role};
use super::store;
use crate::app::AppState;
use crate::bots::service::BotInfo;
use crate::config::RuntimeConfig;
use crate::db::{Db, now};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::flows::engine::{
    ConvState, Effect, Input, Outcome, Program, QuickReply, Reply, RichParts, Trace, TurnRequest, run_turn,
};
use crate::flows::service::Source;
use crate::http::Tenant;
use crate::ids::{BotId, OrgId, UserId};
use crate::jobs::Queue;
use crate::widget::service::WidgetSettings;

/// A bot as the runtime runs it.
pub struct Loaded {
    pub bot: BotInfo,
    pub widget: WidgetSettings,
    pub program: Arc<Program>,
    /// Stored versions that did not compile (reported in the emulator).
    pub skipped: Vec<String>,
    /// When it was built: rebuilt after [`PROGRAM_TTL`] so that changes made
    /// elsewhere (NLU intents, teams) show up without an explicit invalidation.
    pub built: Instant,
    /// The bot's running A/B experiments (published source only).
    pub experiments: Vec<Arc<crate::experiments::runtime::Running>>,
}

/// The key of a program built with experiment variants' flow versions.
type VariantKey = (BotId, Vec<(String, i64)>);

/// How long a built program is used before it is rebuilt.
pub const PROGRAM_TTL: std::time::Duration = std::time::Duration::from_secs(30);

type Slot = Arc<tokio::sync::Mutex<Option<ConvEntry>>>;

/// The runtime's caches, writer and hub; shared by `AppState`.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    config: RuntimeConfig,
    programs: RwLock<HashMap<(BotId, Source), Arc<Loaded>>>,
    /// Programs with an experiment variant's flow versions in place.
    variant_programs: RwLock<HashMap<VariantKey, (Instant, Arc<Program>)>>,
    generations: Mutex<HashMap<BotId, u64>>,
    generation: AtomicU64,
    widget_keys: RwLock<HashMap<String, (BotId, OrgId)>>,
    slots: Mutex<HashMap<ConversationId, Slot>>,
    keys: Mutex<HashMap<(BotId, String, String), ConversationId>>,
    hub: Hub,
    meter: UsageMeter,
    limiter: RateLimiter,
    writer: Writer,
    /// Organizations restricted by dunning (billing), with when it was read.
    restricted: Mutex<HashMap<OrgId, (bool, Instant)>>,
}

/// How long an organization's billing restriction is trusted before it is
/// read again (billing also clears it at once when it changes it).
const RESTRICTION_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// How a conversation is addressed.
#[derive(Debug, Clone)]
pub enum ConvRef {
    Id(ConversationId),
    /// By channel identity; created when `create` and absent.
    Key {
        channel: String,
        external_user_id: String,
        create: bool,
    },
}

/// What happens to a conversation.
#[derive(Debug, Clone)]
pub enum Action {
    /// Open the conversation (the flow starts and greets).
    Start,
    /// Open the conversation in this published flow instead of the entry
    /// flow (an outbound call that runs a reminder flow).
    StartFlow(String),
    /// An end-user message.
    Message(String),
    /// Files an end user sent (a widget upload, a channel's media), stored
    /// with [`crate::files::service::store_inbound`] or `store_checked`. The
    /// message carries them in its parts. With a caption the caption runs as
    /// the turn's text (as a [`Action::Message`] would); without one no turn
    /// runs (a waiting question keeps waiting, an agent sees the file in
    /// handoff), except that a new or closed conversation starts its flow
    /// as a new session does.
    Attachment { files: Vec<crate::files::model::Attachment>, caption: Option<String> },
    /// A human agent takes the conversation.
    Assign { user: UserId, name: Option<String> },
    /// A human agent writes to the end user (text, files or both). In
    /// handoff the agent takes an unassigned conversation; while the bot is
    /// in control it is a proactive message: stored and pushed to the end
    /// user, the bot stays in control.
    AgentReply { text: String, attachments: Vec<crate::files::model::Attachment>, author: UserId, name: Option<String> },
    /// An internal note for agents.
    Note { text: String, author: UserId, name: Option<String> },
    /// An agent moves the conversation to the inbox.
    Handoff { note: Option<String>, author: UserId },
    /// An agent gives the conversation back to the bot.
    Handback,
    /// An agent closes the conversation.
    Close { resolution: Option<String> },
}

impl Action {
    /// Whether this is an end user's message (counted against the plan).
    #[must_use]
    pub fn is_end_user_message(&self) -> bool {
        matches!(self, Action::Message(_) | Action::Attachment { .. })
    }
}

/// One call of [`Runtime::act`].
pub struct ActArgs {
    pub tenant: Tenant,
    pub bot: BotId,
    pub conversation: ConvRef,
    pub action: Action,
    pub source: Source,
    /// Build the debugger's trace.
    pub debug: bool,
    /// Count messages against the plan (not for the emulator).
    pub count_usage: bool,
    /// The caller's writes committed with the turn.
    pub hook: Option<TurnHook>,
}

/// What an action produced.
#[derive(Debug)]
pub struct ActResult {
    pub entry: ConvEntry,
    pub created: bool,
    /// The stored end-user message.
    pub message: Option<Message>,
    /// Everything else stored (bot replies, system messages, agent messages, notes).
    pub replies: Vec<Message>,
    pub trace: Option<Trace>,
}

impl ActResult {
    /// What the end user may see: agents' internal notes removed.
    #[must_use]
    pub fn without_notes(mut self) -> ActResult {
        self.replies.retain(|m| m.role != Role::Note);
        self
    }
}

impl Runtime {
    /// Starts the writer thread.
    pub fn new(db: Db, queue: Queue, config: RuntimeConfig) -> std::io::Result<Runtime> {
        let writer = Writer::start(db, queue, config.write_batch, config.write_queue_turns)?;
        Ok(Runtime {
            inner: Arc::new(Inner {
                config,
                programs: RwLock::new(HashMap::new()),
                variant_programs: RwLock::new(HashMap::new()),
                generations: Mutex::new(HashMap::new()),
                generation: AtomicU64::new(0),
                widget_keys: RwLock::new(HashMap::new()),
                slots: Mutex::new(HashMap::new()),
                keys: Mutex::new(HashMap::new()),
                hub: Hub::default(),
                meter: UsageMeter::default(),
                limiter: RateLimiter::default(),
                writer,
                restricted: Mutex::new(HashMap::new()),
            }),
        })
    }

    #[must_use]
    pub fn hub(&self) -> &Hub {
        &self.inner.hub
    }

    #[must_use]
    pub fn limiter(&self) -> &RateLimiter {
        &self.inner.limiter
    }

    #[must_use]
    pub fn meter(&self) -> &UsageMeter {
        &self.inner.meter
    }

    #[must_use]
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Runs `f` in the group-commit writer's next batch, in its own
    /// savepoint; its value comes back once the batch is committed. For
    /// writes on the message path (a channel's inbound message) that would
    /// otherwise each pay a commit of their own.
    pub async fn write_grouped<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&rusqlite::Connection) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.inner.writer.write(f).await
    }

    /// Turns waiting for the group-commit writer.
    #[must_use]
    pub fn write_queue_depth(&self) -> usize {
        self.inner.writer.depth()
    }

    /// Turns in the batch the writer is committing now.
    #[must_use]
    pub fn writes_in_progress(&self) -> usize {
        self.inner.writer.writing()
    }

    /// Whether billing restricts the organization (dunning: payment overdue
    /// past the grace period), from a short-lived cache.
    async fn billing_restricted(&self, state: &AppState, org: OrgId) -> AppResult<bool> {
        if let Some((restricted, at)) =
            self.inner.restricted.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&org).copied()
            && at.elapsed() < RESTRICTION_TTL
        {
            return Ok(restricted);
        }
        let restricted = state.db.read(move |c| Ok(store::billing_restricted(c, org)?)).await?;
        let mut cache = self.inner.restricted.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() > 100_000 {
            cache.clear();
        }
        cache.insert(org, (restricted, Instant::now()));
        Ok(restricted)
    }

    /// Forgets an organization's cached billing state (its subscription
    /// changed): the plan's message allowance and the dunning restriction.
    pub fn forget_billing(&self, org: OrgId) {
        self.inner.meter.forget(org);
        self.inner.restricted.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&org);
    }

    fn generation(&self, bot: BotId) -> u64 {
        self.inner.generations.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&bot).copied().unwrap_or(0)
    }

    /// Forgets everything cached about a bot (its flows, orchestration,
    /// canned messages, settings, widget or key changed).
    pub fn invalidate_bot(&self, bot: BotId) {
        let g = self.inner.generation.fetch_add(1, Ordering::SeqCst) + 1;
        self.inner.generations.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(bot, g);
        self.inner.programs.write().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|(b, _), _| *b != bot);
        self.inner
            .variant_programs
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|(b, _), _| *b != bot);
        self.inner.widget_keys.write().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|_, (b, _)| *b != bot);
    }

    /// The bot as the runtime runs it, from the cache or the database.
    pub async fn loaded(
        &self,
        state: &AppState,
        tenant: &Tenant,
        bot: BotId,
        source: Source,
    ) -> AppResult<Arc<Loaded>> {
        if let Some(l) =
            self.inner.programs.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&(bot, source))
            && l.built.elapsed() < PROGRAM_TTL
        {
            return Ok(l.clone());
        }
        let generation = self.generation(bot);
        let tenant = tenant.clone();
        let loaded = state
            .db
            .read(move |conn| {
                let info = crate::bots::service::runtime_info(conn, &tenant, bot)?;
                let widget = crate::widget::service::settings(conn, &tenant, bot)?;
                let canned = crate::bots::service::canned_for_runtime(conn, &tenant, bot)?;
                let (mut program, skipped) =
                    crate::flows::service::load_program(conn, &tenant, bot, source, info.engine_settings(), canned)?;
                program.known_intents = nlu::known_intents(conn, &tenant, bot)?;
                let experiments = if source == Source::Published {
                    crate::experiments::runtime::load_running(conn, tenant.org_id(), bot)?
                } else {
                    Vec::new()
                };
                Ok(Loaded {
                    bot: info,
                    widget,
                    program: Arc::new(program),
                    skipped,
                    built: Instant::now(),
                    experiments,
                })
            })
            .await?;
        let loaded = Arc::new(loaded);
        if self.generation(bot) == generation {
            self.inner
                .programs
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert((bot, source), loaded.clone());
        }
        Ok(loaded)
    }

    /// The program with an experiment variant's flow versions in place of the
    /// published ones, from the cache or built (as [`Self::loaded`] builds).
    async fn variant_program(
        &self,
        state: &AppState,
        tenant: &Tenant,
        bot: BotId,
        flows: &[(String, i64)],
        loaded: &Loaded,
    ) -> AppResult<Arc<Program>> {
        let key = (bot, flows.to_vec());
        if let Some((built, p)) =
            self.inner.variant_programs.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key)
            && built.elapsed() < PROGRAM_TTL
        {
            return Ok(p.clone());
        }
        let generation = self.generation(bot);
        let (tenant, flows, settings) = (tenant.clone(), flows.to_vec(), loaded.bot.engine_settings());
        let canned = loaded.program.canned.clone();
        let known = loaded.program.known_intents.clone();
        let program = state
            .db
            .read(move |conn| {
                let (mut program, _skipped) =
                    crate::flows::service::load_with_versions(conn, &tenant, bot, &flows, settings, canned)?;
                program.known_intents = known;
                Ok(Arc::new(program))
            })
            .await?;
        if self.generation(bot) == generation {
            let mut map = self.inner.variant_programs.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            if map.len() > 1_000 {
                map.clear();
            }
            map.insert(key, (Instant::now(), program.clone()));
        }
        Ok(program)
    }

    /// The bot and organization of a public widget key (404 `widget_not_found`).
    pub async fn widget_bot(&self, state: &AppState, key: &str) -> AppResult<(BotId, OrgId)> {
        if let Some(found) = self.inner.widget_keys.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(key) {
            return Ok(*found);
        }
        let valid = key.len() <= 64 && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        let found = if valid { crate::bots::service::by_widget_key(state, key.to_owned()).await? } else { None };
        let found = found.ok_or_else(|| AppError::new(ErrorCode::WidgetNotFound, "no bot has this widget key"))?;
        let mut keys = self.inner.widget_keys.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if keys.len() > 100_000 {
            keys.clear();
        }
        keys.insert(key.to_owned(), found);
        Ok(found)
    }

    fn slot(&self, id: ConversationId) -> Slot {
        let mut slots = self.inner.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(s) = slots.get(&id) {
            return s.clone();
        }
        if slots.len() >= self.inner.config.conversation_cache {
            // Drop idle entries; their state is in the database.
            slots.retain(|_, s| Arc::strong_count(s) > 1);
        }
        slots.entry(id).or_insert_with(|| Arc::new(tokio::sync::Mutex::new(None))).clone()
    }

    /// Forgets a conversation's cached row (it was changed outside the runtime).
    pub fn forget_conversation(&self, id: ConversationId) {
        self.inner.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&id);
    }

    /// Finds (or creates) the conversation of `args`; returns its id and whether it is new.
    async fn resolve(&self, state: &AppState, args: &ActArgs) -> AppResult<(ConversationId, bool)> {
        match &args.conversation {
            ConvRef::Id(id) => Ok((*id, false)),
            ConvRef::Key { channel, external_user_id, create } => {
                let key = (args.bot, channel.clone(), external_user_id.clone());
                if let Some(id) = self.inner.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key) {
                    return Ok((*id, false));
                }
                let (tenant, bot, channel, ext, create) =
                    (args.tenant.clone(), args.bot, channel.clone(), external_user_id.clone(), *create);
                let source = if args.source == Source::Draft { Some("draft".to_owned()) } else { None };
                let found = if create {
                    let state_json = serde_json::to_string(&ConvState { source, ..ConvState::default() })
                        .map_err(AppError::internal)?;
                    state
                        .db
                        .write(move |tx| Ok(Some(store::create(tx, &tenant, bot, &channel, &ext, &state_json)?)))
                        .await?
                } else {
                    state
                        .db
                        .read(move |c| Ok(store::find_by_key(c, &tenant, bot, &channel, &ext)?.map(|e| (e, false))))
                        .await?
                };
                let Some((entry, created)) = found else {
                    return Err(AppError::new(ErrorCode::ConversationNotFound, "no such conversation"));
                };
                let mut keys = self.inner.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if keys.len() >= self.inner.config.conversation_cache.saturating_mul(2) {
                    keys.clear();
                }
                keys.insert(key, entry.id);
                Ok((entry.id, created))
            }
        }
    }

    /// Runs an action on a conversation (see the module documentation).
    pub async fn act(&self, state: &AppState, mut args: ActArgs) -> AppResult<ActResult> {
        let started = Instant::now();
        let hook = args.hook.take();
        let loaded = self.loaded(state, &args.tenant, args.bot, args.source).await?;
        let is_end_user = matches!(
            args.action,
            Action::Start | Action::StartFlow(_) | Action::Message(_) | Action::Attachment { .. }
        );
        if is_end_user && args.count_usage && !loaded.bot.is_active {
            return Err(AppError::new(ErrorCode::BotInactive, "this bot is switched off"));
        }
        if is_end_user && !self.inner.writer.has_room() {
            // Refused before anything runs or is written: the writer is
            // behind by `write_queue_turns` turns.
            state.metrics.turns_shed.with_label_values(&["write_queue_full"]).inc();
            return Err(overloaded(&self.inner.config, "write_queue_full", "the server is busy writing conversations"));
        }
        let (id, created) = self.resolve(state, &args).await?;
        let slot = self.slot(id);
        let mut guard = slot.lock().await;
        if guard.is_none() {
            let tenant = args.tenant.clone();
            let entry = state.db.read(move |c| Ok(store::load(c, &tenant, id)?)).await?;
            *guard = Some(entry.ok_or_else(|| AppError::new(ErrorCode::ConversationNotFound, "no such conversation"))?);
        }
        let Some(entry) = guard.clone() else {
            return Err(AppError::new(ErrorCode::ConversationNotFound, "no such conversation"));
        };
        if entry.bot_id != args.bot {
            return Err(AppError::new(ErrorCode::ConversationNotFound, "no such conversation"));
        }
        let reserved = args.count_usage && args.action.is_end_user_message();
        let alert = if reserved { self.inner.meter.reserve(&state.db, entry.org_id).await? } else { None };
        let prior = entry.status;
        match self.apply(state, &loaded, entry, created, &args, alert, hook, started).await {
            Ok((entry, stored, trace, auto_stop)) => {
                *guard = Some(entry.clone());
                drop(guard);
                if !auto_stop.is_empty() {
                    crate::experiments::service::check_auto_stop(state, &args.tenant, &auto_stop).await;
                }
                let (message, replies) = self.publish(&entry, prior, stored);
                Ok(ActResult { entry, created, message, replies, trace })
            }
            Err(e) => {
                if reserved {
                    self.inner.meter.release(args.tenant.org_id());
                }
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_lines, reason = "one arm per action")]
    #[allow(clippy::too_many_arguments, reason = "the pieces of one turn")]
    async fn apply(
        &self,
        state: &AppState,
        loaded: &Loaded,
        mut e: ConvEntry,
        created: bool,
        args: &ActArgs,
        alert: Option<UsageAlert>,
        hook: Option<TurnHook>,
        started: Instant,
    ) -> AppResult<(ConvEntry, Vec<Message>, Option<Trace>, Vec<crate::experiments::model::ExperimentId>)> {
        let mut messages: Vec<NewMessage> = Vec::new();
        let mut visits = Vec::new();
        let mut trace = None;
        let bot = &loaded.bot;
        let (prior_status, prior_csat) = (e.status, e.csat);
        let mut analytics: Vec<crate::analytics::Event> = Vec::new();
        let mut engine_input: Option<(Input, bool)> = None;
        match &args.action {
            Action::Start => {
                if e.status == ConvStatus::Open && (created || e.state.turns == 0) {
                    engine_input = Some((Input::Start, true));
                }
            }
            Action::StartFlow(flow) => {
                if e.status == ConvStatus::Open && (created || e.state.turns == 0) {
                    engine_input = Some((Input::StartFlow(flow.clone()), true));
                }
            }
            Action::Message(text) => {
                messages.push(NewMessage::text(Role::User, text.clone()));
                engine_input = user_text(&mut e, bot, text, created, &mut messages);
            }
            Action::Attachment { files, caption } => {
                messages.push(NewMessage {
                    role: Role::User,
                    text: caption.clone().unwrap_or_default(),
                    parts: RichParts { attachments: files.clone(), ..RichParts::default() },
                    author: None,
                    author_name: None,
                });
                engine_input = match caption {
                    Some(text) => user_text(&mut e, bot, text, created, &mut messages),
                    None => match e.status {
                        ConvStatus::Closed => {
                            reopen(&mut e);
                            Some((Input::Start, true))
                        }
                        ConvStatus::Open if created || e.state.turns == 0 => Some((Input::Start, true)),
                        ConvStatus::Open | ConvStatus::Handoff => None,
                    },
                };
            }
            Action::Assign { user, name } => {
                require_handoff(&e)?;
                if e.assignee != Some(*user) {
                    e.assignee = Some(*user);
                    let who = name.clone().unwrap_or_else(|| "An agent".into());
                    messages.push(NewMessage::text(Role::System, format!("{who} joined the conversation.")));
                }
            }
            Action::AgentReply { text, attachments, author, name } => {
                match e.status {
                    ConvStatus::Closed => {
                        return Err(AppError::new(ErrorCode::ConversationClosed, "the conversation is closed"));
                    }
                    // A proactive message: the bot keeps the conversation.
                    ConvStatus::Open => {}
                    ConvStatus::Handoff => {
                        if e.assignee.is_none() {
                            e.assignee = Some(*author);
                        }
                    }
                }
                messages.push(NewMessage {
                    role: Role::Agent,
                    text: text.clone(),
                    parts: RichParts { attachments: attachments.clone(), ..RichParts::default() },
                    author: Some(*author),
                    author_name: name.clone(),
                });
            }
            Action::Note { text, author, name } => {
                messages.push(NewMessage {
                    role: Role::Note,
                    text: text.clone(),
                    parts: RichParts::default(),
                    author: Some(*author),
                    author_name: name.clone(),
                });
            }
            Action::Handoff { note, author } => {
                match e.status {
                    ConvStatus::Closed => {
                        return Err(AppError::new(ErrorCode::ConversationClosed, "the conversation is closed"));
                    }
                    ConvStatus::Handoff => {
                        return Err(AppError::new(ErrorCode::Conflict, "the conversation is already in the inbox"));
                    }
                    ConvStatus::Open => {}
                }
                hand_off(&mut e, bot, None);
                messages.push(NewMessage::text(Role::System, bot.settings.handoff_message.clone()));
                if let Some(n) = note {
                    messages.push(NewMessage {
                        role: Role::Note,
                        text: n.clone(),
                        parts: RichParts::default(),
                        author: Some(*author),
                        author_name: None,
                    });
                }
            }
            Action::Handback => {
                require_handoff(&e)?;
                e.status = ConvStatus::Open;
                e.assignee = None;
                messages.push(NewMessage::text(Role::System, "You are back with the bot."));
                engine_input = Some((Input::Resume, false));
            }
            Action::Close { resolution } => {
                if e.status == ConvStatus::Closed {
                    return Err(AppError::new(ErrorCode::ConversationClosed, "the conversation is already closed"));
                }
                e.resolution = resolution.clone();
                close(&mut e, bot, &mut messages);
            }
        }

        // Dunning: a restricted organization's bots answer new conversations
        // with the configured notice instead of running the flow (agents'
        // actions, the emulator and ongoing conversations are unaffected).
        if args.count_usage
            && state.config.billing.enabled
            && matches!(engine_input, Some((_, is_new)) if is_new || e.state.turns == 0)
            && self.billing_restricted(state, e.org_id).await?
        {
            engine_input = None;
            messages.push(NewMessage::text(Role::Bot, state.config.billing.restricted_notice.clone()));
        }

        // The conversation's variants of the bot's running experiments
        // (assigned on its first engine turn, then remembered in its state).
        // The emulator tries flows out; it takes no part in experiments.
        let (served, new_units) = if loaded.experiments.is_empty() || e.channel == "emulator" {
            (crate::experiments::runtime::Served::default(), Vec::new())
        } else {
            crate::experiments::runtime::serve(
                &loaded.experiments,
                &mut e.state.experiments,
                e.id.0,
                &e.channel,
                &e.external_user_id,
                engine_input.is_some(),
            )
        };
        if let Some((input, is_new)) = engine_input {
            let program = if served.flows.is_empty() {
                loaded.program.clone()
            } else {
                self.variant_program(state, &args.tenant, args.bot, &served.flows, loaded).await?
            };
            let nlu = match &input {
                Input::Message(text) => {
                    understand(
                        state,
                        &args.tenant,
                        args.bot,
                        text,
                        e.id.0,
                        program.needs_entities,
                        served.model_version,
                    )
                    .await?
                }
                _ => None,
            };
            let io = RuntimeIo { state, tenant: &args.tenant, bot: args.bot, served: Some(&served) };
            let request = TurnRequest {
                program: &program,
                input,
                nlu,
                channel: &e.channel,
                conversation_id: e.id.0,
                is_new,
                debug: args.debug,
            };
            let said = match &request.input {
                Input::Message(text) => Some(text.clone()),
                _ => None,
            };
            if is_new {
                analytics.push(crate::analytics::Event::new("session"));
            }
            if let Some(intent) = request.nlu.as_ref().and_then(|n| n.intent.clone()) {
                analytics
                    .push(crate::analytics::Event { label: Some(intent), ..crate::analytics::Event::new("intent") });
            }
            let mut st = std::mem::take(&mut e.state);
            let outcome: Outcome = run_turn(request, &mut st, &io).await;
            if outcome.fallback {
                analytics.push(crate::analytics::Event { label: said, ..crate::analytics::Event::new("fallback") });
            }
            e.state = st;
            visits = outcome.visits;
            for Reply { text, parts } in outcome.replies {
                messages.push(NewMessage { role: Role::Bot, text, parts, author: None, author_name: None });
            }
            let mut t = outcome.trace;
            for effect in outcome.effects {
                match effect {
                    Effect::Handoff { team_id, note } => {
                        let team = match team_id {
                            Some(t) if bot.teams.contains(&t) => Some(t),
                            Some(other) => {
                                t.problems.push(crate::flows::engine::Problem {
                                    flow: e.state.flow.clone(),
                                    node: e.state.node.clone(),
                                    message: format!("team {other} does not exist; handed to the bot's team"),
                                });
                                None
                            }
                            None => None,
                        };
                        hand_off(&mut e, bot, team);
                        if let Some(n) = note.filter(|n| !n.trim().is_empty()) {
                            messages.push(NewMessage::text(Role::Note, n));
                        }
                    }
                    Effect::Close => close(&mut e, bot, &mut messages),
                }
            }
            for s in &loaded.skipped {
                t.problems.push(crate::flows::engine::Problem { flow: None, node: None, message: s.clone() });
            }
            if args.debug {
                t.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
                trace = Some(t);
            }
        }

        if e.status == ConvStatus::Handoff && prior_status != ConvStatus::Handoff {
            analytics.push(crate::analytics::Event::new("handoff"));
        }
        if let Some(score) = e.csat.filter(|_| e.csat != prior_csat) {
            #[allow(clippy::cast_precision_loss, reason = "a score of 1–5")]
            analytics
                .push(crate::analytics::Event { value: Some(score as f64), ..crate::analytics::Event::new("csat") });
        }
        if e.channel == "emulator" {
            analytics.clear();
        }
        let mut usage = Vec::new();
        if args.count_usage {
            if args.action.is_end_user_message() {
                usage.push((usage::METRIC, 1));
            }
            let sent = messages.iter().filter(|m| matches!(m.role, Role::Bot | Role::Agent)).count();
            if sent > 0 {
                usage.push(("message_sent", i64::try_from(sent).unwrap_or(i64::MAX)));
            }
        }
        let mut experiments = crate::experiments::runtime::TurnFacts { units: new_units, events: Vec::new() };
        if !served.is_empty() {
            let outcome = crate::experiments::runtime::TurnOutcome {
                handed_off: e.status == ConvStatus::Handoff && prior_status != ConvStatus::Handoff,
                resolved: e.status == ConvStatus::Closed
                    && prior_status != ConvStatus::Closed
                    && e.handoff_at.is_none(),
                csat: e.csat.filter(|_| e.csat != prior_csat),
                visits: &visits,
            };
            experiments.events = crate::experiments::runtime::events(&served, &outcome);
        }
        let auto_stop = experiments.auto_stop_tests(&served);
        let state_json = serde_json::to_string(&e.state).map_err(AppError::internal)?;
        let write = TurnWrite {
            org: e.org_id,
            bot: e.bot_id,
            conversation: e.id,
            session: e.external_user_id.clone(),
            entry: Some((e.clone(), state_json)),
            messages,
            usage,
            alert,
            hook,
            visits,
            analytics,
            experiments,
        };
        let stored = self.inner.writer.submit(write).await?;
        if let Some(t) = trace.as_mut() {
            t.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        }
        Ok((e, stored, trace, auto_stop))
    }

    /// Publishes a committed action's events; splits the end user's message
    /// from the rest.
    fn publish(&self, e: &ConvEntry, prior: ConvStatus, stored: Vec<Message>) -> (Option<Message>, Vec<Message>) {
        let hub = &self.inner.hub;
        let mut user = None;
        let mut rest = Vec::new();
        for m in stored {
            hub.publish(e.id, ConvEvent::Message { message: Box::new(m.clone()) });
            if matches!(m.role, Role::Bot | Role::Agent | Role::System) {
                hub.publish_outbound(OutboundEvent {
                    org_id: e.org_id,
                    bot_id: e.bot_id,
                    conversation_id: e.id,
                    channel: e.channel.clone(),
                    external_user_id: e.external_user_id.clone(),
                    message: m.clone(),
                });
            }
            if m.role == Role::User && user.is_none() {
                user = Some(m);
            } else {
                rest.push(m);
            }
        }
        let reason = match (prior, e.status) {
            (p, s) if p != s => Some(match s {
                ConvStatus::Handoff => "handoff",
                ConvStatus::Closed => "closed",
                ConvStatus::Open => "handed_back",
            }),
            (_, ConvStatus::Handoff) if user.is_some() || !rest.is_empty() => Some("message"),
            _ => None,
        };
        if prior != e.status || rest.iter().any(|m| m.role == Role::System) {
            hub.publish(e.id, ConvEvent::Status { status: e.status, assignee_user_id: e.assignee });
        }
        if let Some(reason) = reason {
            hub.publish_inbox(
                e.org_id,
                InboxEvent {
                    conversation_id: e.id,
                    bot_id: e.bot_id,
                    team_id: e.team_id,
                    status: e.status,
                    assignee_user_id: e.assignee,
                    reason,
                },
            );
        }
        (user, rest)
    }

    /// Runs end-user messages against a program without storing anything
    /// (transcript replay): each turn's replies and trace.
    pub async fn replay(
        &self,
        state: &AppState,
        tenant: &Tenant,
        bot: BotId,
        channel: &str,
        texts: &[String],
    ) -> AppResult<Vec<(Vec<Reply>, Trace)>> {
        let loaded = self.loaded(state, tenant, bot, Source::Draft).await?;
        let mut st = ConvState { source: Some("draft".into()), ..ConvState::default() };
        let mut out = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            let started = Instant::now();
            let nlu = understand(state, tenant, bot, text, 0, loaded.program.needs_entities, None).await?;
            let io = RuntimeIo { state, tenant, bot, served: None };
            let request = TurnRequest {
                program: &loaded.program,
                input: Input::Message(text.clone()),
                nlu,
                channel,
                conversation_id: 0,
                is_new: i == 0,
                debug: true,
            };
            let outcome = run_turn(request, &mut st, &io).await;
            let mut trace = outcome.trace;
            trace.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
            out.push((outcome.replies, trace));
        }
        Ok(out)
    }

    /// Publishes a typing indicator to a conversation's stream.
    pub fn typing(&self, id: ConversationId, role: Role, typing: bool) {
        self.inner.hub.publish(id, ConvEvent::Typing { role, typing });
    }
}

/// 503 `overloaded` with `Retry-After`: a queue of the runtime is full.
#[must_use]
pub fn overloaded(config: &RuntimeConfig, reason: &str, message: &str) -> AppError {
    AppError::new(ErrorCode::Overloaded, format!("{message}; retry in {} s", config.overload_retry_after_secs))
        .with_details(serde_json::json!({ "reason": reason, "retry_after_secs": config.overload_retry_after_secs }))
}

fn require_handoff(e: &ConvEntry) -> AppResult<()> {
    if e.status == ConvStatus::Handoff {
        Ok(())
    } else {
        Err(AppError::new(ErrorCode::ConversationNotInHandoff, "the conversation is not with a human agent")
            .with_details(serde_json::json!({ "status": e.status.as_str() })))
    }
}

fn hand_off(e: &mut ConvEntry, bot: &BotInfo, team: Option<i64>) {
    e.status = ConvStatus::Handoff;
    e.team_id = team.or(bot.team_id);
    e.assignee = None;
    e.handoff_at = Some(now());
}

fn close(e: &mut ConvEntry, bot: &BotInfo, messages: &mut Vec<NewMessage>) {
    e.status = ConvStatus::Closed;
    e.closed_at = Some(now());
    e.state.flow = None;
    e.state.node = None;
    e.state.wait = None;
    e.state.stack.clear();
    if bot.settings.csat_enabled {
        e.state.awaiting_csat = true;
        messages.push(NewMessage {
            role: Role::System,
            text: bot.settings.csat_question.clone(),
            parts: RichParts {
                quick_replies: (1..=5).map(|n| QuickReply { label: n.to_string(), value: n.to_string() }).collect(),
                ..RichParts::default()
            },
            author: None,
            author_name: None,
        });
    }
}

/// An end user's text (a message, or a caption): what the engine runs.
/// A closed conversation awaiting a rating takes 1–5 as the rating;
/// otherwise a closed conversation reopens as a new session.
fn user_text(
    e: &mut ConvEntry,
    bot: &BotInfo,
    text: &str,
    created: bool,
    messages: &mut Vec<NewMessage>,
) -> Option<(Input, bool)> {
    match e.status {
        ConvStatus::Handoff => None,
        ConvStatus::Closed if e.state.awaiting_csat => {
            e.state.awaiting_csat = false;
            if let Some(score) = parse_csat(text) {
                e.csat = Some(score);
                messages.push(NewMessage::text(Role::System, bot.settings.csat_thanks.clone()));
                None
            } else {
                reopen(e);
                Some((Input::Message(text.to_owned()), true))
            }
        }
        ConvStatus::Closed => {
            reopen(e);
            Some((Input::Message(text.to_owned()), true))
        }
        ConvStatus::Open => Some((Input::Message(text.to_owned()), created)),
    }
}

/// A closed conversation gets a new message: a new session begins.
fn reopen(e: &mut ConvEntry) {
    e.status = ConvStatus::Open;
    e.assignee = None;
    e.closed_at = None;
    e.resolution = None;
    e.handoff_at = None;
    let source = e.state.source.take();
    e.state = ConvState { source, ..ConvState::default() };
}

/// A 1–5 rating: a digit, or that many stars.
#[must_use]
pub fn parse_csat(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(n) = t.parse::<i64>() {
        return (1..=5).contains(&n).then_some(n);
    }
    let stars = i64::try_from(t.chars().filter(|c| matches!(c, '⭐' | '★')).count()).unwrap_or(0);
    let only_stars = t.chars().all(|c| matches!(c, '⭐' | '★' | '\u{fe0f}') || c.is_whitespace());
    (only_stars && (1..=5).contains(&stars)).then_some(stars)
}

/// Checks an end-user message: 1–`max` characters, no control characters
/// other than line breaks and tabs.
pub fn check_message(text: &str, max: usize) -> AppResult<String> {
    let t = text.trim();
    if t.is_empty() {
        return Err(AppError::validation("text", "the message is empty"));
    }
    if t.chars().count() > max {
        return Err(AppError::validation("text", format!("the message is longer than {max} characters")));
    }
    if t.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(AppError::validation("text", "the message contains control characters (binary data?)"));
    }
    Ok(t.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings() {
        assert_eq!(parse_csat(" 4 "), Some(4));
        assert_eq!(parse_csat("⭐⭐⭐"), Some(3));
        assert_eq!(parse_csat("6"), None);
        assert_eq!(parse_csat("great"), None);
    }

    #[test]
    fn messages_are_checked() {
        assert!(check_message("  hi  ", 10).is_ok());
        assert!(check_message("   ", 10).is_err());
        assert!(check_message("x".repeat(11).as_str(), 10).is_err());
        assert!(check_message("a\u{0}b", 10).is_err());
        assert!(check_message("line\nbreak", 20).is_ok());
    }
}

/// Property tests (issue 30): widget and channel messages are end-user
/// input. The message check and the CSAT parser take any text without
/// panicking, and what the check accepts is bounded and free of control
/// characters.
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::{check_message, parse_csat};

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn any_message_is_accepted_bounded_or_refused_naming_the_field(s in "\\PC{0,80}|[\\x00-\\x1f a-z⭐★\u{fe0f}]{0,20}", max in 1_usize..50) {
            match check_message(&s, max) {
                Ok(t) => {
                    prop_assert!(!t.is_empty() && t.chars().count() <= max);
                    prop_assert!(t.chars().all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')));
                    prop_assert_eq!(t.as_str(), s.trim());
                }
                Err(e) => prop_assert_eq!(e.details().and_then(|d| d["field"].as_str()), Some("text")),
            }
        }

        #[test]
        fn csat_is_one_to_five_or_nothing(s in "\\PC{0,12}|[0-9⭐★ \u{fe0f}-]{0,8}") {
            if let Some(n) = parse_csat(&s) {
                prop_assert!((1..=5).contains(&n));
            }
        }
    }
}
