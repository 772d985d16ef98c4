//! The group-commit writer: turns hand their writes (transcript messages,
//! the conversation row with its state, usage counts, usage alerts) to one
//! thread, which applies every waiting turn in one `BEGIN IMMEDIATE`
//! transaction — each turn in its own savepoint, so one failing turn does
//! not undo the others — and answers each turn after the commit. Under load
//! many turns share one commit; alone, a turn waits for nothing.
//!
//! The queue is bounded (`runtime.write_queue_turns`): an end-user turn
//! checks for room before it runs ([`Writer::has_room`]) and is refused
//! when there is none; a turn that passed the check waits for room.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use crate::conversations::model::{ConvEntry, ConversationId, Message, Role};
use crate::conversations::store;
use crate::db::Db;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::flows::engine::RichParts;
use crate::ids::{BotId, OrgId, UserId};
use crate::jobs::{Enqueue, Queue};

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub role: Role,
    pub text: String,
    pub parts: RichParts,
    pub author: Option<UserId>,
    pub author_name: Option<String>,
}

impl NewMessage {
    #[must_use]
    pub fn text(role: Role, text: impl Into<String>) -> NewMessage {
        NewMessage { role, text: text.into(), parts: RichParts::default(), author: None, author_name: None }
    }
}

/// A usage threshold crossed by this turn (once per organization and month).
#[derive(Debug, Clone)]
pub struct UsageAlert {
    pub month: String,
    pub percent: u8,
    pub used: i64,
    pub limit: i64,
}

/// Writes of the caller that belong to the turn (a channel queueing the
/// replies it must deliver): run in the turn's savepoint after its messages
/// are stored, so they commit — or roll back — with the turn.
pub struct TurnHook(Box<HookFn>);

/// The hook's writes, given the conversation and the turn's stored messages.
type HookFn = dyn FnOnce(&rusqlite::Connection, ConversationId, &[Message]) -> AppResult<()> + Send + Sync;

impl TurnHook {
    pub fn new(
        f: impl FnOnce(&rusqlite::Connection, ConversationId, &[Message]) -> AppResult<()> + Send + Sync + 'static,
    ) -> TurnHook {
        TurnHook(Box::new(f))
    }
}

impl std::fmt::Debug for TurnHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TurnHook")
    }
}

/// Everything one turn writes.
#[derive(Debug)]
pub struct TurnWrite {
    pub org: OrgId,
    pub bot: BotId,
    pub conversation: ConversationId,
    pub session: String,
    /// The conversation row to write back, with its state as JSON.
    pub entry: Option<(ConvEntry, String)>,
    pub messages: Vec<NewMessage>,
    /// Daily usage counters of the bot to add to.
    pub usage: Vec<(&'static str, i64)>,
    pub alert: Option<UsageAlert>,
    pub hook: Option<TurnHook>,
    /// Flow nodes the turn visited (flow funnels).
    pub visits: Vec<crate::flows::engine::Visit>,
    /// Analytics facts of this turn (session start, hand-off, fallback…).
    pub analytics: Vec<crate::analytics::Event>,
}

struct Job {
    write: TurnWrite,
    done: oneshot::Sender<AppResult<Vec<Message>>>,
}

/// Handle to the writer thread.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
    /// Turns in the batch being written now.
    writing: Arc<AtomicUsize>,
}

impl Writer {
    /// Starts the thread with room for `bound` waiting turns; it ends when
    /// every handle is dropped.
    pub fn start(db: Db, queue: Queue, batch: usize, bound: usize) -> std::io::Result<Writer> {
        let (tx, mut rx) = mpsc::channel::<Job>(bound.max(1));
        let writing = Arc::new(AtomicUsize::new(0));
        let busy = writing.clone();
        std::thread::Builder::new().name("turn-writer".into()).spawn(move || {
            while let Some(first) = rx.blocking_recv() {
                let mut jobs = vec![first];
                while jobs.len() < batch {
                    match rx.try_recv() {
                        Ok(job) => jobs.push(job),
                        Err(_) => break,
                    }
                }
                busy.store(jobs.len(), Ordering::SeqCst);
                run_batch(&db, &queue, jobs);
                busy.store(0, Ordering::SeqCst);
            }
        })?;
        Ok(Writer { tx, writing })
    }

    /// Writes a turn and returns its stored messages once committed.
    pub async fn submit(&self, write: TurnWrite) -> AppResult<Vec<Message>> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Job { write, done })
            .await
            .map_err(|_| AppError::new(ErrorCode::Unavailable, "the server is shutting down"))?;
        wait.await.map_err(|_| AppError::new(ErrorCode::Unavailable, "the turn writer stopped"))?
    }
}

