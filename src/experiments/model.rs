//! Experiments as the API shows them, and their rows.

use rusqlite::Row;
use serde::{Deserialize, Serialize};

use crate::db::FromRow;
use crate::ids::BotId;

crate::id_type!(
    /// A row of `ab_tests`.
    ExperimentId
);

crate::id_type!(
    /// A row of `ab_test_variants`.
    VariantId
);

/// What the variants of a test differ in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// Versions of one flow.
    Flow,
    /// NLU model versions of the bot.
    NluModel,
    /// Configurations (model, prompt, tools) of one agent of the bot.
    Agent,
    /// Settings of the bot's knowledge answers.
    Knowledge,
}

impl SubjectKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Flow => "flow",
            SubjectKind::NluModel => "nlu_model",
            SubjectKind::Agent => "agent",
            SubjectKind::Knowledge => "knowledge",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<SubjectKind> {
        Some(match s {
            "flow" => SubjectKind::Flow,
            "nlu_model" => SubjectKind::NluModel,
            "agent" => SubjectKind::Agent,
            "knowledge" => SubjectKind::Knowledge,
            _ => return None,
        })
    }
}

/// What a unit of randomisation is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Each conversation is assigned on its own.
    #[default]
    Conversation,
    /// All conversations of one end user (channel + end-user id) share a variant.
    Contact,
}

impl Unit {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Conversation => "conversation",
            Unit::Contact => "contact",
        }
    }
}

/// What counts as a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GoalMetric {
    /// The conversation closed without a hand-off to a human (over all units).
    Resolution,
    /// A CSAT rating of 4 or 5 (over the units that rated).
    Csat,
    /// The conversation reached `goal_node` of `goal_flow` (over all units).
    GoalNode,
    /// A conversion event named `goal_event` was reported (over all units).
    Conversion,
    /// More thumbs up than down on the bot's answers (over the units that voted).
    Feedback,
}

impl GoalMetric {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            GoalMetric::Resolution => "resolution",
            GoalMetric::Csat => "csat",
            GoalMetric::GoalNode => "goal_node",
            GoalMetric::Conversion => "conversion",
            GoalMetric::Feedback => "feedback",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<GoalMetric> {
        Some(match s {
            "resolution" => GoalMetric::Resolution,
            "csat" => GoalMetric::Csat,
            "goal_node" => GoalMetric::GoalNode,
            "conversion" => GoalMetric::Conversion,
            "feedback" => GoalMetric::Feedback,
            _ => return None,
        })
    }
}

/// Where a test is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExperimentStatus {
    Draft,
    Running,
    /// Stopped by hand: traffic is served as without the test; it may start again.
    Stopped,
    /// A winner was declared (by hand or by the auto-stop).
    Completed,
    Cancelled,
}

impl ExperimentStatus {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ExperimentStatus::Draft => "draft",
            ExperimentStatus::Running => "running",
            ExperimentStatus::Stopped => "stopped",
            ExperimentStatus::Completed => "completed",
            ExperimentStatus::Cancelled => "cancelled",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> ExperimentStatus {
        match s {
            "running" => ExperimentStatus::Running,
            "stopped" => ExperimentStatus::Stopped,
            "completed" => ExperimentStatus::Completed,
            "cancelled" => ExperimentStatus::Cancelled,
            _ => ExperimentStatus::Draft,
        }
    }
}

/// An agent configuration a variant serves instead of the agent's own.
/// Unset fields keep the agent's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentVariant {
    /// The model name (e.g. `gpt-4o-mini`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The system prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// 0–2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// The agent's tools this variant may use (a subset of the agent's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_ids: Option<Vec<i64>>,
}

/// How knowledge answers are made in a variant. Unset fields keep the defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeVariant {
    /// Passages given to the answer (1–20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<usize>,
    /// The least relevance a passage needs (0–1); a node's own `min_score` wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_score: Option<f64>,
    /// `generative` (the organization's LLM when it has one) or `extractive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<KnowledgeMode>,
}

/// How a knowledge answer is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KnowledgeMode {
    Generative,
    Extractive,
}

