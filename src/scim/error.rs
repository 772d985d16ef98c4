//! SCIM errors (RFC 7644 §3.12): the body is the SCIM Error message with
//! `status` as a string and an optional `scimType`, not the API's `AppError`
//! body — identity providers parse this shape.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::error::AppError;

/// The SCIM Error schema URN.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A SCIM error response.
#[derive(Debug)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

pub type ScimResult<T> = Result<T, ScimError>;

impl ScimError {
    #[must_use]
    pub fn new(status: StatusCode, scim_type: Option<&'static str>, detail: impl Into<String>) -> ScimError {
        ScimError { status, scim_type, detail: detail.into() }
    }

    /// 400 `invalidFilter`: the filter does not parse or compares what cannot be compared.
    #[must_use]
    pub fn invalid_filter(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::BAD_REQUEST, Some("invalidFilter"), detail)
    }

    /// 400 `invalidPath`: a PATCH path is malformed or names an unknown attribute.
    #[must_use]
    pub fn invalid_path(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::BAD_REQUEST, Some("invalidPath"), detail)
    }

    /// 400 `noTarget`: a PATCH path filter matched no value.
    #[must_use]
    pub fn no_target(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::BAD_REQUEST, Some("noTarget"), detail)
    }

    /// 400 `invalidValue`: a required value is missing or has the wrong type.
    #[must_use]
    pub fn invalid_value(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::BAD_REQUEST, Some("invalidValue"), detail)
    }

    /// 400 `invalidSyntax`: the body is not a SCIM request of the expected schema.
    #[must_use]
    pub fn invalid_syntax(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::BAD_REQUEST, Some("invalidSyntax"), detail)
    }

    /// 400 `mutability`: the change would modify what may not change.
    #[must_use]
    pub fn mutability(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::BAD_REQUEST, Some("mutability"), detail)
    }

    /// 409 `uniqueness`: userName (or a group's displayName) is taken.
    #[must_use]
    pub fn uniqueness(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::CONFLICT, Some("uniqueness"), detail)
    }

    /// 401 without a valid SCIM token.
    #[must_use]
    pub fn unauthorized(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::UNAUTHORIZED, None, detail)
    }

    /// 404.
    #[must_use]
    pub fn not_found(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::NOT_FOUND, None, detail)
    }

    /// The SCIM body.
    #[must_use]
    pub fn body(&self) -> serde_json::Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t);
        }
        body
    }
}

impl std::fmt::Display for ScimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.scim_type.unwrap_or("-"), self.detail)
    }
}

impl ResponseError for ScimError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.content_type(super::SCIM_CONTENT_TYPE);
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header(("WWW-Authenticate", "Bearer realm=\"scim\""));
        }
        response.body(self.body().to_string())
    }
}

/// Errors of the shared services (database, plan limits, validation) keep
/// their status and message; 5xx details stay in the log.
impl From<AppError> for ScimError {
    fn from(e: AppError) -> ScimError {
        let status = e.code().status();
        if status.is_server_error() {
            tracing::error!(error = ?e, "SCIM request failed");
            return ScimError::new(status, None, "internal error");
        }
        let scim_type =
            (status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST).then_some("invalidValue");
        let status = if status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { status };
        let detail = match e.details() {
            Some(details) => format!("{} ({details})", e.message()),
            None => e.message().to_owned(),
        };
        ScimError::new(status, scim_type, detail)
    }
}

impl From<rusqlite::Error> for ScimError {
    fn from(e: rusqlite::Error) -> ScimError {
        ScimError::from(AppError::from(e))
    }
}
