//! Outbound allow-lists through the real server and the real `config`
//! loader: `outbound.allow_cidrs`/`allow_hosts` admit only what they name,
//! and lists can be given in the environment.

use std::process::Command;

use reqwest::Method;
use serde_json::{Value, json};

use crate::fake_http::{FakeServer, Reply};
use crate::helpers::{assert_error, spawn_app_with};
use crate::knowledge::create_kb;

const BIN: &str = env!("CARGO_BIN_EXE_botbuilder");

#[tokio::test]
async fn an_allowed_cidr_opens_exactly_that_network_to_url_ingestion() {
    let site = FakeServer::start(std::sync::Arc::new(|_: &crate::fake_http::Received| {
        Reply::Full(200, "text/plain".into(), b"Opening hours: ten to five.".to_vec())
    }))
    .await;
    let page = format!("{}/hours.txt", site.base);

    // A private network that does not hold the target, and an allow-listed
    // name (names never open loopback): still refused.
    let other = spawn_app_with(|c| {
        c.outbound.allow_private = false;
        c.outbound.allow_cidrs = vec!["10.0.0.0/8".into()];
        c.outbound.allow_hosts = vec!["localhost".into()];
    })
    .await;
    let s = other.register("cidr-other@example.com").await;
    let kb = create_kb(&other, &s, json!({ "name": "Other" })).await["id"].as_i64().expect("id");
    for url in [page.clone(), page.replace("127.0.0.1", "localhost")] {
        let r = other
            .as_user(&s, Method::POST, &format!("/api/v1/knowledge-bases/{kb}/documents/url"))
            .json(&json!({ "url": url }))
            .send()
            .await
            .expect("send");
        if r.status() == 201 {
            // Names are checked when the fetch job resolves them.
            let id = r.json::<Value>().await.expect("json")["document"]["id"].as_i64().expect("id");
            other.run_jobs().await;
            let d: Value = other
                .as_user(&s, Method::GET, &format!("/api/v1/documents/{id}"))
                .send()
                .await
                .expect("send")
                .json()
                .await
                .expect("json");
            assert_eq!(d["error_code"], "url_not_allowed", "{url}: {d}");
        } else {
            let body = assert_error(r, 422, "url_not_allowed").await;
            assert_eq!(body["error"]["details"]["field"], "url");
        }
    }
    assert!(site.requests().is_empty(), "refused targets were contacted");

    // The loopback network listed explicitly: the page is fetched.
    let open = spawn_app_with(|c| {
        c.outbound.allow_private = false;
        c.outbound.allow_cidrs = vec!["127.0.0.0/8".into()];
    })
    .await;
    let s = open.register("cidr-open@example.com").await;
    let kb = create_kb(&open, &s, json!({ "name": "Open" })).await["id"].as_i64().expect("id");
    let r = open
        .as_user(&s, Method::POST, &format!("/api/v1/knowledge-bases/{kb}/documents/url"))
        .json(&json!({ "url": page }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    open.run_jobs().await;
    assert_eq!(site.requests().iter().map(|r| r.path.as_str()).collect::<Vec<_>>(), ["/hours.txt"]);
}

#[test]
fn allow_lists_come_from_the_environment_and_bad_entries_are_all_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("x.db");
    let data = data.to_str().expect("utf-8");
    let check = |vars: &[(&str, &str)]| {
        let mut command = Command::new(BIN);
        command.args(["config", "check", "--data", data]).env("RUST_LOG", "warn").current_dir(dir.path());
        for (k, v) in vars {
            command.env(k, v);
        }
        command.output().expect("run botbuilder")
    };
    // A comma-separated string and a TOML-style array both work.
    let out = check(&[
        ("BOTBUILDER_OUTBOUND__ALLOW_CIDRS", "10.20.0.0/16, fd00::/8"),
        ("BOTBUILDER_OUTBOUND__ALLOW_HOSTS", "[\"llm.internal\", \"*.corp.example\"]"),
        ("BOTBUILDER_OUTBOUND__PROXY", "http://proxy.corp.example:3128"),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let json_end = stdout.rfind('}').expect("printed config") + 1;
    let config: Value = serde_json::from_str(&stdout[..json_end]).expect("config json");
    assert_eq!(config["outbound"]["allow_cidrs"], json!(["10.20.0.0/16", "fd00::/8"]));
    assert_eq!(config["outbound"]["allow_hosts"], json!(["llm.internal", "*.corp.example"]));
    assert_eq!(config["outbound"]["proxy"], "http://proxy.corp.example:3128");

    let out = check(&[
        ("BOTBUILDER_OUTBOUND__ALLOW_CIDRS", "10.20.0.0/33,intranet"),
        ("BOTBUILDER_OUTBOUND__ALLOW_HOSTS", "*.com,10.1.1.1"),
        ("BOTBUILDER_OUTBOUND__PROXY", "socks5://proxy:1080"),
    ]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{text}");
    for expected in [
        "outbound.allow_cidrs: `10.20.0.0/33`",
        "outbound.allow_cidrs: `intranet`",
        "outbound.allow_hosts: `*.com` is too broad",
        "outbound.allow_hosts: `10.1.1.1` is an IP address",
        "outbound.proxy: `socks5://proxy:1080`",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}
