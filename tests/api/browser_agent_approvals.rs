//! Tool calls waiting for a human in the inbox (issue 19): an agent's
//! refund waits with its (redacted) arguments and who asked; a person
//! approves it from the inbox, and the conversation shows the decision and
//! the agent's reply going on.

use serde_json::json;

use crate::agents::{agent, agent_flow, code_tool, conversation_waiting_for_approval, publish};
use crate::browser::with_browser;
use crate::fake_openai::{FakeOpenAi, Step};
use crate::helpers::spawn_app_with;

#[tokio::test]
async fn a_tool_call_is_approved_from_the_inbox_and_the_agent_replies() {
    let app = spawn_app_with(|c| c.llm.backoff_base_ms = 10).await;
    let s = app.register("approvals-ui@example.com").await;
    let fake = FakeOpenAi::start().await;
    let refund = code_tool(&app, &s, "refund", "return { refunded: args.amount };", json!({ "type": "object" })).await;
    let (bot, agent_id) =
        agent(&app, &s, &fake, json!({ "tools": [{ "tool_id": refund, "requires_approval": true }] })).await;
    publish(&app, &s, bot, agent_flow(agent_id)).await;
    fake.push(Step::tool_calls(&[("c1", "refund", r#"{"amount": 20, "token": "sk-secret-1"}"#)]));
    let conv = conversation_waiting_for_approval(&app, &s, bot, "visitor-ui", "Refund my 20 please").await;

    with_browser("inbox_approvals", |b| async move {
        b.sign_in(&app, "approvals-ui@example.com").await;
        b.client.goto(&app.url("/inbox")).await.expect("goto");
        b.wait_for_text("#approvals-count", "1").await;
        let item = b.wait_for_text("#approvals-list", "refund").await;
        assert!(item.contains("Helper") && item.contains("visitor-ui"), "{item}");
        assert!(item.contains("Refund my 20 please") && item.contains("\"amount\": 20"), "{item}");
        assert!(item.contains("[redacted]") && !item.contains("sk-secret-1"), "{item}");
        assert_eq!(app.count("SELECT count(*) FROM tool_executions"), 0);

        fake.push(Step::text("Done: 20 refunded."));
        b.click("#approvals-list .approval-approve").await;
        // The conversation opens with the decision and the agent's reply.
        b.wait_for_text("#conversation-log", "Done: 20 refunded.").await;
        let log = b.wait_for_text("#conversation-log", "Approved the tool call refund").await;
        assert!(!log.contains("sk-secret-1"), "{log}");
        b.wait_for_text("#approvals-list", "No tool calls wait for approval").await;
        b.wait_for_text("#approvals-count", "0").await;
        assert_eq!(app.count("SELECT count(*) FROM tool_executions WHERE status = 'ok'"), 1);
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM agent_approvals WHERE conversation_id = {conv} AND status = 'approved'"
            )),
            1
        );
    })
    .await;
}
