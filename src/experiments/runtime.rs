//! What the conversation runtime needs of experiments: the bot's running
//! tests (read with the bot's program, one indexed read, cached with it and
//! dropped when a test starts or ends), the variant a conversation gets,
//! and the goal facts of a turn, written in the turn's transaction.

use std::sync::Arc;

use rusqlite::Connection;
use serde_json::Value;

use super::assign;
use super::model::{AgentVariant, ExperimentId, GoalMetric, KnowledgeVariant, SubjectKind, Unit, UnitEvent, VariantId};
use super::store;
use crate::error::AppResult;
use crate::flows::engine::Assignment;
use crate::ids::{BotId, OrgId};

/// A variant as the runtime serves it.
#[derive(Debug, Clone)]
pub struct ServedVariant {
    pub id: VariantId,
    /// `flow` tests: the version number of the tested flow.
    pub flow_version: Option<i64>,
    pub model_version_id: Option<i64>,
    pub agent: Option<AgentVariant>,
    pub knowledge: Option<KnowledgeVariant>,
}

/// A running test.
#[derive(Debug, Clone)]
pub struct Running {
    pub id: ExperimentId,
    pub kind: SubjectKind,
    pub subject_key: String,
    pub unit: Unit,
    pub goal: GoalMetric,
    /// `goal_node` goals: (flow, node).
    pub goal_node: Option<(String, String)>,
    pub auto_stop: bool,
    pub shares: Vec<u32>,
    pub variants: Vec<ServedVariant>,
}

/// The bot's running tests.
pub fn load_running(conn: &Connection, org: OrgId, bot: BotId) -> AppResult<Vec<Arc<Running>>> {
    let mut out = Vec::new();
    for row in store::running(conn, org, bot)? {
        let variants = store::variants(conn, org, row.id)?;
        let text = |k: &str| row.goal_config.get(k).and_then(Value::as_str).map(str::to_owned);
        let goal_node = text("flow").zip(text("node"));
        out.push(Arc::new(Running {
            id: row.id,
            kind: row.kind,
            subject_key: row.subject_key.clone(),
            unit: row.unit,
            goal: row.goal,
            goal_node,
            auto_stop: row.auto_stop,
            shares: variants.iter().map(|v| v.share).collect(),
            variants: variants
                .into_iter()
                .map(|v| ServedVariant {
                    id: v.id,
                    flow_version: v.flow_version,
                    model_version_id: v.model_version_id,
                    agent: (row.kind == SubjectKind::Agent)
                        .then(|| serde_json::from_value(v.settings.clone()).unwrap_or_default()),
                    knowledge: (row.kind == SubjectKind::Knowledge)
                        .then(|| serde_json::from_value(v.settings).unwrap_or_default()),
                })
                .collect(),
        }));
    }
    Ok(out)
}

/// The unit key of a conversation under `unit`.
#[must_use]
pub fn unit_key(unit: Unit, conversation: i64, channel: &str, external_user_id: &str) -> String {
    match unit {
        Unit::Conversation => assign::conversation_key(conversation),
        Unit::Contact => assign::contact_key(channel, external_user_id),
    }
}

/// What one conversation is served by the running tests it is in.
#[derive(Debug, Clone, Default)]
pub struct Served {
    /// Flow versions to run instead of the published ones: (flow, version).
    pub flows: Vec<(String, i64)>,
    pub model_version: Option<i64>,
    /// Per agent id, the configuration to use.
    pub agents: Vec<(i64, AgentVariant)>,
    pub knowledge: Option<KnowledgeVariant>,
    /// (test, its variant for this conversation, the unit key).
    pub tests: Vec<(Arc<Running>, VariantId, String)>,
}

impl Served {
    /// Whether the conversation is in no running test.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tests.is_empty()
    }

    /// The configuration a variant gives this agent, if any.
    #[must_use]
    pub fn agent(&self, agent_id: i64) -> Option<&AgentVariant> {
        self.agents.iter().find(|(id, _)| *id == agent_id).map(|(_, a)| a)
    }
}

