//! SQL of experiments: `ab_tests`, `ab_test_variants`, `ab_test_units` and
//! the per-variant aggregates in `ab_test_results`.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{
    EXPERIMENT_COLUMNS, ExperimentId, ExperimentRow, ExperimentStatus, GoalMetric, ResultRow, UnitEvent, UnitOutcome,
    VARIANT_COLUMNS, VariantId, VariantRow,
};
use crate::db::{query_all, query_opt};
use crate::http::Tenant;
use crate::ids::{BotId, OrgId};

/// A new test's row.
pub struct NewExperiment<'a> {
    pub bot: BotId,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub kind: &'a str,
    pub subject_key: &'a str,
    pub unit: &'a str,
    pub goal: &'a str,
    pub goal_config: &'a str,
    pub baseline_rate: f64,
    pub minimum_effect: f64,
    pub alpha: f64,
    pub power: f64,
    pub auto_stop: bool,
}

/// Inserts a test (a draft).
pub fn insert(tx: &Connection, tenant: &Tenant, e: &NewExperiment<'_>) -> rusqlite::Result<ExperimentId> {
    tx.query_row(
        "INSERT INTO ab_tests (organization_id, bot_id, name, description, subject_kind, subject_key, unit, goal_metric,
             goal_config, baseline_rate, minimum_effect, alpha, power, auto_stop, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) RETURNING id",
        params![
            tenant.org_id(),
            e.bot,
            e.name,
            e.description,
            e.kind,
            e.subject_key,
            e.unit,
            e.goal,
            e.goal_config,
            e.baseline_rate,
            e.minimum_effect,
            e.alpha,
            e.power,
            e.auto_stop,
            tenant.user_id()
        ],
        |r| r.get(0),
    )
}

/// A new variant's row.
pub struct NewVariant<'a> {
    pub position: i64,
    pub name: &'a str,
    pub share: u32,
    pub flow_version_id: Option<i64>,
    pub model_version_id: Option<i64>,
    pub settings: &'a str,
}

/// Inserts a variant of a test.
pub fn insert_variant(
    tx: &Connection,
    tenant: &Tenant,
    test: ExperimentId,
    v: &NewVariant<'_>,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO ab_test_variants (organization_id, ab_test_id, position, name, share, flow_version_id,
             model_version_id, settings)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![tenant.org_id(), test, v.position, v.name, v.share, v.flow_version_id, v.model_version_id, v.settings],
    )?;
    Ok(())
}

/// One test of the caller's organization.
pub fn find(conn: &Connection, tenant: &Tenant, id: ExperimentId) -> rusqlite::Result<Option<ExperimentRow>> {
    query_opt(
        conn,
        &format!("SELECT {EXPERIMENT_COLUMNS} FROM ab_tests WHERE id = ?1 AND organization_id = ?2"),
        params![id, tenant.org_id()],
    )
}

/// The bot's tests, newest first.
pub fn list(conn: &Connection, tenant: &Tenant, bot: BotId) -> rusqlite::Result<Vec<ExperimentRow>> {
    query_all(
        conn,
        &format!(
            "SELECT {EXPERIMENT_COLUMNS} FROM ab_tests WHERE organization_id = ?1 AND bot_id = ?2 ORDER BY id DESC"
        ),
        params![tenant.org_id(), bot],
    )
}

/// The bot's running tests (one indexed read: `ab_tests_org`).
pub fn running(conn: &Connection, org: OrgId, bot: BotId) -> rusqlite::Result<Vec<ExperimentRow>> {
    query_all(
        conn,
        &format!(
            "SELECT {EXPERIMENT_COLUMNS} FROM ab_tests
             WHERE organization_id = ?1 AND bot_id = ?2 AND status = 'running' ORDER BY id"
        ),
        params![org, bot],
    )
}

/// The running test of a subject, if any.
pub fn running_on(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    kind: &str,
    key: &str,
) -> rusqlite::Result<Option<ExperimentId>> {
    conn.query_row(
        "SELECT id FROM ab_tests WHERE organization_id = ?1 AND bot_id = ?2 AND status = 'running'
             AND subject_kind = ?3 AND subject_key = ?4",
        params![tenant.org_id(), bot, kind, key],
        |r| r.get(0),
    )
    .optional()
}

/// A test's variants in order (the control first).
pub fn variants(conn: &Connection, org: OrgId, test: ExperimentId) -> rusqlite::Result<Vec<VariantRow>> {
    query_all(
        conn,
        &format!(
            "SELECT {VARIANT_COLUMNS} FROM ab_test_variants v LEFT JOIN bot_flows f ON f.id = v.flow_version_id
             WHERE v.organization_id = ?1 AND v.ab_test_id = ?2 ORDER BY v.position"
        ),
        params![org, test],
    )
}

/// A test's aggregates per variant.
pub fn results(conn: &Connection, org: OrgId, test: ExperimentId) -> rusqlite::Result<Vec<ResultRow>> {
    query_all(
        conn,
        "SELECT variant_id, units, trials, successes, value_sum FROM ab_test_results
         WHERE organization_id = ?1 AND ab_test_id = ?2",
        params![org, test],
    )
}

/// Makes sure every variant has its aggregate row.
pub fn init_results(tx: &Connection, org: OrgId, test: ExperimentId) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR IGNORE INTO ab_test_results (organization_id, ab_test_id, variant_id)
         SELECT organization_id, ab_test_id, id FROM ab_test_variants WHERE organization_id = ?1 AND ab_test_id = ?2",
        params![org, test],
    )?;
    Ok(())
}

