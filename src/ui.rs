//! The web UI: files under `assets/` embedded in the binary, served with
//! their content type and an `ETag`; unknown extension-less paths get
//! `index.html` so the client-side router can handle them.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use rust_embed::RustEmbed;

use crate::error::{AppError, AppResult};

#[cfg(test)]
mod i18n_checks;

/// The UI languages: each has a catalog `assets/i18n/<code>.json` (a lib
/// test checks the two lists agree). English is the default and the fallback.
pub const UI_LOCALES: [&str; 2] = ["en", "de"];

/// A user's UI language: one of [`UI_LOCALES`], else a validation error
/// naming `locale` and listing them.
pub fn check_locale(raw: &str) -> AppResult<String> {
    let locale = raw.trim();
    if UI_LOCALES.contains(&locale) {
        Ok(locale.to_owned())
    } else {
        Err(AppError::validation("locale", format!("must be one of: {}", UI_LOCALES.join(", "))))
    }
}

#[derive(RustEmbed)]
#[folder = "assets/"]
struct Assets;

/// Serves an embedded file or the SPA shell.
#[must_use]
pub fn serve(req: &HttpRequest) -> HttpResponse {
    let path = req.path().trim_start_matches('/');
    let last = path.rsplit('/').next().unwrap_or_default();
    let file = if path.is_empty() {
        Assets::get("index.html")
    } else {
        match Assets::get(path) {
            Some(file) => Some(file),
            // A missing file with an extension is a 404, not the app shell.
            None if last.contains('.') => None,
            None => Assets::get("index.html"),
        }
    };
    let Some(file) = file else {
        return HttpResponse::NotFound().content_type("text/plain; charset=utf-8").body("not found");
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..12]));
    if req
        .headers()
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return HttpResponse::build(StatusCode::NOT_MODIFIED).insert_header((ETAG, etag)).finish();
    }
    let mut response = HttpResponse::Ok();
    response
        .insert_header((CONTENT_TYPE, file.metadata.mimetype()))
        // Revalidate every time: the ETag makes that a cheap 304.
        .insert_header((CACHE_CONTROL, "no-cache"))
        .insert_header((ETAG, etag));
    if req.method() == Method::HEAD {
        return response.finish();
    }
    response.body(file.data.into_owned())
}

/// Whether an embedded asset exists (for tests).
#[must_use]
pub fn has_asset(path: &str) -> bool {
    Assets::get(path).is_some()
}