/// A variant of a new test.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantRequest {
    /// 1–100 characters, unique in the test.
    pub name: String,
    /// Percent of the traffic (1–99); a test's shares add to 100.
    pub share: u32,
    /// `flow` tests: the version number of the flow this variant runs.
    #[serde(default)]
    pub flow_version: Option<i64>,
    /// `nlu_model` tests: the model version this variant parses with.
    #[serde(default)]
    pub model_version_id: Option<i64>,
    /// `agent` tests: the configuration (empty: the agent as it is).
    #[serde(default)]
    pub agent: Option<AgentVariant>,
    /// `knowledge` tests: the answer settings (empty: the defaults).
    #[serde(default)]
    pub knowledge: Option<KnowledgeVariant>,
}

/// `POST /bots/{bot_id}/experiments`. The first variant is the control.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateExperimentRequest {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub kind: SubjectKind,
    /// `flow` tests: the flow whose versions are compared.
    #[serde(default)]
    pub flow_name: Option<String>,
    /// `agent` tests: the agent whose configurations are compared.
    #[serde(default)]
    pub agent_id: Option<i64>,
    #[serde(default)]
    pub unit: Unit,
    pub goal_metric: GoalMetric,
    /// `goal_node` goals: the flow and node to reach.
    #[serde(default)]
    pub goal_flow: Option<String>,
    #[serde(default)]
    pub goal_node: Option<String>,
    /// `conversion` goals: the event name reported through
    /// `POST /conversations/{conversation_id}/conversions`.
    #[serde(default)]
    pub goal_event: Option<String>,
    /// The control's expected success rate (0–1, exclusive), for the sample size.
    pub baseline_rate: f64,
    /// The smallest absolute change of the rate worth finding (0–1, exclusive).
    pub minimum_effect: f64,
    /// False-positive level, 0.001–0.2 (default 0.05).
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Chance of finding an effect of `minimum_effect`, 0.5–0.99 (default 0.8).
    #[serde(default = "default_power")]
    pub power: f64,
    /// Stop and promote the winner as soon as the test decides.
    #[serde(default)]
    pub auto_stop: bool,
    /// Two or more; the first is the control.
    pub variants: Vec<VariantRequest>,
}

fn default_alpha() -> f64 {
    0.05
}

fn default_power() -> f64 {
    0.8
}

/// `POST /bots/{bot_id}/experiments/sample-size`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SampleSizeRequest {
    pub baseline_rate: f64,
    pub minimum_effect: f64,
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    #[serde(default = "default_power")]
    pub power: f64,
    /// The variants' shares in percent (default 50/50).
    #[serde(default)]
    pub shares: Option<Vec<u32>>,
}

/// The minimum sample size of a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SampleSize {
    /// Units (with a goal outcome) each variant needs, fixed-horizon.
    pub per_variant: u64,
    /// Units the whole test needs so that its smallest variant gets `per_variant`.
    pub total: u64,
}

/// `POST /experiments/{experiment_id}/declare`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclareRequest {
    /// The winning variant.
    pub variant_id: Option<i64>,
    /// Make the winner live (publish the flow version, activate the model
    /// version, update the agent); default true.
    #[serde(default)]
    pub promote: Option<bool>,
}

/// `POST /conversations/{conversation_id}/conversions`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversionRequest {
    /// The event name a `conversion` goal waits for (1–100 characters).
    pub event: String,
}

/// What a conversion counted for.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConversionResponse {
    /// The running tests whose goal it counted for.
    pub experiment_ids: Vec<ExperimentId>,
}

/// A variant as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Variant {
    pub id: VariantId,
    pub name: String,
    pub share: u32,
    pub is_control: bool,
    /// `flow` tests: the `bot_flows` row and its version number.
    pub flow_version_id: Option<i64>,
    pub flow_version: Option<i64>,
    pub model_version_id: Option<i64>,
    pub agent: Option<AgentVariant>,
    pub knowledge: Option<KnowledgeVariant>,
    /// What it served was deleted: the test cannot start.
    pub missing: bool,
}