impl Writer {
    /// Whether a turn may be queued now.
    #[must_use]
    pub fn has_room(&self) -> bool {
        self.tx.capacity() > 0
    }

    /// Turns waiting for the writer.
    #[must_use]
    pub fn depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Turns in the batch being written now.
    #[must_use]
    pub fn writing(&self) -> usize {
        self.writing.load(Ordering::SeqCst)
    }
}

fn run_batch(db: &Db, queue: &Queue, mut jobs: Vec<Job>) {
    let now = crate::db::now();
    let day = now[..10].to_owned();
    let mut alerted = false;
    let mut writes: Vec<&mut TurnWrite> = jobs.iter_mut().map(|j| &mut j.write).collect();
    let outcome = db.write_blocking(|tx| {
        let mut usage: HashMap<(OrgId, BotId, &'static str), i64> = HashMap::new();
        let mut results = Vec::with_capacity(writes.len());
        for w in &mut writes {
            tx.execute_batch("SAVEPOINT turn")?;
            match apply(tx, w, &now) {
                Ok(messages) => {
                    tx.execute_batch("RELEASE turn")?;
                    for (metric, n) in &w.usage {
                        *usage.entry((w.org, w.bot, metric)).or_default() += n;
                    }
                    alerted |= w.alert.is_some();
                    results.push(Ok(messages));
                }
                Err(e) => {
                    tx.execute_batch("ROLLBACK TO turn; RELEASE turn")?;
                    results.push(Err(e));
                }
            }
        }
        for ((org, bot, metric), n) in usage {
            crate::billing::usage::add_on(tx, org, Some(bot), metric, &day, n)?;
        }
        Ok(results)
    });
    match outcome {
        Ok(results) => {
            if alerted {
                queue.notify();
            }
            for (job, result) in jobs.into_iter().zip(results) {
                let _ = job.done.send(result);
            }
        }
        Err(e) => {
            tracing::error!(error = ?e, turns = jobs.len(), "a batch of turns could not be written");
            for job in jobs {
                let _ = job.done.send(Err(AppError::internal(anyhow::anyhow!("the turn could not be written"))));
            }
        }
    }
}

fn apply(tx: &rusqlite::Connection, w: &mut TurnWrite, now: &str) -> AppResult<Vec<Message>> {
    let hooks = crate::webhooks::events::before(tx, w)?;
    let mut stored = Vec::with_capacity(w.messages.len());
    for m in &w.messages {
        let payload = if m.parts.is_empty() {
            "{}".to_owned()
        } else {
            serde_json::to_string(&m.parts).map_err(AppError::internal)?
        };
        let id = store::insert_message(
            tx,
            w.org,
            w.bot,
            w.conversation,
            &w.session,
            m.role.as_str(),
            &m.text,
            &payload,
            m.author,
            now,
        )?;
        if !m.parts.attachments.is_empty() {
            crate::files::store::link(tx, w.org, w.conversation, id, &m.parts.attachments, m.role != Role::Note)?;
        }
        stored.push(Message {
            id,
            role: m.role,
            text: m.text.clone(),
            parts: m.parts.clone(),
            author_user_id: m.author,
            author_name: m.author_name.clone(),
            created_at: now.to_owned(),
        });
    }
    crate::analytics::store::record_turn(tx, w, &stored, now)?;
    if let Some((entry, state)) = &w.entry
        && store::update_conversation(tx, entry, state)? == 0
    {
        return Err(AppError::new(ErrorCode::ConversationNotFound, "the conversation was deleted"));
    }
    for v in &w.visits {
        store::insert_visit(tx, w.org, w.bot, w.conversation, &v.flow, &v.node, now)?;
    }
    if let Some(alert) = &w.alert {
        let key = format!("usage_alert:{}:{}:{}", w.org, alert.month, alert.percent);
        if !store::job_key_exists(tx, &key)? {
            let details = json!({ "metric": "messages", "month": alert.month, "percent": alert.percent,
                                  "used": alert.used, "limit": alert.limit });
            store::activity(
                tx,
                w.org,
                &format!("usage.messages_{}_percent", alert.percent),
                "organization",
                Some(w.org.0),
                &details.to_string(),
            )?;
            let mut job = Enqueue::new(Some(w.org), super::usage::ALERT_JOB, details);
            job.idempotency_key = Some(key);
            Queue::enqueue_in(tx, &job)?;
        }
    }
    crate::webhooks::events::after(tx, w, hooks, &stored)?;
    if let Some(hook) = w.hook.take() {
        (hook.0)(tx, w.conversation, &stored)?;
    }
    Ok(stored)
}