/// Moves a test to `status`; `started`/`ended` set those times when given.
pub fn set_status(
    tx: &Connection,
    tenant: &Tenant,
    id: ExperimentId,
    status: ExperimentStatus,
    started: Option<&str>,
    ended: Option<&str>,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE ab_tests SET status = ?3, started_at = coalesce(?4, started_at), ended_at = ?5
         WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), status.as_str(), started, ended],
    )?;
    Ok(())
}

/// Records the winner and ends the test.
pub fn declare(
    tx: &Connection,
    tenant: &Tenant,
    id: ExperimentId,
    winner: VariantId,
    by: &str,
    at: &str,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE ab_tests SET status = 'completed', winner_variant_id = ?3, decided_by = ?4, ended_at = ?5
         WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), winner, by, at],
    )?;
    Ok(())
}

/// Records that the winner was made live.
pub fn set_promoted(tx: &Connection, tenant: &Tenant, id: ExperimentId) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE ab_tests SET promoted = 1 WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id()],
    )?;
    Ok(())
}

/// Deletes a test (its variants, units and aggregates cascade).
pub fn delete(tx: &Connection, tenant: &Tenant, id: ExperimentId) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM ab_tests WHERE id = ?1 AND organization_id = ?2", params![id, tenant.org_id()])?;
    Ok(())
}

/// Adds `(trial, success, value)` deltas to a variant's aggregate.
fn add_to_results(
    tx: &Connection,
    org: OrgId,
    test: ExperimentId,
    variant: VariantId,
    units: i64,
    delta: (i64, i64, f64),
) -> rusqlite::Result<()> {
    // An UPDATE, not an upsert: SQLite checks the CHECKs of an upsert's
    // proposed row (a delta, e.g. one success and no trial) before it sees
    // the conflict. The row exists from the start (`init_results`).
    let changed = tx.execute(
        "UPDATE ab_test_results SET units = units + ?4, trials = trials + ?5, successes = successes + ?6,
             value_sum = value_sum + ?7
         WHERE organization_id = ?1 AND ab_test_id = ?2 AND variant_id = ?3",
        params![org, test, variant, units, delta.0, delta.1, delta.2],
    )?;
    if changed == 0 {
        init_results(tx, org, test)?;
        tx.execute(
            "UPDATE ab_test_results SET units = units + ?4, trials = trials + ?5, successes = successes + ?6,
                 value_sum = value_sum + ?7
             WHERE organization_id = ?1 AND ab_test_id = ?2 AND variant_id = ?3",
            params![org, test, variant, units, delta.0, delta.1, delta.2],
        )?;
    }
    Ok(())
}

fn score(outcome: &UnitOutcome, goal: GoalMetric) -> (i64, i64, f64) {
    let (trial, success, value) = outcome.score(goal);
    (i64::from(trial), i64::from(success), if trial { value } else { 0.0 })
}

/// Assigns a unit to a variant (once: a unit keeps its first assignment);
/// returns whether it was new.
pub fn insert_unit(
    tx: &Connection,
    org: OrgId,
    test: ExperimentId,
    goal: GoalMetric,
    variant: VariantId,
    unit_key: &str,
    conversation: i64,
) -> rusqlite::Result<bool> {
    let added = tx.execute(
        "INSERT OR IGNORE INTO ab_test_units (organization_id, ab_test_id, variant_id, unit_key, conversation_id)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![org, test, variant, unit_key, conversation],
    )? > 0;
    if added {
        add_to_results(tx, org, test, variant, 1, score(&UnitOutcome::default(), goal))?;
    }
    Ok(added)
}

/// Records what a unit did and updates its variant's aggregate by the
/// change in the unit's score; returns whether the unit exists.
pub fn apply_event(
    tx: &Connection,
    org: OrgId,
    test: ExperimentId,
    goal: GoalMetric,
    unit_key: &str,
    event: &UnitEvent,
) -> rusqlite::Result<bool> {
    let found = tx
        .query_row(
            "SELECT id, variant_id, resolved, handed_off, csat, goal_reached, converted, feedback_up, feedback_down
             FROM ab_test_units WHERE organization_id = ?1 AND ab_test_id = ?2 AND unit_key = ?3",
            params![org, test, unit_key],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, VariantId>(1)?,
                    UnitOutcome {
                        resolved: r.get(2)?,
                        handed_off: r.get(3)?,
                        csat: r.get(4)?,
                        goal_reached: r.get(5)?,
                        converted: r.get(6)?,
                        feedback_up: r.get(7)?,
                        feedback_down: r.get(8)?,
                    },
                ))
            },
        )
        .optional()?;
    let Some((id, variant, before)) = found else { return Ok(false) };
    let after = event.apply(before);
    if after == before {
        return Ok(true);
    }
    tx.execute(
        "UPDATE ab_test_units SET resolved = ?2, handed_off = ?3, csat = ?4, goal_reached = ?5, converted = ?6,
             feedback_up = ?7, feedback_down = ?8
         WHERE id = ?1",
        params![
            id,
            after.resolved,
            after.handed_off,
            after.csat,
            after.goal_reached,
            after.converted,
            after.feedback_up,
            after.feedback_down
        ],
    )?;
    let (b, a) = (score(&before, goal), score(&after, goal));
    if a != b {
        add_to_results(tx, org, test, variant, 0, (a.0 - b.0, a.1 - b.1, a.2 - b.2))?;
    }
    Ok(true)
}

/// The bot and channel identity of a conversation.
pub fn conversation_identity(
    conn: &Connection,
    org: OrgId,
    conversation: i64,
) -> rusqlite::Result<Option<(BotId, String, String)>> {
    conn.query_row(
        "SELECT bot_id, channel, external_user_id FROM conversations WHERE id = ?1 AND organization_id = ?2",
        params![conversation, org],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .optional()
}
