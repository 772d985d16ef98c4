//! Conversation tests: a saved emulator conversation replayed against the
//! draft (by hand) or against what a publish would put live (on every
//! publish). Each test runs in its own in-memory conversation through the
//! real engine, NLU and node I/O, exactly like the emulator's draft mode,
//! but no conversation row, transcript or inbox entry is ever written and no
//! handoff, close or usage count takes effect.

use std::collections::HashSet;
use std::sync::Arc;

use rusqlite::Connection;
use serde_json::{Value, json};

use super::model::{
    BotTest, BotTestId, BotTestRequest, Failure, GotTurn, MatchMode, RunTrigger, TestResult, TestRun, TestTurn,
    TurnResult,
};
use super::store::{self, NewRun};
use crate::app::AppState;
use crate::conversations::runtime::io::{RuntimeIo, understand};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::flows::compile::check_variable_name;
use crate::flows::engine::{ConvState, Effect, Input, Program, TurnRequest, run_turn};
use crate::flows::model::VersionRow;
use crate::flows::service::Source;
use crate::http::{Page, PageParams, Tenant};
use crate::ids::BotId;
use crate::orgs::audit::{self, AuditEntry};

/// At most this many turns in a test.
pub const MAX_TURNS: usize = 100;
/// At most this many tests per bot (a run stays a few seconds at most).
pub const MAX_TESTS: usize = 200;

fn not_found() -> AppError {
    AppError::new(ErrorCode::BotTestNotFound, "no such conversation test")
}

/// Checks a request against the bot's intents; returns the name and the turns as JSON.
fn check(req: &BotTestRequest, intents: &HashSet<String>, max_chars: usize) -> AppResult<(String, String)> {
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::validation("name", "1–200 characters"));
    }
    if req.turns.is_empty() {
        return Err(AppError::validation("turns", "a test needs at least one turn"));
    }
    if req.turns.len() > MAX_TURNS {
        return Err(AppError::validation("turns", format!("at most {MAX_TURNS} turns")));
    }
    for (i, t) in req.turns.iter().enumerate() {
        let f = format!("turns[{i}]");
        match t.user.as_deref() {
            None if i > 0 => {
                return Err(AppError::validation(
                    format!("{f}.user"),
                    "only the first turn may have no message (the conversation opening)",
                ));
            }
            Some(u) if u.trim().is_empty() || u.chars().count() > max_chars => {
                return Err(AppError::validation(format!("{f}.user"), format!("1–{max_chars} characters")));
            }
            _ => {}
        }
        if t.replies.len() > 50 {
            return Err(AppError::validation(format!("{f}.replies"), "at most 50 replies"));
        }
        for (j, r) in t.replies.iter().enumerate() {
            if r.text.chars().count() > 4000 {
                return Err(AppError::validation(format!("{f}.replies[{j}].text"), "at most 4000 characters"));
            }
            if r.mode != MatchMode::Ignore && r.text.trim().is_empty() {
                return Err(AppError::validation(
                    format!("{f}.replies[{j}].text"),
                    "a text is required unless the match is `ignore`",
                ));
            }
        }
        if let Some(intent) = &t.intent {
            if !intents.contains(&intent.name) {
                return Err(AppError::validation(
                    format!("{f}.intent.name"),
                    format!("the bot has no intent named `{}`", intent.name),
                ));
            }
            if !(0.0..=1.0).contains(&intent.min_confidence) || intent.min_confidence.is_nan() {
                return Err(AppError::validation(format!("{f}.intent.min_confidence"), "between 0 and 1"));
            }
        }
        if t.variables.len() > 50 {
            return Err(AppError::validation(format!("{f}.variables"), "at most 50 variables"));
        }
        for k in t.variables.keys() {
            check_variable_name(k).map_err(|m| AppError::validation(format!("{f}.variables.{k}"), m))?;
        }
    }
    let turns = serde_json::to_string(&req.turns).map_err(AppError::internal)?;
    Ok((name.to_owned(), turns))
}

fn bot_intents(conn: &Connection, tenant: &Tenant, bot: BotId) -> AppResult<HashSet<String>> {
    Ok(crate::nlu::store::all_intents(conn, tenant, bot)?.into_iter().map(|i| i.name).collect())
}

fn name_taken(name: &str) -> AppError {
    AppError::new(ErrorCode::NameTaken, format!("the bot already has a test named `{name}`"))
        .with_details(json!({ "field": "name" }))
}

/// The bot's tests.
pub async fn list(state: &AppState, tenant: Tenant, bot: BotId) -> AppResult<Vec<BotTest>> {
    state.db.read(move |conn| Ok(store::list(conn, &tenant, bot)?)).await
}

