//! The `postgres` engine of the `database` tool: one read-only SQL
//! statement against an organization's PostgreSQL.
//!
//! - **Credentials**: the connection string (`postgres://user:pass@host:5432/db`
//!   or `host=… user=… password=… dbname=…`) is the secret of a vault
//!   integration (`config.integration_id`), registered with the redactor.
//! - **Where**: one TCP host, resolved here and checked by the outbound policy
//!   (the SSRF guard); the connection goes to the checked address. Unix
//!   sockets are refused. No TLS (the rust-postgres `NoTls` connector): reach
//!   databases over a trusted network or a local TLS tunnel.
//! - **Read-only**: the statement runs in a `READ ONLY` transaction (with
//!   `default_transaction_read_only` on for the session) that is rolled back;
//!   PostgreSQL itself refuses writes, DDL and `nextval`. Use a role that can
//!   only read as well.
//! - **Limits**: `statement_timeout` is the time left of the tool's limit;
//!   the rows are fetched through a portal of `max_rows + 1`, so a large
//!   result is never transferred.
//! - **Parameters**: `$1, $2, …` are bound from the arguments named in
//!   `config.parameters` (never spliced into the SQL), converted to the type
//!   PostgreSQL inferred; results come back typed (numbers, booleans, JSON,
//!   RFC 3339 times; `numeric` as a string to keep its precision).

use std::error::Error;
use std::fmt::Write as _;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::BytesMut;
use serde_json::{Map, Value, json};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, NoTls};

use super::{ToolCall, ToolError};
use crate::error::{AppError, ErrorCode};
use crate::integrations::model::IntegrationId;
use crate::outbound::OutboundError;

type BoxError = Box<dyn Error + Sync + Send>;

/// Checks a `postgres` config (the schema check has passed).
pub fn check_config(config: &Value) -> Result<(), AppError> {
    let field_error = |field: &str, m: &str| {
        AppError::new(ErrorCode::ToolConfigInvalid, format!("`{field}`: {m}")).with_details(json!({ "field": field }))
    };
    if config.get("integration_id").and_then(Value::as_i64).is_none() {
        return Err(field_error(
            "config.integration_id",
            "a PostgreSQL tool needs the vault integration holding its connection string",
        ));
    }
    if config.get("path").is_some() {
        return Err(field_error("config.path", "a PostgreSQL tool takes no file path"));
    }
    let sql = config["query"].as_str().unwrap_or_default();
    let params = config.get("parameters").and_then(Value::as_array).map_or(0, Vec::len);
    let highest = placeholders(sql);
    if highest != params {
        return Err(field_error(
            "config.parameters",
            &format!("the query uses ${highest} as its highest placeholder but `parameters` names {params} arguments"),
        ));
    }
    Ok(())
}

/// The highest `$n` in `sql` outside quotes and comments.
fn placeholders(sql: &str) -> usize {
    let bytes = sql.as_bytes();
    let (mut i, mut highest) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    i += 1;
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'$' => {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
                if end > start && (start < 2 || !bytes[start - 2].is_ascii_alphanumeric()) {
                    highest = highest.max(sql[start..end].parse().unwrap_or(0));
                }
                i = end.max(i + 1) - 1;
            }
            _ => {}
        }
        i += 1;
    }
    highest
}

/// A failure of the server or the connection, as a run error.
fn pg_error(e: &tokio_postgres::Error, connecting: bool) -> ToolError {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        let message = db.message().to_owned();
        return if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
            ToolError::failed("database_auth_failed", format!("PostgreSQL refused the credentials: {message}"))
        } else if *code == SqlState::READ_ONLY_SQL_TRANSACTION || *code == SqlState::INSUFFICIENT_PRIVILEGE {
            ToolError::failed("query_refused", format!("the query may only read: {message}"))
        } else if *code == SqlState::QUERY_CANCELED {
            ToolError::Timeout("the query ran past the tool's time limit and was cancelled (statement_timeout)".into())
        } else if *code == SqlState::INVALID_CATALOG_NAME || *code == SqlState::TOO_MANY_CONNECTIONS {
            ToolError::failed("database_unavailable", message)
        } else if code.code().starts_with("42") || *code == SqlState::SYNTAX_ERROR {
            ToolError::failed("query_invalid", message)
        } else {
            ToolError::failed("query_failed", message)
        };
    }
    if connecting {
        ToolError::failed("database_unavailable", format!("cannot connect to PostgreSQL: {e}"))
    } else {
        ToolError::failed("query_failed", e.to_string())
    }
}

