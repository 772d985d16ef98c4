//! Experiments: create (validated against the bot's flows, model versions
//! and agents), start / stop / cancel, results with the sequential test,
//! declaring a winner by hand or by the auto-stop, and promoting it.

use rusqlite::Connection;
use serde_json::{Value, json};

use super::model::{
    AgentVariant, ComparisonView, ConversionRequest, ConversionResponse, CreateExperimentRequest, DeclareRequest,
    Experiment, ExperimentId, ExperimentResults, ExperimentRow, ExperimentStatus, GoalMetric, IntervalView,
    KnowledgeVariant, ResultRow, SampleSize, SampleSizeRequest, SubjectKind, UnitEvent, Variant, VariantId,
    VariantResult, VariantRow,
};
use super::runtime;
use super::stats::{self, Arm};
use super::store::{self, NewExperiment, NewVariant};
use crate::app::AppState;
use crate::db::now;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::Tenant;
use crate::ids::BotId;
use crate::orgs::audit::{self, AuditEntry};

/// Most variants of one test.
pub const MAX_VARIANTS: usize = 10;

fn not_found() -> AppError {
    AppError::new(ErrorCode::ExperimentNotFound, "no such experiment")
}

fn status_conflict(row: &ExperimentRow, wanted: &str) -> AppError {
    AppError::new(
        ErrorCode::ExperimentStatusConflict,
        format!("the experiment is {}; it cannot be {wanted}", row.status.as_str()),
    )
    .with_details(json!({ "status": row.status.as_str() }))
}

/// Checks alpha, power, the baseline and the effect; each error names its field.
fn check_design(baseline: f64, effect: f64, alpha: f64, power: f64) -> AppResult<()> {
    if !(baseline > 0.0 && baseline < 1.0) {
        return Err(AppError::validation("baseline_rate", "a rate between 0 and 1 (exclusive), e.g. 0.2"));
    }
    if !(effect > 0.0 && effect < 1.0) || baseline + effect >= 1.0 {
        return Err(AppError::validation(
            "minimum_effect",
            "an absolute change between 0 and 1 with baseline_rate + minimum_effect below 1, e.g. 0.05",
        ));
    }
    if !(0.001..=0.2).contains(&alpha) {
        return Err(AppError::validation("alpha", "between 0.001 and 0.2 (e.g. 0.05)"));
    }
    if !(0.5..=0.99).contains(&power) {
        return Err(AppError::validation("power", "between 0.5 and 0.99 (e.g. 0.8)"));
    }
    Ok(())
}

fn check_shares(shares: &[u32]) -> AppResult<()> {
    if shares.len() < 2 || shares.len() > MAX_VARIANTS {
        return Err(AppError::validation("variants", format!("two to {MAX_VARIANTS} variants")));
    }
    if let Some(i) = shares.iter().position(|s| !(1..=99).contains(s)) {
        return Err(AppError::validation(format!("variants[{i}].share"), "a percentage between 1 and 99"));
    }
    let sum: u32 = shares.iter().sum();
    if sum != 100 {
        return Err(AppError::validation("variants", format!("the variants' shares add to {sum}, not 100"))
            .with_details(json!({ "field": "variants", "sum": sum })));
    }
    Ok(())
}

/// The minimum sample size of a design.
pub fn sample_size(req: &SampleSizeRequest) -> AppResult<SampleSize> {
    check_design(req.baseline_rate, req.minimum_effect, req.alpha, req.power)?;
    let shares = req.shares.clone().unwrap_or_else(|| vec![50, 50]);
    check_shares(&shares)?;
    Ok(size_of(req.baseline_rate, req.minimum_effect, req.alpha, req.power, &shares))
}

fn size_of(baseline: f64, effect: f64, alpha: f64, power: f64, shares: &[u32]) -> SampleSize {
    let treatments = shares.len().saturating_sub(1).max(1);
    #[allow(clippy::cast_precision_loss, reason = "a handful of variants")]
    let per_variant = stats::sample_size_per_arm(baseline, effect, alpha / treatments as f64, power);
    SampleSize { per_variant, total: stats::sample_size_total(baseline, effect, alpha, power, shares) }
}

