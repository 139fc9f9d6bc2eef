//! `offstage-bench retention --db sqlite|postgres --runs N --keep SECONDS`: N no-op runs of
//! workspace A pushed through the workers of this process (a backlog of at most 5,000 kept
//! queued) while the prune runs every second with runs kept for SECONDS, as the daily schedule
//! would with a short retention. Workspace B starts a run every 100 ms during the first and the
//! last 10 s. Prints the runs and job tables' sizes over time (against the finished runs of the
//! retention window plus the unfinished ones, which is all they should hold) and B's pickup
//! (from before its INSERT to its start) at the start and at the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use offstage::db::entities::workspace;
use offstage::engine::queue;
use offstage::engine::{NewRun, probe, runs};
use offstage::tenancy::Platform;
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

use crate::common::{BenchDb, Db, count, percentile, round};

fn noop(ws: &workspace::Model) -> probe::Params {
    probe::Params::noop(&ws.id)
}

/// Runs queued and not yet started: the producer keeps at most this many.
const BACKLOG: i64 = 5_000;

/// Table sizes now: runs, jobs, and the runs that should be there (finished within `keep`,
/// or not finished).
async fn sizes(db: &DatabaseConnection, keep: u64, started: Instant) -> anyhow::Result<Value> {
    let postgres = db.get_database_backend() == sea_orm::DbBackend::Postgres;
    let (jobs, recent) = if postgres {
        ("apalis.jobs", format!("done_at IS NULL OR done_at >= now() - interval '{keep} seconds'"))
    } else {
        ("Jobs", format!("done_at IS NULL OR done_at >= CAST(strftime('%s', 'now') AS INTEGER) - {keep}"))
    };
    Ok(json!({
        "at_s": round(started.elapsed().as_secs_f64()),
        "runs": count(db, "SELECT COUNT(*) AS n FROM workflow_runs").await?,
        "jobs": count(db, &format!("SELECT COUNT(*) AS n FROM {jobs}")).await?,
        "window_and_unfinished": count(db, &format!("SELECT COUNT(*) AS n FROM {jobs} WHERE {recent}")).await?,
    }))
}

/// B starts a run every 100 ms for 10 s; each pickup is read a second later, before the prune
/// can take the run.
async fn quiet_pickups(db: &DatabaseConnection, b: &workspace::Model) -> anyhow::Result<Vec<f64>> {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut readers = Vec::new();
    for _ in 0..100 {
        tick.tick().await;
        let id = runs::start(db, NewRun::of::<probe::Probe>(&noop(b))).await?.id;
        let db = db.clone();
        readers.push(tokio::spawn(async move {
            for _ in 0..40 {
                tokio::time::sleep(Duration::from_millis(250)).await;
                if let Ok(Some(run)) = runs::get(&db, &id, &Platform::system()).await
                    && let Some(at) = run.started_at
                {
                    return Some((at - run.created_at).num_microseconds().unwrap_or(0) as f64 / 1000.0);
                }
            }
            None
        }));
    }
    let mut out = Vec::new();
    for reader in readers {
        out.extend(reader.await?);
    }
    out.sort_by(f64::total_cmp);
    Ok(out)
}

fn pickup_line(p: &[f64]) -> Value {
    json!({ "p50": percentile(p, 0.5), "p99": percentile(p, 0.99), "max": percentile(p, 1.0), "n": p.len() })
}

pub async fn run(which: Db, total: u64, keep: u64, concurrency: usize) -> anyhow::Result<Value> {
    let bench = BenchDb::create(which, concurrency).await?;
    let db = bench.db.clone();
    let mut config = bench.config.clone();
    config.retention.runs = Duration::from_secs(keep);
    let (a, b) = (bench.workspace_named("Flood").await?, bench.workspace_named("Quiet").await?);
    let ctx = crate::common::job_context(&db, &config, offstage::mail::Mailer::from_settings(&config.mail)?)?;
    let workers = tokio::spawn(queue::run_workers(ctx, std::future::pending::<std::io::Result<()>>()));
    let started = Instant::now();
    let (done, pruned) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let pruner = {
        let (db, retention, done, pruned) = (db.clone(), config.retention, done.clone(), pruned.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if let Ok(p) = offstage::retention::prune(&db, &retention, chrono::Utc::now()).await {
                    pruned.fetch_add(p.runs, Ordering::Relaxed);
                }
            }
        })
    };
    let made = Arc::new(AtomicU64::new(0));
    let producer = {
        let (db, a, counter) = (db.clone(), a.clone(), made.clone());
        tokio::spawn(async move {
            let mut made = 0;
            while made < total {
                if queue::due_within(&db, 0).await.unwrap_or(BACKLOG) >= BACKLOG {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                let n = (total - made).min(1000);
                let items = (0..n).map(|_| NewRun::of::<probe::Probe>(&noop(&a))).collect();
                runs::fan_out(&db, items, None).await?;
                made += n;
                counter.store(made, Ordering::Relaxed);
            }
            anyhow::Ok(())
        })
    };
    tokio::time::sleep(Duration::from_secs(keep + 2)).await;
    let at_start = sizes(&db, keep, started).await?;
    let start_pickup = quiet_pickups(&db, &b).await?;
    let mut samples = vec![at_start.clone()];
    // The end: the last tenth of A's runs, still flowing as at the start.
    while made.load(Ordering::Relaxed) < total - total / 10 && !producer.is_finished() {
        tokio::time::sleep(Duration::from_secs(5)).await;
        samples.push(sizes(&db, keep, started).await?);
    }
    let end_pickup = quiet_pickups(&db, &b).await?;
    producer.await??;
    while queue::due_within(&db, 0).await.unwrap_or(1) > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let drained_s = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(keep + 2)).await;
    let at_end = sizes(&db, keep, started).await?;
    done.store(true, Ordering::Relaxed);
    pruner.await?;
    workers.abort();
    let largest = samples.iter().map(|s| s["runs"].as_i64().unwrap_or(0)).max().unwrap_or(0);
    bench.drop().await?;
    Ok(json!({
        "bench": "retention",
        "db": which.name(),
        "runs": total,
        "keep_s": keep,
        "concurrency": concurrency,
        "drained_per_s": round(total as f64 / drained_s),
        "pruned_runs": pruned.load(Ordering::Relaxed),
        "tables_at_start": at_start,
        "tables_at_end": at_end,
        "runs_table_largest": largest,
        "samples": samples,
        "b_pickup_ms_start": pickup_line(&start_pickup),
        "b_pickup_ms_end": pickup_line(&end_pickup),
    }))
}
