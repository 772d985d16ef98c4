//! `bench vectors`: the vector index at scale, in a temporary data file.
//! N synthetic unit vectors (384 dimensions, clustered like sentence
//! embeddings: a shared mean direction, topic centres and noise) are
//! written through the same store functions as ingestion (chunk row, vec0
//! vector, binary code, int8 sketch) into one knowledge base or spread over
//! K; then search as the server runs it (exact for small knowledge bases,
//! else Hamming prefilter → asymmetric rerank → sketch rescoring,
//! `knowledge::index`) is measured against exact sqlite-vec search: latency
//! p50/p95, recall@10, and the process RSS.

use std::time::Instant;

use clap::Args;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::{Report, percentile};
use crate::config::DbConfig;
use crate::db::Db;
use crate::http::Tenant;
use crate::ids::OrgId;
use crate::knowledge::index::{AnnParams, Method, VectorIndexes};
use crate::knowledge::model::{DocumentId, KnowledgeBaseId};
use crate::knowledge::store::{self, NewChunk};

#[derive(Debug, Args)]
pub struct VectorsArgs {
    /// Vectors in total.
    #[arg(long, default_value_t = 100_000)]
    pub chunks: usize,
    /// Knowledge bases they are spread over (comma-separated list of scenarios).
    #[arg(long, default_value = "1", value_delimiter = ',')]
    pub kbs: Vec<usize>,
    /// Queries timed (recall is measured on the first 100).
    #[arg(long, default_value_t = 300)]
    pub queries: usize,
    /// Candidates kept by the Hamming prefilter (default: by k).
    #[arg(long)]
    pub prefilter: Option<usize>,
    /// Candidates rescored exactly (default: by k).
    #[arg(long)]
    pub rescore: Option<usize>,
}

const DIM: usize = 384;
const TOPICS: usize = 2_000;

/// A generator of embedding-like vectors.
struct Space {
    mean: Vec<f32>,
    topics: Vec<Vec<f32>>,
}

fn gaussian(rng: &mut StdRng) -> f32 {
    // Box–Muller.
    let u1: f32 = rng.random_range(f32::EPSILON..1.0);
    let u2: f32 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    for x in &mut v {
        *x /= n;
    }
    v
}

impl Space {
    fn new(rng: &mut StdRng) -> Space {
        let mean = unit((0..DIM).map(|_| gaussian(rng)).collect());
        let topics = (0..TOPICS).map(|_| unit((0..DIM).map(|_| gaussian(rng)).collect())).collect();
        Space { mean, topics }
    }

