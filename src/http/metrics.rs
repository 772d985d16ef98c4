//! Prometheus metrics: one registry per process, rendered at `/metrics`.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

/// The process's metrics. Other modules register their own collectors on
/// [`Metrics::registry`].
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub db_pool: IntGaugeVec,
    pub jobs: IntGaugeVec,
    /// Conversation turns not served normally under overload, by reason:
    /// `inference_queue_full` (refused), `inference_keywords` (understood
    /// without the model), `write_queue_full` (refused).
    pub turns_shed: IntCounterVec,
    /// Work waiting, by queue: `inference` (texts), `write` (turns);
    /// sampled when `/metrics` is read.
    pub queue_depth: IntGaugeVec,
}

impl Metrics {
    /// Creates and registers the core collectors.
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new_custom(Some("botbuilder".into()), None)?;
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route pattern, method and status"),
            &["method", "route", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency by route pattern")
                .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &["method", "route"],
        )?;
        let db_pool = IntGaugeVec::new(
            Opts::new("db_pool_connections", "SQLite pool connections by pool and state"),
            &["pool", "state"],
        )?;
        let jobs = IntGaugeVec::new(Opts::new("jobs", "Durable jobs by status"), &["status"])?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(db_pool.clone()))?;
        let turns_shed = IntCounterVec::new(
            Opts::new("runtime_turns_shed_total", "Conversation turns refused or degraded under overload, by reason"),
            &["reason"],
        )?;
        let queue_depth = IntGaugeVec::new(
            Opts::new("queue_depth", "Work queued or running, by queue (inference: texts; write: turns)"),
            &["queue"],
        )?;
        for reason in ["inference_queue_full", "inference_keywords", "write_queue_full"] {
            turns_shed.with_label_values(&[reason]);
        }
        registry.register(Box::new(jobs.clone()))?;
        registry.register(Box::new(turns_shed.clone()))?;
        registry.register(Box::new(queue_depth.clone()))?;
        Ok(Self { registry, http_requests, http_duration, db_pool, jobs, turns_shed, queue_depth })
    }

    /// The registry, for domain modules to add collectors to.
    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The text exposition format.
    pub fn render(&self) -> anyhow::Result<String> {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        Ok(String::from_utf8(out)?)
    }
}
