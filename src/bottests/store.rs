//! SQL of conversation tests (`bot_tests`) and their runs (`bot_test_runs`).

use rusqlite::{Connection, params};

use super::model::{BotTest, BotTestId, TestRun, TestRunId};
use crate::db::{query_all, query_opt};
use crate::http::Tenant;
use crate::ids::BotId;

const TEST_COLUMNS: &str = "id, bot_id, name, turns, created_by, created_at, updated_at";
const RUN_COLUMNS: &str = "id, bot_id, trigger, flow_name, total, passed, results, created_by, created_at";

/// The tests of a bot, oldest first.
pub fn list(conn: &Connection, tenant: &Tenant, bot: BotId) -> rusqlite::Result<Vec<BotTest>> {
    query_all(
        conn,
        &format!("SELECT {TEST_COLUMNS} FROM bot_tests WHERE organization_id = ?1 AND bot_id = ?2 ORDER BY id"),
        params![tenant.org_id(), bot],
    )
}

pub fn find(conn: &Connection, tenant: &Tenant, id: BotTestId) -> rusqlite::Result<Option<BotTest>> {
    query_opt(
        conn,
        &format!("SELECT {TEST_COLUMNS} FROM bot_tests WHERE organization_id = ?1 AND id = ?2"),
        params![tenant.org_id(), id],
    )
}

/// Whether another test of the bot has this name.
pub fn name_taken(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    name: &str,
    except: Option<BotTestId>,
) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM bot_tests WHERE organization_id = ?1 AND bot_id = ?2 AND name = ?3
                          AND (?4 IS NULL OR id <> ?4))",
        params![tenant.org_id(), bot, name, except],
        |r| r.get(0),
    )
}

pub fn insert(conn: &Connection, tenant: &Tenant, bot: BotId, name: &str, turns: &str) -> rusqlite::Result<BotTestId> {
    conn.query_row(
        "INSERT INTO bot_tests (organization_id, bot_id, name, turns, created_by) VALUES (?1, ?2, ?3, ?4, ?5)
         RETURNING id",
        params![tenant.org_id(), bot, name, turns, tenant.user_id()],
        |r| r.get(0),
    )
}

pub fn update(conn: &Connection, tenant: &Tenant, id: BotTestId, name: &str, turns: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE bot_tests SET name = ?3, turns = ?4 WHERE organization_id = ?1 AND id = ?2",
        params![tenant.org_id(), id, name, turns],
    )? == 1)
}

pub fn delete(conn: &Connection, tenant: &Tenant, id: BotTestId) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM bot_tests WHERE organization_id = ?1 AND id = ?2", params![tenant.org_id(), id])? == 1)
}

/// A finished run.
pub struct NewRun<'a> {
    pub trigger: &'a str,
    pub flow_name: Option<&'a str>,
    pub total: i64,
    pub passed: i64,
    pub results: &'a str,
}

pub fn insert_run(conn: &Connection, tenant: &Tenant, bot: BotId, run: &NewRun<'_>) -> rusqlite::Result<TestRunId> {
    conn.query_row(
        "INSERT INTO bot_test_runs (organization_id, bot_id, trigger, flow_name, total, passed, results, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
        params![tenant.org_id(), bot, run.trigger, run.flow_name, run.total, run.passed, run.results, tenant.user_id()],
        |r| r.get(0),
    )
}

pub fn run(conn: &Connection, tenant: &Tenant, id: TestRunId) -> rusqlite::Result<Option<TestRun>> {
    query_opt(
        conn,
        &format!("SELECT {RUN_COLUMNS} FROM bot_test_runs WHERE organization_id = ?1 AND id = ?2"),
        params![tenant.org_id(), id],
    )
}

/// Runs of a bot, newest first, before run `before`.
pub fn runs(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<TestRun>> {
    query_all(
        conn,
        &format!(
            "SELECT {RUN_COLUMNS} FROM bot_test_runs WHERE organization_id = ?1 AND bot_id = ?2 AND (?3 IS NULL OR id < ?3)
             ORDER BY id DESC LIMIT ?4"
        ),
        params![tenant.org_id(), bot, before, limit],
    )
}