/// A test as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Experiment {
    pub id: ExperimentId,
    pub bot_id: BotId,
    pub name: String,
    pub description: Option<String>,
    pub kind: SubjectKind,
    pub flow_name: Option<String>,
    pub agent_id: Option<i64>,
    pub unit: Unit,
    pub goal_metric: GoalMetric,
    pub goal_flow: Option<String>,
    pub goal_node: Option<String>,
    pub goal_event: Option<String>,
    pub baseline_rate: f64,
    pub minimum_effect: f64,
    pub alpha: f64,
    pub power: f64,
    pub auto_stop: bool,
    pub status: ExperimentStatus,
    pub winner_variant_id: Option<VariantId>,
    /// `auto` or `manual`, once a winner is declared.
    pub decided_by: Option<String>,
    /// The winner was made live.
    pub promoted: bool,
    /// Units assigned so far.
    pub total_units: i64,
    pub sample_size: SampleSize,
    pub variants: Vec<Variant>,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// An interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IntervalView {
    pub low: f64,
    pub high: f64,
}

/// One variant's figures.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VariantResult {
    pub variant_id: VariantId,
    pub name: String,
    pub share: u32,
    pub units: i64,
    /// Units that count towards the goal (all units, or those that rated or voted).
    pub trials: i64,
    pub successes: i64,
    /// Successes / trials.
    pub rate: f64,
    /// Always-valid confidence interval of the rate at 1 − alpha.
    pub interval: IntervalView,
    /// `csat` goals: the mean rating.
    pub mean_value: Option<f64>,
}

/// A treatment against the control.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ComparisonView {
    pub variant_id: VariantId,
    /// Its rate minus the control's.
    pub difference: f64,
    /// Always-valid confidence interval of the difference.
    pub interval: IntervalView,
    /// Always-valid p-value (mSPRT).
    pub p_value: f64,
    pub significant: bool,
}

/// `GET /experiments/{experiment_id}/results`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExperimentResults {
    pub experiment_id: ExperimentId,
    pub status: ExperimentStatus,
    pub goal_metric: GoalMetric,
    pub alpha: f64,
    /// The level each comparison is tested at (alpha split over the treatments).
    pub alpha_per_comparison: f64,
    /// The method, for the record: `msprt`.
    pub method: String,
    pub variants: Vec<VariantResult>,
    pub comparisons: Vec<ComparisonView>,
    /// The variant the statistics pick now (declared or not).
    pub leader_variant_id: Option<VariantId>,
    pub winner_variant_id: Option<VariantId>,
    pub sample_size: SampleSize,
    /// Units assigned / the sample size's total.
    pub progress: f64,
}