/// What a new test's variants serve, checked against the bot.
#[allow(clippy::type_complexity, reason = "a checked variant: name, share, flow version, model version, configuration")]
struct Checked {
    subject_key: String,
    goal_config: Value,
    variants: Vec<(String, u32, Option<i64>, Option<i64>, Value)>,
}

fn check_name(field: &str, name: &str, max: usize) -> AppResult<String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > max {
        return Err(AppError::validation(field, format!("1–{max} characters")));
    }
    crate::names::reject_invisible(field, n)?;
    Ok(n.to_owned())
}

fn check_agent_variant(field: &str, a: &AgentVariant, agent_tools: &[i64]) -> AppResult<()> {
    if let Some(t) = a.temperature
        && !(0.0..=2.0).contains(&t)
    {
        return Err(AppError::validation(format!("{field}.temperature"), "between 0 and 2"));
    }
    if let Some(m) = &a.model
        && (m.trim().is_empty() || m.len() > 200)
    {
        return Err(AppError::validation(format!("{field}.model"), "1–200 characters"));
    }
    if let Some(p) = &a.instructions
        && p.len() > 20_000
    {
        return Err(AppError::validation(format!("{field}.instructions"), "at most 20,000 characters"));
    }
    if let Some(ids) = &a.tool_ids
        && let Some(t) = ids.iter().find(|t| !agent_tools.contains(t))
    {
        return Err(AppError::validation(
            format!("{field}.tool_ids"),
            format!("tool {t} is not one of the agent's tools"),
        ));
    }
    Ok(())
}

fn check_knowledge_variant(field: &str, k: &KnowledgeVariant) -> AppResult<()> {
    if let Some(n) = k.top_k
        && !(1..=20).contains(&n)
    {
        return Err(AppError::validation(format!("{field}.top_k"), "between 1 and 20"));
    }
    if let Some(s) = k.min_score
        && !(0.0..=1.0).contains(&s)
    {
        return Err(AppError::validation(format!("{field}.min_score"), "between 0 and 1"));
    }
    Ok(())
}

fn goal_config(req: &CreateExperimentRequest) -> AppResult<Value> {
    Ok(match req.goal_metric {
        GoalMetric::GoalNode => {
            let flow = req
                .goal_flow
                .as_deref()
                .ok_or_else(|| AppError::validation("goal_flow", "required for a goal_node goal"))?;
            let node = req
                .goal_node
                .as_deref()
                .ok_or_else(|| AppError::validation("goal_node", "required for a goal_node goal"))?;
            json!({ "flow": check_name("goal_flow", flow, 100)?, "node": check_name("goal_node", node, 100)? })
        }
        GoalMetric::Conversion => {
            let event = req
                .goal_event
                .as_deref()
                .ok_or_else(|| AppError::validation("goal_event", "required for a conversion goal"))?;
            json!({ "event": check_name("goal_event", event, 100)? })
        }
        _ => json!({}),
    })
}

