//! Delivery of a finished run: an email through the queue (`email.send`)
//! and the organization webhook event `agent.run.completed`, both written in
//! the transaction that ends the run, so a run is delivered exactly when its
//! end is committed (and once: the run ends once).

use rusqlite::Connection;
use serde_json::json;

use super::model::{AutonomousAgent, AutonomousRunId};
use super::store;
use crate::error::AppResult;
use crate::http::Tenant;
use crate::notify::{self, EmailKind, NewEmail};
use crate::webhooks::{Event, emit};

/// Longest result text an email carries.
const EMAIL_TEXT_CHARS: usize = 20_000;

/// Queues the run's deliveries; call in the transaction that ended it.
pub fn deliver(tx: &Connection, tenant: &Tenant, agent: &AutonomousAgent, id: AutonomousRunId) -> AppResult<()> {
    let Some(run) = store::find_run(tx, tenant, id)? else { return Ok(()) };
    if run.status == "cancelled" {
        return Ok(());
    }
    let text = run.result.as_ref().and_then(|r| r.get("text")).and_then(|t| t.as_str()).unwrap_or_default().to_owned();
    if agent.deliver_webhook {
        emit(
            tx,
            tenant.org_id(),
            Event::AgentRunCompleted,
            json!({ "autonomous_agent_id": agent.id, "agent_name": agent.name, "run_id": run.id,
                    "status": run.status, "stop_reason": run.stop_reason, "triggered_by": run.triggered_by,
                    "result": text, "error": run.error, "tokens_used": run.tokens_used,
                    "cost_micros": run.cost_micros, "completed_steps": run.completed_steps,
                    "total_steps": run.total_steps }),
        )?;
    }
    if let Some(to) = &agent.deliver_email {
        let branding = crate::orgs::whitelabel::branding(tx, tenant)?;
        let (subject, body) = if run.status == "completed" {
            (
                format!("{}: run {} completed", agent.name, run.id.0),
                vec![format!("Goal: {}", run.goal), text.chars().take(EMAIL_TEXT_CHARS).collect::<String>()],
            )
        } else {
            (
                format!("{}: run {} failed", agent.name, run.id.0),
                vec![
                    format!("Goal: {}", run.goal),
                    format!(
                        "The run stopped ({}): {}",
                        run.stop_reason.as_deref().unwrap_or("error"),
                        run.error.as_deref().unwrap_or("no detail")
                    ),
                ],
            )
        };
        let content = notify::templates::notice(&branding, subject, &body);
        notify::queue_in(
            tx,
            &NewEmail { org_id: Some(tenant.org_id()), user_id: None, kind: EmailKind::Notification, to, content },
        )?;
    }
    Ok(())
}