    /// A point: mean direction + a topic + a sub-topic + noise (real
    /// sentence embeddings share a common component and cluster by topic).
    fn sample(&self, rng: &mut StdRng) -> Vec<f32> {
        let topic = &self.topics[rng.random_range(0..TOPICS)];
        let noise = unit((0..DIM).map(|_| gaussian(rng)).collect());
        unit((0..DIM).map(|d| 0.35 * self.mean[d] + 0.75 * topic[d] + 0.6 * noise[d]).collect())
    }
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|k| k.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Runs the suite.
pub fn run(args: &VectorsArgs) -> anyhow::Result<Report> {
    let mut rows = Vec::new();
    let mut out = serde_json::Map::new();
    for &kbs in &args.kbs {
        let (r, j) = scenario(args, kbs.max(1))?;
        rows.extend(r);
        for (k, v) in j {
            out.insert(k, v);
        }
    }
    Ok(Report { rows, json: Value::Object(out) })
}

type Rows = Vec<(String, String)>;

#[allow(clippy::too_many_lines, reason = "one benchmark, step by step")]
fn scenario(args: &VectorsArgs, kbs: usize) -> anyhow::Result<(Rows, serde_json::Map<String, Value>)> {
    let dir = tempfile::tempdir()?;
    let db = Db::open(&dir.path().join("vectors.db"), &DbConfig::default()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut rng = StdRng::seed_from_u64(42);
    let space = Space::new(&mut rng);
    let tenant = Tenant::system(OrgId(1), "benchmark");
    let err = |e: crate::error::AppError| anyhow::anyhow!("{e:?}");

    // Fixture rows, then the vectors in batches (one transaction each).
    let (kb_ids, docs) = db
        .write_blocking(|tx| {
            tx.execute("INSERT INTO users (id, email, password_hash, name) VALUES (1, 'b@example.com', 'x', 'B')", [])?;
            tx.execute(
                "INSERT INTO organizations (id, name, slug, owner_id, plan_tier) VALUES (1, 'B', 'b', 1, 'enterprise')",
                [],
            )?;
            let mut kb_ids = Vec::new();
            let mut docs = Vec::new();
            for k in 0..kbs {
                tx.execute("INSERT INTO knowledge_bases (organization_id, name) VALUES (1, ?1)", [format!("kb{k}")])?;
                let kb = KnowledgeBaseId(tx.last_insert_rowid());
                tx.execute(
                    "INSERT INTO documents (organization_id, knowledge_base_id, name, type, status) VALUES (1, ?1, 'synthetic', 'text', 'ready')",
                    [kb],
                )?;
                docs.push(DocumentId(tx.last_insert_rowid()));
                kb_ids.push(kb);
            }
            Ok((kb_ids, docs))
        })
        .map_err(err)?;
    let insert_started = Instant::now();
    let meta = json!({});
    let per_kb = args.chunks / kbs;
    let batch = 20_000;
    let mut written = 0;
    for (k, (&kb, &doc)) in kb_ids.iter().zip(&docs).enumerate() {
        let mut i = 0;
        while i < per_kb {
            let n = batch.min(per_kb - i);
            let vectors: Vec<Vec<f32>> = (0..n).map(|_| space.sample(&mut rng)).collect();
            let (t, m, start) = (tenant.clone(), meta.clone(), i);
            db.write_blocking(move |tx| {
                for (j, v) in vectors.iter().enumerate() {
                    let index = i64::try_from(start + j).unwrap_or(0);
                    let (id, _) = store::insert_chunk(
                        tx,
                        &t,
                        kb,
                        doc,
                        &NewChunk {
                            index,
                            content: "synthetic",
                            heading_path: "",
                            token_count: 1,
                            start_char: 0,
                            end_char: 0,
                            metadata: &m,
                            model: "synthetic",
                        },
                    )?;
                    store::insert_vector(tx, &t, kb, id, v)?;
                }
                Ok(())
            })
            .map_err(err)?;
            i += n;
            written += n;
        }
        if k == 0 || (k + 1) % 20 == 0 {
            tracing::info!(written, "vectors written");
        }
    }
    let insert_secs = insert_started.elapsed().as_secs_f64();

    // Warm the code caches (what a server does on first search).
    let indexes = VectorIndexes::default();
    let warm_started = Instant::now();
    db.read_blocking(|c| {
        for &kb in &kb_ids {
            indexes.warm(c, &tenant, kb)?;
        }
        Ok(())
    })
    .map_err(err)?;
    let warm_secs = warm_started.elapsed().as_secs_f64();

    let k = 10;
    let params = match (args.prefilter, args.rescore) {
        (None, None) => AnnParams::for_k(k),
        (p, r) => {
            let d = AnnParams::for_k(k);
            AnnParams { prefilter: p.unwrap_or(d.prefilter), rescore: r.unwrap_or(d.rescore) }
        }
    };
    // Without overrides, exactly what the server does (exact search for small knowledge bases).
    let explicit = if args.prefilter.is_some() || args.rescore.is_some() { Some(params) } else { None };
    let queries: Vec<(KnowledgeBaseId, Vec<f32>)> =
        (0..args.queries.max(1)).map(|q| (kb_ids[q % kb_ids.len()], space.sample(&mut rng))).collect();
    let mut latencies = Vec::new();
    let mut results = Vec::new();
    let mut exact_answers = 0_usize;
    db.read_blocking(|c| {
        for (kb, q) in &queries {
            let t = Instant::now();
            let (hits, method) = indexes.search(c, &tenant, *kb, q, k, None, explicit)?;
            latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            results.push(hits);
            exact_answers += usize::from(method == Method::Exact);
        }
        Ok(())
    })
    .map_err(err)?;
    let rss_serving = rss_mb();
    // Recall against exact sqlite-vec search.
    let recall_queries = queries.len().min(100);
    let mut exact_ms = Vec::new();
    let mut found = 0_usize;
    db.read_blocking(|c| {
        for (i, (kb, q)) in queries.iter().take(recall_queries).enumerate() {
            let t = Instant::now();
            let exact = indexes.exact(c, *kb, q, k)?;
            exact_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            found += exact.iter().filter(|e| results[i].iter().any(|h| h.chunk_id == e.chunk_id)).count();
        }
        Ok(())
    })
    .map_err(err)?;
    let recall = found as f64 / (recall_queries * k) as f64;
    let (p50, p95) = (percentile(&mut latencies.clone(), 50.0), percentile(&mut latencies, 95.0));
    let exact_p50 = percentile(&mut exact_ms, 50.0);
    let file_mb = std::fs::metadata(dir.path().join("vectors.db")).map_or(0, |m| m.len()) as f64 / 1e6;
    let label = if kbs == 1 { format!("{} in 1 KB", args.chunks) } else { format!("{} over {kbs} KBs", args.chunks) };
    let key = if kbs == 1 { format!("n{}", args.chunks) } else { format!("n{}_kbs{kbs}", args.chunks) };
    let rows = vec![
        (
            format!("{label}: insert"),
            format!("{insert_secs:.0} s ({:.0} vectors/s), file {file_mb:.0} MB", written as f64 / insert_secs),
        ),
        (
            format!("{label}: cache load"),
            format!("{warm_secs:.2} s, {:.0} MB of codes", indexes.memory_bytes() as f64 / 1e6),
        ),
        (
            format!("{label}: search as served"),
            if exact_answers == queries.len() {
                format!("p50 {p50:.2} ms, p95 {p95:.2} ms, recall@10 {recall:.3} (exact: knowledge bases this small)")
            } else {
                format!(
                    "p50 {p50:.2} ms, p95 {p95:.2} ms, recall@10 {recall:.3} (approximate: prefilter {}, rescore {})",
                    params.prefilter, params.rescore
                )
            },
        ),
        (format!("{label}: exact search (sqlite-vec)"), format!("p50 {exact_p50:.1} ms")),
        (format!("{label}: RSS while serving"), format!("{rss_serving:.0} MB")),
    ];
    let mut j = serde_json::Map::new();
    j.insert(format!("{key}.p50_ms"), json!(p50));
    j.insert(format!("{key}.p95_ms"), json!(p95));
    j.insert(format!("{key}.recall_at_10"), json!(recall));
    j.insert(format!("{key}.exact"), json!(exact_answers == queries.len()));
    j.insert(format!("{key}.exact_p50_ms"), json!(exact_p50));
    j.insert(format!("{key}.rss_mb"), json!(rss_serving));
    j.insert(format!("{key}.insert_per_s"), json!(written as f64 / insert_secs));
    j.insert(format!("{key}.cache_load_s"), json!(warm_secs));
    Ok((rows, j))
}