/// Connects to the database of `conn_str`, through the outbound policy.
async fn connect(call: &ToolCall<'_>, conn_str: &str) -> Result<Client, ToolError> {
    let mut cfg = tokio_postgres::Config::from_str(conn_str).map_err(|e| {
        ToolError::failed(
            "database_misconfigured",
            format!("the vault's connection string is not a PostgreSQL URL or key=value string: {e}"),
        )
    })?;
    let hosts = cfg.get_hosts().to_vec();
    let host = match hosts.as_slice() {
        [tokio_postgres::config::Host::Tcp(h)] => h.clone(),
        [] => return Err(ToolError::failed("database_misconfigured", "the connection string names no host")),
        [_] => {
            return Err(ToolError::failed(
                "url_not_allowed",
                "Unix-socket connections are not allowed: use a TCP host",
            ));
        }
        _ => return Err(ToolError::failed("database_misconfigured", "name one host in the connection string")),
    };
    let addrs = call.state.outbound.allowed_addresses(&host).await.map_err(|e| match e {
        OutboundError::Forbidden(_) => ToolError::failed("url_not_allowed", e.to_string()),
        other => ToolError::failed("database_unavailable", other.to_string()),
    })?;
    let ip = addrs[0];
    let remaining = call.remaining();
    cfg.hostaddr(ip)
        .connect_timeout(remaining.max(Duration::from_millis(1)))
        .options("-c default_transaction_read_only=on")
        .application_name("botbuilder-tool");
    let (client, connection) = cfg.connect(NoTls).await.map_err(|e| pg_error(&e, true))?;
    tokio::spawn(async move {
        // Ends when the client is dropped; its error is the client's too.
        let _ = connection.await;
    });
    Ok(client)
}

/// Runs the configured query (the caller enforces the deadline as well).
pub async fn run(call: ToolCall<'_>) -> Result<Value, ToolError> {
    let config = &call.tool.config;
    let id = IntegrationId(config["integration_id"].as_i64().unwrap_or_default());
    let conn_str = crate::integrations::service::access_token(call.state, call.tenant, id)
        .await
        .map_err(|e| ToolError::failed("credentials_unavailable", e.message().to_owned()))?;
    call.redactor.add(&conn_str);
    if let Ok(cfg) = tokio_postgres::Config::from_str(&conn_str)
        && let Some(password) = cfg.get_password()
    {
        call.redactor.add(&String::from_utf8_lossy(password));
    }
    let sql = config["query"].as_str().unwrap_or_default();
    let max_rows = config["max_rows"].as_i64().unwrap_or(100).clamp(1, 1000);
    let names: Vec<String> = config
        .get("parameters")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    let args = call.args_map();
    let mut client = connect(&call, &conn_str).await?;
    let tx = client.build_transaction().read_only(true).start().await.map_err(|e| pg_error(&e, false))?;
    let timeout_ms = call.remaining().as_millis().max(1);
    // A number computed here, not user input.
    tx.batch_execute(&format!("SET LOCAL statement_timeout = {timeout_ms}")).await.map_err(|e| pg_error(&e, false))?;
    let stmt = tx.prepare(sql).await.map_err(|e| pg_error(&e, false))?;
    if stmt.params().len() != names.len() {
        return Err(ToolError::failed(
            "query_invalid",
            format!("the query has {} parameters but `parameters` names {}", stmt.params().len(), names.len()),
        ));
    }
    for column in stmt.columns() {
        if !readable(column.type_()) {
            return Err(ToolError::failed(
                "query_invalid",
                format!(
                    "column `{}` has type {}, which the tool does not convert: cast it (`{}::text`)",
                    column.name(),
                    column.type_(),
                    column.name()
                ),
            ));
        }
    }
    let values: Vec<Param<'_>> = names.iter().map(|n| Param(args.get(n).unwrap_or(&Value::Null), n.as_str())).collect();
    let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
    let portal = tx.bind(&stmt, &refs).await.map_err(|e| bind_error(&e))?;
    let rows =
        tx.query_portal(&portal, i32::try_from(max_rows + 1).unwrap_or(1001)).await.map_err(|e| pg_error(&e, false))?;
    let columns: Vec<String> = stmt.columns().iter().map(|c| c.name().to_owned()).collect();
    let truncated = rows.len() > usize::try_from(max_rows).unwrap_or(1000);
    let mut out = Vec::new();
    for row in rows.iter().take(usize::try_from(max_rows).unwrap_or(1000)) {
        let mut obj = Map::new();
        for (i, name) in columns.iter().enumerate() {
            let Cell(v) =
                row.try_get(i).map_err(|e| ToolError::failed("query_failed", format!("column `{name}`: {e}")))?;
            obj.insert(name.clone(), v);
        }
        out.push(Value::Object(obj));
    }
    // Read-only anyway; ending it returns the session to a clean state.
    let _ = tx.rollback().await;
    Ok(json!({ "columns": columns, "rows": out, "row_count": out.len(), "truncated": truncated }))
}

