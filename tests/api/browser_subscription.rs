//! The billing page in headless Chromium: the current subscription, an
//! upgrade through the proration preview, cancel at period end and resume,
//! and the invoice list with a refund and the download link.

use serde_json::json;

use crate::billing_stripe::{activate, stripe_app, subscribed};
use crate::browser::with_browser;
use crate::fake_stripe::deliver;

#[tokio::test]
async fn the_billing_page_upgrades_with_a_preview_cancels_resumes_and_lists_invoices() {
    let (app, fake) = stripe_app().await;
    let (_s, sub_id) = subscribed(&app, &fake, "billing-ui@example.com").await;
    activate(&app, &fake, &sub_id).await;
    let invoice = fake.invoice(&sub_id, 2900, "paid");
    assert_eq!(deliver(&app, &fake.event("invoice.paid", invoice.clone())).await.status(), 200);
    let refund = json!({ "id": invoice["charge"], "object": "charge", "customer": invoice["customer"], "invoice": invoice["id"],
        "amount": 2900, "amount_refunded": 500, "refunded": false });
    assert_eq!(deliver(&app, &fake.event("charge.refunded", refund)).await.status(), 200);

    with_browser("billing_page", |b| async move {
        b.sign_in(&app, "billing-ui@example.com").await;
        b.click("a[href='/settings/billing']").await;
        b.wait_for_path("/settings/billing").await;
        b.wait_for_text("#current-plan", "Pro").await;
        b.wait_for_text("#subscription-status", "Active").await;
        b.element("#manage-payment").await;

        // The invoice with its refund and a download link.
        let row = b.wait_for_text("#invoices tr[data-invoice]", "Paid").await;
        assert!(row.contains(invoice["number"].as_str().expect("number")) && row.contains("Refunded"), "{row}");
        let href = b.element("#invoices .download-invoice").await.attr("href").await.expect("attr").expect("href");
        assert!(href.starts_with("/api/v1/invoices/") && href.ends_with("/document"), "{href}");

        // Upgrade: the preview shows the prorated amount, then the change applies.
        b.click("[data-plan='enterprise'] .preview-change").await;
        // Credit for the unused month of Pro, charge for the rest of it on Enterprise: about 70.00.
        let amount = b.wait_for_text("#proration-amount", "$").await;
        assert!(amount.contains("69.") || amount.contains("70.00"), "{amount}");
        b.element("#proration-preview .proration-line").await;
        b.click("#confirm-change").await;
        b.wait_for_text("#current-plan", "Enterprise").await;
        assert_eq!(
            fake.subscription(&sub_id)["items"]["data"][0]["price"]["id"],
            crate::billing_stripe::ENTERPRISE_MONTH
        );

        // Cancel at period end, then resume.
        b.click("#cancel-subscription").await;
        b.wait_for_text("#cancel-notice", "ends on").await;
        assert_eq!(fake.subscription(&sub_id)["cancel_at_period_end"], true);
        b.click("#resume-subscription").await;
        b.element("#cancel-subscription").await;
        assert_eq!(fake.subscription(&sub_id)["cancel_at_period_end"], false);
    })
    .await;
}
