//! A fake of `OpenAI`'s fine-tuning API on a loopback port, speaking its
//! wire format: `POST /v1/files` (multipart `purpose=fine-tune` and `file`,
//! each line checked to be a chat example), `POST /v1/fine_tuning/jobs`,
//! `GET /v1/fine_tuning/jobs/{id}` (each read moves the job one status on:
//! `validating_files` → `queued` → `running` → `succeeded`, emitting
//! `fine_tuning.job.event`s with `type: metrics` on the way),
//! `GET …/events?limit=&after=` (newest first, `has_more`; pages of at most
//! four events so that clients must page), `GET …/checkpoints`,
//! `POST …/cancel`, and `POST /v1/chat/completions` for the tuned models
//! only (404 `model_not_found` for any other). A base model named `gpt-doomed` fails after validation
//! with a message; `gpt-slow` stays running until cancelled. Every request
//! must carry `Authorization: Bearer {key}` (else 401 `invalid_api_key`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::fake_http::{FakeServer, Received, Reply};

/// Most events in one page, whatever `limit` asks for.
const PAGE_CAP: usize = 4;
/// Metrics events a job emits while running.
const STEPS: i64 = 6;
/// What a failing job says.
pub const FAILURE: &str = "The job failed due to an invalid training file: too few examples with an assistant reply.";

#[derive(Default)]
struct Job {
    id: String,
    model: String,
    status: String,
    suffix: Option<String>,
    /// Chronological.
    events: Vec<Value>,
    trained_tokens: Option<i64>,
    fine_tuned_model: Option<String>,
    error: Option<String>,
}

#[derive(Default)]
struct State {
    files: Vec<(String, String, usize)>,
    jobs: HashMap<String, Job>,
    next: usize,
}

/// The running fake.
pub struct FakeFineTuning {
    pub server: FakeServer,
    state: Arc<Mutex<State>>,
}

impl FakeFineTuning {
    pub async fn start(key: &str) -> FakeFineTuning {
        let state = Arc::new(Mutex::new(State::default()));
        let (s, key) = (state.clone(), format!("Bearer {key}"));
        let server = FakeServer::start(Arc::new(move |r: &Received| {
            if r.header("authorization") != Some(key.as_str()) {
                return error(401, "Incorrect API key provided.", "invalid_api_key", None);
            }
            let mut st = s.lock().expect("state");
            handle(&mut st, r)
        }))
        .await;
        FakeFineTuning { server, state }
    }

    /// `{base}/v1`, as a provider's base URL.
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.server.base)
    }

    /// (file name, bytes) of each uploaded file.
    pub fn files(&self) -> Vec<(String, usize)> {
        self.state.lock().expect("state").files.iter().map(|(_, n, b)| (n.clone(), *b)).collect()
    }

    /// The status of every remote job, by base model.
    pub fn statuses(&self) -> Vec<(String, String)> {
        let st = self.state.lock().expect("state");
        let mut v: Vec<(String, String)> = st.jobs.values().map(|j| (j.model.clone(), j.status.clone())).collect();
        v.sort();
        v
    }
}

fn json_reply(status: u16, v: &Value) -> Reply {
    Reply::Full(status, "application/json".into(), v.to_string().into_bytes())
}

fn error(status: u16, message: &str, code: &str, param: Option<&str>) -> Reply {
    json_reply(
        status,
        &json!({ "error": { "message": message, "type": "invalid_request_error", "param": param, "code": code } }),
    )
}

fn handle(st: &mut State, r: &Received) -> Reply {
    let (path, query) = r.path.split_once('?').unwrap_or((r.path.as_str(), ""));
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (r.method.as_str(), parts.as_slice()) {
        ("POST", ["v1", "files"]) => upload(st, r),
        ("POST", ["v1", "chat", "completions"]) => chat(st, r),
        ("POST", ["v1", "fine_tuning", "jobs"]) => create(st, r),
        ("GET", ["v1", "fine_tuning", "jobs", id]) => match st.jobs.get_mut(*id) {
            Some(job) => {
                advance(job);
                json_reply(200, &job_object(job))
            }
            None => error(404, "No such job", "fine_tune_not_found", Some("fine_tuning_job_id")),
        },
        ("GET", ["v1", "fine_tuning", "jobs", id, "events"]) => match st.jobs.get(*id) {
            Some(job) => events(job, query),
            None => error(404, "No such job", "fine_tune_not_found", Some("fine_tuning_job_id")),
        },
        ("GET", ["v1", "fine_tuning", "jobs", id, "checkpoints"]) => match st.jobs.get(*id) {
            Some(job) => json_reply(200, &checkpoints(job)),
            None => error(404, "No such job", "fine_tune_not_found", Some("fine_tuning_job_id")),
        },
        ("POST", ["v1", "fine_tuning", "jobs", id, "cancel"]) => match st.jobs.get_mut(*id) {
            Some(job) if matches!(job.status.as_str(), "succeeded" | "failed" | "cancelled") => {
                error(400, "Job has already completed", "invalid_request", None)
            }
            Some(job) => {
                job.status = "cancelled".into();
                push_event(job, "info", "Fine-tuning job cancelled", None);
                json_reply(200, &job_object(job))
            }
            None => error(404, "No such job", "fine_tune_not_found", Some("fine_tuning_job_id")),
        },
        _ => error(404, "Unknown route", "unknown_url", None),
    }
}