fn bind_error(e: &tokio_postgres::Error) -> ToolError {
    if e.as_db_error().is_some() {
        return pg_error(e, false);
    }
    let mut source: Option<&dyn Error> = e.source();
    let mut message = e.to_string();
    while let Some(s) = source {
        message = s.to_string();
        source = s.source();
    }
    ToolError::failed("query_invalid", message)
}

/// Types the result conversion handles.
fn readable(ty: &Type) -> bool {
    matches!(ty.kind(), Kind::Enum(_))
        || [
            Type::BOOL,
            Type::INT2,
            Type::INT4,
            Type::INT8,
            Type::OID,
            Type::FLOAT4,
            Type::FLOAT8,
            Type::NUMERIC,
            Type::TEXT,
            Type::VARCHAR,
            Type::BPCHAR,
            Type::NAME,
            Type::UNKNOWN,
            Type::JSON,
            Type::JSONB,
            Type::TIMESTAMP,
            Type::TIMESTAMPTZ,
            Type::DATE,
            Type::TIME,
            Type::UUID,
            Type::BYTEA,
            Type::BOOL_ARRAY,
            Type::INT2_ARRAY,
            Type::INT4_ARRAY,
            Type::INT8_ARRAY,
            Type::FLOAT4_ARRAY,
            Type::FLOAT8_ARRAY,
            Type::TEXT_ARRAY,
            Type::VARCHAR_ARRAY,
        ]
        .contains(ty)
}

/// A result value as JSON.
struct Cell(Value);

fn array<'a, T: FromSql<'a>>(ty: &Type, raw: &'a [u8], f: impl Fn(T) -> Value) -> Result<Value, BoxError> {
    let items: Vec<Option<T>> = Vec::from_sql(ty, raw)?;
    Ok(Value::Array(items.into_iter().map(|v| v.map_or(Value::Null, &f)).collect()))
}

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        if let Kind::Enum(_) = ty.kind() {
            return Ok(Cell(Value::String(String::from_utf8_lossy(raw).into_owned())));
        }
        let v = match *ty {
            Type::BOOL => json!(bool::from_sql(ty, raw)?),
            Type::INT2 => json!(i16::from_sql(ty, raw)?),
            Type::INT4 => json!(i32::from_sql(ty, raw)?),
            Type::INT8 => json!(i64::from_sql(ty, raw)?),
            Type::OID => json!(u32::from_sql(ty, raw)?),
            Type::FLOAT4 => json!(f32::from_sql(ty, raw)?),
            Type::FLOAT8 => json!(f64::from_sql(ty, raw)?),
            Type::NUMERIC => Value::String(numeric_text(raw)?),
            Type::JSON | Type::JSONB => Value::from_sql(ty, raw)?,
            Type::TIMESTAMP => {
                Value::String(chrono::NaiveDateTime::from_sql(ty, raw)?.format("%Y-%m-%dT%H:%M:%S%.f").to_string())
            }
            Type::TIMESTAMPTZ => Value::String(
                chrono::DateTime::<chrono::Utc>::from_sql(ty, raw)?
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            ),
            Type::DATE => Value::String(chrono::NaiveDate::from_sql(ty, raw)?.to_string()),
            Type::TIME => Value::String(chrono::NaiveTime::from_sql(ty, raw)?.to_string()),
            Type::UUID => Value::String(uuid_text(raw)?),
            Type::BYTEA => json!({ "base64": STANDARD.encode(raw) }),
            Type::BOOL_ARRAY => array(ty, raw, |v: bool| json!(v))?,
            Type::INT2_ARRAY => array(ty, raw, |v: i16| json!(v))?,
            Type::INT4_ARRAY => array(ty, raw, |v: i32| json!(v))?,
            Type::INT8_ARRAY => array(ty, raw, |v: i64| json!(v))?,
            Type::FLOAT4_ARRAY => array(ty, raw, |v: f32| json!(v))?,
            Type::FLOAT8_ARRAY => array(ty, raw, |v: f64| json!(v))?,
            Type::TEXT_ARRAY | Type::VARCHAR_ARRAY => array(ty, raw, |v: String| Value::String(v))?,
            _ => Value::String(String::from_sql(&Type::TEXT, raw)?),
        };
        Ok(Cell(v))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Cell(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

fn uuid_text(raw: &[u8]) -> Result<String, BoxError> {
    if raw.len() != 16 {
        return Err("a uuid is 16 bytes".into());
    }
    let h = hex::encode(raw);
    Ok(format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..]))
}

