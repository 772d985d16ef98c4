//! The superadmin's plan editor (issue 21) in headless Chromium: the plans
//! with prices shown as money and every limit, a new plan whose negative
//! price and unknown currency show the API's 422 under the field, the
//! amount typed as money stored in minor units, the "limits below current
//! usage" warning listing the organization, and archiving.

use crate::browser::with_browser;
use crate::helpers::{PASSWORD, spawn_app};

#[tokio::test]
async fn the_admin_console_lists_creates_edits_and_archives_plans() {
    let app = spawn_app().await;
    app.register("plans-admin@example.com").await;
    app.sql(|c| c.execute("UPDATE users SET is_superadmin = 1 WHERE email = 'plans-admin@example.com'", []));
    with_browser("admin_plans", |b| async move {
        b.client.goto(&app.url("/admin")).await.expect("goto");
        b.fill("#admin-login #email", "plans-admin@example.com").await;
        b.fill("#admin-login #password", PASSWORD).await;
        b.click("#admin-login button[type=submit]").await;
        b.wait_for_text("#admin-stats", "Users").await;
        b.click("button[role=tab][data-tab='plans']").await;
        let pro = b.wait_for_text("tr[data-plan='pro'] [data-prices]", "29").await;
        assert!(pro.contains("29.00") && pro.contains("month"), "{pro}");
        assert_eq!(b.text_of("tr[data-plan='enterprise'] [data-limit='bots']").await, "Unlimited");

        // A new plan: the API's 422s show under their fields.
        b.click("#plan-new").await;
        b.fill("#plan-form [name='name']", "team").await;
        b.fill("#plan-form [name='display_name']", "Team").await;
        b.replace("#plan-form [name='prices[0].amount']", "-5").await;
        b.click("#plan-form button[type=submit]").await;
        b.wait_for_text("[data-field-error='prices[0].amount']", "non-negative").await;
        b.replace("#plan-form [name='prices[0].amount']", "49.90").await;
        b.replace("#plan-form [name='prices[0].currency']", "XYZ").await;
        b.click("#plan-form button[type=submit]").await;
        b.wait_for_text("[data-field-error='prices[0].currency']", "ISO 4217").await;
        b.replace("#plan-form [name='prices[0].currency']", "EUR").await;
        b.replace("#plan-form [name='currency']", "EUR").await;
        b.replace("#plan-form [name='trial_days']", "14").await;
        b.replace("#plan-form [name='limits.bots']", "3").await;
        b.click("#plan-add-feature").await;
        b.fill("#plan-form [data-feature-row='0'] input", "api_access").await;
        b.click("#plan-form button[type=submit]").await;
        let team = b.wait_for_text("tr[data-plan='team'] [data-prices]", "49.90").await;
        assert!(team.contains('€'), "{team}");
        assert_eq!(b.text_of("tr[data-plan='team'] [data-limit='bots']").await, "3");
        assert_eq!(
            app.count(
                "SELECT amount FROM subscription_plan_prices WHERE currency = 'EUR' AND interval = 'month'
                   AND plan_id = (SELECT id FROM subscription_plans WHERE name = 'team')"
            ),
            4990
        );

        // Limits below current usage: saved, with the organizations over them listed.
        b.click("button[data-edit='free']").await;
        b.replace("#plan-form [name='limits.seats']", "0").await;
        b.click("#plan-form button[type=submit]").await;
        let warning = b.wait_for_text("#plan-warnings", "seats").await;
        assert!(warning.contains("1 used, 0 allowed"), "{warning}");

        // Archive: the plan stays, inactive.
        b.click("button[data-archive='team']").await;
        b.element("tr[data-plan='team'][data-active='false']").await;
        assert_eq!(app.count("SELECT is_active FROM subscription_plans WHERE name = 'team'"), 0);
    })
    .await;
}