/// Checks the variants' references in the database (flow versions and model
/// versions of this bot); `agent_tools`: the tested agent's tools.
fn check_variants(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    req: &CreateExperimentRequest,
    agent_tools: &[i64],
) -> AppResult<Checked> {
    let subject_key = match req.kind {
        SubjectKind::Flow => {
            let name = req
                .flow_name
                .as_deref()
                .ok_or_else(|| AppError::validation("flow_name", "required for a flow test"))?;
            crate::flows::service::check_name(name)
                .map_err(|_| AppError::validation("flow_name", "not a flow name"))?;
            name.to_owned()
        }
        SubjectKind::Agent => {
            req.agent_id.ok_or_else(|| AppError::validation("agent_id", "required for an agent test"))?.to_string()
        }
        SubjectKind::NluModel => "nlu".to_owned(),
        SubjectKind::Knowledge => "knowledge".to_owned(),
    };
    let mut variants = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (i, v) in req.variants.iter().enumerate() {
        let field = format!("variants[{i}]");
        let name = check_name(&format!("{field}.name"), &v.name, 100)?;
        if !names.insert(name.to_lowercase()) {
            return Err(AppError::validation(format!("{field}.name"), "two variants have this name"));
        }
        let (mut flow_version_id, mut model_version_id, mut settings) = (None, None, json!({}));
        match req.kind {
            SubjectKind::Flow => {
                let n = v.flow_version.ok_or_else(|| {
                    AppError::validation(format!("{field}.flow_version"), "required: a version number of the flow")
                })?;
                let id = crate::flows::service::version_id(conn, tenant, bot, &subject_key, n)?.ok_or_else(|| {
                    AppError::validation(
                        format!("{field}.flow_version"),
                        format!("flow `{subject_key}` has no version {n}"),
                    )
                })?;
                if variants.iter().any(|(_, _, f, _, _)| *f == Some(id)) {
                    return Err(AppError::validation(format!("{field}.flow_version"), "two variants run this version"));
                }
                flow_version_id = Some(id);
            }
            SubjectKind::NluModel => {
                let id = v.model_version_id.ok_or_else(|| {
                    AppError::validation(
                        format!("{field}.model_version_id"),
                        "required: an NLU model version of the bot",
                    )
                })?;
                if !crate::nlu::service::has_version(conn, tenant, bot, id)? {
                    return Err(AppError::validation(
                        format!("{field}.model_version_id"),
                        format!("the bot has no NLU model version {id} with weights"),
                    ));
                }
                model_version_id = Some(id);
            }
            SubjectKind::Agent => {
                let a = v.agent.clone().unwrap_or_default();
                check_agent_variant(&format!("{field}.agent"), &a, agent_tools)?;
                settings = serde_json::to_value(&a).map_err(AppError::internal)?;
            }
            SubjectKind::Knowledge => {
                let k = v.knowledge.clone().unwrap_or_default();
                check_knowledge_variant(&format!("{field}.knowledge"), &k)?;
                settings = serde_json::to_value(&k).map_err(AppError::internal)?;
            }
        }
        let wrong = match req.kind {
            SubjectKind::Flow => v.model_version_id.is_some() || v.agent.is_some() || v.knowledge.is_some(),
            SubjectKind::NluModel => v.flow_version.is_some() || v.agent.is_some() || v.knowledge.is_some(),
            SubjectKind::Agent => v.flow_version.is_some() || v.model_version_id.is_some() || v.knowledge.is_some(),
            SubjectKind::Knowledge => v.flow_version.is_some() || v.model_version_id.is_some() || v.agent.is_some(),
        };
        if wrong {
            return Err(AppError::validation(
                field,
                format!("a {} test's variant sets only its own kind", req.kind.as_str()),
            ));
        }
        variants.push((name, v.share, flow_version_id, model_version_id, settings));
    }
    Ok(Checked { subject_key, goal_config: goal_config(req)?, variants })
}