/// Finds the conversation's variant in every running test: the one its
/// state remembers, else the unit's hash bucket (new units are returned to
/// be stored). `assign_new`: whether new units may be assigned (only when
/// the engine runs a turn).
pub fn serve(
    running: &[Arc<Running>],
    assigned: &mut Vec<Assignment>,
    conversation: i64,
    channel: &str,
    external_user_id: &str,
    assign_new: bool,
) -> (Served, Vec<(ExperimentId, GoalMetric, VariantId, String)>) {
    let mut served = Served::default();
    let mut new_units = Vec::new();
    for test in running {
        let key = unit_key(test.unit, conversation, channel, external_user_id);
        let remembered = assigned
            .iter()
            .find(|a| a.experiment == test.id.0)
            .and_then(|a| test.variants.iter().find(|v| v.id.0 == a.variant));
        let variant = match remembered {
            Some(v) => v,
            None if assign_new => {
                let i = assign::variant_of(test.id.0, &key, &test.shares);
                let Some(v) = test.variants.get(i) else { continue };
                assigned.retain(|a| a.experiment != test.id.0);
                assigned.push(Assignment { experiment: test.id.0, variant: v.id.0 });
                new_units.push((test.id, test.goal, v.id, key.clone()));
                v
            }
            None => continue,
        };
        match test.kind {
            SubjectKind::Flow => {
                if let Some(n) = variant.flow_version {
                    served.flows.push((test.subject_key.clone(), n));
                }
            }
            SubjectKind::NluModel => served.model_version = variant.model_version_id,
            SubjectKind::Agent => {
                if let (Ok(id), Some(a)) = (test.subject_key.parse::<i64>(), &variant.agent) {
                    served.agents.push((id, a.clone()));
                }
            }
            SubjectKind::Knowledge => served.knowledge.clone_from(&variant.knowledge),
        }
        served.tests.push((test.clone(), variant.id, key));
    }
    (served, new_units)
}

/// What a turn did towards the goals of the conversation's tests.
#[derive(Debug, Clone, Default)]
pub struct TurnFacts {
    /// New units: (test, goal, variant, unit key).
    pub units: Vec<(ExperimentId, GoalMetric, VariantId, String)>,
    /// (test, goal, unit key, event).
    pub events: Vec<(ExperimentId, GoalMetric, String, UnitEvent)>,
}

impl TurnFacts {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.units.is_empty() && self.events.is_empty()
    }

    /// The tests the facts touch that stop by themselves.
    #[must_use]
    pub fn auto_stop_tests(&self, served: &Served) -> Vec<ExperimentId> {
        let mut ids: Vec<ExperimentId> = served
            .tests
            .iter()
            .filter(|(t, _, _)| t.auto_stop)
            .map(|(t, _, _)| t.id)
            .filter(|id| self.units.iter().any(|u| u.0 == *id) || self.events.iter().any(|e| e.0 == *id))
            .collect();
        ids.dedup();
        ids
    }
}

/// What happened in a turn, as the runtime saw it.
#[derive(Debug, Clone, Default)]
pub struct TurnOutcome<'a> {
    pub handed_off: bool,
    /// Closed without a hand-off.
    pub resolved: bool,
    pub csat: Option<i64>,
    pub visits: &'a [crate::flows::engine::Visit],
}

/// The goal events of a turn for each test the conversation is in.
#[must_use]
pub fn events(served: &Served, outcome: &TurnOutcome<'_>) -> Vec<(ExperimentId, GoalMetric, String, UnitEvent)> {
    let mut out = Vec::new();
    for (test, _, key) in &served.tests {
        let mut push = |e: UnitEvent| out.push((test.id, test.goal, key.clone(), e));
        if outcome.handed_off {
            push(UnitEvent::HandedOff);
        }
        if outcome.resolved {
            push(UnitEvent::Resolved);
        }
        if let Some(c) = outcome.csat {
            push(UnitEvent::Csat(c));
        }
        if let Some((flow, node)) = &test.goal_node
            && outcome.visits.iter().any(|v| &v.flow == flow && &v.node == node)
        {
            push(UnitEvent::GoalReached);
        }
    }
    out
}

/// Writes a turn's facts (in the turn's transaction).
pub fn write(tx: &Connection, org: OrgId, conversation: i64, facts: &TurnFacts) -> AppResult<()> {
    for (test, goal, variant, key) in &facts.units {
        store::insert_unit(tx, org, *test, *goal, *variant, key, conversation)?;
    }
    for (test, goal, key, event) in &facts.events {
        store::apply_event(tx, org, *test, *goal, key, event)?;
    }
    Ok(())
}
