//! `offstage-bench jobs --db sqlite|postgres --runs N`: measures the workflow engine on a fresh
//! database — enqueue rates (one call per run with 8 in flight, and in bulk), drain rate, pickup latency at 200
//! runs/s (from before the insert, and from the commit), lateness of scheduled runs, peak RSS with
//! many future runs, and bare apalis draining the same number of no-op jobs on the same storage,
//! with the ratio.

use std::time::{Duration, Instant};

use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use offstage::domain::RunId;
use offstage::engine::queue;
use offstage::engine::{NewRun, RunView, probe, runs};
use sea_orm::DatabaseConnection;
use serde_json::json;

use crate::common::{BenchDb, Db, peak_rss_mb, percentile, round};

/// Single starts in flight at once in the enqueue phase.
const ENQUEUE_IN_FLIGHT: usize = 8;

pub async fn wait_until_drained(db: &DatabaseConnection) -> Duration {
    let started = Instant::now();
    // Checked every 50 ms: the check itself scans the job table and competes with the workers.
    while queue::due_within(db, 0).await.unwrap_or(1) > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

/// Milliseconds from `reference(run)` to the start of the run's (one) attempt, sorted.
pub async fn delays(
    db: &DatabaseConnection,
    ids: &[RunId],
    reference: impl Fn(&RunView) -> chrono::DateTime<Utc>,
) -> anyhow::Result<Vec<f64>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        for run in runs::get_many(db, &offstage::tenancy::Platform::system(), chunk).await? {
            if let Some(at) = run.started_at {
                out.push((at - reference(&run)).num_microseconds().unwrap_or(0) as f64 / 1000.0);
            }
        }
    }
    out.sort_by(|a, b| a.total_cmp(b));
    Ok(out)
}

