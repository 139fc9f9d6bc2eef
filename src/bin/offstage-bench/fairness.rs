//! `offstage-bench fairness --db sqlite|postgres`: the noisy neighbour. Workspace A holds a
//! backlog of no-op runs; the workers start; workspace B then starts one run every 100 ms for
//! 10 s. Prints B's pickup (from before its INSERT to its start) and A's drain rate, with fair
//! dispatch and, on a fresh database, with the queue switched back to first in, first out (a
//! switch that exists for this benchmark only).

use std::sync::atomic::Ordering;
use std::time::Duration;

use offstage::engine::queue::{self, fair};
use offstage::engine::{NewRun, probe, runs};
use serde_json::json;

use crate::common::{BenchDb, Db, percentile, round};
use crate::jobs::{delays, wait_until_drained};

/// One pass: B's pickups (ms, sorted) and A's drain rate.
async fn pass(
    which: Db,
    backlog: u64,
    seconds: u64,
    concurrency: usize,
    fifo: bool,
) -> anyhow::Result<serde_json::Value> {
    fair::FIFO.store(fifo, Ordering::Relaxed);
    let bench = BenchDb::create(which, concurrency).await?;
    let (db, config) = (bench.db.clone(), bench.config.clone());
    let (a, b) = (bench.workspace_named("Flood").await?, bench.workspace_named("Quiet").await?);
    let noop = |ws: &offstage::db::entities::workspace::Model| probe::Params::noop(&ws.id);
    let mut flood = Vec::new();
    for _ in 0..backlog.div_ceil(1000) {
        let items = (0..1000).map(|_| NewRun::of::<probe::Probe>(&noop(&a))).collect();
        flood.extend(runs::fan_out(&db, items, None).await?);
    }
    let ctx = crate::common::job_context(&db, &config, offstage::mail::Mailer::from_settings(&config.mail)?)?;
    let workers_started = chrono::Utc::now();
    let workers = tokio::spawn(queue::run_workers(ctx, std::future::pending::<std::io::Result<()>>()));
    let mut quiet = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    for _ in 0..seconds * 10 {
        tick.tick().await;
        quiet.push(runs::start(&db, NewRun::of::<probe::Probe>(&noop(&b))).await?.id);
    }
    wait_until_drained(&db).await;
    let pickup = delays(&db, &quiet, |run| run.created_at).await?;
    // A's drain: from the workers' start to the end of A's last run.
    let mut last_end = chrono::DateTime::<chrono::Utc>::MIN_UTC;
    for chunk in flood.chunks(500) {
        for run in runs::get_many(&db, &offstage::tenancy::Platform::system(), chunk).await? {
            last_end = last_end.max(run.finished_at.unwrap_or(last_end));
        }
    }
    let drained = (last_end - workers_started).to_std().unwrap_or_default();
    workers.abort();
    bench.drop().await?;
    Ok(json!({
        "b_pickup_ms": { "p50": percentile(&pickup, 0.5), "p99": percentile(&pickup, 0.99), "max": percentile(&pickup, 1.0), "n": pickup.len() },
        "a_drain_per_s": round(flood.len() as f64 / drained.as_secs_f64()),
    }))
}

pub async fn run(which: Db, backlog: u64, seconds: u64, concurrency: usize) -> anyhow::Result<serde_json::Value> {
    let fair = pass(which, backlog, seconds, concurrency, false).await?;
    let fifo = pass(which, backlog, seconds, concurrency, true).await?;
    fair::FIFO.store(false, Ordering::Relaxed);
    let ratio = fair["a_drain_per_s"].as_f64().unwrap_or(0.0) / fifo["a_drain_per_s"].as_f64().unwrap_or(1.0);
    Ok(json!({
        "bench": "fairness",
        "db": which.name(),
        "a_backlog": backlog,
        "b_runs": seconds * 10,
        "concurrency": concurrency,
        "fair": fair,
        "fifo": fifo,
        "a_drain_fair_over_fifo": (ratio * 100.0).round() / 100.0,
    }))
}