/// One test.
pub async fn get(state: &AppState, tenant: Tenant, id: BotTestId) -> AppResult<BotTest> {
    state.db.read(move |conn| store::find(conn, &tenant, id)?.ok_or_else(not_found)).await
}

/// Creates a test.
pub async fn create(state: &AppState, tenant: Tenant, bot: BotId, req: BotTestRequest) -> AppResult<BotTest> {
    let max = state.runtime.config().max_message_chars;
    state
        .db
        .write(move |tx| {
            let (name, turns) = check(&req, &bot_intents(tx, &tenant, bot)?, max)?;
            if store::name_taken(tx, &tenant, bot, &name, None)? {
                return Err(name_taken(&name));
            }
            if store::list(tx, &tenant, bot)?.len() >= MAX_TESTS {
                return Err(AppError::validation("name", format!("a bot has at most {MAX_TESTS} tests")));
            }
            let id = store::insert(tx, &tenant, bot, &name, &turns)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "bot_test.created", "bot_test", id.0)
                    .with_new(json!({ "bot_id": bot, "name": name, "turns": req.turns.len() })),
            )?;
            store::find(tx, &tenant, id)?.ok_or_else(not_found)
        })
        .await
}

/// Replaces a test's name and turns.
pub async fn update(state: &AppState, tenant: Tenant, id: BotTestId, req: BotTestRequest) -> AppResult<BotTest> {
    let max = state.runtime.config().max_message_chars;
    state
        .db
        .write(move |tx| {
            let old = store::find(tx, &tenant, id)?.ok_or_else(not_found)?;
            let (name, turns) = check(&req, &bot_intents(tx, &tenant, old.bot_id)?, max)?;
            if store::name_taken(tx, &tenant, old.bot_id, &name, Some(id))? {
                return Err(name_taken(&name));
            }
            store::update(tx, &tenant, id, &name, &turns)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "bot_test.updated", "bot_test", id.0)
                    .with_old(json!({ "name": old.name, "turns": old.turns.len() }))
                    .with_new(json!({ "bot_id": old.bot_id, "name": name, "turns": req.turns.len() })),
            )?;
            store::find(tx, &tenant, id)?.ok_or_else(not_found)
        })
        .await
}

/// Deletes a test.
pub async fn delete(state: &AppState, tenant: Tenant, id: BotTestId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let old = store::find(tx, &tenant, id)?.ok_or_else(not_found)?;
            store::delete(tx, &tenant, id)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "bot_test.deleted", "bot_test", id.0)
                    .with_old(json!({ "bot_id": old.bot_id, "name": old.name })),
            )
        })
        .await
}

/// The bot's runs, newest first.
pub async fn runs(state: &AppState, tenant: Tenant, bot: BotId, page: PageParams) -> AppResult<Page<TestRun>> {
    let before = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state.db.read(move |conn| Ok(store::runs(conn, &tenant, bot, before, limit)?)).await?;
    Page::from_rows(rows, &page, |r| r.id.0)
}

/// Runs every test of the bot against its draft flows and stores the run.
pub async fn run_draft(state: &AppState, tenant: Tenant, bot: BotId) -> AppResult<TestRun> {
    let t = tenant.clone();
    let tests = state.db.read(move |conn| Ok(store::list(conn, &t, bot)?)).await?;
    let loaded = state.runtime.loaded(state, &tenant, bot, Source::Draft).await?;
    let results = run_all(state, &tenant, bot, &loaded.program, &loaded.skipped, &tests).await?;
    save_run(state, tenant, bot, RunTrigger::Manual, None, results).await
}

/// Runs the bot's tests against what publishing `candidate` would put live
/// and stores the run; `None` when the bot has no tests. The flag is the
/// bot's `block_publish_on_test_failure`.
pub async fn run_for_publish(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    candidate: &VersionRow,
) -> AppResult<Option<(TestRun, bool)>> {
    let (t, row) = (tenant.clone(), candidate.clone());
    let prepared = state
        .db
        .read(move |conn| {
            let tests = store::list(conn, &t, bot)?;
            if tests.is_empty() {
                return Ok(None);
            }
            let info = crate::bots::service::runtime_info(conn, &t, bot)?;
            let canned = crate::bots::service::canned_for_runtime(conn, &t, bot)?;
            let block = info.settings.block_publish_on_test_failure;
            let (mut program, skipped) =
                crate::flows::service::load_candidate(conn, &t, bot, &row, info.engine_settings(), canned)?;
            program.known_intents = crate::conversations::runtime::nlu::known_intents(conn, &t, bot)?;
            Ok(Some((tests, Arc::new(program), skipped, block)))
        })
        .await?;
    let Some((tests, program, skipped, block)) = prepared else { return Ok(None) };
    let results = run_all(state, tenant, bot, &program, &skipped, &tests).await?;
    let flow = candidate.view.name.clone();
    let run = save_run(state, tenant.clone(), bot, RunTrigger::Publish, Some(flow), results).await?;
    Ok(Some((run, block)))
}