/// Creates a test (a draft).
pub async fn create(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    req: CreateExperimentRequest,
) -> AppResult<Experiment> {
    let name = check_name("name", &req.name, 200)?;
    check_design(req.baseline_rate, req.minimum_effect, req.alpha, req.power)?;
    let shares: Vec<u32> = req.variants.iter().map(|v| v.share).collect();
    check_shares(&shares)?;
    let agent_tools = match (req.kind, req.agent_id) {
        (SubjectKind::Agent, Some(id)) => {
            let agent = crate::agents::service::get(state, &tenant, crate::agents::model::AgentId(id))
                .await
                .map_err(|_| AppError::validation("agent_id", format!("the bot has no agent {id}")))?;
            if agent.bot_id != Some(bot) {
                return Err(AppError::validation("agent_id", format!("the bot has no agent {id}")));
            }
            agent.tools.iter().map(|t| t.tool_id.0).collect()
        }
        _ => Vec::new(),
    };
    let t = tenant.clone();
    let id = state
        .db
        .write(move |tx| {
            let tenant = t;
            let checked = check_variants(tx, &tenant, bot, &req, &agent_tools)?;
            let config = checked.goal_config.to_string();
            let id = store::insert(
                tx,
                &tenant,
                &NewExperiment {
                    bot,
                    name: &name,
                    description: req.description.as_deref().map(str::trim).filter(|d| !d.is_empty()),
                    kind: req.kind.as_str(),
                    subject_key: &checked.subject_key,
                    unit: req.unit.as_str(),
                    goal: req.goal_metric.as_str(),
                    goal_config: &config,
                    baseline_rate: req.baseline_rate,
                    minimum_effect: req.minimum_effect,
                    alpha: req.alpha,
                    power: req.power,
                    auto_stop: req.auto_stop,
                },
            )?;
            for (i, (name, share, flow, model, settings)) in checked.variants.iter().enumerate() {
                store::insert_variant(
                    tx,
                    &tenant,
                    id,
                    &NewVariant {
                        position: i64::try_from(i).unwrap_or(0),
                        name,
                        share: *share,
                        flow_version_id: *flow,
                        model_version_id: *model,
                        settings: &settings.to_string(),
                    },
                )?;
            }
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "experiment.created", "ab_test", id.0)
                    .with_new(json!({ "bot_id": bot, "name": name, "kind": req.kind.as_str() })),
            )?;
            Ok(id)
        })
        .await?;
    get(state, tenant, id).await
}

fn view(row: ExperimentRow, variants: Vec<VariantRow>) -> Experiment {
    let shares: Vec<u32> = variants.iter().map(|v| v.share).collect();
    let sample_size = size_of(row.baseline_rate, row.minimum_effect, row.alpha, row.power, &shares);
    let kind = row.kind;
    let variants = variants
        .into_iter()
        .map(|v| {
            let missing = match kind {
                SubjectKind::Flow => v.flow_version_id.is_none(),
                SubjectKind::NluModel => v.model_version_id.is_none(),
                SubjectKind::Agent | SubjectKind::Knowledge => false,
            };
            Variant {
                id: v.id,
                is_control: v.position == 0,
                name: v.name,
                share: v.share,
                flow_version_id: v.flow_version_id,
                flow_version: v.flow_version,
                model_version_id: v.model_version_id,
                agent: (kind == SubjectKind::Agent)
                    .then(|| serde_json::from_value(v.settings.clone()).unwrap_or_default()),
                knowledge: (kind == SubjectKind::Knowledge)
                    .then(|| serde_json::from_value(v.settings.clone()).unwrap_or_default()),
                missing,
            }
        })
        .collect();
    let text = |k: &str| row.goal_config.get(k).and_then(Value::as_str).map(str::to_owned);
    Experiment {
        id: row.id,
        bot_id: row.bot_id,
        description: row.description.clone(),
        kind,
        flow_name: (kind == SubjectKind::Flow).then(|| row.subject_key.clone()),
        agent_id: if kind == SubjectKind::Agent { row.subject_key.parse().ok() } else { None },
        unit: row.unit,
        goal_metric: row.goal,
        goal_flow: text("flow"),
        goal_node: text("node"),
        goal_event: text("event"),
        baseline_rate: row.baseline_rate,
        minimum_effect: row.minimum_effect,
        alpha: row.alpha,
        power: row.power,
        auto_stop: row.auto_stop,
        status: row.status,
        winner_variant_id: row.winner_variant_id,
        decided_by: row.decided_by.clone(),
        promoted: row.promoted,
        total_units: row.total_units,
        sample_size,
        variants,
        started_at: row.started_at.clone(),
        ended_at: row.ended_at.clone(),
        created_at: row.created_at.clone(),
        updated_at: row.updated_at.clone(),
        name: row.name,
    }
}

fn load(conn: &Connection, tenant: &Tenant, id: ExperimentId) -> AppResult<(ExperimentRow, Vec<VariantRow>)> {
    let row = store::find(conn, tenant, id)?.ok_or_else(not_found)?;
    let variants = store::variants(conn, tenant.org_id(), id)?;
    Ok((row, variants))
}

/// One test.
pub async fn get(state: &AppState, tenant: Tenant, id: ExperimentId) -> AppResult<Experiment> {
    state
        .db
        .read(move |c| {
            let (row, variants) = load(c, &tenant, id)?;
            Ok(view(row, variants))
        })
        .await
}

