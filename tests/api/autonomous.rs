//! Autonomous agents (issue 19 item 5) through the real server, against the
//! fake `OpenAI`-compatible model: a goal planned into steps, executed and
//! delivered by email (SMTP sink) and webhook (local receiver); cron
//! schedules fired by running the due-run query with a later `now`; event
//! and inbound-webhook triggers; step and budget limits; pause, resume and
//! cancel; memory search and consolidation with the local embeddings; and
//! the bad inputs.

#![allow(clippy::too_many_lines, reason = "each test is one end-to-end scenario")]

use std::sync::Arc;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::fake_http::{FakeServer, Received, Reply};
use crate::fake_openai::{FakeOpenAi, Step};
use crate::helpers::{Session, TestApp, assert_error, call_ok, send_as, spawn_app, spawn_app_with};
use crate::smtp::{SmtpSink, wait_for};

async fn provider(app: &TestApp, s: &Session, fake: &FakeOpenAi) -> i64 {
    crate::ai::provider(app, s, "Fake", fake, json!({ "max_retries": 0 })).await
}

async fn create_agent(app: &TestApp, s: &Session, body: Value) -> Value {
    let (status, agent) =
        app.call(s, Method::POST, &format!("/api/v1/orgs/{}/autonomous-agents", s.org_id), Some(body)).await;
    assert_eq!(status, 201, "{agent}");
    agent
}

async fn run_now(app: &TestApp, s: &Session, agent: i64) -> i64 {
    let (status, run) =
        app.call(s, Method::POST, &format!("/api/v1/autonomous-agents/{agent}/runs"), Some(json!({}))).await;
    assert_eq!(status, 202, "{run}");
    assert_eq!(run["status"], "pending", "{run}");
    run["id"].as_i64().expect("run id")
}

async fn run(app: &TestApp, s: &Session, id: i64) -> Value {
    call_ok(app, s, Method::GET, &format!("/api/v1/autonomous-runs/{id}"), None).await
}

fn plan(actions: &[&str]) -> Step {
    let steps: Vec<Value> = actions.iter().map(|a| json!({ "action": a })).collect();
    Step::text(&format!("```json\n{}\n```", json!({ "steps": steps })))
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
}

