//! The edge middleware every request passes: request id, root tracing span,
//! access log, metrics, panic → 500, and security headers.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use futures_util::FutureExt;
use tracing::Instrument;

use super::metrics::Metrics;
use crate::error::AppError;

/// The id of the current request, echoed from `X-Request-Id` or generated.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

const REQUEST_ID: &str = "x-request-id";

/// Content-Security-Policy for our own pages. Handlers that need another
/// policy (the embeddable widget) set their own header, which is kept.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; \
                   connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; \
                   frame-ancestors 'none'";

/// The edge middleware; install with `actix_web::middleware::from_fn(edge)`.
pub async fn edge(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_valid_request_id(v))
        .map_or_else(generate_request_id, str::to_owned);
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().to_string();
    // The route pattern (not the path) labels metrics, keeping cardinality low.
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    let span = tracing::info_span!(
        "http",
        request_id = %request_id,
        method = %method,
        path = %req.path(),
        status = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
    );
    let started = Instant::now();

    // The request is consumed by `next`; a panic leaves no request to answer
    // with, so it becomes an error that renders its own complete response.
    let outcome = AssertUnwindSafe(next.call(req)).catch_unwind().instrument(span.clone()).await;
    let result = match outcome {
        Ok(Ok(res)) => Ok(res.map_into_boxed_body()),
        Ok(Err(err)) => Err(err),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            span.in_scope(|| tracing::error!(panic = %what, "handler panicked"));
            Err(PanicError { request_id: request_id.clone() }.into())
        }
    };

    let status = match &result {
        Ok(res) => res.status().as_u16(),
        Err(err) => err.as_response_error().status_code().as_u16(),
    };
    let elapsed = started.elapsed();
    if let Some(metrics) = metrics {
        metrics.http_requests.with_label_values(&[&method, &route, &status.to_string()]).inc();
        metrics.http_duration.with_label_values(&[&method, &route]).observe(elapsed.as_secs_f64());
    }
    span.record("status", status);
    span.record("latency_ms", elapsed.as_secs_f64() * 1000.0);
    span.in_scope(|| tracing::info!("request"));

    let mut res = result?;
    let headers = res.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(HeaderName::from_static(REQUEST_ID), value);
    }
    set_security_headers(headers);
    Ok(res)
}

/// A handler panicked: a 500 in the API's error format, with the request id.
#[derive(Debug)]
struct PanicError {
    request_id: String,
}

impl std::fmt::Display for PanicError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("internal server error")
    }
}

impl ResponseError for PanicError {
    fn error_response(&self) -> actix_web::HttpResponse {
        let mut response = AppError::new(crate::error::ErrorCode::Internal, "internal server error").error_response();
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&self.request_id) {
            headers.insert(HeaderName::from_static(REQUEST_ID), value);
        }
        set_security_headers(headers);
        response
    }
}

fn set_security_headers(headers: &mut actix_web::http::header::HeaderMap) {
    let defaults: [(&str, &str); 6] = [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "strict-origin-when-cross-origin"),
        ("cross-origin-opener-policy", "same-origin"),
        ("permissions-policy", "camera=(), geolocation=(), microphone=(self)"),
        ("x-frame-options", "DENY"),
        ("content-security-policy", CSP),
    ];
    let has_own_csp = headers.contains_key("content-security-policy");
    for (name, value) in defaults {
        let name = HeaderName::from_static(name);
        if has_own_csp && (name == "x-frame-options" || name == "content-security-policy") {
            continue;
        }
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
}

fn is_valid_request_id(value: &str) -> bool {
    !value.is_empty() && value.len() <= 128 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

fn generate_request_id() -> String {
    hex::encode(rand::random::<[u8; 12]>())
}

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpResponse, test, web};

    use super::edge;

    async fn boom() -> HttpResponse {
        panic!("secret internal detail")
    }

    #[actix_web::test]
    async fn panics_become_500_without_leaking_internals() {
        let app = test::init_service(App::new().route("/boom", web::get().to(boom)).wrap(from_fn(edge))).await;
        // The server turns the error into this response, as actix's dispatcher does.
        let Err(error) = test::try_call_service(&app, test::TestRequest::get().uri("/boom").to_request()).await else {
            panic!("a panicking handler must end in an error response");
        };
        let response = error.error_response();
        assert_eq!(response.status(), 500);
        assert!(response.headers().contains_key("x-request-id"));
        assert_eq!(response.headers().get("x-content-type-options").and_then(|v| v.to_str().ok()), Some("nosniff"));
        let bytes = actix_web::body::to_bytes(response.into_body()).await.expect("body");
        let body: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(body["error"]["code"], "internal");
        assert!(!body.to_string().contains("secret"), "{body}");
    }
}