/// One part of a multipart/form-data body: (name, file name, bytes).
type Part = (String, Option<String>, Vec<u8>);

/// The parts of a multipart/form-data body.
fn multipart(r: &Received) -> Option<Vec<Part>> {
    let ct = r.header("content-type")?;
    let boundary = ct.split("boundary=").nth(1)?.trim_matches('"');
    let delimiter = format!("--{boundary}");
    let body = &r.body;
    let mut parts = Vec::new();
    let mut rest: &[u8] = body;
    loop {
        let start = find(rest, delimiter.as_bytes())? + delimiter.len();
        rest = &rest[start..];
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        let header_end = find(rest, b"\r\n\r\n")?;
        // Only the Content-Disposition line names the part (a Content-Type line may follow).
        let headers = String::from_utf8_lossy(&rest[..header_end])
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))
            .unwrap_or_default()
            .to_owned();
        let content_start = header_end + 4;
        let next = find(&rest[content_start..], format!("\r\n{delimiter}").as_bytes())?;
        let content = rest[content_start..content_start + next].to_vec();
        let attr = |key: &str| {
            headers
                .split(';')
                .find_map(|p| p.trim().strip_prefix(&format!("{key}=")).map(|v| v.trim_matches('"').to_owned()))
        };
        parts.push((attr("name")?, attr("filename"), content));
        rest = &rest[content_start + next + 2..];
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn upload(st: &mut State, r: &Received) -> Reply {
    let Some(parts) = multipart(r) else { return error(400, "Expected a multipart form", "invalid_request", None) };
    let purpose = parts.iter().find(|p| p.0 == "purpose").map(|p| String::from_utf8_lossy(&p.2).to_string());
    if purpose.as_deref() != Some("fine-tune") {
        return error(400, "purpose must be fine-tune", "invalid_request", Some("purpose"));
    }
    let Some((_, Some(name), bytes)) = parts.into_iter().find(|p| p.0 == "file") else {
        return error(400, "file is required", "invalid_request", Some("file"));
    };
    for (i, line) in String::from_utf8_lossy(&bytes).lines().enumerate() {
        let ok = serde_json::from_str::<Value>(line).is_ok_and(|v| v["messages"].is_array());
        if !ok {
            return error(400, &format!("Invalid file format: line {}", i + 1), "invalid_file_format", Some("file"));
        }
    }
    st.next += 1;
    let id = format!("file-{}", st.next);
    st.files.push((id.clone(), name.clone(), bytes.len()));
    json_reply(
        200,
        &json!({ "id": id, "object": "file", "bytes": bytes.len(), "created_at": 1_700_000_000, "filename": name, "purpose": "fine-tune" }),
    )
}

fn chat(st: &State, r: &Received) -> Reply {
    let model = serde_json::from_slice::<Value>(&r.body).ok().and_then(|b| b["model"].as_str().map(str::to_owned));
    let Some(model) = model.filter(|m| st.jobs.values().any(|j| j.fine_tuned_model.as_deref() == Some(m.as_str())))
    else {
        return error(
            404,
            "The model does not exist or you do not have access to it.",
            "model_not_found",
            Some("model"),
        );
    };
    json_reply(
        200,
        &json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000, "model": model,
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": format!("Tuned answer from {model}") }, "finish_reason": "stop" }],
            "usage": { "prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18 },
        }),
    )
}

fn create(st: &mut State, r: &Received) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(&r.body) else {
        return error(400, "Invalid JSON", "invalid_request", None);
    };
    let training = body["training_file"].as_str().unwrap_or_default();
    if !st.files.iter().any(|f| f.0 == training) {
        return error(400, "training_file does not exist", "invalid_request", Some("training_file"));
    }
    st.next += 1;
    let id = format!("ftjob-{}", st.next);
    let mut job = Job {
        id: id.clone(),
        model: body["model"].as_str().unwrap_or_default().to_owned(),
        status: "validating_files".into(),
        suffix: body["suffix"].as_str().map(str::to_owned),
        ..Job::default()
    };
    push_event(&mut job, "info", &format!("Validating training file: {training}"), None);
    let object = job_object(&job);
    st.jobs.insert(id, job);
    json_reply(200, &object)
}