#[tokio::test]
async fn a_goal_is_planned_executed_and_delivered_by_email_and_webhook() {
    let sink = SmtpSink::start().await;
    let smtp = sink.config();
    let app = spawn_app_with(|c| c.smtp = smtp).await;
    let s = app.register("auto-deliver@example.com").await;
    let llm = FakeOpenAi::start().await;
    let p = provider(&app, &s, &llm).await;
    let rx = FakeServer::start(Arc::new(|_r: &Received| Reply::Full(200, "text/plain".into(), b"ok".to_vec()))).await;
    let (status, hook) = app
        .call(
            &s,
            Method::POST,
            &format!("/api/v1/orgs/{}/webhooks", s.org_id),
            Some(json!({ "url": format!("{}/hooks", rx.base), "events": ["agent.run.completed"] })),
        )
        .await;
    assert_eq!(status, 201, "{hook}");

    let agent = create_agent(
        &app,
        &s,
        json!({ "name": "Daily digest", "goal": "Write a digest of yesterday's support tickets",
                "provider_id": p, "deliver_email": "Reports@Example.com", "deliver_webhook": true,
                "system_prompt": "You write short digests." }),
    )
    .await;
    let a = agent["id"].as_i64().expect("agent id");
    assert_eq!(agent["deliver_email"], "reports@example.com", "{agent}");

    llm.push(plan(&["Collect the tickets", "Summarise them"]));
    llm.push(Step::text("12 tickets, 3 about billing").usage(100, 20));
    llm.push(Step::text("Digest: billing questions dominate.").usage(200, 30));
    let id = run_now(&app, &s, a).await;
    app.run_jobs().await;

    let r = run(&app, &s, id).await;
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["triggered_by"], "manual");
    assert_eq!(r["result"]["text"], "Digest: billing questions dominate.", "{r}");
    assert_eq!(r["total_steps"], 2);
    assert_eq!(r["completed_steps"], 2);
    assert_eq!(r["tokens_used"], 15 + 120 + 230, "{r}");
    let steps = r["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 3, "{r}");
    assert_eq!(steps[0]["action_type"], "plan");
    assert_eq!(steps[0]["output"]["steps"], json!(["Collect the tickets", "Summarise them"]));
    assert_eq!(steps[1]["action"], "Collect the tickets");
    assert_eq!(steps[1]["output"]["text"], "12 tickets, 3 about billing");
    assert_eq!(steps[2]["status"], "completed");

    // What the model saw: the goal, then step 2 with step 1's result.
    let bodies = llm.bodies();
    assert_eq!(bodies.len(), 3);
    let system = bodies[0]["messages"][0]["content"].as_str().expect("system");
    assert!(system.contains("You write short digests.") && system.contains("Goal: Write a digest"), "{system}");
    let ask = bodies[2]["messages"][1]["content"].as_str().expect("user");
    assert!(ask.contains("12 tickets, 3 about billing") && ask.contains("step 2 of 2: Summarise them"), "{ask}");

    // Delivered: one email, one signed webhook event.
    let mails = wait_for(&sink, "reports@example.com", 1).await;
    assert!(mails[0].text().contains("Digest: billing questions dominate."), "{}", mails[0].text());
    assert!(mails[0].header("Subject").unwrap_or_default().contains("Daily digest"));
    app.run_jobs().await;
    let got = rx.requests();
    assert_eq!(got.len(), 1, "one event");
    let event: Value = serde_json::from_slice(&got[0].body).expect("json");
    assert_eq!(event["type"], "agent.run.completed", "{event}");
    assert_eq!(event["data"]["run_id"], id);
    assert_eq!(event["data"]["status"], "completed");
    assert_eq!(event["data"]["result"], "Digest: billing questions dominate.");
    assert!(got[0].header("webhook-signature").is_some());

    // Analytics.
    let report = call_ok(&app, &s, Method::GET, &format!("/api/v1/autonomous-agents/{a}/analytics"), None).await;
    assert_eq!(report["runs"], 1, "{report}");
    assert_eq!(report["completed"], 1);
    assert_eq!(report["success_rate"], 1.0);
    assert_eq!(report["tokens"], 365);
    let listed = call_ok(&app, &s, Method::GET, &format!("/api/v1/autonomous-agents/{a}/runs"), None).await;
    assert_eq!(listed["items"][0]["id"], id, "{listed}");
    // Usage metered for the organization.
    assert_eq!(
        app.count(&format!(
            "SELECT coalesce(sum(count), 0) FROM usage_tracking WHERE organization_id = {} AND metric_type = 'llm_tokens'",
            s.org_id
        )),
        365
    );
}

#[tokio::test]
async fn a_cron_schedule_fires_when_due_in_its_time_zone_and_fails_cleanly_without_a_provider() {
    let app = spawn_app().await;
    let s = app.register("auto-cron@example.com").await;
    let agent = create_agent(
        &app,
        &s,
        json!({ "name": "Morning", "goal": "Say good morning",
                "schedule": { "cron": "0 9 * * *", "timezone": "Europe/Paris" } }),
    )
    .await;
    let a = agent["id"].as_i64().expect("id");
    let next = at(agent["next_run_at"].as_str().expect("next_run_at"));
    // 09:00 in Paris is 07:00 or 08:00 UTC.
    assert!(next > Utc::now() && [7, 8].contains(&next.format("%H").to_string().parse::<u32>().unwrap_or(0)), "{next}");

    // Not due yet.
    let started = botbuilder::autonomous::schedule::enqueue_due(&app.state, Utc::now()).await.expect("due");
    assert!(started.is_empty());
    // The clock passes the due time: one run, and the next time moves a day on.
    let later = next + chrono::Duration::minutes(1);
    let started = botbuilder::autonomous::schedule::enqueue_due(&app.state, later).await.expect("due");
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].0.0, a);
    let again = botbuilder::autonomous::schedule::enqueue_due(&app.state, later).await.expect("due");
    assert!(again.is_empty(), "a slot fires once");
    let agent = call_ok(&app, &s, Method::GET, &format!("/api/v1/autonomous-agents/{a}"), None).await;
    let moved = at(agent["next_run_at"].as_str().expect("next"));
    assert_eq!(moved - next, chrono::Duration::days(1), "{agent}");

    // The organization has no LLM provider: the run fails at once, clearly.
    app.run_jobs().await;
    let r = run(&app, &s, started[0].1).await;
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["triggered_by"], "schedule");
    assert_eq!(r["stop_reason"], "llm_not_configured", "{r}");
    assert!(r["error"].as_str().unwrap_or_default().contains("LLM provider"), "{r}");

    // A paused agent is not started by its schedule.
    call_ok(&app, &s, Method::PATCH, &format!("/api/v1/autonomous-agents/{a}"), Some(json!({ "status": "paused" })))
        .await;
    let started = botbuilder::autonomous::schedule::enqueue_due(&app.state, moved + chrono::Duration::minutes(1))
        .await
        .expect("due");
    assert!(started.is_empty());
    // Removing the schedule clears the next time.
    let agent =
        call_ok(&app, &s, Method::PATCH, &format!("/api/v1/autonomous-agents/{a}"), Some(json!({ "schedule": null })))
            .await;
    assert!(agent["next_run_at"].is_null() && agent["schedule"].is_null(), "{agent}");

    // The schedule preview.
    let preview = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{}/autonomous-agents/schedule-preview", s.org_id),
        Some(json!({ "schedule": { "cron": "30 6 * * MON", "timezone": "America/New_York" }, "count": 3 })),
    )
    .await;
    assert_eq!(preview["next_runs"].as_array().map(Vec::len), Some(3), "{preview}");
    assert!(preview["next_runs_local"][0].as_str().unwrap_or_default().contains("T06:30:00"), "{preview}");
}