/// A row of `ab_tests`.
#[derive(Debug, Clone)]
pub struct ExperimentRow {
    pub id: ExperimentId,
    pub bot_id: BotId,
    pub name: String,
    pub description: Option<String>,
    pub kind: SubjectKind,
    pub subject_key: String,
    pub unit: Unit,
    pub goal: GoalMetric,
    pub goal_config: serde_json::Value,
    pub baseline_rate: f64,
    pub minimum_effect: f64,
    pub alpha: f64,
    pub power: f64,
    pub auto_stop: bool,
    pub status: ExperimentStatus,
    pub winner_variant_id: Option<VariantId>,
    pub decided_by: Option<String>,
    pub promoted: bool,
    pub total_units: i64,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// The columns of [`ExperimentRow`].
pub const EXPERIMENT_COLUMNS: &str = "id, bot_id, name, description, subject_kind, subject_key, unit, goal_metric, \
     goal_config, baseline_rate, minimum_effect, alpha, power, auto_stop, status, winner_variant_id, decided_by, \
     promoted, total_requests, started_at, ended_at, created_at, updated_at";

impl FromRow for ExperimentRow {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let kind: String = row.get("subject_kind")?;
        let unit: String = row.get("unit")?;
        let goal: String = row.get("goal_metric")?;
        let status: String = row.get("status")?;
        let config: String = row.get("goal_config")?;
        Ok(ExperimentRow {
            id: row.get("id")?,
            bot_id: row.get("bot_id")?,
            name: row.get("name")?,
            description: row.get("description")?,
            kind: SubjectKind::parse(&kind).unwrap_or(SubjectKind::Flow),
            subject_key: row.get("subject_key")?,
            unit: if unit == "contact" { Unit::Contact } else { Unit::Conversation },
            goal: GoalMetric::parse(&goal).unwrap_or(GoalMetric::Resolution),
            goal_config: serde_json::from_str(&config).unwrap_or_default(),
            baseline_rate: row.get("baseline_rate")?,
            minimum_effect: row.get("minimum_effect")?,
            alpha: row.get("alpha")?,
            power: row.get("power")?,
            auto_stop: row.get("auto_stop")?,
            status: ExperimentStatus::parse(&status),
            winner_variant_id: row.get("winner_variant_id")?,
            decided_by: row.get("decided_by")?,
            promoted: row.get("promoted")?,
            total_units: row.get("total_requests")?,
            started_at: row.get("started_at")?,
            ended_at: row.get("ended_at")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// A row of `ab_test_variants`, with the flow version number it names.
#[derive(Debug, Clone)]
pub struct VariantRow {
    pub id: VariantId,
    pub position: i64,
    pub name: String,
    pub share: u32,
    pub flow_version_id: Option<i64>,
    pub flow_version: Option<i64>,
    pub model_version_id: Option<i64>,
    pub settings: serde_json::Value,
}

/// The columns of [`VariantRow`] (`v`: the variant, `f`: its flow version).
pub const VARIANT_COLUMNS: &str =
    "v.id, v.position, v.name, v.share, v.flow_version_id, f.version AS flow_version, v.model_version_id, v.settings";

impl FromRow for VariantRow {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let settings: String = row.get("settings")?;
        Ok(VariantRow {
            id: row.get("id")?,
            position: row.get("position")?,
            name: row.get("name")?,
            share: row.get("share")?,
            flow_version_id: row.get("flow_version_id")?,
            flow_version: row.get("flow_version")?,
            model_version_id: row.get("model_version_id")?,
            settings: serde_json::from_str(&settings).unwrap_or_default(),
        })
    }
}

/// A row of `ab_test_results`.
#[derive(Debug, Clone, Copy)]
pub struct ResultRow {
    pub variant_id: VariantId,
    pub units: i64,
    pub trials: i64,
    pub successes: i64,
    pub value_sum: f64,
}

impl FromRow for ResultRow {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(ResultRow {
            variant_id: row.get("variant_id")?,
            units: row.get("units")?,
            trials: row.get("trials")?,
            successes: row.get("successes")?,
            value_sum: row.get("value_sum")?,
        })
    }
}

/// What a unit did towards the goals (a row of `ab_test_units`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[allow(clippy::struct_excessive_bools, reason = "one flag per goal, as the table stores them")]
pub struct UnitOutcome {
    pub resolved: bool,
    pub handed_off: bool,
    pub csat: Option<i64>,
    pub goal_reached: bool,
    pub converted: bool,
    pub feedback_up: i64,
    pub feedback_down: i64,
}

impl UnitOutcome {
    /// (counts as a trial, counts as a success, value) under `goal`.
    #[must_use]
    pub fn score(&self, goal: GoalMetric) -> (bool, bool, f64) {
        match goal {
            GoalMetric::Resolution => (true, self.resolved && !self.handed_off, 0.0),
            #[allow(clippy::cast_precision_loss, reason = "a rating of 1–5")]
            GoalMetric::Csat => (self.csat.is_some(), self.csat.is_some_and(|c| c >= 4), self.csat.unwrap_or(0) as f64),
            GoalMetric::GoalNode => (true, self.goal_reached, 0.0),
            GoalMetric::Conversion => (true, self.converted, 0.0),
            GoalMetric::Feedback => {
                (self.feedback_up + self.feedback_down > 0, self.feedback_up > self.feedback_down, 0.0)
            }
        }
    }
}

/// Something a unit did.
#[derive(Debug, Clone, PartialEq)]
pub enum UnitEvent {
    /// The conversation went to a human.
    HandedOff,
    /// The conversation closed without a hand-off.
    Resolved,
    /// A CSAT rating (1–5).
    Csat(i64),
    /// The goal node was reached.
    GoalReached,
    /// A conversion event was reported.
    Converted,
    /// A vote on a bot answer (true: thumbs up).
    Feedback(bool),
}

impl UnitEvent {
    /// The outcome after the event.
    #[must_use]
    pub fn apply(&self, mut o: UnitOutcome) -> UnitOutcome {
        match self {
            UnitEvent::HandedOff => o.handed_off = true,
            UnitEvent::Resolved => o.resolved = true,
            UnitEvent::Csat(c) => o.csat = Some(*c),
            UnitEvent::GoalReached => o.goal_reached = true,
            UnitEvent::Converted => o.converted = true,
            UnitEvent::Feedback(true) => o.feedback_up += 1,
            UnitEvent::Feedback(false) => o.feedback_down += 1,
        }
        o
    }
}
