//! The Recovery page in headless Chromium: a campaign is built through the
//! UI — trigger, a first email step whose template names a field the
//! trigger lacks (refused under the step's message), fixed with a live
//! preview, a second SMS step from "Add step" with an A/B variant, model
//! rewriting on, status active — and saved; the list shows its channels and
//! the API has every setting; the customer health card shows its empty state.

use reqwest::Method;

use crate::browser::with_browser;
use crate::helpers::spawn_app;

#[tokio::test]
async fn the_recovery_page_builds_a_two_step_campaign_with_a_variant() {
    let app = spawn_app().await;
    let s = app.register("recovery-ui@example.com").await;
    let app = std::sync::Arc::new(app);
    let app2 = app.clone();
    with_browser("recovery_page", |b| async move {
        b.sign_in(&app2, "recovery-ui@example.com").await;
        b.click("a[href='/recovery']").await;
        b.wait_for_path("/recovery").await;
        b.wait_for_text("#recovery-health", "No customer at risk").await;

        b.click("#new-campaign").await;
        b.fill("#campaign-builder [name='name']", "Carts by UI").await;
        b.select("#trigger", "abandoned_cart").await;
        b.select("#status", "active").await;
        b.fill("[id='steps[0].subject']", "Your cart, {{customer.first_name}}").await;
        b.fill("[id='steps[0].body']", "Invoice {{invoice_id}}").await;
        b.click("#campaign-builder button[type=submit]").await;
        b.wait_for_text("[data-field-error='steps[0].body']", "invoice_id").await;

        b.replace("[id='steps[0].body']", "Hi {{customer.first_name}}, your cart: {{checkout_url}}").await;
        b.wait_for_text(
            "[aria-label='Preview of step 1'] pre",
            "Hi Ann, your cart: https://shop.example/checkout/sample",
        )
        .await;
        b.click("[id='steps[0].rewrite']").await;

        b.click("#add-step").await;
        b.select("[id='steps[1].channel']", "sms").await;
        b.fill("[id='steps[1].body']", "Still there? {{checkout_url}}").await;
        b.click("[data-step='1'] .add-variant").await;
        b.replace("[id='steps[1].variants[0].body']", "{{customer.first_name}}, 10% off: {{checkout_url}}").await;
        b.wait_for_text("[aria-label='Preview of step 2 variant B'] pre", "Ann, 10% off: https://shop.example").await;
        b.click("#campaign-builder button[type=submit]").await;
        let row = b.wait_for_text("#recovery-campaigns tr[data-campaign]", "Carts by UI").await;
        assert!(row.contains("email → sms") && row.contains("active"), "{row}");
    })
    .await;
    let (status, page) =
        app.call(&s, Method::GET, &format!("/api/v1/orgs/{}/recovery/campaigns", s.org_id), None).await;
    assert_eq!(status, 200, "{page}");
    let c = &page["items"][0];
    assert_eq!(
        (c["name"].as_str(), c["trigger"].as_str(), c["status"].as_str()),
        (Some("Carts by UI"), Some("abandoned_cart"), Some("active"))
    );
    let steps = c["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 2, "{c}");
    assert_eq!(steps[0]["body"], "Hi {{customer.first_name}}, your cart: {{checkout_url}}");
    assert_eq!((steps[0]["rewrite"].as_bool(), steps[1]["rewrite"].as_bool()), (Some(true), Some(false)));
    assert_eq!(steps[1]["channel"], "sms");
    assert_eq!(steps[1]["variants"][0]["body"], "{{customer.first_name}}, 10% off: {{checkout_url}}");
}