#[tokio::test]
async fn an_org_event_and_an_inbound_webhook_start_runs() {
    let app = spawn_app().await;
    let s = app.register("auto-triggers@example.com").await;
    let agent = create_agent(
        &app,
        &s,
        json!({ "name": "Watcher", "goal": "React to new messages", "trigger_event": "message.received" }),
    )
    .await;
    let a = agent["id"].as_i64().expect("id");
    assert_eq!(agent["trigger_event"], "message.received");

    // A conversation message (no webhook subscription exists) starts a run.
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "name", "type": "question", "data": { "prompt": { "text": "Your name?" }, "variable": "name" } },
            { "id": "human", "type": "handoff", "data": { "message": { "text": "A colleague will take over." } } }
        ],
        "edges": [ { "source": "start", "target": "name" }, { "source": "name", "target": "human" } ]
    });
    let bot = crate::helpers::published_bot(&app, &s, "Event bot", flow).await;
    let (status, turn) =
        app.call(&s, Method::POST, &format!("/api/v1/bots/{bot}/conversations"), Some(json!({}))).await;
    assert_eq!(status, 200, "{turn}");
    let conv = turn["conversation_id"].as_i64().expect("conversation");
    let (status, turn) = app
        .call(&s, Method::POST, &format!("/api/v1/conversations/{conv}/messages"), Some(json!({ "text": "Hi there" })))
        .await;
    assert_eq!(status, 200, "{turn}");
    let runs = app
        .wait_for_sql(
            "an event run",
            |c| {
                c.query_row(
                    &format!("SELECT count(*) FROM agent_tasks WHERE agent_id = {a} AND triggered_by = 'event'"),
                    [],
                    |r| r.get::<_, i64>(0),
                )
            },
            |n| *n >= 1,
        )
        .await;
    assert!(runs >= 1);
    let input: String = app.sql(|c| {
        c.query_row(&format!("SELECT input_data FROM agent_tasks WHERE agent_id = {a} ORDER BY id LIMIT 1"), [], |r| {
            r.get(0)
        })
    });
    let input: Value = serde_json::from_str(&input).expect("json");
    assert_eq!(input["event"], "message.received", "{input}");
    assert_eq!(input["data"]["text"], "Hi there", "{input}");

    // The inbound webhook: a token shown once; the body becomes the input.
    let hook = call_ok(&app, &s, Method::POST, &format!("/api/v1/autonomous-agents/{a}/hook"), None).await;
    let token = hook["token"].as_str().expect("token").to_owned();
    assert!(token.len() > 40 && hook["url"].as_str().unwrap_or_default().ends_with(&token), "{hook}");
    let r = app.post_json(&format!("/api/v1/autonomous-hooks/{token}"), &json!({ "order": 42 })).await;
    assert_eq!(r.status(), 202);
    let started: Value = r.json().await.expect("json");
    let id = started["run_id"].as_i64().expect("run id");
    let shown = run(&app, &s, id).await;
    assert_eq!(shown["triggered_by"], "webhook", "{shown}");
    assert_eq!(shown["input"]["webhook"]["order"], 42, "{shown}");
    let agent = call_ok(&app, &s, Method::GET, &format!("/api/v1/autonomous-agents/{a}"), None).await;
    assert_eq!(agent["webhook_trigger"], true);
    // Only the hash is stored.
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM autonomous_agents WHERE hook_token_hash = CAST('{token}' AS BLOB)")),
        0
    );

    // An unknown token, and the old token after a rotation, are refused.
    assert_error(
        app.post_json("/api/v1/autonomous-hooks/ah_nope", &json!({})).await,
        404,
        "autonomous_agent_not_found",
    )
    .await;
    call_ok(&app, &s, Method::POST, &format!("/api/v1/autonomous-agents/{a}/hook"), None).await;
    assert_error(
        app.post_json(&format!("/api/v1/autonomous-hooks/{token}"), &json!({})).await,
        404,
        "autonomous_agent_not_found",
    )
    .await;
}

