//! `database`: one read-only SQL query against an external database the
//! organization configures: an `SQLite` file (`engine` `sqlite`, the
//! default, below) or a PostgreSQL database (`engine` `postgres`: see
//! [`super::postgres`]).
//!
//! `sqlite`: The file must lie in a directory the operator
//! lists in `tools.sqlite_dirs` (never the server's own data file). The
//! query's named parameters (`:city`) are bound from the arguments of the
//! same name — never spliced into the SQL.
//!
//! Read-only by four locks: the file is opened `SQLITE_OPEN_READ_ONLY`,
//! `PRAGMA query_only` is on, an authorizer allows only `SELECT`, reads,
//! functions and recursive CTEs (so `INSERT`, `ATTACH`, every `PRAGMA`,
//! transactions and schema changes are refused while the statement is
//! prepared), and the statement must be read-only by `sqlite3_stmt_readonly`.
//! A progress handler stops the query at the tool's deadline; rows beyond
//! `max_rows` are not read.

use std::path::{Path, PathBuf};
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::future::BoxFuture;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde_json::{Map, Value, json};

use super::{ToolCall, ToolError, ToolType};
use crate::app::AppState;
use crate::config::Config;
use crate::error::{AppError, ErrorCode};

/// Default and largest number of rows returned.
pub const DEFAULT_MAX_ROWS: u64 = 100;
pub const MAX_ROWS: u64 = 1000;
/// Longest query text.
const MAX_QUERY_CHARS: u64 = 10_000;

pub struct DatabaseTool;

fn config_error(field: &str, message: impl Into<String>) -> AppError {
    let message = message.into();
    AppError::new(ErrorCode::ToolConfigInvalid, format!("`{field}`: {message}")).with_details(json!({ "field": field }))
}

/// The file `raw` names, if it lies in an allowed directory and is not the data file.
fn allowed_path(config: &Config, raw: &str) -> Result<PathBuf, String> {
    if config.tools.sqlite_dirs.is_empty() {
        return Err("this server allows no database files (the operator sets `tools.sqlite_dirs`)".into());
    }
    let path = Path::new(raw);
    if !path.is_absolute() {
        return Err("an absolute path".into());
    }
    let real = path.canonicalize().map_err(|e| format!("cannot open {raw}: {e}"))?;
    if !real.is_file() {
        return Err(format!("{raw} is not a file"));
    }
    let data = config.data.canonicalize().unwrap_or_else(|_| config.data.clone());
    let data_name = data.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let real_name = real.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if real == data || (real.parent() == data.parent() && real_name.starts_with(&data_name)) {
        return Err("the server's own data file cannot be queried".into());
    }
    let inside = config
        .tools
        .sqlite_dirs
        .iter()
        .filter_map(|d| Path::new(d).canonicalize().ok())
        .any(|dir| real.starts_with(dir));
    if !inside {
        return Err(format!("{raw} is not in a directory listed in `tools.sqlite_dirs`"));
    }
    Ok(real)
}

/// Only what a read needs.
fn authorize(ctx: AuthContext<'_>) -> Authorization {
    match ctx.action {
        AuthAction::Select | AuthAction::Read { .. } | AuthAction::Recursive => Authorization::Allow,
        AuthAction::Function { function_name } if !function_name.eq_ignore_ascii_case("load_extension") => {
            Authorization::Allow
        }
        _ => Authorization::Deny,
    }
}

/// Opens the file read-only with the locks of the module doc; `deadline`
/// stops statements that run past it.
fn open(path: &Path, deadline: Option<Instant>) -> Result<Connection, ToolError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| ToolError::failed("database_unavailable", format!("cannot open the database: {e}")))?;
    conn.pragma_update(None, "query_only", true)
        .map_err(|e| ToolError::failed("database_unavailable", e.to_string()))?;
    conn.authorizer(Some(authorize)).map_err(|e| ToolError::failed("database_unavailable", e.to_string()))?;
    if let Some(deadline) = deadline {
        conn.progress_handler(1000, Some(move || Instant::now() >= deadline))
            .map_err(|e| ToolError::failed("database_unavailable", e.to_string()))?;
    }
    Ok(conn)
}

/// Prepares the query, refusing anything that is not one read-only statement.
fn prepare<'c>(conn: &'c Connection, sql: &str) -> Result<rusqlite::Statement<'c>, ToolError> {
    let refused = |m: String| ToolError::failed("query_refused", m);
    let stmt = conn.prepare(sql).map_err(|e| {
        let m = e.to_string();
        if m.contains("not authorized") {
            refused(
                "the query may only read: INSERT, UPDATE, DELETE, ATTACH, PRAGMA and schema changes are refused".into(),
            )
        } else {
            ToolError::failed("query_invalid", m)
        }
    })?;
    if !stmt.readonly() {
        return Err(refused("the query may only read".into()));
    }
    for i in 1..=stmt.parameter_count() {
        if stmt.parameter_name(i).is_none() {
            return Err(ToolError::failed(
                "query_invalid",
                "use named parameters (`:city`) bound from the arguments of the same name, not `?`",
            ));
        }
    }
    Ok(stmt)
}

fn json_of(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => json!(i),
        ValueRef::Real(f) => json!(f),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => json!({ "base64": STANDARD.encode(b) }),
    }
}

fn sql_of(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        Value::Null => V::Null,
        Value::Bool(b) => V::Integer(i64::from(*b)),
        Value::Number(n) => n.as_i64().map_or_else(|| V::Real(n.as_f64().unwrap_or_default()), V::Integer),
        Value::String(s) => V::Text(s.clone()),
        other => V::Text(other.to_string()),
    }
}