/// The bot's tests, newest first.
pub async fn list(state: &AppState, tenant: Tenant, bot: BotId) -> AppResult<Vec<Experiment>> {
    state
        .db
        .read(move |c| {
            let rows = store::list(c, &tenant, bot)?;
            rows.into_iter()
                .map(|r| {
                    let variants = store::variants(c, tenant.org_id(), r.id)?;
                    Ok(view(r, variants))
                })
                .collect()
        })
        .await
}

/// Starts (or restarts after a stop) a test: 409 `experiment_running_on_subject`
/// when another test runs on the same subject, 409 `experiment_variant_missing`
/// when what a variant serves was deleted.
pub async fn start(state: &AppState, tenant: Tenant, id: ExperimentId) -> AppResult<Experiment> {
    if let Some(agent) = agent_of(state, &tenant, id).await? {
        crate::agents::service::get(state, &tenant, crate::agents::model::AgentId(agent)).await.map_err(|_| {
            AppError::new(ErrorCode::ExperimentVariantMissing, format!("agent {agent} of this test was deleted"))
                .with_details(json!({ "field": "agent_id" }))
        })?;
    }
    let t = tenant.clone();
    let bot = state
        .db
        .write(move |tx| {
            let (row, variants) = load(tx, &t, id)?;
            if !matches!(row.status, ExperimentStatus::Draft | ExperimentStatus::Stopped) {
                return Err(status_conflict(&row, "started"));
            }
            let shown = view(row.clone(), variants);
            if let Some((i, v)) = shown.variants.iter().enumerate().find(|(_, v)| v.missing) {
                let field = if row.kind == SubjectKind::Flow { "flow_version" } else { "model_version_id" };
                return Err(AppError::new(
                    ErrorCode::ExperimentVariantMissing,
                    format!("what variant `{}` serves was deleted; create the test again", v.name),
                )
                .with_details(json!({ "field": format!("variants[{i}].{field}"), "variant_id": v.id })));
            }
            if let Some(other) = store::running_on(tx, &t, row.bot_id, row.kind.as_str(), &row.subject_key)? {
                return Err(running_conflict(other));
            }
            store::set_status(tx, &t, id, ExperimentStatus::Running, Some(&now()), None)
                .map_err(|e| unique_to_conflict(e, &row))?;
            store::init_results(tx, t.org_id(), id)?;
            audit::record(tx, &AuditEntry::by(&t, "experiment.started", "ab_test", id.0))?;
            Ok(row.bot_id)
        })
        .await?;
    state.runtime.invalidate_bot(bot);
    get(state, tenant, id).await
}

fn running_conflict(other: ExperimentId) -> AppError {
    AppError::new(ErrorCode::ExperimentRunningOnSubject, format!("experiment {other} already runs on this subject"))
        .with_details(json!({ "experiment_id": other }))
}

/// The partial unique index refuses a second running test on a subject
/// (a race between two starts).
fn unique_to_conflict(e: rusqlite::Error, row: &ExperimentRow) -> AppError {
    if e.to_string().contains("UNIQUE") {
        AppError::new(ErrorCode::ExperimentRunningOnSubject, "another experiment already runs on this subject")
            .with_details(json!({ "subject_key": row.subject_key }))
    } else {
        e.into()
    }
}

async fn agent_of(state: &AppState, tenant: &Tenant, id: ExperimentId) -> AppResult<Option<i64>> {
    let t = tenant.clone();
    state
        .db
        .read(move |c| {
            let row = store::find(c, &t, id)?.ok_or_else(not_found)?;
            Ok((row.kind == SubjectKind::Agent).then(|| row.subject_key.parse().ok()).flatten())
        })
        .await
}

