//! The analytics dashboard in headless Chromium: a bot's page opens on the
//! range of its URL (KPI cards, SVG charts with their hidden data tables, a
//! CSV button per chart), changing the range re-draws the charts and puts
//! the filters in the URL (shareable), and a range without traffic shows
//! the empty state.

use botbuilder::analytics::levels;
use botbuilder::ids::{BotId, OrgId};
use rusqlite::params;

use crate::browser::with_browser;
use crate::helpers::{TestApp, spawn_app};

/// Rollups of one bot: March 2 (5 conversations) and April 10 (9), widget.
fn seed(app: &TestApp, org: i64) -> i64 {
    app.sql(|c| {
        c.execute("INSERT INTO bots (organization_id, name, widget_key) VALUES (?1, 'Shop', 'wk_analytics_ui')", [org])?;
        let bot = c.last_insert_rowid();
        for (hour, conversations, messages, handoffs) in
            [("2026-03-02T10", 5, 20, 1), ("2026-04-10T15", 9, 31, 3), ("2026-04-11T09", 0, 4, 0)]
        {
            c.execute(
                "INSERT INTO analytics_hourly (organization_id, bot_id, channel, hour, conversations, messages_in, messages_out, handoffs, fallbacks, csat_5, feedback_up)
                 VALUES (?1, ?2, 'widget', ?3, ?4, ?5, ?5, ?6, 1, 1, 2)",
                params![org, bot, hour, conversations, messages, handoffs],
            )?;
            c.execute(
                "INSERT INTO analytics_intents (organization_id, bot_id, channel, hour, intent, count) VALUES (?1, ?2, 'widget', ?3, 'track_order', ?4)",
                params![org, bot, hour, messages / 2],
            )?;
            // The dashboards read the scope and daily levels built from these (V074).
            levels::rollup_hour_totals(c, OrgId(org), BotId(bot), hour)?;
            levels::rollup_day(c, OrgId(org), BotId(bot), &hour[..10])?;
        }
        Ok(bot)
    })
}

#[tokio::test]
async fn the_dashboard_follows_its_range_and_keeps_the_filters_in_the_url() {
    let app = spawn_app().await;
    let s = app.register("analytics-ui@example.com").await;
    let bot = seed(&app, s.org_id);
    with_browser("analytics_dashboard", |b| async move {
        b.sign_in(&app, "analytics-ui@example.com").await;
        b.client
            .goto(&app.url(&format!("/bots/{bot}/analytics?from=2026-03-01&to=2026-03-31&tz=UTC")))
            .await
            .expect("goto");
        assert_eq!(b.text_of("[data-kpi=conversations] [data-value]").await, "5");
        b.wait_for_text("[data-kpi=handoff] [data-value]", "20.0%").await;
        // Charts are SVG with a title, and their data as a table.
        let svg = b.element("[data-chart-card=volume] svg[role=img] title").await;
        assert_eq!(svg.prop("textContent").await.expect("title").as_deref(), Some("Conversations and messages"));
        let table = b.element("[data-chart-card=volume] table").await.html(false).await.expect("html");
        assert!(table.contains("2026-03-02") && !table.contains("2026-04-10"), "{table}");
        b.element("[data-chart-card=intents] button[data-csv='intents.csv']").await;

        // April: the charts are drawn again from the new data.
        b.client
            .execute(
                "document.querySelector('#analytics-from').value = '2026-04-01';
                 document.querySelector('#analytics-from').dispatchEvent(new Event('input', { bubbles: true }));
                 document.querySelector('#analytics-to').value = '2026-04-30';
                 document.querySelector('#analytics-to').dispatchEvent(new Event('input', { bubbles: true }));",
                vec![],
            )
            .await
            .expect("set the range");
        b.click("#analytics-apply").await;
        b.wait_for_text("[data-kpi=conversations] [data-value]", "9").await;
        let url = b.client.current_url().await.expect("url");
        assert!(url.query().unwrap_or_default().contains("from=2026-04-01"), "{url}");
        assert!(url.query().unwrap_or_default().contains("to=2026-04-30"), "{url}");
        let table = b.element("[data-chart-card=volume] table").await.html(false).await.expect("html");
        assert!(table.contains("2026-04-10") && !table.contains("2026-03-02"), "{table}");
        let heat = b.element("[data-chart-card=heatmap] svg").await.html(false).await.expect("svg");
        assert!(heat.contains("<rect"), "the heatmap is drawn");

        // The shared URL opens the same view.
        b.client.goto(url.as_str()).await.expect("goto");
        assert_eq!(b.text_of("[data-kpi=conversations] [data-value]").await, "9");

        // A range without traffic: the empty state, charts say so too.
        b.client
            .goto(&app.url(&format!("/bots/{bot}/analytics?from=2025-01-01&to=2025-01-31&tz=UTC")))
            .await
            .expect("goto");
        b.wait_for_text("#analytics-empty", "No conversations in this period").await;
        b.wait_for_text("[data-chart-card=intents]", "No recognised intents in this period").await;
    })
    .await;
}

#[tokio::test]
async fn the_dashboard_drills_down_to_the_conversations_behind_a_number() {
    let app = spawn_app().await;
    let s = app.register("analytics-drill@example.com").await;
    let bot = seed(&app, s.org_id);
    let conv = app.sql(|c| {
        c.execute(
            "INSERT INTO conversations (organization_id, bot_id, channel, external_user_id, status, created_at, updated_at)
             VALUES (?1, ?2, 'widget', 'visitor-1', 'closed', '2026-03-02T10:05:00.000Z', '2026-03-02T10:05:00.000Z')",
            params![s.org_id, bot],
        )?;
        let conv = c.last_insert_rowid();
        c.execute(
            "INSERT INTO analytics_events (organization_id, bot_id, conversation_id, channel, kind, label, created_at)
             VALUES (?1, ?2, ?3, 'widget', 'fallback', 'do you ship to mars', '2026-03-02T10:06:00.000Z')",
            params![s.org_id, bot, conv],
        )?;
        Ok(conv)
    });
    with_browser("analytics_drill_down", |b| async move {
        b.sign_in(&app, "analytics-drill@example.com").await;
        b.client
            .goto(&app.url(&format!("/bots/{bot}/analytics?from=2026-03-01&to=2026-03-31&tz=UTC")))
            .await
            .expect("goto");
        b.wait_for_text("[data-kpi=conversations] [data-value]", "5").await;
        b.click("#analytics-drill a[data-drill=fallback]").await;
        b.wait_for_text("#drill-table", "do you ship to mars").await;
        let url = b.client.current_url().await.expect("url");
        let query = url.query().unwrap_or_default().to_owned();
        for part in ["kind=fallback", "from=2026-03-01", "to=2026-03-31", &format!("bot_id={bot}")] {
            assert!(query.contains(part), "{part} in {url}");
        }
        // The filters are in the URL: the link opens the same list.
        b.client.goto(url.as_str()).await.expect("goto");
        b.wait_for_text("#drill-table", "do you ship to mars").await;
        b.click(&format!("a[data-transcript='{conv}']")).await;
        b.wait_for_path(&format!("/bots/{bot}/conversations")).await;
        // Another month: nothing of this kind.
        b.client
            .goto(
                &app.url(&format!("/analytics/events?kind=fallback&from=2026-04-01&to=2026-04-30&tz=UTC&bot_id={bot}")),
            )
            .await
            .expect("goto");
        b.wait_for_text("#drill-empty", "Nothing of this kind").await;
    })
    .await;
}