async fn save_run(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    trigger: RunTrigger,
    flow: Option<String>,
    results: Vec<TestResult>,
) -> AppResult<TestRun> {
    let text = serde_json::to_string(&results).map_err(AppError::internal)?;
    let total = i64::try_from(results.len()).map_err(AppError::internal)?;
    let passed = i64::try_from(results.iter().filter(|r| r.passed).count()).map_err(AppError::internal)?;
    state
        .db
        .write(move |tx| {
            let run = NewRun { trigger: trigger.as_str(), flow_name: flow.as_deref(), total, passed, results: &text };
            let id = store::insert_run(tx, &tenant, bot, &run)?;
            store::run(tx, &tenant, id)?.ok_or_else(not_found)
        })
        .await
}

async fn run_all(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    program: &Program,
    skipped: &[String],
    tests: &[BotTest],
) -> AppResult<Vec<TestResult>> {
    let mut out = Vec::with_capacity(tests.len());
    for test in tests {
        out.push(run_one(state, tenant, bot, program, skipped, test).await?);
    }
    Ok(out)
}

/// Runs one test in a fresh in-memory conversation; stops at the first
/// turn that diverges (later turns would only repeat the difference).
async fn run_one(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    program: &Program,
    skipped: &[String],
    test: &BotTest,
) -> AppResult<TestResult> {
    let mut result = TestResult {
        test_id: test.id,
        name: test.name.clone(),
        passed: false,
        diverged_turn: None,
        error: None,
        turns: Vec::new(),
    };
    if !skipped.is_empty() {
        result.error = Some(skipped.join("; "));
        result.diverged_turn = Some(0);
        return Ok(result);
    }
    let mut st = ConvState { source: Some("draft".into()), ..ConvState::default() };
    let mut handed_off = false;
    for (i, turn) in test.turns.iter().enumerate() {
        let got = if handed_off {
            // A person has the conversation now: the bot stays silent.
            GotTurn { variables: Value::Object(st.vars.clone()), ..GotTurn::default() }
        } else {
            let (input, nlu) = match &turn.user {
                Some(said) => (
                    Input::Message(said.clone()),
                    understand(state, tenant, bot, said, 0, program.needs_entities, None).await?,
                ),
                None => (Input::Start, None),
            };
            let io = RuntimeIo { state, tenant, bot, served: None };
            let request = TurnRequest {
                program,
                input,
                nlu: nlu.clone(),
                channel: "emulator",
                conversation_id: 0,
                is_new: i == 0,
                debug: false,
            };
            let outcome = run_turn(request, &mut st, &io).await;
            handed_off = outcome.effects.iter().any(|e| matches!(e, Effect::Handoff { .. }));
            GotTurn {
                replies: outcome.replies.into_iter().map(|r| r.text).collect(),
                intent: nlu.as_ref().and_then(|n| n.intent.clone()),
                confidence: nlu.as_ref().map_or(0.0, |n| n.confidence),
                variables: Value::Object(st.vars.clone()),
            }
        };
        let failures = compare(turn, &got, &st);
        let passed = failures.is_empty();
        result.turns.push(TurnResult { index: i, user: turn.user.clone(), passed, failures, got });
        if !passed {
            result.diverged_turn = Some(i);
            return Ok(result);
        }
    }
    result.passed = true;
    Ok(result)
}

fn reply_matches(mode: MatchMode, expected: &str, got: &str) -> bool {
    match mode {
        MatchMode::Exact => expected == got,
        MatchMode::Contains => got.to_lowercase().contains(&expected.to_lowercase()),
        MatchMode::Ignore => true,
    }
}