/// Stops a running test (its results stay; it may start again) or cancels
/// a test that has not ended (`cancel`).
pub async fn stop(state: &AppState, tenant: Tenant, id: ExperimentId, cancel: bool) -> AppResult<Experiment> {
    let t = tenant.clone();
    let bot = state
        .db
        .write(move |tx| {
            let row = store::find(tx, &t, id)?.ok_or_else(not_found)?;
            let (allowed, status, action) = if cancel {
                (
                    matches!(
                        row.status,
                        ExperimentStatus::Draft | ExperimentStatus::Running | ExperimentStatus::Stopped
                    ),
                    ExperimentStatus::Cancelled,
                    "cancelled",
                )
            } else {
                (row.status == ExperimentStatus::Running, ExperimentStatus::Stopped, "stopped")
            };
            if !allowed {
                return Err(status_conflict(&row, action));
            }
            store::set_status(tx, &t, id, status, None, Some(&now()))?;
            audit::record(tx, &AuditEntry::by(&t, &format!("experiment.{action}"), "ab_test", id.0))?;
            Ok(row.bot_id)
        })
        .await?;
    state.runtime.invalidate_bot(bot);
    get(state, tenant, id).await
}

/// Deletes a test that is not running.
pub async fn delete(state: &AppState, tenant: Tenant, id: ExperimentId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let row = store::find(tx, &tenant, id)?.ok_or_else(not_found)?;
            if row.status == ExperimentStatus::Running {
                return Err(status_conflict(&row, "deleted while running (stop it first)"));
            }
            store::delete(tx, &tenant, id)?;
            audit::record(tx, &AuditEntry::by(&tenant, "experiment.deleted", "ab_test", id.0))?;
            Ok(())
        })
        .await
}

fn arms(variants: &[VariantRow], results: &[ResultRow]) -> Vec<(Arm, ResultRow)> {
    variants
        .iter()
        .map(|v| {
            let r = results.iter().find(|r| r.variant_id == v.id).copied().unwrap_or(ResultRow {
                variant_id: v.id,
                units: 0,
                trials: 0,
                successes: 0,
                value_sum: 0.0,
            });
            let arm = Arm {
                trials: u64::try_from(r.trials).unwrap_or(0),
                successes: u64::try_from(r.successes).unwrap_or(0),
            };
            (arm, r)
        })
        .collect()
}

fn results_of(row: &ExperimentRow, variants: &[VariantRow], results: &[ResultRow]) -> ExperimentResults {
    let pairs = arms(variants, results);
    let list: Vec<Arm> = pairs.iter().map(|(a, _)| *a).collect();
    let tau = row.minimum_effect;
    let verdict = stats::verdict(&list, tau, row.alpha);
    let shares: Vec<u32> = variants.iter().map(|v| v.share).collect();
    let sample_size = size_of(row.baseline_rate, row.minimum_effect, row.alpha, row.power, &shares);
    let variant_results = variants
        .iter()
        .zip(&pairs)
        .map(|(v, (arm, r))| {
            let i = stats::rate_interval(*arm, tau, verdict.alpha_per_comparison);
            #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
            let mean_value = (row.goal == GoalMetric::Csat && r.trials > 0).then(|| r.value_sum / r.trials as f64);
            VariantResult {
                variant_id: v.id,
                name: v.name.clone(),
                share: v.share,
                units: r.units,
                trials: r.trials,
                successes: r.successes,
                rate: arm.rate(),
                interval: IntervalView { low: i.low, high: i.high },
                mean_value,
            }
        })
        .collect();
    let comparisons = variants
        .iter()
        .skip(1)
        .zip(&verdict.comparisons)
        .map(|(v, c)| ComparisonView {
            variant_id: v.id,
            difference: c.difference,
            interval: IntervalView { low: c.interval.low, high: c.interval.high },
            p_value: c.p_value,
            significant: c.significant,
        })
        .collect();
    #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let progress = row.total_units as f64 / sample_size.total.max(1) as f64;
    ExperimentResults {
        experiment_id: row.id,
        status: row.status,
        goal_metric: row.goal,
        alpha: row.alpha,
        alpha_per_comparison: verdict.alpha_per_comparison,
        method: "msprt".to_owned(),
        variants: variant_results,
        comparisons,
        leader_variant_id: verdict.winner.and_then(|i| variants.get(i)).map(|v| v.id),
        winner_variant_id: row.winner_variant_id,
        sample_size,
        progress,
    }
}