#[tokio::test]
async fn step_and_budget_limits_stop_runs_with_clear_reasons() {
    let app = spawn_app().await;
    let s = app.register("auto-limits@example.com").await;
    let llm = FakeOpenAi::start().await;
    let p = provider(&app, &s, &llm).await;

    // A plan longer than the step limit.
    let short = create_agent(&app, &s, json!({ "name": "Short", "goal": "g", "provider_id": p, "max_steps": 2 })).await;
    llm.push(plan(&["a", "b", "c"]));
    let id = run_now(&app, &s, short["id"].as_i64().expect("id")).await;
    app.run_jobs().await;
    let r = run(&app, &s, id).await;
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["stop_reason"], "step_limit", "{r}");
    assert!(r["error"].as_str().unwrap_or_default().contains("3 steps"), "{r}");
    assert_eq!(llm.bodies().len(), 1, "no step ran");

    // A token budget used up after the first step (plan 15 + step 15 = 30 ≥ 20).
    let thrifty =
        create_agent(&app, &s, json!({ "name": "Thrifty", "goal": "g", "provider_id": p, "token_budget": 20 })).await;
    llm.push(plan(&["one", "two"]));
    llm.push(Step::text("first done"));
    let id = run_now(&app, &s, thrifty["id"].as_i64().expect("id")).await;
    app.run_jobs().await;
    let r = run(&app, &s, id).await;
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["stop_reason"], "token_budget", "{r}");
    assert_eq!(r["completed_steps"], 1, "{r}");
    assert_eq!(r["steps"][2]["status"], "failed", "{r}");
    assert_eq!(llm.bodies().len(), 3, "the third call was not made");
    assert_eq!(llm.pending(), 0);

    // A budget of 0 stops before the first call; so does a cost budget of 0.
    let none =
        create_agent(&app, &s, json!({ "name": "None", "goal": "g", "provider_id": p, "token_budget": 0 })).await;
    let id = run_now(&app, &s, none["id"].as_i64().expect("id")).await;
    app.run_jobs().await;
    assert_eq!(run(&app, &s, id).await["stop_reason"], "token_budget");
    let free =
        create_agent(&app, &s, json!({ "name": "Free", "goal": "g", "provider_id": p, "cost_budget_micros": 0 })).await;
    let id = run_now(&app, &s, free["id"].as_i64().expect("id")).await;
    app.run_jobs().await;
    assert_eq!(run(&app, &s, id).await["stop_reason"], "cost_budget");
    assert_eq!(llm.bodies().len(), 3, "no call for either");

    // An unreadable plan.
    let muddled = create_agent(&app, &s, json!({ "name": "Muddled", "goal": "g", "provider_id": p })).await;
    llm.push(Step::text("I will just do it."));
    let id = run_now(&app, &s, muddled["id"].as_i64().expect("id")).await;
    app.run_jobs().await;
    let r = run(&app, &s, id).await;
    assert_eq!(r["stop_reason"], "plan_invalid", "{r}");
    assert_eq!(r["steps"][0]["status"], "failed", "{r}");

    let stats =
        call_ok(&app, &s, Method::GET, &format!("/api/v1/autonomous-agents/{}/analytics", thrifty["id"]), None).await;
    assert_eq!(stats["failed"], 1, "{stats}");
    assert_eq!(stats["success_rate"], 0.0, "{stats}");
    assert_eq!(stats["tokens"], 30, "{stats}");
}

