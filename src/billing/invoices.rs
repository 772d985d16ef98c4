//! Invoices (the organization's `payment_history`, written from Stripe's
//! invoice and charge events): the list, one invoice as a server-rendered
//! HTML document with refunds shown, and the superadmin revenue overview.
//!
//! No PDF: the Rust PDF writers that need no browser (printpdf, genpdf)
//! make the caller embed fonts and lay text out by hand, which would add a
//! font file and a layout engine to the binary for one page; the HTML
//! document prints to PDF from any browser, and Stripe's hosted invoice
//! (`hosted_url`) offers its own PDF.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use actix_web::{HttpResponse, get, web};
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use super::stripe::store::{self, InvoiceRow};
use crate::admin::AdminScope;
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::http::scope::{Owner, ScopeResource, Scoped};
use crate::http::{OrgScope, Page, PageParams};
use crate::id_type;
use crate::permissions::perm;

id_type!(
    /// A `payment_history` row (an invoice).
    InvoiceId
);

/// `/invoices/{invoice_id}/…`
pub struct InvoiceResource;
impl ScopeResource for InvoiceResource {
    const PARAM: &'static str = "invoice_id";
    const NOT_FOUND: ErrorCode = ErrorCode::InvoiceNotFound;
    type Id = InvoiceId;
    fn owner(conn: &Connection, id: InvoiceId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM payment_history WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

pub type InvoiceScope<P> = Scoped<InvoiceResource, P>;

/// Registers the routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_invoices).service(invoice_document).service(revenue_overview);
}

/// Lists the organization's invoices and payments, newest first.
#[utoipa::path(
    tag = "billing",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams),
    responses((status = 200, body = Page<InvoiceRow>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("session" = ["billing.manage"]), ("api_token" = ["billing.manage"]))
)]
#[get("/orgs/{org_id}/billing/invoices")]
async fn list_invoices(
    scope: OrgScope<perm::BillingManage>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<InvoiceRow>>> {
    super::require_enabled(&state.config.billing)?;
    let (tenant, page) = (scope.into_tenant(), page.into_inner());
    let (before, limit) = (page.cursor()?.map(|c| c.id), page.fetch_limit()?);
    let rows = state.db.read(move |c| Ok(store::invoices(c, &tenant, before, limit)?)).await?;
    Ok(web::Json(Page::from_rows(rows, &page, |r| r.id)?))
}

/// Downloads an invoice as an HTML document (print it to PDF from a browser).
#[utoipa::path(
    tag = "billing",
    params(("invoice_id" = i64, Path, description = "Invoice (payment) id")),
    responses((status = 200, content_type = "text/html", body = String), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "`invoice_not_found` or `billing_disabled`")),
    security(("session" = ["billing.manage"]), ("api_token" = ["billing.manage"]))
)]
#[get("/invoices/{invoice_id}/document")]
async fn invoice_document(
    scope: InvoiceScope<perm::BillingManage>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    super::require_enabled(&state.config.billing)?;
    let id = scope.id();
    let tenant = scope.into_tenant();
    let (invoice, org_name, brand) = state
        .db
        .read(move |c| {
            let invoice = store::invoice(c, &tenant, id.0)?;
            let org = store::org_billing(c, &tenant)?;
            let brand = crate::orgs::whitelabel::branding(c, &crate::http::Tenant::system(tenant.org_id(), "invoice"))?;
            Ok((invoice, org.name, brand.brand_name))
        })
        .await?;
    let invoice = invoice.ok_or_else(|| AppError::new(ErrorCode::InvoiceNotFound, "no such invoice"))?;
    let name = invoice.number.clone().unwrap_or_else(|| invoice.id.to_string());
    let file: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"invoice-{file}.html\"")))
        .body(render(&invoice, &org_name, &brand)))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// Minor units as `12.34 USD` (zero-decimal currencies shown whole).
#[must_use]
pub fn money(amount: i64, currency: &str) -> String {
    const ZERO_DECIMAL: &[&str] = &[
        "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
    ];
    if ZERO_DECIMAL.contains(&currency) {
        return format!("{amount} {currency}");
    }
    let sign = if amount < 0 { "-" } else { "" };
    let a = amount.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", a / 100, a % 100)
}

fn day(ts: Option<&str>) -> String {
    ts.map_or_else(|| "—".to_owned(), |t| t.get(..10).unwrap_or(t).to_owned())
}