/// A test's results: per variant rate and interval, per treatment the
/// comparison with the control.
pub async fn results(state: &AppState, tenant: Tenant, id: ExperimentId) -> AppResult<ExperimentResults> {
    state
        .db
        .read(move |c| {
            let (row, variants) = load(c, &tenant, id)?;
            let results = store::results(c, tenant.org_id(), id)?;
            Ok(results_of(&row, &variants, &results))
        })
        .await
}

/// Declares a winner by hand (a running or stopped test) and, unless
/// `promote` is false, makes it live.
pub async fn declare(state: &AppState, tenant: Tenant, id: ExperimentId, req: DeclareRequest) -> AppResult<Experiment> {
    let variant =
        VariantId(req.variant_id.ok_or_else(|| AppError::validation("variant_id", "required: the winning variant"))?);
    finish(state, &tenant, id, variant, "manual", req.promote.unwrap_or(true)).await?;
    get(state, tenant, id).await
}

/// Ends a test with `winner` and promotes it when asked.
async fn finish(
    state: &AppState,
    tenant: &Tenant,
    id: ExperimentId,
    winner: VariantId,
    by: &'static str,
    promote: bool,
) -> AppResult<()> {
    let t = tenant.clone();
    let (row, chosen) = state
        .db
        .write(move |tx| {
            let (row, variants) = load(tx, &t, id)?;
            if !matches!(row.status, ExperimentStatus::Running | ExperimentStatus::Stopped) {
                return Err(status_conflict(&row, "decided"));
            }
            let chosen = variants.into_iter().find(|v| v.id == winner).ok_or_else(|| {
                AppError::validation("variant_id", format!("variant {winner} is not a variant of this test"))
            })?;
            store::declare(tx, &t, id, winner, by, &now())?;
            audit::record(
                tx,
                &AuditEntry::by(&t, "experiment.decided", "ab_test", id.0)
                    .with_new(json!({ "winner_variant_id": winner, "decided_by": by })),
            )?;
            Ok((row, chosen))
        })
        .await?;
    state.runtime.invalidate_bot(row.bot_id);
    if promote {
        promote_winner(state, tenant, &row, &chosen).await?;
        let t = tenant.clone();
        state.db.write(move |tx| Ok(store::set_promoted(tx, &t, id)?)).await?;
    }
    Ok(())
}

/// Makes the winning variant live: publishes its flow version, activates
/// its model version, or writes its configuration into the agent.
/// Knowledge settings have no bot-level home to be written to; the winner
/// is recorded and the flows' knowledge nodes keep their own settings.
async fn promote_winner(state: &AppState, tenant: &Tenant, row: &ExperimentRow, v: &VariantRow) -> AppResult<()> {
    match row.kind {
        SubjectKind::Flow => {
            let version = v.flow_version.ok_or_else(|| {
                AppError::new(ErrorCode::ExperimentVariantMissing, "the winning flow version was deleted")
            })?;
            let req = crate::flows::model::PublishRequest {
                version: Some(version),
                message: Some(format!("Winner of experiment {}: {}", row.id, v.name)),
            };
            crate::flows::service::publish(state, tenant.clone(), row.bot_id, row.subject_key.clone(), req).await?;
        }
        SubjectKind::NluModel => {
            let version = v.model_version_id.ok_or_else(|| {
                AppError::new(ErrorCode::ExperimentVariantMissing, "the winning model version was deleted")
            })?;
            crate::nlu::train::activate(state, tenant.clone(), row.bot_id, crate::nlu::model::ModelVersionId(version))
                .await?;
        }
        SubjectKind::Agent => {
            let config: AgentVariant = serde_json::from_value(v.settings.clone()).unwrap_or_default();
            let agent_id = crate::agents::model::AgentId(row.subject_key.parse().unwrap_or(0));
            let agent = crate::agents::service::get(state, tenant, agent_id).await?;
            let tools = config.tool_ids.as_ref().map(|ids| {
                agent
                    .tools
                    .iter()
                    .filter(|t| ids.contains(&t.tool_id.0))
                    .map(|t| crate::agents::model::AgentToolRequest {
                        tool_id: t.tool_id,
                        priority: Some(t.priority),
                        requires_approval: t.requires_approval,
                    })
                    .collect()
            });
            let req = crate::agents::model::UpdateAgentRequest {
                name: None,
                instructions: config.instructions.clone(),
                provider_id: None,
                model: config.model.clone().map(Some),
                temperature: config.temperature.map(Some),
                max_tokens: None,
                max_steps: None,
                conversation_token_budget: None,
                conversation_cost_budget_micros: None,
                tools,
                knowledge_base_ids: None,
                is_active: None,
            };
            crate::agents::service::update(state, tenant, agent_id, req).await?;
        }
        SubjectKind::Knowledge => {}
    }
    Ok(())
}