/// Runs the jobs benchmark on a fresh database and returns its JSON line.
pub async fn run(which: Db, n: u64, future: u64, concurrency: usize) -> anyhow::Result<serde_json::Value> {
    let bench = BenchDb::create(which, concurrency).await?;
    let (db, config) = (bench.db.clone(), bench.config.clone());
    let ws = bench.workspace().await?;
    let params = probe::Params::noop(&ws.id);

    // Enqueue, one call per run, 8 calls in flight (as the peers' benchmarks do), through the
    // group commit that API calls and workflows use; each call answers with the run's id and
    // status, as the peers' answer with the job's id.
    let singles = (n / 10).max(500);
    let starter = runs::Starter::new(db.clone());
    let started = Instant::now();
    futures::stream::iter(0..singles)
        .map(|_| starter.start_quietly(NewRun::of::<probe::Probe>(&params)))
        .buffer_unordered(ENQUEUE_IN_FLIGHT)
        .try_collect::<Vec<_>>()
        .await?;
    let enqueue_single = singles as f64 / started.elapsed().as_secs_f64();
    // Enqueue in bulk (1,000 per transaction).
    let started = Instant::now();
    for _ in 0..n.div_ceil(1000) {
        let items = (0..1000).map(|_| NewRun::of::<probe::Probe>(&params)).collect();
        runs::fan_out(&db, items, None).await?;
    }
    let bulk = n.div_ceil(1000) * 1000;
    let enqueue_bulk = bulk as f64 / started.elapsed().as_secs_f64();
    // Drain everything queued so far with the workers of this process.
    let ctx = crate::common::job_context(&db, &config, offstage::mail::Mailer::from_settings(&config.mail)?)?;
    let workers = tokio::spawn(queue::run_workers(ctx, std::future::pending::<std::io::Result<()>>()));
    let drained = wait_until_drained(&db).await;
    let drain_rate = (singles + bulk + 1) as f64 / drained.as_secs_f64();
    // Pickup latency at 200 runs/s for 5 s: from before the run's INSERT (as the peers measure,
    // so the enqueue is in it), and from its commit.
    let mut ids = Vec::new();
    let mut committed = std::collections::HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    // And the start's own share: from before its BEGIN to its commit.
    let mut starts = Vec::new();
    for _ in 0..1000 {
        tick.tick().await;
        let began = Instant::now();
        let txn = offstage::db::begin_write(&db).await?;
        let id = runs::start_in(&txn, &NewRun::of::<probe::Probe>(&params)).await?;
        txn.commit().await?;
        starts.push(began.elapsed().as_secs_f64() * 1000.0);
        committed.insert(id.clone(), Utc::now());
        ids.push(id);
    }
    starts.sort_by(f64::total_cmp);
    wait_until_drained(&db).await;
    let pickup = delays(&db, &ids, |r| r.created_at).await?;
    let after_commit = delays(&db, &ids, |r| committed[&r.id]).await?;
    // The same through the library's single start, as the peers measure one call per job: from
    // before the call (no transaction of the caller's; `runs::start_batch` of one run).
    let mut called = std::collections::HashMap::new();
    for _ in 0..1000 {
        tick.tick().await;
        let before = Utc::now();
        let started = runs::start_batch(&db, &[NewRun::of::<probe::Probe>(&params)]).await?;
        for run in started {
            called.insert(run.id, before);
        }
    }
    wait_until_drained(&db).await;
    let one_call: Vec<RunId> = called.keys().cloned().collect();
    let pickup_one_call = delays(&db, &one_call, |r| called[&r.id]).await?;
    // Lateness of 500 runs due over the next 3–5 s.
    let base = Utc::now() + chrono::Duration::seconds(3);
    let mut ids = Vec::new();
    for i in 0..500 {
        let at = base + chrono::Duration::milliseconds(i * 4);
        ids.push(runs::start(&db, NewRun::of::<probe::Probe>(&params).at(at)).await?.id);
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    wait_until_drained(&db).await;
    let lateness = delays(&db, &ids, |r| r.requested_for).await?;
    // Memory with many runs scheduled a day ahead, workers polling.
    let later = Utc::now() + chrono::Duration::days(1);
    let started = Instant::now();
    for _ in 0..future.div_ceil(1000) {
        let items = (0..1000).map(|_| NewRun::of::<probe::Probe>(&params).at(later)).collect();
        runs::fan_out(&db, items, None).await?;
    }
    let future_enqueue = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss = peak_rss_mb();
    workers.abort();
    // Bare apalis, same storage and concurrency.
    let (bare_push, bare_drain) = queue::bare::push_and_drain(&db, n, concurrency).await?;
    let bare_rate = n as f64 / bare_drain.as_secs_f64();
    let line = json!({
            "bench": "jobs",
            "db": which.name(),
            "runs": n,
            "concurrency": concurrency,
            "enqueue_single_per_s": round(enqueue_single),
            "enqueue_single_in_flight": ENQUEUE_IN_FLIGHT,
            "enqueue_bulk_per_s": round(enqueue_bulk),
            "drain_per_s": round(drain_rate),
            "pickup_ms": { "p50": percentile(&pickup, 0.5), "p95": percentile(&pickup, 0.95), "p99": percentile(&pickup, 0.99), "n": pickup.len() },
            "pickup_one_call_ms": { "p50": percentile(&pickup_one_call, 0.5), "p95": percentile(&pickup_one_call, 0.95), "p99": percentile(&pickup_one_call, 0.99), "n": pickup_one_call.len() },
            "start_ms": { "p50": percentile(&starts, 0.5), "p95": percentile(&starts, 0.95), "p99": percentile(&starts, 0.99) },
            "pickup_after_commit_ms": { "p50": percentile(&after_commit, 0.5), "p95": percentile(&after_commit, 0.95), "p99": percentile(&after_commit, 0.99) },
            "lateness_ms": { "p50": percentile(&lateness, 0.5), "p99": percentile(&lateness, 0.99), "n": lateness.len() },
            "future_runs": future,
            "future_enqueue_s": round(future_enqueue),
            "peak_rss_mb": rss,
            "bare_apalis": { "push_bulk_per_s": round(n as f64 / bare_push.as_secs_f64()), "drain_per_s": round(bare_rate) },
            "drain_ratio_bare_over_offstage": round(bare_rate / drain_rate),
    });
    bench.drop().await?;
    Ok(line)
}