/// The expectations of a turn that did not hold.
fn compare(turn: &TestTurn, got: &GotTurn, st: &ConvState) -> Vec<Failure> {
    let mut failures = Vec::new();
    for (j, e) in turn.replies.iter().enumerate() {
        match got.replies.get(j) {
            Some(g) if reply_matches(e.mode, &e.text, g) => {}
            g => failures.push(Failure {
                field: format!("replies[{j}]"),
                expected: json!({ "text": e.text, "match": e.mode }),
                got: g.map_or(Value::Null, |g| json!(g)),
            }),
        }
    }
    if got.replies.len() > turn.replies.len() {
        failures.push(Failure {
            field: "replies".into(),
            expected: json!(turn.replies.len()),
            got: json!(got.replies.len()),
        });
    }
    if let Some(intent) = &turn.intent {
        if got.intent.as_deref() != Some(intent.name.as_str()) {
            failures.push(Failure { field: "intent".into(), expected: json!(intent.name), got: json!(got.intent) });
        } else if got.confidence < intent.min_confidence {
            failures.push(Failure {
                field: "intent.confidence".into(),
                expected: json!({ "at_least": intent.min_confidence }),
                got: json!(got.confidence),
            });
        }
    }
    for (name, expected) in &turn.variables {
        let value = st
            .vars
            .get(name)
            .or_else(|| st.flow_vars.values().find_map(|m| m.as_object().and_then(|m| m.get(name))))
            .cloned()
            .unwrap_or(Value::Null);
        if &value != expected {
            failures.push(Failure { field: format!("variables.{name}"), expected: expected.clone(), got: value });
        }
    }
    failures
}

/// The scope resource of `/bot-tests/{test_id}`.
pub struct BotTestResource;

impl crate::http::ScopeResource for BotTestResource {
    const PARAM: &'static str = "test_id";
    const NOT_FOUND: ErrorCode = ErrorCode::BotTestNotFound;
    type Id = BotTestId;
    fn owner(conn: &Connection, id: BotTestId) -> rusqlite::Result<Option<crate::http::scope::Owner>> {
        use rusqlite::OptionalExtension;
        conn.query_row("SELECT organization_id, bot_id FROM bot_tests WHERE id = ?1", [id], |r| {
            Ok(crate::http::scope::Owner { org_id: r.get(0)?, bot_id: Some(r.get(1)?) })
        })
        .optional()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bottests::model::{ExpectedIntent, ExpectedReply};
    use crate::flows::engine::ConvState;

    fn turn(replies: &[(&str, MatchMode)]) -> TestTurn {
        TestTurn {
            user: Some("hi".into()),
            replies: replies.iter().map(|(t, m)| ExpectedReply { text: (*t).into(), mode: *m }).collect(),
            intent: None,
            variables: std::collections::BTreeMap::new(),
        }
    }

    fn got(replies: &[&str], intent: Option<&str>, confidence: f64) -> GotTurn {
        GotTurn {
            replies: replies.iter().map(|r| (*r).to_owned()).collect(),
            intent: intent.map(str::to_owned),
            confidence,
            variables: json!({}),
        }
    }

    #[test]
    fn replies_are_compared_by_their_match_mode() {
        let st = ConvState::default();
        assert!(compare(&turn(&[("Hello!", MatchMode::Exact)]), &got(&["Hello!"], None, 0.0), &st).is_empty());
        let f = compare(&turn(&[("Hello!", MatchMode::Exact)]), &got(&["Hello"], None, 0.0), &st);
        assert_eq!(f[0].field, "replies[0]");
        assert!(
            compare(&turn(&[("hello", MatchMode::Contains)]), &got(&["Oh, HELLO there"], None, 0.0), &st).is_empty()
        );
        assert!(compare(&turn(&[("", MatchMode::Ignore)]), &got(&["anything"], None, 0.0), &st).is_empty());
        // A missing reply and an extra one both fail.
        assert_eq!(compare(&turn(&[("", MatchMode::Ignore)]), &got(&[], None, 0.0), &st)[0].field, "replies[0]");
        assert_eq!(compare(&turn(&[]), &got(&["surprise"], None, 0.0), &st)[0].field, "replies");
    }

    #[test]
    fn intents_need_the_name_and_the_confidence() {
        let st = ConvState::default();
        let mut t = turn(&[]);
        t.intent = Some(ExpectedIntent { name: "greet".into(), min_confidence: 0.8 });
        assert!(compare(&t, &got(&[], Some("greet"), 0.9), &st).is_empty());
        assert_eq!(compare(&t, &got(&[], Some("greet"), 0.5), &st)[0].field, "intent.confidence");
        assert_eq!(compare(&t, &got(&[], Some("bye"), 0.99), &st)[0].field, "intent");
    }

    #[test]
    fn variables_must_be_equal() {
        let mut st = ConvState::default();
        st.vars.insert("name".into(), json!("Ann"));
        let mut t = turn(&[]);
        t.variables.insert("name".into(), json!("Ann"));
        assert!(compare(&t, &got(&[], None, 0.0), &st).is_empty());
        t.variables.insert("name".into(), json!("Bob"));
        let f = compare(&t, &got(&[], None, 0.0), &st);
        assert_eq!((f[0].field.as_str(), &f[0].got), ("variables.name", &json!("Ann")));
    }
}
