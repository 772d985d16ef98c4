//! `bench rag`: ingests BEIR SciFact (5,183 abstracts) through the real
//! ingestion path — documents created by the knowledge service, processed by
//! the `knowledge.ingest` job — and evaluates the 300 test queries in keyword,
//! vector and hybrid mode (nDCG@10, recall@100, MRR@10, latency), plus
//! ingestion throughput against the embedding model's own passage
//! throughput measured in the same run on the same chunks. The weights of
//! hybrid fusion are chosen on the train queries (`qrels_train.tsv`): the
//! report shows the grid and where the fusion in use stands on it.
//!
//! The data is read from `--data` (never copied); without it the suite is
//! skipped.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{Report, percentile};
use crate::app::AppState;
use crate::config::{Config, MlConfig};
use crate::http::Tenant;
use crate::ids::OrgId;
use crate::knowledge::model::KnowledgeBaseId;
use crate::knowledge::model::{CreateKnowledgeBaseRequest, PasteTextRequest};
use crate::knowledge::search::{FUSION, Fusion, SearchMode, SearchOptions, fuse};
use crate::knowledge::service;

#[derive(Debug, Args)]
pub struct RagArgs {
    /// The BEIR SciFact folder (`corpus.jsonl`, `queries.jsonl`, `qrels_test.tsv`).
    #[arg(long, default_value = "../shared/data/scifact")]
    pub data: PathBuf,
    /// Ingest only the first N documents plus every judged one (quick runs).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Concurrent ingestion workers.
    #[arg(long, default_value_t = 3)]
    pub workers: usize,
    /// Chunk size in tokens.
    #[arg(long, default_value_t = 256)]
    pub chunk_size: i64,
}

type Qrels = HashMap<String, HashSet<String>>;

struct Corpus {
    docs: Vec<(String, String, String)>,
    /// Test queries: what the report is about.
    queries: Vec<(String, String)>,
    qrels: Qrels,
    /// Train queries (when `qrels_train.tsv` is there): hybrid fusion is chosen on these.
    train_queries: Vec<(String, String)>,
    train_qrels: Qrels,
}

fn read_qrels(path: &Path) -> anyhow::Result<Qrels> {
    let mut qrels: Qrels = HashMap::new();
    let tsv = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    for line in tsv.lines().skip(1) {
        let mut parts = line.split('\t');
        if let (Some(q), Some(d), Some(score)) = (parts.next(), parts.next(), parts.next())
            && score.trim() != "0"
        {
            qrels.entry(q.to_owned()).or_default().insert(d.to_owned());
        }
    }
    Ok(qrels)
}

