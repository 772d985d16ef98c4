//! Version types.

use rusqlite::Row;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::diff::Change;
use crate::db::{FromRow, json_column};
use crate::ids::{BranchId, UserId, VersionId};
use crate::permissions::Permission;

/// What can be versioned, with the table holding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityType {
    Bot,
    Flow,
    Agent,
    Workflow,
    Intent,
    Entity,
    KnowledgeBase,
    Orchestration,
    Tool,
    NluModel,
}

impl EntityType {
    pub const ALL: [EntityType; 10] = [
        EntityType::Bot,
        EntityType::Flow,
        EntityType::Agent,
        EntityType::Workflow,
        EntityType::Intent,
        EntityType::Entity,
        EntityType::KnowledgeBase,
        EntityType::Orchestration,
        EntityType::Tool,
        EntityType::NluModel,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::Bot => "bot",
            EntityType::Flow => "flow",
            EntityType::Agent => "agent",
            EntityType::Workflow => "workflow",
            EntityType::Intent => "intent",
            EntityType::Entity => "entity",
            EntityType::KnowledgeBase => "knowledge_base",
            EntityType::Orchestration => "orchestration",
            EntityType::Tool => "tool",
            EntityType::NluModel => "nlu_model",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<EntityType> {
        EntityType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The query telling whether an entity of this type exists in an
    /// organization (`?1` id, `?2` organization).
    #[must_use]
    pub fn exists_sql(self) -> &'static str {
        match self {
            EntityType::Bot => "SELECT EXISTS (SELECT 1 FROM bots WHERE id = ?1 AND organization_id = ?2)",
            EntityType::Flow => "SELECT EXISTS (SELECT 1 FROM bot_flows WHERE id = ?1 AND organization_id = ?2)",
            EntityType::Agent => "SELECT EXISTS (SELECT 1 FROM agents WHERE id = ?1 AND organization_id = ?2)",
            EntityType::Workflow => {
                "SELECT EXISTS (SELECT 1 FROM agent_workflows WHERE id = ?1 AND organization_id = ?2)"
            }
            EntityType::Intent => "SELECT EXISTS (SELECT 1 FROM intents WHERE id = ?1 AND organization_id = ?2)",
            EntityType::Entity => "SELECT EXISTS (SELECT 1 FROM entities WHERE id = ?1 AND organization_id = ?2)",
            EntityType::KnowledgeBase => {
                "SELECT EXISTS (SELECT 1 FROM knowledge_bases WHERE id = ?1 AND organization_id = ?2)"
            }
            EntityType::Orchestration => {
                "SELECT EXISTS (SELECT 1 FROM flow_orchestrations WHERE id = ?1 AND organization_id = ?2)"
            }
            EntityType::Tool => "SELECT EXISTS (SELECT 1 FROM tools WHERE id = ?1 AND organization_id = ?2)",
            EntityType::NluModel => {
                "SELECT EXISTS (SELECT 1 FROM model_versions WHERE id = ?1 AND organization_id = ?2)"
            }
        }
    }

    /// The permission reading this kind needs beyond `bots.read` (agents
    /// and knowledge have their own), and writing beyond `bots.write`.
    #[must_use]
    pub fn extra_permissions(self) -> Option<(Permission, Permission)> {
        match self {
            EntityType::Agent | EntityType::Workflow | EntityType::Tool => {
                Some((Permission::AgentsRead, Permission::AgentsWrite))
            }
            EntityType::KnowledgeBase => Some((Permission::KnowledgeRead, Permission::KnowledgeWrite)),
            _ => None,
        }
    }
}

/// A version as listed (without its data).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Version {
    pub id: VersionId,
    pub entity_type: String,
    pub entity_id: i64,
    pub version_number: i64,
    pub branch_id: Option<BranchId>,
    pub branch: Option<String>,
    pub message: Option<String>,
    pub created_by: Option<UserId>,
    pub created_by_name: Option<String>,
    pub created_at: String,
    /// The snapshot (only when one version is fetched).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
}

impl FromRow for Version {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Version {
            id: row.get("id")?,
            entity_type: row.get("entity_type")?,
            entity_id: row.get("entity_id")?,
            version_number: row.get("version_number")?,
            branch_id: row.get("branch_id")?,
            branch: row.get("branch")?,
            message: row.get("commit_message")?,
            created_by: row.get("created_by")?,
            created_by_name: row.get("created_by_name")?,
            created_at: row.get("created_at")?,
            data: json_column(row, "data")?,
        })
    }
}

/// A line of versions of one entity.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Branch {
    pub id: BranchId,
    pub name: String,
    pub is_main: bool,
    pub base_version_id: Option<VersionId>,
    pub head_version_id: Option<VersionId>,
    pub head_version_number: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

impl FromRow for Branch {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Branch {
            id: row.get("id")?,
            name: row.get("branch_name")?,
            is_main: row.get("is_main")?,
            base_version_id: row.get("base_version_id")?,
            head_version_id: row.get("head_version_id")?,
            head_version_number: row.get("head_version_number")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// `POST /orgs/{org_id}/versions/{entity_type}/{entity_id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVersionRequest {
    /// The snapshot (any JSON document).
    #[schema(value_type = Object)]
    pub data: Value,
    #[serde(default)]
    pub message: Option<String>,
    /// The branch to commit to (default `main`, created on first use).
    #[serde(default)]
    pub branch: Option<String>,
}

/// `POST /versions/{version_id}/rollback` and `POST /branches/{branch_id}/merge`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitMessage {
    #[serde(default)]
    pub message: Option<String>,
}

/// `POST /orgs/{org_id}/versions/{entity_type}/{entity_id}/branches`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBranchRequest {
    #[schema(example = "draft")]
    pub name: String,
    /// Where the branch starts (default: the head of main).
    #[serde(default)]
    pub from_version_id: Option<VersionId>,
}

/// Query of the version list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    /// Only versions of this branch.
    pub branch: Option<String>,
}

/// Query of a diff.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// The version to compare with (default: the previous version of the entity).
    pub against: Option<i64>,
}

/// The changes from one version to another.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionDiff {
    pub from_version_id: Option<VersionId>,
    pub from_version_number: Option<i64>,
    pub to_version_id: VersionId,
    pub to_version_number: i64,
    pub changes: Vec<Change>,
}

/// The path of an entity's versions.
#[derive(Debug, Deserialize)]
pub struct EntityPath {
    pub entity_type: String,
    pub entity_id: i64,
}