#[tokio::test]
async fn runs_pause_resume_and_cancel() {
    let app = spawn_app().await;
    let s = app.register("auto-control@example.com").await;
    let llm = FakeOpenAi::start().await;
    let p = provider(&app, &s, &llm).await;
    let agent = create_agent(&app, &s, json!({ "name": "Ctl", "goal": "g", "provider_id": p })).await;
    let a = agent["id"].as_i64().expect("id");

    // Paused before it starts: the job leaves it alone.
    let id = run_now(&app, &s, a).await;
    let paused = call_ok(&app, &s, Method::POST, &format!("/api/v1/autonomous-runs/{id}/pause"), None).await;
    assert_eq!(paused["status"], "paused", "{paused}");
    app.run_jobs().await;
    assert_eq!(run(&app, &s, id).await["status"], "paused");
    assert!(llm.bodies().is_empty(), "no model call while paused");
    // Resuming twice: the second is refused.
    llm.push(plan(&["only step"]));
    llm.push(Step::text("done"));
    let resumed = call_ok(&app, &s, Method::POST, &format!("/api/v1/autonomous-runs/{id}/resume"), None).await;
    assert_eq!(resumed["status"], "pending", "{resumed}");
    let (status, body) = app.call(&s, Method::POST, &format!("/api/v1/autonomous-runs/{id}/resume"), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("autonomous_run_not_paused")), "{body}");
    app.run_jobs().await;
    let r = run(&app, &s, id).await;
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["result"]["text"], "done");
    // A finished run cannot be paused or cancelled.
    let (status, body) = app.call(&s, Method::POST, &format!("/api/v1/autonomous-runs/{id}/cancel"), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("autonomous_run_finished")), "{body}");
    assert_eq!(body["error"]["details"]["status"], "completed");

    // Cancelled before it starts: nothing runs, nothing is delivered.
    let id = run_now(&app, &s, a).await;
    let cancelled = call_ok(&app, &s, Method::POST, &format!("/api/v1/autonomous-runs/{id}/cancel"), None).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["stop_reason"], "cancelled");
    app.run_jobs().await;
    assert_eq!(run(&app, &s, id).await["status"], "cancelled");
    assert_eq!(llm.bodies().len(), 2);
    let (status, _) = app.call(&s, Method::POST, &format!("/api/v1/autonomous-runs/{id}/resume"), None).await;
    assert_eq!(status, 409);

    // Cancelled between two steps (the plan was made, step 1 is pending).
    let id = run_now(&app, &s, a).await;
    app.sql(|c| {
        c.execute_batch(&format!(
            "INSERT INTO task_steps (organization_id, task_id, step_number, action, action_type, status, output)
             VALUES ({o}, {id}, 1, 'plan', 'plan', 'completed', '{{\"steps\": [\"first\", \"second\"]}}');
             INSERT INTO task_steps (organization_id, task_id, step_number, action, action_type) VALUES ({o}, {id}, 2, 'first', 'execute');
             INSERT INTO task_steps (organization_id, task_id, step_number, action, action_type) VALUES ({o}, {id}, 3, 'second', 'execute');
             UPDATE agent_tasks SET total_steps = 2 WHERE id = {id};",
            o = s.org_id
        ))
    });
    call_ok(&app, &s, Method::POST, &format!("/api/v1/autonomous-runs/{id}/cancel"), None).await;
    app.run_jobs().await;
    let r = run(&app, &s, id).await;
    assert_eq!(r["status"], "cancelled", "{r}");
    assert!(r["steps"].as_array().expect("steps")[1..].iter().all(|st| st["status"] == "skipped"), "{r}");
    assert_eq!(llm.bodies().len(), 2, "the plan was not asked again, no step ran");

    // Unknown runs are 404; an archived agent does not start.
    assert_error(
        send_as(&app, &s, Method::POST, "/api/v1/autonomous-runs/999999/pause", None).await,
        404,
        "autonomous_run_not_found",
    )
    .await;
    call_ok(&app, &s, Method::PATCH, &format!("/api/v1/autonomous-agents/{a}"), Some(json!({ "status": "archived" })))
        .await;
    assert_error(
        send_as(&app, &s, Method::POST, &format!("/api/v1/autonomous-agents/{a}/runs"), Some(json!({}))).await,
        409,
        "autonomous_agent_archived",
    )
    .await;
}