/// After goal facts of running tests were stored: a test with auto-stop
/// whose sequential test has decided ends with its winner promoted.
pub async fn check_auto_stop(state: &AppState, tenant: &Tenant, ids: &[ExperimentId]) {
    for &id in ids {
        let t = tenant.clone();
        let decided = state
            .db
            .read(move |c| {
                let Some(row) = store::find(c, &t, id)? else { return Ok(None) };
                if row.status != ExperimentStatus::Running || !row.auto_stop {
                    return Ok(None);
                }
                let variants = store::variants(c, t.org_id(), id)?;
                let results = store::results(c, t.org_id(), id)?;
                let r = results_of(&row, &variants, &results);
                Ok(r.leader_variant_id)
            })
            .await;
        match decided {
            Ok(Some(winner)) => {
                if let Err(e) = finish(state, tenant, id, winner, "auto", true).await {
                    tracing::warn!(experiment = id.0, error = ?e, "auto-stop: the winner could not be promoted");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(experiment = id.0, error = ?e, "auto-stop check failed"),
        }
    }
}

/// A conversion reported for a conversation: counts for every running test
/// of its bot whose goal is this event; then the auto-stop is checked.
pub async fn conversion(
    state: &AppState,
    tenant: Tenant,
    conversation: i64,
    req: ConversionRequest,
) -> AppResult<ConversionResponse> {
    let event = check_name("event", &req.event, 100)?;
    let org = tenant.org_id();
    let ids = state
        .db
        .write(move |tx| {
            let (bot, channel, user) = store::conversation_identity(tx, org, conversation)?
                .ok_or_else(|| AppError::new(ErrorCode::ConversationNotFound, "no such conversation"))?;
            let mut counted = Vec::new();
            for row in store::running(tx, org, bot)? {
                if row.goal != GoalMetric::Conversion
                    || row.goal_config.get("event").and_then(Value::as_str) != Some(event.as_str())
                {
                    continue;
                }
                let key = runtime::unit_key(row.unit, conversation, &channel, &user);
                if store::apply_event(tx, org, row.id, row.goal, &key, &UnitEvent::Converted)? {
                    counted.push(row.id);
                }
            }
            Ok(counted)
        })
        .await?;
    check_auto_stop(state, &tenant, &ids).await;
    Ok(ConversionResponse { experiment_ids: ids })
}

/// A vote on a bot answer, inside the vote's transaction: counts for the
/// running tests of the conversation's bot with a feedback goal; returns
/// the tests it counted for.
pub fn record_feedback(tx: &Connection, tenant: &Tenant, conversation: i64, up: bool) -> AppResult<Vec<ExperimentId>> {
    let org = tenant.org_id();
    let Some((bot, channel, user)) = store::conversation_identity(tx, org, conversation)? else {
        return Ok(Vec::new());
    };
    let mut counted = Vec::new();
    for row in store::running(tx, org, bot)? {
        if row.goal != GoalMetric::Feedback {
            continue;
        }
        let key = runtime::unit_key(row.unit, conversation, &channel, &user);
        if store::apply_event(tx, org, row.id, row.goal, &key, &UnitEvent::Feedback(up))? {
            counted.push(row.id);
        }
    }
    Ok(counted)
}
