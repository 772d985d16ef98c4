//! The JSON body extractor of the API. Unlike `actix_web::web::Json` it names
//! the field at fault (`members[0].role`) using `serde_path_to_error`, and maps
//! every failure to the one error type.

use actix_web::dev::Payload;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::error::{AppError, ErrorCode};

/// Limits for request bodies, stored in app data.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub json_bytes: usize,
}

/// A JSON request body of type `T`, parsed but not yet judged.
#[derive(Debug)]
pub struct Json<T>(Result<T, AppError>);

impl<T> Json<T> {
    /// The body, or the reason it is unacceptable (400, 413, 415 or 422).
    pub fn into_inner(self) -> Result<T, AppError> {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let read = read_json::<T>(req, payload);
        Box::pin(async move { Ok(Json(read.await)) })
    }
}

fn read_json<T: DeserializeOwned + 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
) -> LocalBoxFuture<'static, Result<T, AppError>> {
    {
        let limit = req.app_data::<web::Data<BodyLimits>>().map_or(2 * 1024 * 1024, |l| l.json_bytes);
        let content_type_ok =
            req.headers().get(actix_web::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
                v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        let declared_len = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !content_type_ok {
                return Err(AppError::new(ErrorCode::UnsupportedMediaType, "expected Content-Type: application/json"));
            }
            if declared_len.is_some_and(|n| n > limit) {
                return Err(too_large(limit));
            }
            let mut body = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk =
                    chunk.map_err(|e| AppError::new(ErrorCode::InvalidJson, format!("cannot read body: {e}")))?;
                if body.len() + chunk.len() > limit {
                    return Err(too_large(limit));
                }
                body.extend_from_slice(&chunk);
            }
            parse_json(&body.freeze())
        })
    }
}

fn too_large(limit: usize) -> AppError {
    AppError::new(ErrorCode::PayloadTooLarge, format!("body exceeds {limit} bytes"))
        .with_details(json!({ "limit_bytes": limit }))
}

/// Parses a JSON document, telling syntax errors (400 `invalid_json`) from
/// shape errors (422 `validation_failed` naming the field).
pub fn parse_json<T: DeserializeOwned>(body: &Bytes) -> Result<T, AppError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize(de) {
        Ok(value) => Ok(value),
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            if inner.is_syntax() || inner.is_eof() || inner.is_io() {
                Err(AppError::new(ErrorCode::InvalidJson, format!("malformed JSON: {inner}"))
                    .with_details(json!({ "line": inner.line(), "column": inner.column() })))
            } else {
                let field = if path == "." { missing_field(&inner.to_string()).unwrap_or(path) } else { path };
                Err(AppError::validation(field, strip_position(&inner.to_string())))
            }
        }
    }
}

/// serde reports a missing top-level field as "missing field `x` at line…".
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next().map(str::to_owned)
}

fn strip_position(message: &str) -> String {
    message.split(" at line ").next().unwrap_or(message).to_owned()
}

/// Makes actix's query extractor answer with our error body.
#[must_use]
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|err, _| AppError::new(ErrorCode::InvalidQuery, strip_position(&err.to_string())).into())
}

/// Makes actix's path extractor answer with our error body.
#[must_use]
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|err, _| AppError::new(ErrorCode::InvalidPath, strip_position(&err.to_string())).into())
}

/// Deserializes a field that distinguishes absent (`None`) from `null`
/// (`Some(None)`), for PATCH bodies. Use with `#[serde(default)]`.
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        items: Vec<Item>,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Item {
        n: u8,
    }

    #[test]
    fn names_the_field_at_fault() {
        let err =
            parse_json::<Body>(&Bytes::from_static(br#"{"name":"a","items":[{"n":1},{"n":"x"}]}"#)).expect_err("bad");
        assert_eq!(err.code(), ErrorCode::ValidationFailed);
        assert_eq!(err.details().expect("details")["field"], "items[1].n");
        let err = parse_json::<Body>(&Bytes::from_static(br#"{"items":[]}"#)).expect_err("bad");
        assert_eq!(err.details().expect("details")["field"], "name");
        let err = parse_json::<Body>(&Bytes::from_static(br#"{"name":"a","items":[],"x":1}"#)).expect_err("bad");
        assert_eq!(err.code(), ErrorCode::ValidationFailed);
    }

    #[test]
    fn syntax_errors_are_invalid_json() {
        let err = parse_json::<Body>(&Bytes::from_static(b"{\"name\": ")).expect_err("bad");
        assert_eq!(err.code(), ErrorCode::InvalidJson);
    }
}
