//! Conversation tests as the API shows them: the script of turns with what
//! the bot must do, and the results of a run.

use std::collections::BTreeMap;

use rusqlite::Row;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::FromRow;
use crate::ids::{BotId, UserId};

crate::id_type!(
    /// A row of `bot_tests`.
    BotTestId
);

crate::id_type!(
    /// A row of `bot_test_runs`.
    TestRunId
);

/// How a reply is compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchMode {
    /// The whole text, as is.
    #[default]
    Exact,
    /// The expected text appears in the reply (case-insensitive).
    Contains,
    /// Any text: only that a reply comes.
    Ignore,
}

/// A reply the bot must give.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectedReply {
    pub text: String,
    #[serde(rename = "match", default)]
    pub mode: MatchMode,
}

/// The intent NLU must recognise, at least this sure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectedIntent {
    /// An intent of the bot.
    pub name: String,
    /// 0–1 (default 0: any confidence).
    #[serde(default)]
    pub min_confidence: f64,
}

/// One turn of a test: what the end user says and what the bot must do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestTurn {
    /// The end user's message; `null` (first turn only): the conversation opens.
    #[serde(default)]
    pub user: Option<String>,
    /// The bot's replies in order; every reply the bot gives must be listed.
    #[serde(default)]
    pub replies: Vec<ExpectedReply>,
    /// Not checked when absent.
    #[serde(default)]
    pub intent: Option<ExpectedIntent>,
    /// Variables that must hold these values after the turn.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: BTreeMap<String, Value>,
}

/// A conversation test of a bot.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BotTest {
    pub id: BotTestId,
    pub bot_id: BotId,
    pub name: String,
    pub turns: Vec<TestTurn>,
    pub created_by: Option<UserId>,
    pub created_at: String,
    pub updated_at: String,
}

impl FromRow for BotTest {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let turns: String = row.get("turns")?;
        Ok(BotTest {
            id: row.get("id")?,
            bot_id: row.get("bot_id")?,
            name: row.get("name")?,
            turns: serde_json::from_str(&turns).unwrap_or_default(),
            created_by: row.get("created_by")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// `POST /bots/{bot_id}/tests` and `PUT /bot-tests/{test_id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BotTestRequest {
    pub name: String,
    /// 1–100 turns.
    pub turns: Vec<TestTurn>,
}

/// One expectation that did not hold.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Failure {
    /// What was checked: `replies[1]`, `replies` (their number), `intent`,
    /// `intent.confidence`, `variables.name`.
    pub field: String,
    #[schema(value_type = Object)]
    pub expected: Value,
    #[schema(value_type = Object)]
    pub got: Value,
}

/// What the bot did in a turn.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GotTurn {
    pub replies: Vec<String>,
    pub intent: Option<String>,
    pub confidence: f64,
    /// Session variables after the turn.
    #[schema(value_type = Object)]
    pub variables: Value,
}

/// One turn of a run.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TurnResult {
    pub index: usize,
    pub user: Option<String>,
    pub passed: bool,
    pub failures: Vec<Failure>,
    pub got: GotTurn,
}

/// One test of a run.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TestResult {
    pub test_id: BotTestId,
    pub name: String,
    pub passed: bool,
    /// The first turn whose expectations did not hold (0-based).
    pub diverged_turn: Option<usize>,
    /// Why the test could not run (e.g. a flow that does not compile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The turns up to and including the diverging one.
    pub turns: Vec<TurnResult>,
}

/// What a run was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunTrigger {
    /// Run by hand against the draft.
    Manual,
    /// Run by a publish against what it put (or would have put) live.
    Publish,
}

impl RunTrigger {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RunTrigger::Manual => "manual",
            RunTrigger::Publish => "publish",
        }
    }
}

/// A run of all the tests of a bot.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TestRun {
    pub id: TestRunId,
    pub bot_id: BotId,
    pub trigger: RunTrigger,
    /// The flow a publish run was for.
    pub flow_name: Option<String>,
    pub total: i64,
    pub passed: i64,
    pub failed: i64,
    pub results: Vec<TestResult>,
    pub created_by: Option<UserId>,
    pub created_at: String,
}

impl FromRow for TestRun {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let trigger: String = row.get("trigger")?;
        let results: String = row.get("results")?;
        let total: i64 = row.get("total")?;
        let passed: i64 = row.get("passed")?;
        Ok(TestRun {
            id: row.get("id")?,
            bot_id: row.get("bot_id")?,
            trigger: if trigger == "publish" { RunTrigger::Publish } else { RunTrigger::Manual },
            flow_name: row.get("flow_name")?,
            total,
            passed,
            failed: total - passed,
            results: serde_json::from_str(&results).unwrap_or_default(),
            created_by: row.get("created_by")?,
            created_at: row.get("created_at")?,
        })
    }
}
