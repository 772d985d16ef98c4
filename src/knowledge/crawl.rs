//! Fetching pages through the SSRF-guarded client, and the crawl job
//! (`knowledge.crawl`): breadth-first over links on the start page's host,
//! with depth and page limits. Loops cannot happen: every URL is normalised
//! (fragment dropped, default port, trailing `index.html`) and fetched at
//! most once, redirects included.

use std::collections::{HashSet, VecDeque};

use futures_util::future::BoxFuture;
use reqwest::Method;
use serde_json::{Value, json};

use super::extract::{self, Kind};
use super::model::KnowledgeBaseId;
use super::store::{self, NewDocument};
use crate::app::AppState;
use crate::crypto::sha256_hex;
use crate::error::{AppError, ErrorCode};
use crate::http::Tenant;
use crate::jobs::{Enqueue, JobContext, JobError, JobHandler, Queue};
use crate::outbound::OutboundError;

/// The job kind.
pub const KIND: &str = "knowledge.crawl";

/// A fetched page.
#[derive(Debug, Clone)]
pub struct Page {
    pub url: url::Url,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Page {
    /// A file name for the original, from the URL's last segment.
    #[must_use]
    pub fn file_name(&self) -> String {
        let last = self.url.path_segments().and_then(|mut s| s.next_back()).filter(|s| !s.is_empty());
        match last {
            Some(name) if name.contains('.') => name.to_owned(),
            _ => String::new(),
        }
    }
}

/// Maps an outbound refusal or failure to a stable code.
#[must_use]
pub fn outbound_error(e: &OutboundError) -> AppError {
    match e {
        OutboundError::InvalidUrl(_) | OutboundError::Scheme | OutboundError::Forbidden(_) => {
            AppError::new(ErrorCode::UrlNotAllowed, e.to_string()).with_details(json!({ "field": "url" }))
        }
        OutboundError::TooLarge(_) | OutboundError::Timeout | OutboundError::Failed(_) => {
            AppError::new(ErrorCode::FetchFailed, e.to_string())
        }
    }
}

/// Checks a URL before accepting it (scheme, private literal addresses).
pub fn check_url(state: &AppState, raw: &str) -> Result<url::Url, AppError> {
    state.outbound.check(raw.trim()).map_err(|e| outbound_error(&e))
}

/// Fetches one page (any status other than 2xx is an error).
pub async fn fetch(state: &AppState, raw: &str) -> Result<Page, AppError> {
    let request = state.outbound.request(Method::GET, raw).map_err(|e| outbound_error(&e))?.header(
        "Accept",
        "text/html, text/plain, text/markdown, application/pdf, application/json, text/csv;q=0.9, */*;q=0.5",
    );
    let limit = state.config.http.max_upload_bytes.min(state.config.outbound.max_response_bytes.max(1 << 20));
    let fetched = state.outbound.send_limited(request, Some(limit)).await.map_err(|e| outbound_error(&e))?;
    if !fetched.status.is_success() {
        return Err(AppError::new(ErrorCode::FetchFailed, format!("the server answered {}", fetched.status)));
    }
    let content_type =
        fetched.headers.get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    Ok(Page { url: fetched.url, content_type, body: fetched.body })
}

/// The canonical form of a URL for loop detection.
#[must_use]
pub fn normalize(url: &url::Url) -> String {
    let mut u = url.clone();
    u.set_fragment(None);
    if u.port() == u.port_or_known_default() && u.port().is_some() {
        let _ = u.set_port(None);
    }
    let path = u.path().to_owned();
    for index in ["index.html", "index.htm"] {
        if let Some(stripped) = path.strip_suffix(index) {
            u.set_path(stripped);
        }
    }
    let mut s = u.to_string();
    if s.ends_with('/') && u.path() != "/" {
        s.pop();
    }
    s
}

/// Whether a link stays on the crawl's site.
fn same_site(start: &url::Url, link: &url::Url) -> bool {
    matches!(link.scheme(), "http" | "https")
        && link.host_str() == start.host_str()
        && link.port_or_known_default() == start.port_or_known_default()
}

/// The crawl job handler.
pub struct Crawl;

impl JobHandler for Crawl {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(run(ctx))
    }
}