fn push_event(job: &mut Job, level: &str, message: &str, data: Option<Value>) {
    let n = job.events.len() + 1;
    let kind = if data.is_some() { "metrics" } else { "message" };
    job.events.push(json!({
        "object": "fine_tuning.job.event",
        "id": format!("ftevent-{}-{n}", job.id),
        "created_at": 1_700_000_000 + n,
        "level": level,
        "message": message,
        "data": data.unwrap_or_else(|| json!({})),
        "type": kind,
    }));
}

/// One read moves the job on by one status.
fn advance(job: &mut Job) {
    let next = match (job.status.as_str(), job.model.as_str()) {
        ("validating_files", "gpt-doomed") => "failed",
        ("validating_files", _) => "queued",
        ("queued", _) | ("running", "gpt-slow") => "running",
        ("running", _) => "succeeded",
        (other, _) => other,
    }
    .to_owned();
    if next == job.status {
        return;
    }
    job.status = next;
    match job.status.as_str() {
        "failed" => {
            job.error = Some(FAILURE.into());
            push_event(job, "error", FAILURE, None);
        }
        "queued" => push_event(job, "info", "Files validated, moving job to queued state", None),
        "running" => {
            push_event(job, "info", "Fine-tuning job started", None);
            for step in 1..=STEPS {
                #[allow(clippy::cast_precision_loss, reason = "a handful of steps")]
                let x = step as f64;
                push_event(
                    job,
                    "info",
                    &format!("Step {step}/{STEPS}: training loss={:.3}", 2.0 / x),
                    Some(
                        json!({ "step": step, "train_loss": 2.0 / x, "train_mean_token_accuracy": 0.5 + x / 20.0, "total_steps": STEPS }),
                    ),
                );
            }
        }
        "succeeded" => {
            job.trained_tokens = Some(1234);
            job.fine_tuned_model =
                Some(format!("ft:{}:test-org:{}:{}", job.model, job.suffix.clone().unwrap_or_default(), job.id));
            push_event(job, "info", "The job has successfully completed", None);
        }
        _ => {}
    }
}

fn job_object(job: &Job) -> Value {
    json!({
        "object": "fine_tuning.job",
        "id": job.id,
        "model": job.model,
        "created_at": 1_700_000_000,
        "finished_at": null,
        "fine_tuned_model": job.fine_tuned_model,
        "organization_id": "org-test",
        "result_files": [],
        "status": job.status,
        "validation_file": null,
        "training_file": "file-1",
        "hyperparameters": { "n_epochs": 3 },
        "trained_tokens": job.trained_tokens,
        "error": job.error.as_ref().map(|m| json!({ "code": "invalid_training_file", "message": m, "param": "training_file" })),
        "seed": 42,
    })
}

fn events(job: &Job, query: &str) -> Reply {
    let param = |k: &str| query.split('&').find_map(|p| p.strip_prefix(&format!("{k}=")).map(str::to_owned));
    let limit = param("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(20).min(PAGE_CAP);
    let newest_first: Vec<&Value> = job.events.iter().rev().collect();
    let start = match param("after") {
        Some(after) => match newest_first.iter().position(|e| e["id"] == after.as_str()) {
            Some(i) => i + 1,
            None => return error(400, "No such event", "invalid_request", Some("after")),
        },
        None => 0,
    };
    let page: Vec<Value> = newest_first.iter().skip(start).take(limit).map(|e| (*e).clone()).collect();
    let has_more = start + page.len() < newest_first.len();
    json_reply(200, &json!({ "object": "list", "data": page, "has_more": has_more }))
}

fn checkpoints(job: &Job) -> Value {
    let data: Vec<Value> = if job.status == "succeeded" {
        vec![json!({
            "object": "fine_tuning.job.checkpoint",
            "id": format!("ftckpt-{}", job.id),
            "created_at": 1_700_000_100,
            "fine_tuned_model_checkpoint": job.fine_tuned_model,
            "step_number": STEPS,
            "metrics": { "step": STEPS, "train_loss": 0.3, "train_mean_token_accuracy": 0.8, "valid_loss": 0.4, "valid_mean_token_accuracy": 0.75, "full_valid_loss": 0.41, "full_valid_mean_token_accuracy": 0.74 },
            "fine_tuning_job_id": job.id,
        })]
    } else {
        Vec::new()
    };
    json!({ "object": "list", "data": data, "has_more": false })
}
