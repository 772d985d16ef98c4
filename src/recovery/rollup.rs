//! The `recovery.rollup` job (every [`PERIOD`]): folds the channels'
//! delivery statuses into recovery messages and rewrites every
//! organization's daily `recovery_analytics` per campaign — sent,
//! delivered, opened, clicked, converted, recovered revenue, rates, cost
//! (`recovery.message_costs` per sent message) and ROI. The dashboard and
//! the CSV read these rollups.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::store;
use crate::app::AppState;
use crate::error::AppResult;
use crate::jobs::{JobContext, JobError, JobHandler};

/// The job kind.
pub const KIND: &str = "recovery.rollup";
/// How often the scheduler queues it.
pub const PERIOD: Duration = Duration::from_secs(300);

/// The `recovery.rollup` job.
pub struct RollupJob;

impl JobHandler for RollupJob {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(async move {
            let orgs = run(&ctx.state).await?;
            Ok(json!({ "organizations": orgs }))
        })
    }
}

/// Rolls up every organization with campaigns, one write transaction each; answers how many.
pub async fn run(state: &AppState) -> AppResult<usize> {
    let costs = serde_json::to_string(&state.config.recovery.message_costs).unwrap_or_else(|_| "{}".to_owned());
    let orgs = state.db.read(|c| Ok(store::orgs_with_campaigns(c)?)).await?;
    for org in &orgs {
        roll_up_with(state, *org, costs.clone()).await?;
    }
    Ok(orgs.len())
}

/// Rolls up one organization now (the retention job, before it archives recovery messages).
pub async fn roll_up_org(state: &AppState, org: crate::ids::OrgId) -> AppResult<()> {
    let costs = serde_json::to_string(&state.config.recovery.message_costs).unwrap_or_else(|_| "{}".to_owned());
    roll_up_with(state, org, costs).await
}

async fn roll_up_with(state: &AppState, org: crate::ids::OrgId, costs: String) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            store::sync_statuses(tx, org)?;
            store::rebuild_rollups(tx, org, &costs)?;
            Ok(())
        })
        .await
}