fn load(dir: &Path, limit: Option<usize>) -> anyhow::Result<Corpus> {
    let qrels = read_qrels(&dir.join("qrels_test.tsv"))?;
    let train_path = dir.join("qrels_train.tsv");
    let train_qrels = if train_path.exists() { read_qrels(&train_path)? } else { HashMap::new() };
    let judged: HashSet<&String> = qrels.values().flatten().collect();
    let mut docs = Vec::new();
    let corpus = std::fs::read_to_string(dir.join("corpus.jsonl")).context("corpus.jsonl")?;
    for (i, line) in corpus.lines().enumerate() {
        let v: Value = serde_json::from_str(line)?;
        let id = v["_id"].as_str().unwrap_or_default().to_owned();
        if limit.is_some_and(|l| i >= l) && !judged.contains(&id) {
            continue;
        }
        docs.push((
            id,
            v["title"].as_str().unwrap_or_default().to_owned(),
            v["text"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    let (mut queries, mut train_queries) = (Vec::new(), Vec::new());
    let text = std::fs::read_to_string(dir.join("queries.jsonl")).context("queries.jsonl")?;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line)?;
        let id = v["_id"].as_str().unwrap_or_default().to_owned();
        let query = (id.clone(), v["text"].as_str().unwrap_or_default().to_owned());
        if qrels.contains_key(&id) {
            queries.push(query);
        } else if train_qrels.contains_key(&id) {
            train_queries.push(query);
        }
    }
    Ok(Corpus { docs, queries, qrels, train_queries, train_qrels })
}

/// Runs the suite.
pub fn run(args: &RagArgs, ml: &MlConfig) -> anyhow::Result<Report> {
    if !args.data.join("corpus.jsonl").exists() {
        return Ok(Report {
            rows: vec![("rag".into(), format!("skipped: no SciFact data at {}", args.data.display()))],
            json: json!({ "skipped": true, "reason": "data not found" }),
        });
    }
    let corpus = load(&args.data, args.limit)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(run_async(args, ml, corpus))
}

fn setup(state: &AppState) -> anyhow::Result<Tenant> {
    let org = state
        .db
        .write_blocking(|tx| {
            tx.execute("INSERT INTO users (email, password_hash, name) VALUES ('bench@example.com', 'x', 'Bench')", [])?;
            let user = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO organizations (name, slug, owner_id, plan_tier) VALUES ('Bench', 'bench', ?1, 'enterprise')",
                [user],
            )?;
            Ok(OrgId(tx.last_insert_rowid()))
        })
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(Tenant::system(org, "benchmark"))
}

#[allow(clippy::too_many_lines, reason = "one benchmark, step by step")]
async fn run_async(args: &RagArgs, ml: &MlConfig, corpus: Corpus) -> anyhow::Result<Report> {
    let dir = tempfile::tempdir()?;
    let mut config = Config { data: dir.path().join("rag.db"), ml: ml.clone(), ..Config::default() };
    config.jobs.workers = 0;
    config.log.level = "warn".into();
    let (state, _lock) = AppState::open(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let embedder = state.models.embedder().await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let tenant = setup(&state)?;
    let kb = service::create_kb(
        &state,
        tenant.clone(),
        CreateKnowledgeBaseRequest {
            name: "SciFact".into(),
            description: None,
            embedding_model: None,
            language: None,
            chunk_size: Some(args.chunk_size),
            chunk_overlap: Some(32),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;

    // Documents through the service (validation, original kept in files, job queued).
    let created = Instant::now();
    for (id, title, text) in &corpus.docs {
        service::paste(
            &state,
            tenant.clone(),
            kb.id,
            PasteTextRequest { name: id.clone(), text: format!("# {title}\n\n{text}"), metadata: None },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{id}: {e:?}"))?;
    }
    let create_secs = created.elapsed().as_secs_f64();

    // Ingestion: the real job, run by concurrent workers until the queue is empty.
    let started = Instant::now();
    let mut workers = Vec::new();
    for i in 0..args.workers.max(1) {
        let state = state.clone();
        workers.push(tokio::spawn(async move {
            let stop = CancellationToken::new();
            let name = format!("bench-{i}");
            while crate::jobs::run_once(&state, &name, &stop).await.map_err(|e| anyhow::anyhow!("{e:?}"))? {}
            anyhow::Ok(())
        }));
    }
    for w in workers {
        w.await??;
    }
    let ingest_secs = started.elapsed().as_secs_f64();
    let (chunks, tokens, failed): (i64, i64, i64) = state
        .db
        .read_blocking(|c| {
            Ok(c.query_row(
                "SELECT (SELECT count(*) FROM chunks), (SELECT coalesce(sum(token_count), 0) FROM chunks),
                        (SELECT count(*) FROM documents WHERE status <> 'ready')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?)
        })
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let chunks_per_s = chunks as f64 / ingest_secs;

    // The model alone on the same chunks (a sample), sorted and batched like the job.
    let sample: Vec<String> = state
        .db
        .read_blocking(|c| {
            let mut stmt = c.prepare(
                "SELECT CASE WHEN heading_path = '' THEN content ELSE heading_path || char(10) || content END
                 FROM chunks ORDER BY (id * 2654435761) % 1000003 LIMIT 400",
            )?;
            Ok(stmt.query_map([], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?)
        })
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let model_started = Instant::now();
    let mut sorted: Vec<&str> = sample.iter().map(String::as_str).collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for batch in sorted.chunks(32) {
        embedder.embed_blocking(batch)?;
    }
    let model_per_s = sample.len() as f64 / model_started.elapsed().as_secs_f64();
    let sample_tokens: usize = sample.iter().map(|s| embedder.count_tokens(s).unwrap_or(0)).sum();

    // Retrieval quality and latency.
    let mut json_out = serde_json::Map::new();
    let mut rows = vec![
        ("documents".to_owned(), format!("{} ({} not ready)", corpus.docs.len(), failed)),
        ("chunks".to_owned(), format!("{chunks} ({:.0} tokens avg)", tokens as f64 / chunks.max(1) as f64)),
        ("documents created (service)".to_owned(), format!("{create_secs:.1} s")),
        ("ingestion end to end".to_owned(), format!("{ingest_secs:.1} s, {chunks_per_s:.1} chunks/s")),
        (
            "model passage throughput (same chunks)".to_owned(),
            format!(
                "{model_per_s:.1} passages/s ({:.0} tokens avg)",
                sample_tokens as f64 / sample.len().max(1) as f64
            ),
        ),
        ("ingestion / model".to_owned(), format!("{:.1} %", 100.0 * chunks_per_s / model_per_s)),
    ];
    json_out.insert("documents".into(), json!(corpus.docs.len()));
    json_out.insert("chunks".into(), json!(chunks));
    json_out.insert("ingestion_seconds".into(), json!(ingest_secs));
    json_out.insert("ingestion_chunks_per_s".into(), json!(chunks_per_s));
    json_out.insert("model_passages_per_s".into(), json!(model_per_s));
    json_out.insert("ingestion_vs_model".into(), json!(chunks_per_s / model_per_s));
    if !corpus.train_queries.is_empty() {
        let (best, grid) = choose_fusion(&state, &tenant, kb.id, &corpus.train_queries, &corpus.train_qrels).await?;
        rows.push((
            format!("fusion on {} train queries", corpus.train_queries.len()),
            format!(
                "best k {} keyword {} vector {}: nDCG@10 {:.3}; in use k {} keyword {} vector {}: {:.3}",
                best.0.k,
                best.0.keyword_weight,
                best.0.vector_weight,
                best.1,
                FUSION.k,
                FUSION.keyword_weight,
                FUSION.vector_weight,
                grid.iter().find(|(f, _)| *f == FUSION).map_or(f64::NAN, |(_, n)| *n)
            ),
        ));
        json_out.insert(
            "fusion_train".into(),
            json!(grid.iter().map(|(f, n)| json!({ "k": f.k, "keyword_weight": f.keyword_weight, "vector_weight": f.vector_weight, "ndcg_at_10": n })).collect::<Vec<_>>()),
        );
    }
    for mode in [SearchMode::Keyword, SearchMode::Vector, SearchMode::Hybrid] {
        let name = match mode {
            SearchMode::Keyword => "keyword",
            SearchMode::Vector => "vector",
            SearchMode::Hybrid => "hybrid",
        };
        let opts = SearchOptions { top_k: 100, mode, ..SearchOptions::default() };
        let (mut ndcg, mut recall, mut mrr) = (0.0, 0.0, 0.0);
        let mut latencies = Vec::new();
        for (qid, text) in &corpus.queries {
            let t = Instant::now();
            let response = service::search_many(&state, &tenant, &[kb.id], text, &opts)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            let ranked = documents(response.results.iter().map(|r| r.document_name.as_str()));
            let relevant = &corpus.qrels[qid];
            ndcg += ndcg_at(&ranked, relevant, 10);
            recall += ranked.iter().take(100).filter(|d| relevant.contains(**d)).count() as f64 / relevant.len() as f64;
            mrr += ranked.iter().take(10).position(|d| relevant.contains(*d)).map_or(0.0, |p| 1.0 / (p as f64 + 1.0));
        }
        let n = corpus.queries.len().max(1) as f64;
        let (ndcg, recall, mrr) = (ndcg / n, recall / n, mrr / n);
        let (p50, p95) = (percentile(&mut latencies.clone(), 50.0), percentile(&mut latencies, 95.0));
        rows.push((
            name.to_owned(),
            format!("nDCG@10 {ndcg:.3}  recall@100 {recall:.3}  MRR@10 {mrr:.3}  p50 {p50:.1} ms  p95 {p95:.1} ms"),
        ));
        json_out.insert(format!("{name}.ndcg_at_10"), json!(ndcg));
        json_out.insert(format!("{name}.recall_at_100"), json!(recall));
        json_out.insert(format!("{name}.mrr_at_10"), json!(mrr));
        json_out.insert(format!("{name}.latency_p50_ms"), json!(p50));
        json_out.insert(format!("{name}.latency_p95_ms"), json!(p95));
    }
    json_out.insert("queries".into(), json!(corpus.queries.len()));
    Ok(Report { rows, json: Value::Object(json_out) })
}

/// Documents of a chunk ranking, first rank wins.
fn documents<'a>(chunks: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut ranked: Vec<&str> = Vec::new();
    for name in chunks {
        if !ranked.contains(&name) {
            ranked.push(name);
        }
    }
    ranked
}

/// Evaluates a grid of fusions on the train queries from their keyword and
/// vector rankings (each as deep as hybrid search reads them); returns the
/// best and the whole grid.
async fn choose_fusion(
    state: &AppState,
    tenant: &Tenant,
    kb: KnowledgeBaseId,
    queries: &[(String, String)],
    qrels: &Qrels,
) -> anyhow::Result<((Fusion, f64), Vec<(Fusion, f64)>)> {
    // Hybrid search with top_k 100 reads 300 from each list.
    let depth = 300;
    let mut names: HashMap<i64, String> = HashMap::new();
    let mut lists = Vec::new();
    for (qid, text) in queries {
        let mut pair = Vec::new();
        for mode in [SearchMode::Keyword, SearchMode::Vector] {
            let opts = SearchOptions { top_k: depth, mode, ..SearchOptions::default() };
            let response =
                service::search_many(state, tenant, &[kb], text, &opts).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let mut list = Vec::new();
            for r in response.results {
                names.entry(r.chunk_id.0).or_insert(r.document_name);
                list.push((r.chunk_id.0, r.score));
            }
            pair.push(list);
        }
        let vector = pair.pop().unwrap_or_default();
        let keyword = pair.pop().unwrap_or_default();
        lists.push((qid, keyword, vector));
    }
    let mut grid = Vec::new();
    for k in [5.0, 10.0, 20.0, 40.0, 60.0, 100.0] {
        for keyword_weight in [0.6, 0.8, 1.0, 1.25, 1.5] {
            let fusion = Fusion { k, keyword_weight, vector_weight: 1.0 };
            let total: f64 = lists
                .iter()
                .map(|(qid, keyword, vector)| {
                    let fused = fuse(keyword, vector, fusion);
                    let ranked = documents(fused.iter().filter_map(|(id, _)| names.get(id).map(String::as_str)));
                    ndcg_at(&ranked, &qrels[*qid], 10)
                })
                .sum();
            grid.push((fusion, total / lists.len().max(1) as f64));
        }
    }
    let best = grid.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap_or((FUSION, f64::NAN));
    Ok((best, grid))
}

/// nDCG@k with binary relevance.
fn ndcg_at(ranked: &[&str], relevant: &HashSet<String>, k: usize) -> f64 {
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, d)| relevant.contains(**d))
        .map(|(i, _)| 1.0 / (i as f64 + 2.0).log2())
        .sum();
    let ideal: f64 = (0..relevant.len().min(k)).map(|i| 1.0 / (i as f64 + 2.0).log2()).sum();
    if ideal > 0.0 { dcg / ideal } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndcg_of_perfect_and_missing_rankings() {
        let rel: HashSet<String> = ["a".to_owned()].into_iter().collect();
        assert!((ndcg_at(&["a", "b"], &rel, 10) - 1.0).abs() < 1e-9);
        assert!((ndcg_at(&["b", "a"], &rel, 10) - 1.0 / 3_f64.log2()).abs() < 1e-9);
        assert!(ndcg_at(&["b"], &rel, 10).abs() < 1e-9);
    }
}