#[tokio::test]
async fn memories_are_searched_by_meaning_recalled_into_prompts_and_consolidated() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("auto-memory@example.com").await;
    let llm = FakeOpenAi::start().await;
    let p = provider(&app, &s, &llm).await;
    let agent =
        create_agent(&app, &s, json!({ "name": "Mem", "goal": "Plan the invoicing run", "provider_id": p })).await;
    let a = agent["id"].as_i64().expect("id");
    let path = format!("/api/v1/autonomous-agents/{a}/memories");
    let add = |text: &'static str| {
        let (app, s, path) = (&app, &s, path.clone());
        async move {
            let (status, m) = app.call(s, Method::POST, &path, Some(json!({ "content": text }))).await;
            assert_eq!(status, 201, "{m}");
            m
        }
    };
    let billing = add("Invoices are sent on the first working day of each month.").await;
    let prefs = add("The customer prefers to be contacted by email rather than by phone.").await;
    add("The head office moved to Lyon in 2024.").await;
    // A near-duplicate merges into the existing item.
    let dup = add("The customer prefers to be contacted by email rather than phone.").await;
    assert_eq!(dup["id"], prefs["id"], "{dup}");
    assert_eq!(dup["merged_count"], 2, "{dup}");
    assert_eq!(app.count(&format!("SELECT count(*) FROM agent_memories WHERE agent_id = {a}")), 3);

    // Search by meaning.
    let found =
        call_ok(&app, &s, Method::GET, &format!("{path}?q=when%20do%20we%20bill%20clients&limit=2"), None).await;
    assert_eq!(found[0]["id"], billing["id"], "{found}");
    assert!(found[0]["score"].as_f64().unwrap_or(0.0) > found[1]["score"].as_f64().unwrap_or(1.0), "{found}");
    assert_eq!(found[0]["hits"], 1);

    // The run's prompt carries the relevant memories.
    llm.push(plan(&["Check the calendar"]));
    llm.push(Step::text("The run is on the 1st."));
    let id = run_now(&app, &s, a).await;
    app.run_jobs().await;
    assert_eq!(run(&app, &s, id).await["status"], "completed");
    let system = llm.bodies()[0]["messages"][0]["content"].as_str().expect("system").to_owned();
    assert!(
        system.contains("Relevant memories") && system.contains("Invoices are sent on the first working day"),
        "{system}"
    );
    // The result was remembered.
    let all = call_ok(&app, &s, Method::GET, &path, None).await;
    assert!(
        all.as_array()
            .expect("list")
            .iter()
            .any(|m| m["content"].as_str().unwrap_or_default().contains("The run is on the 1st.")),
        "{all}"
    );

    // Lowering the cap drops the least useful: the remembered result was never recalled,
    // every other item was (by the search or the run's prompt).
    call_ok(&app, &s, Method::PATCH, &format!("/api/v1/autonomous-agents/{a}"), Some(json!({ "memory_cap": 3 }))).await;
    let c = call_ok(&app, &s, Method::POST, &format!("{path}/consolidate"), None).await;
    assert_eq!(c["dropped"], 1, "{c}");
    assert_eq!(c["remaining"], 3, "{c}");
    let left: Vec<Value> = call_ok(&app, &s, Method::GET, &path, None).await.as_array().cloned().unwrap_or_default();
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(left.iter().all(|m| m["hits"].as_i64().unwrap_or(0) >= 1), "{left:?}");
    assert!(
        left.iter().all(|m| !m["content"].as_str().unwrap_or_default().contains("The run is on the 1st.")),
        "{left:?}"
    );
    assert!(left.iter().any(|m| m["id"] == billing["id"]), "{left:?}");

    // Forgetting one; bad input.
    let (status, _) =
        app.call(&s, Method::DELETE, &format!("/api/v1/autonomous-memories/{}", billing["id"]), None).await;
    assert_eq!(status, 204);
    assert_error(
        send_as(&app, &s, Method::POST, &path, Some(json!({ "content": "  " }))).await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(send_as(&app, &s, Method::GET, &format!("{path}?limit=0"), None).await, 422, "validation_failed")
        .await;
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field_and_nothing_is_stored() {
    let app = spawn_app().await;
    let s = app.register("auto-bad@example.com").await;
    let other = app.register("auto-bad-other@example.com").await;
    let path = format!("/api/v1/orgs/{}/autonomous-agents", s.org_id);
    let base = json!({ "name": "Bad", "goal": "g" });
    let with = |extra: Value| {
        let mut b = base.clone();
        if let (Some(b), Some(e)) = (b.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        b
    };
    let cases = [
        (json!({ "schedule": { "cron": "not a cron", "timezone": "UTC" } }), "schedule_invalid", "schedule.cron"),
        (json!({ "schedule": { "cron": "61 * * * *" } }), "schedule_invalid", "schedule.cron"),
        (
            json!({ "schedule": { "cron": "0 9 * * *", "timezone": "Mars/Olympus_Mons" } }),
            "schedule_invalid",
            "schedule.timezone",
        ),
        (json!({ "token_budget": -1 }), "validation_failed", "token_budget"),
        (json!({ "cost_budget_micros": -5 }), "validation_failed", "cost_budget_micros"),
        (json!({ "max_steps": 0 }), "validation_failed", "max_steps"),
        (json!({ "max_steps": 51 }), "validation_failed", "max_steps"),
        (json!({ "temperature": 3.5 }), "validation_failed", "temperature"),
        (json!({ "memory_cap": 0 }), "validation_failed", "memory_cap"),
        (json!({ "trigger_event": "agent.exploded" }), "unknown_webhook_event", "trigger_event"),
        (json!({ "tool_ids": [999_999] }), "invalid_reference", "tool_ids[0]"),
        (json!({ "provider_id": 999_999 }), "invalid_reference", "provider_id"),
        (json!({ "agent_id": 999_999 }), "invalid_reference", "agent_id"),
        (json!({ "deliver_email": "not-an-address" }), "validation_failed", "deliver_email"),
        (json!({ "status": "sleeping" }), "validation_failed", "status"),
        (json!({ "goal": "  " }), "validation_failed", "goal"),
        (json!({ "name": "" }), "validation_failed", "name"),
    ];
    for (extra, code, field) in cases {
        let body = with(extra.clone());
        let e = assert_error(send_as(&app, &s, Method::POST, &path, Some(body)).await, 422, code).await;
        assert_eq!(e["error"]["details"]["field"], field, "{extra}: {e}");
    }
    let e = assert_error(
        send_as(&app, &s, Method::POST, &path, Some(json!({ "name": "No goal" }))).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(e["error"]["details"]["field"], "goal");
    assert_eq!(app.count("SELECT count(*) FROM autonomous_agents"), 0, "nothing stored");

    // Updates are checked the same way and change nothing.
    let agent = create_agent(&app, &s, base.clone()).await;
    let a = agent["id"].as_i64().expect("id");
    let e = assert_error(
        send_as(
            &app,
            &s,
            Method::PATCH,
            &format!("/api/v1/autonomous-agents/{a}"),
            Some(json!({ "schedule": { "cron": "* * *" } })),
        )
        .await,
        422,
        "schedule_invalid",
    )
    .await;
    assert_eq!(e["error"]["details"]["field"], "schedule.cron");
    assert_error(
        send_as(
            &app,
            &s,
            Method::PATCH,
            &format!("/api/v1/autonomous-agents/{a}"),
            Some(json!({ "token_budget": -1 })),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert!(
        call_ok(&app, &s, Method::GET, &format!("/api/v1/autonomous-agents/{a}"), None).await["schedule"].is_null()
    );
    assert_error(send_as(&app, &s, Method::POST, &path, Some(base.clone())).await, 409, "name_taken").await;
    assert_error(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/orgs/{}/autonomous-agents/schedule-preview", s.org_id),
            Some(json!({ "schedule": { "cron": "@sometimes" } })),
        )
        .await,
        422,
        "schedule_invalid",
    )
    .await;
    // Another organization's agent is not found.
    assert_error(
        send_as(&app, &other, Method::GET, &format!("/api/v1/autonomous-agents/{a}"), None).await,
        404,
        "autonomous_agent_not_found",
    )
    .await;
    let (status, _) = app.call(&s, Method::DELETE, &format!("/api/v1/autonomous-agents/{a}"), None).await;
    assert_eq!(status, 204);
}
