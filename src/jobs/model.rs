//! Job rows and their API form.

use rusqlite::Row;
use serde::Serialize;
use serde_json::Value;

use crate::db::{FromRow, json_column};
use crate::ids::{JobId, OrgId};

/// A job as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Job {
    pub id: JobId,
    pub kind: String,
    /// queued, running, succeeded, failed, dead or cancelled.
    pub status: String,
    pub priority: i64,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: String,
    /// Kind-specific progress, e.g. `{"done": 120, "total": 400}`.
    #[schema(value_type = Object)]
    pub progress: Value,
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    #[serde(skip)]
    pub org_id: Option<OrgId>,
    #[serde(skip)]
    pub payload: Value,
}

impl FromRow for Job {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Job {
            id: row.get("id")?,
            org_id: row.get("organization_id")?,
            kind: row.get("kind")?,
            payload: json_column(row, "payload")?.unwrap_or(Value::Null),
            status: row.get("status")?,
            priority: row.get("priority")?,
            attempts: row.get("attempts")?,
            max_attempts: row.get("max_attempts")?,
            run_at: row.get("run_at")?,
            progress: json_column(row, "progress")?.unwrap_or_else(|| Value::Object(serde_json::Map::new())),
            result: json_column(row, "result")?,
            last_error: row.get("last_error")?,
            created_at: row.get("created_at")?,
            started_at: row.get("started_at")?,
            finished_at: row.get("finished_at")?,
        })
    }
}

/// A job a worker holds.
#[derive(Debug, Clone)]
pub struct LeasedJob {
    pub id: JobId,
    pub org_id: Option<OrgId>,
    pub kind: String,
    pub payload: Value,
    pub attempts: i64,
    pub max_attempts: i64,
}

impl FromRow for LeasedJob {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(LeasedJob {
            id: row.get("id")?,
            org_id: row.get("organization_id")?,
            kind: row.get("kind")?,
            payload: json_column(row, "payload")?.unwrap_or(Value::Null),
            attempts: row.get("attempts")?,
            max_attempts: row.get("max_attempts")?,
        })
    }
}