/// Runs the query (blocking).
fn query(
    path: &Path,
    sql: &str,
    args: &Map<String, Value>,
    max_rows: u64,
    deadline: Instant,
) -> Result<Value, ToolError> {
    let conn = open(path, Some(deadline))?;
    let mut stmt = prepare(&conn, sql)?;
    for i in 1..=stmt.parameter_count() {
        let name = stmt.parameter_name(i).unwrap_or_default().trim_start_matches([':', '@', '$']).to_owned();
        stmt.raw_bind_parameter(i, sql_of(args.get(&name).unwrap_or(&Value::Null)))
            .map_err(|e| ToolError::failed("query_invalid", e.to_string()))?;
    }
    let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    let mut truncated = false;
    let max_rows = usize::try_from(max_rows).unwrap_or(usize::MAX);
    let failed = |e: rusqlite::Error| {
        if matches!(&e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::OperationInterrupted) {
            ToolError::Timeout("the query ran past the tool's time limit and was stopped".into())
        } else {
            ToolError::failed("query_failed", e.to_string())
        }
    };
    while let Some(row) = rows.next().map_err(failed)? {
        if out.len() >= max_rows {
            truncated = true;
            break;
        }
        let mut obj = Map::new();
        for (i, name) in columns.iter().enumerate() {
            obj.insert(name.clone(), json_of(row.get_ref(i).map_err(failed)?));
        }
        out.push(Value::Object(obj));
    }
    Ok(json!({ "columns": columns, "rows": out, "row_count": out.len(), "truncated": truncated }))
}

impl ToolType for DatabaseTool {
    fn name(&self) -> &'static str {
        "database"
    }

    fn label(&self) -> &'static str {
        "Database query (SQLite, PostgreSQL)"
    }

    fn description(&self) -> &'static str {
        "Runs one read-only SQL query against an SQLite file in a directory the operator allows, or a \
         PostgreSQL database whose connection string is in the vault; parameters are bound from the \
         arguments; row limit and statement timeout."
    }

    fn config_schema(&self) -> Value {
        json!({
            "type": "object",
            "required": ["query"],
            "additionalProperties": false,
            "properties": {
                "engine": { "enum": ["sqlite", "postgres"], "default": "sqlite", "title": "Database" },
                "path": { "type": "string", "minLength": 2, "maxLength": 1024, "title": "SQLite file (absolute path)" },
                "integration_id": { "type": "integer", "minimum": 1, "title": "PostgreSQL: integration whose secret is the connection string" },
                "query": { "type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS, "title": "SELECT with :named (SQLite) or $1 (PostgreSQL) parameters" },
                "parameters": {
                    "type": "array", "items": { "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,63}$" }, "maxItems": 50,
                    "title": "PostgreSQL: the arguments bound to $1, $2, …"
                },
                "max_rows": { "type": "integer", "minimum": 1, "maximum": MAX_ROWS, "default": DEFAULT_MAX_ROWS, "title": "Most rows" }
            }
        })
    }

    fn config_example(&self) -> Value {
        json!({
            "path": "/srv/data/shop.sqlite",
            "query": "SELECT id, status, total FROM orders WHERE customer_email = :email ORDER BY id DESC",
            "max_rows": 20
        })
    }

    fn input_schema_example(&self) -> Value {
        json!({
            "type": "object",
            "properties": { "email": { "type": "string", "format": "email" } },
            "required": ["email"],
            "additionalProperties": false
        })
    }

    fn check_config(&self, state: &AppState, config: &mut Value) -> Result<(), AppError> {
        if config["engine"] == "postgres" {
            return super::postgres::check_config(config);
        }
        for field in ["integration_id", "parameters"] {
            if config.get(field).is_some() {
                return Err(config_error(
                    &format!("config.{field}"),
                    "only PostgreSQL tools (`engine`: `postgres`) take it",
                ));
            }
        }
        let Some(raw) = config["path"].as_str().map(str::to_owned) else {
            return Err(config_error("config.path", "an SQLite tool needs the file's path"));
        };
        let path = allowed_path(&state.config, &raw).map_err(|m| config_error("config.path", m))?;
        config["path"] = Value::String(path.to_string_lossy().into_owned());
        let sql = config["query"].as_str().unwrap_or_default();
        let conn = open(&path, None).map_err(|e| match e {
            ToolError::Failed { message, .. } | ToolError::Timeout(message) => config_error("config.path", message),
        })?;
        prepare(&conn, sql).map(|_| ()).map_err(|e| match e {
            ToolError::Failed { message, .. } | ToolError::Timeout(message) => config_error("config.query", message),
        })
    }

    fn run<'a>(&'a self, call: ToolCall<'a>) -> BoxFuture<'a, Result<Value, ToolError>> {
        Box::pin(async move {
            let config = &call.tool.config;
            if config["engine"] == "postgres" {
                return super::postgres::run(call).await;
            }
            let path = allowed_path(&call.state.config, config["path"].as_str().unwrap_or_default())
                .map_err(|m| ToolError::failed("database_unavailable", m))?;
            let sql = config["query"].as_str().unwrap_or_default().to_owned();
            let max_rows = config["max_rows"].as_u64().unwrap_or(DEFAULT_MAX_ROWS).min(MAX_ROWS);
            let (args, deadline) = (call.args_map(), call.deadline);
            tokio::task::spawn_blocking(move || query(&path, &sql, &args, max_rows, deadline))
                .await
                .map_err(|e| ToolError::failed("query_failed", e.to_string()))?
        })
    }
}
