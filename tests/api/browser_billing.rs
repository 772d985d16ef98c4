//! The pricing page (billing on: public plans with prices per interval,
//! limits and features; hidden from the menu with billing off) and the usage
//! page (this month's figures against the plan, SVG bar charts, CSV link) in
//! headless Chromium.

use botbuilder::billing::usage;
use botbuilder::ids::OrgId;

use crate::browser::with_browser;
use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn the_pricing_and_usage_pages_show_plans_limits_and_charts() {
    let app = spawn_app_with(|c| c.billing.enabled = true).await;
    let s = app.register("pricing-ui@example.com").await;
    let month = usage::current_month();
    app.sql(|c| usage::add_on(c, OrgId(s.org_id), None, "message_received", &format!("{month}-01"), 850));
    with_browser("billing_pages", |b| async move {
        b.sign_in(&app, "pricing-ui@example.com").await;
        b.click("a[href='/pricing']").await;
        b.wait_for_path("/pricing").await;
        let pro = b.wait_for_text("[data-plan='pro'] [data-price]", "29").await;
        assert!(pro.contains("month"), "{pro}");
        assert_eq!(b.text_of("[data-plan='enterprise'] [data-limit='bots']").await, "Unlimited");
        assert_eq!(b.text_of("[data-plan='free'] [data-limit='bots']").await, "1");
        b.click("#interval input[value='year']").await;
        b.wait_for_text("[data-plan='pro'] [data-price]", "290").await;

        b.click("a[href='/usage']").await;
        b.wait_for_path("/usage").await;
        let row = b.wait_for_text("#usage-table tr[data-metric='message_received']", "850").await;
        assert!(row.contains("1,000") || row.contains("1000"), "{row}");
        assert!(row.contains("85 %"), "{row}");
        assert_eq!(b.text_of("#usage-plan").await, "free");
        // Bar charts as accessible SVG.
        b.element("[data-chart-metric='message_received'] svg[role='img']").await;
        let href = b.element("#usage-csv").await.attr("href").await.expect("attr").expect("href");
        assert!(href.contains("/usage/export?from="), "{href}");
    })
    .await;
}

#[tokio::test]
async fn with_billing_off_the_pricing_page_is_not_in_the_menu() {
    let app = spawn_app().await;
    app.register("selfhost-ui@example.com").await;
    with_browser("billing_off_menu", |b| async move {
        b.sign_in(&app, "selfhost-ui@example.com").await;
        b.click("a[href='/usage']").await;
        b.wait_for_path("/usage").await;
        b.element("#no-limits").await;
        let menu = b.text_of("nav").await;
        assert!(!menu.contains("Plans and pricing"), "{menu}");
    })
    .await;
}