/// The invoice document.
#[must_use]
pub fn render(i: &InvoiceRow, org_name: &str, brand: &str) -> String {
    let number = i.number.clone().unwrap_or_else(|| format!("#{}", i.id));
    let mut rows = String::new();
    let _ = write!(
        rows,
        "<tr><td>{}</td><td>{} – {}</td><td class=\"n\">{}</td></tr>",
        escape(i.description.as_deref().unwrap_or("Subscription")),
        day(i.period_start.as_deref()),
        day(i.period_end.as_deref()),
        escape(&money(i.amount, &i.currency))
    );
    if i.amount_refunded > 0 {
        let _ = write!(
            rows,
            "<tr class=\"refund\"><td>Refunded</td><td></td><td class=\"n\">{}</td></tr>",
            escape(&money(-i.amount_refunded, &i.currency))
        );
    }
    let status = match i.status.as_str() {
        "succeeded" => "Paid",
        "refunded" => "Refunded",
        "failed" => "Payment failed",
        _ => "Open",
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Invoice {number}</title>\
         <style>body{{font-family:Helvetica,Arial,sans-serif;color:#111827;max-width:720px;margin:40px auto;padding:0 16px}}\
         h1{{font-size:24px;margin:0 0 4px}}table{{width:100%;border-collapse:collapse;margin:24px 0}}\
         th,td{{text-align:left;padding:8px;border-bottom:1px solid #e5e7eb}}.n{{text-align:right}}\
         .refund td{{color:#b91c1c}}.total td{{font-weight:bold;border-bottom:none}}dl{{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px}}\
         dt{{color:#6b7280}}</style></head><body>\
         <header><h1>Invoice {number}</h1><p>{brand}</p></header>\
         <dl><dt>Billed to</dt><dd>{org}</dd><dt>Date</dt><dd>{date}</dd><dt>Status</dt><dd>{status}</dd></dl>\
         <table><thead><tr><th scope=\"col\">Description</th><th scope=\"col\">Period</th><th scope=\"col\" class=\"n\">Amount</th></tr></thead>\
         <tbody>{rows}<tr class=\"total\"><td>Total</td><td></td><td class=\"n\">{total}</td></tr></tbody></table>\
         </body></html>",
        number = escape(&number),
        brand = escape(brand),
        org = escape(org_name),
        date = day(Some(&i.created_at)),
        status = status,
        total = escape(&money(i.amount - i.amount_refunded, &i.currency)),
    )
}

/// Monthly recurring revenue in one currency.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Mrr {
    pub currency: String,
    /// Minor units per month (yearly prices divided by 12).
    pub amount: i64,
}

/// The superadmin revenue overview.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RevenueOverview {
    /// From active and past-due subscriptions (trials pay nothing yet).
    pub mrr: Vec<Mrr>,
    pub active_subscriptions: i64,
    pub trialing: i64,
    pub past_due: i64,
    /// Past due beyond the grace period: new conversations get the notice.
    pub restricted: i64,
    /// Canceled in the last 30 days.
    pub churned_30d: i64,
}

/// Revenue overview: MRR, active, trialing, past-due and churned subscriptions.
#[utoipa::path(
    tag = "admin",
    responses((status = 200, body = RevenueOverview), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "`billing_disabled`")),
    security(("admin_session" = []))
)]
#[get("/admin/billing/overview")]
async fn revenue_overview(_admin: AdminScope, state: web::Data<AppState>) -> AppResult<web::Json<RevenueOverview>> {
    super::require_enabled(&state.config.billing)?;
    let since = crate::db::format_timestamp(chrono::Utc::now() - chrono::Duration::days(30));
    let (rows, (churned, restricted)) =
        state.db.read(move |c| Ok((store::revenue_rows(c)?, store::churn_counts(c, &since)?))).await?;
    let mut mrr: BTreeMap<String, i64> = BTreeMap::new();
    let (mut active, mut trialing, mut past_due) = (0, 0, 0);
    for (status, per_month, currency) in rows {
        match status.as_str() {
            "active" => active += 1,
            "trialing" => trialing += 1,
            "past_due" | "unpaid" => past_due += 1,
            _ => {}
        }
        if matches!(status.as_str(), "active" | "past_due") {
            *mrr.entry(currency).or_default() += per_month;
        }
    }
    Ok(web::Json(RevenueOverview {
        mrr: mrr.into_iter().map(|(currency, amount)| Mrr { currency, amount }).collect(),
        active_subscriptions: active,
        trialing,
        past_due,
        restricted,
        churned_30d: churned,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_escapes_values_and_shows_refunds() {
        let i = InvoiceRow {
            id: 7,
            number: Some("INV-<1>".into()),
            status: "succeeded".into(),
            amount: 2900,
            amount_refunded: 900,
            currency: "USD".into(),
            description: Some("Pro <script>".into()),
            period_start: Some("2026-11-01T00:00:00.000Z".into()),
            period_end: Some("2026-12-01T00:00:00.000Z".into()),
            hosted_url: None,
            created_at: "2026-11-01T00:00:01.000Z".into(),
        };
        let html = render(&i, "Acme & Co", "botbuilder");
        assert!(
            html.contains("INV-&lt;1&gt;") && html.contains("Pro &lt;script&gt;") && html.contains("Acme &amp; Co")
        );
        assert!(html.contains("-9.00 USD") && html.contains("20.00 USD") && html.contains("2026-11-01 – 2026-12-01"));
        assert_eq!(money(500, "JPY"), "500 JPY");
    }
}