/// The text of a binary `numeric` (base-10000 digits, weight, sign, scale).
fn numeric_text(raw: &[u8]) -> Result<String, BoxError> {
    let word = |i: usize| -> Result<u16, BoxError> {
        raw.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]])).ok_or_else(|| "short numeric".into())
    };
    let ndigits = usize::from(word(0)?);
    let weight = i32::from(word(2)?.cast_signed());
    let sign = word(4)?;
    let dscale = usize::from(word(6)?);
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    let digits: Vec<u16> = (0..ndigits).map(|i| word(8 + 2 * i)).collect::<Result<_, _>>()?;
    let digit = |i: i32| usize::try_from(i).ok().and_then(|i| digits.get(i)).copied().unwrap_or(0);
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        for i in 0..=weight {
            if i == 0 {
                out.push_str(&digit(i).to_string());
            } else {
                let _ = write!(out, "{:04}", digit(i));
            }
        }
    }
    if dscale > 0 {
        let mut frac = String::new();
        let mut i = weight + 1;
        while frac.len() < dscale {
            let _ = write!(frac, "{:04}", digit(i));
            i += 1;
        }
        frac.truncate(dscale);
        out.push('.');
        out.push_str(&frac);
    }
    Ok(out)
}

/// An argument bound to a parameter, converted to the type PostgreSQL inferred.
#[derive(Debug)]
struct Param<'a>(&'a Value, &'a str);

impl Param<'_> {
    fn wrong(&self, ty: &Type) -> BoxError {
        format!("argument `{}` ({}) cannot be bound to a {ty} parameter", self.1, self.0).into()
    }
}

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let v = self.0;
        if v.is_null() {
            return Ok(IsNull::Yes);
        }
        let int = || v.as_i64().ok_or_else(|| self.wrong(ty));
        match *ty {
            Type::BOOL => v.as_bool().ok_or_else(|| self.wrong(ty))?.to_sql(ty, out),
            Type::INT2 => i16::try_from(int()?).map_err(|_| self.wrong(ty))?.to_sql(ty, out),
            Type::INT4 => i32::try_from(int()?).map_err(|_| self.wrong(ty))?.to_sql(ty, out),
            Type::INT8 => int()?.to_sql(ty, out),
            #[allow(clippy::cast_possible_truncation, reason = "a float4 parameter takes the nearest value")]
            Type::FLOAT4 => (v.as_f64().ok_or_else(|| self.wrong(ty))? as f32).to_sql(ty, out),
            Type::FLOAT8 => v.as_f64().ok_or_else(|| self.wrong(ty))?.to_sql(ty, out),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => match v {
                Value::String(s) => s.as_str().to_sql(ty, out),
                other => other.to_string().as_str().to_sql(ty, out),
            },
            Type::JSON | Type::JSONB => v.to_sql(ty, out),
            _ => Err(format!(
                "parameter for argument `{}` has type {ty}, which is not bound directly: write `$n::text::{ty}` in the query",
                self.1
            )
            .into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_outside_quotes_and_comments_are_counted() {
        assert_eq!(placeholders("SELECT * FROM t WHERE a = $1 AND b = $2"), 2);
        assert_eq!(placeholders("SELECT '$3', \"$4\" -- $5\n FROM t WHERE a = $1"), 1);
        assert_eq!(placeholders("SELECT 1"), 0);
    }

    #[test]
    fn numerics_are_read_exactly() {
        // 12345.678: weight 1, digits [1, 2345, 6780], dscale 3.
        let raw: Vec<u8> = [3u16, 1, 0, 3, 1, 2345, 6780].iter().flat_map(|w| w.to_be_bytes()).collect();
        assert_eq!(numeric_text(&raw).expect("numeric"), "12345.678");
        // -0.05: weight -1, digits [500], dscale 2.
        let raw: Vec<u8> = [1u16, 0xFFFF, 0x4000, 2, 500].iter().flat_map(|w| w.to_be_bytes()).collect();
        assert_eq!(numeric_text(&raw).expect("numeric"), "-0.05");
    }
}