#[allow(clippy::too_many_lines, reason = "one breadth-first loop")]
async fn run(ctx: JobContext) -> Result<Value, JobError> {
    let org = ctx.job.org_id.ok_or_else(|| JobError::Permanent("a crawl needs an organization".into()))?;
    let tenant = Tenant::system(org, "knowledge crawl job");
    let p = &ctx.job.payload;
    let kb = KnowledgeBaseId(
        p["knowledge_base_id"].as_i64().ok_or_else(|| JobError::Permanent("no knowledge_base_id".into()))?,
    );
    let start = p["url"].as_str().ok_or_else(|| JobError::Permanent("no url".into()))?.to_owned();
    let max_depth = p["max_depth"].as_u64().unwrap_or(2);
    let max_pages = usize::try_from(p["max_pages"].as_u64().unwrap_or(50)).unwrap_or(50);
    let metadata = p.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let user = p["created_by"].as_i64();
    let state = ctx.state.clone();
    let start_url = check_url(&state, &start).map_err(|e| JobError::Permanent(e.message().to_owned()))?;

    let mut queue = VecDeque::from([(start_url.clone(), 0_u64)]);
    let mut seen: HashSet<String> = HashSet::from([normalize(&start_url)]);
    let (mut fetched, mut documents, mut skipped, mut errors) = (0_usize, 0_usize, 0_usize, Vec::new());
    while let Some((url, depth)) = queue.pop_front() {
        if fetched >= max_pages {
            break;
        }
        let page = match fetch(&state, url.as_str()).await {
            Ok(page) => page,
            Err(e) => {
                errors.push(json!({ "url": url.as_str(), "code": e.code().as_str(), "message": e.message() }));
                continue;
            }
        };
        fetched += 1;
        // A redirect may land on a page already seen.
        let landed = normalize(&page.url);
        if landed != normalize(&url) && !seen.insert(landed) {
            skipped += 1;
            continue;
        }
        if !same_site(&start_url, &page.url) {
            skipped += 1;
            continue;
        }
        let kind = match extract::detect(&page.file_name(), page.content_type.as_deref(), &page.body) {
            Ok(k) => k,
            Err(e) => {
                errors.push(json!({ "url": page.url.as_str(), "code": e.code().as_str(), "message": e.message() }));
                continue;
            }
        };
        if kind == Kind::Html && depth < max_depth {
            let text = String::from_utf8_lossy(&page.body);
            for mut link in extract::html_links(&text, &page.url) {
                link.set_fragment(None);
                if same_site(&start_url, &link) && seen.insert(normalize(&link)) {
                    queue.push_back((link, depth + 1));
                }
            }
        }
        // One document per page, unless the same page is already in the knowledge base.
        let (t, sha, body, name, source) =
            (tenant.clone(), sha256_hex(&page.body), page.body.clone(), page_name(&page, kind), page.url.to_string());
        let (meta, ct) = (metadata.clone(), kind.content_type());
        let created = state
            .db
            .write(move |tx| {
                if store::find_kb(tx, &t, kb)?.is_none() {
                    return Err(AppError::new(ErrorCode::KnowledgeBaseNotFound, "the knowledge base was deleted"));
                }
                if store::find_by_file_hash(tx, &t, kb, &sha)?.is_some() {
                    return Ok(None);
                }
                let file_id = store::store_file(tx, &t, &sha, ct, &name, &body)?;
                let doc = store::insert_document(
                    tx,
                    &t,
                    &NewDocument {
                        kb,
                        name: &name,
                        kind: "url",
                        source_url: Some(&source),
                        file_id: Some(file_id),
                        size_bytes: i64::try_from(body.len()).unwrap_or(i64::MAX),
                        metadata: &meta,
                        replaces: None,
                    },
                )?;
                let _ = user;
                let job = Queue::enqueue_in(
                    tx,
                    &Enqueue::new(Some(t.org_id()), super::ingest::KIND, json!({ "document_id": doc.0 })),
                )?;
                store::upsert_queue(tx, &t, doc, Some(job), "pending", 0, 0)?;
                Ok(Some(doc))
            })
            .await;
        match created {
            Ok(Some(_)) => {
                documents += 1;
                state.jobs.notify();
            }
            Ok(None) => skipped += 1,
            Err(e) if e.code() == ErrorCode::KnowledgeBaseNotFound => {
                return Err(JobError::Permanent(e.message().to_owned()));
            }
            Err(e) => return Err(e.into()),
        }
        ctx.progress(json!({ "fetched": fetched, "documents": documents, "skipped": skipped, "queued": queue.len(), "errors": errors.len() }))
            .await?;
    }
    Ok(json!({ "fetched": fetched, "documents": documents, "skipped": skipped, "errors": errors }))
}

fn page_name(page: &Page, kind: Kind) -> String {
    let title = if kind == Kind::Html { extract::html(&String::from_utf8_lossy(&page.body)).title } else { None };
    let name = title.unwrap_or_else(|| page.url.to_string());
    name.chars().take(500).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_normalize_for_loop_detection() {
        let n = |s: &str| normalize(&url::Url::parse(s).expect("url"));
        assert_eq!(n("http://a.test:80/docs/#top"), n("http://a.test/docs"));
        assert_eq!(n("https://a.test/docs/index.html"), n("https://a.test/docs/"));
        assert_ne!(n("https://a.test/docs?page=2"), n("https://a.test/docs?page=3"));
    }
}
