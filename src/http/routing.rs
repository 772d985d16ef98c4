//! What happens to requests no handler matched: 405 with `Allow` when the path
//! is an API route with other methods, JSON 404 for other API paths, and the
//! web UI (with its SPA fallback) for everything else.

use actix_web::http::Method;
use actix_web::http::header::{ALLOW, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::error::{AppError, ErrorCode};

/// The path templates and methods of the `OpenAPI` document.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<(Vec<Segment>, Vec<Method>)>,
}

#[derive(Debug, PartialEq)]
enum Segment {
    Literal(String),
    Param,
}

impl RouteTable {
    /// Builds the table from a generated `OpenAPI` document.
    #[must_use]
    pub fn from_openapi(api: &utoipa::openapi::OpenApi) -> RouteTable {
        let routes = api
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let segments = split(path)
                    .map(|s| if s.starts_with('{') { Segment::Param } else { Segment::Literal(s.to_owned()) })
                    .collect();
                let methods = [
                    (item.get.is_some(), Method::GET),
                    (item.post.is_some(), Method::POST),
                    (item.put.is_some(), Method::PUT),
                    (item.patch.is_some(), Method::PATCH),
                    (item.delete.is_some(), Method::DELETE),
                ]
                .into_iter()
                .filter_map(|(present, m)| present.then_some(m))
                .collect();
                (segments, methods)
            })
            .collect();
        RouteTable { routes }
    }

    /// The methods a concrete path accepts (empty if no route has the path).
    #[must_use]
    pub fn methods_for(&self, path: &str) -> Vec<Method> {
        let parts: Vec<&str> = split(path).collect();
        let mut methods = Vec::new();
        for (segments, route_methods) in &self.routes {
            let matches = segments.len() == parts.len()
                && segments.iter().zip(&parts).all(|(s, p)| match s {
                    Segment::Param => !p.is_empty(),
                    Segment::Literal(l) => l == p,
                });
            if matches {
                methods.extend(route_methods.iter().cloned());
            }
        }
        methods
    }
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.trim_matches('/').split('/')
}

/// The app's default service.
pub async fn fallback(req: HttpRequest, table: web::Data<RouteTable>) -> HttpResponse {
    let path = req.path();
    let methods = table.methods_for(path);
    if !methods.is_empty() {
        let allow = methods.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
        let mut response =
            AppError::new(ErrorCode::MethodNotAllowed, format!("{} is not allowed here; use {allow}", req.method()))
                .error_response();
        if let Ok(value) = HeaderValue::from_str(&allow) {
            response.headers_mut().insert(ALLOW, value);
        }
        return response;
    }
    if path == "/api" || path.starts_with("/api/") || !matches!(*req.method(), Method::GET | Method::HEAD) {
        return AppError::new(ErrorCode::RouteNotFound, format!("no route for {} {path}", req.method()))
            .error_response();
    }
    crate::ui::serve(&req)
}
