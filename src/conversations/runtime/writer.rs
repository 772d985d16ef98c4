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
    /// Units and goal events of the conversation's A/B experiments.
    pub experiments: crate::experiments::runtime::TurnFacts,
}

/// One unit of the batch: a turn, or another write that shares the
/// group commit (a channel storing the message that starts a turn).
enum Job {
    Turn { write: Box<TurnWrite>, done: oneshot::Sender<AppResult<Vec<Message>>> },
    Write(Box<WriteFn>),
}

/// A shared write: runs in its own savepoint and returns what to do once the
/// batch's fate is known (`true`: committed).
type WriteFn = dyn FnOnce(&rusqlite::Connection) -> (bool, Completion) + Send;
/// Called after the batch: `Ok` when committed, else the code of the failed commit.
type Completion = Box<dyn FnOnce(Result<(), ErrorCode>) + Send>;

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
        self.send(Job::Turn { write: Box::new(write), done }).await?;
        wait.await.map_err(|_| AppError::new(ErrorCode::Unavailable, "the turn writer stopped"))?
    }

    /// Runs `f` in the next batch, in its own savepoint (`Err` undoes only
    /// its writes), and returns its value once the batch is committed: a
    /// hot write path shares the turns' commit instead of queueing for the
    /// writer connection on its own.
    pub async fn write<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&rusqlite::Connection) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let (done, wait) = oneshot::channel::<AppResult<T>>();
        let job = move |tx: &rusqlite::Connection| -> (bool, Completion) {
            let result = f(tx);
            let ok = result.is_ok();
            let complete = move |commit: Result<(), ErrorCode>| {
                let _ = done.send(match commit {
                    Ok(()) => result,
                    Err(cause) => Err(uncommitted(cause)),
                });
            };
            (ok, Box::new(complete))
        };
        self.send(Job::Write(Box::new(job))).await?;
        wait.await.map_err(|_| AppError::new(ErrorCode::Unavailable, "the turn writer stopped"))?
    }

    async fn send(&self, job: Job) -> AppResult<()> {
        self.tx.send(job).await.map_err(|_| AppError::new(ErrorCode::Unavailable, "the server is shutting down"))
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

/// The answer of every turn of a batch whose commit failed: a full disk is
/// the client-visible 507 it is everywhere else, anything else a 500.
fn uncommitted(cause: ErrorCode) -> AppError {
    if cause == ErrorCode::StorageFull {
        AppError::storage_full()
    } else {
        AppError::internal(anyhow::anyhow!("the write could not be committed"))
    }
}

/// What a job leaves for after the commit.
enum Pending {
    Turn(oneshot::Sender<AppResult<Vec<Message>>>, AppResult<Vec<Message>>),
    Write(Completion),
}

fn run_batch(db: &Db, queue: &Queue, jobs: Vec<Job>) {
    let now = crate::db::now();
    let day = now[..10].to_owned();
    let mut alerted = false;
    let count = jobs.len();
    let mut pending = Vec::with_capacity(count);
    let outcome = db.write_blocking(|tx| {
        let mut usage: HashMap<(OrgId, BotId, &'static str), i64> = HashMap::new();
        for job in jobs {
            tx.execute_batch("SAVEPOINT turn")?;
            let ok = match job {
                Job::Turn { mut write, done } => {
                    let result = apply(tx, &mut write, &now);
                    if result.is_ok() {
                        for (metric, n) in &write.usage {
                            *usage.entry((write.org, write.bot, metric)).or_default() += n;
                        }
                        alerted |= write.alert.is_some();
                    }
                    let ok = result.is_ok();
                    pending.push(Pending::Turn(done, result));
                    ok
                }
                Job::Write(f) => {
                    let (ok, complete) = f(tx);
                    pending.push(Pending::Write(complete));
                    ok
                }
            };
            tx.execute_batch(if ok { "RELEASE turn" } else { "ROLLBACK TO turn; RELEASE turn" })?;
        }
        for ((org, bot, metric), n) in usage {
            crate::billing::usage::add_on(tx, org, Some(bot), metric, &day, n)?;
        }
        Ok(())
    });
    let commit = match outcome {
        Ok(()) => {
            if alerted {
                queue.notify();
            }
            Ok(())
        }
        Err(e) => {
            tracing::error!(error = ?e, jobs = count, "a batch of turns could not be written");
            Err(e.code())
        }
    };
    for p in pending {
        match p {
            Pending::Turn(done, result) => {
                let _ = done.send(match commit {
                    Ok(()) => result,
                    Err(cause) => Err(uncommitted(cause)),
                });
            }
            Pending::Write(complete) => complete(commit),
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
    if !w.experiments.is_empty() {
        crate::experiments::runtime::write(tx, w.org, w.conversation.0, &w.experiments)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DbConfig;

    fn count(db: &Db) -> i64 {
        db.read_blocking(|c| Ok(c.query_row("SELECT count(*) FROM shared", [], |r| r.get(0))?)).expect("count")
    }

    #[tokio::test]
    async fn a_shared_write_commits_alone_and_a_failing_one_undoes_only_itself() {
        let dir = tempfile::tempdir().expect("dir");
        let db = Db::open(&dir.path().join("w.db"), &DbConfig::default()).expect("db");
        db.write_blocking(|tx| Ok(tx.execute_batch("CREATE TABLE shared (n INTEGER NOT NULL)")?)).expect("table");
        let writer = Writer::start(db.clone(), Queue::new(db.clone()), 64, 64).expect("writer");
        let inserts = (0..20).map(|n: i64| {
            let writer = writer.clone();
            async move {
                writer
                    .write(move |tx| {
                        tx.execute("INSERT INTO shared (n) VALUES (?1)", [n])?;
                        if n % 5 == 0 {
                            return Err(AppError::new(ErrorCode::InvalidQuery, "refused"));
                        }
                        Ok(n)
                    })
                    .await
            }
        });
        let results = futures_util::future::join_all(inserts).await;
        let refused = results.iter().filter(|r| r.is_err()).count();
        assert_eq!(refused, 4, "every fifth write fails, alone");
        assert_eq!(count(&db), 16, "the failing writes left nothing; the others are committed");
        let values: Vec<i64> = results.into_iter().filter_map(Result::ok).collect();
        assert_eq!(values.len(), 16);
    }
}
