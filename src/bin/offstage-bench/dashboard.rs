//! `offstage-bench dashboard --db sqlite|postgres --runs N --workspaces W`: Platform → Queue's
//! figures (`QueueDashboard::read`, as its JSON endpoint answers) with N runs finished in the
//! window, spread over W workspaces, pushed through the workers of this process (one in 100
//! skipped, one in 1,000 failed for good after its 3 attempts), and 1,000 scheduled for
//! tomorrow. Prints the read's time and its JSON's size, and, for scale, the old Queue page's
//! count of runs by status, which read every run. The page's depth is read in the background
//! (`QueueDepth`), once before the runs as a server that has been up a while has; each part's
//! own cost, that one's included, is printed beside.

use std::time::{Duration, Instant};

use offstage::engine::queue;
use offstage::engine::{NewRun, probe, runs};
use offstage::telemetry::dashboard::{QueueDashboard, QueueDepth};
use offstage::tenancy::Platform;
use serde_json::{Value, json};

use crate::common::{BenchDb, Db, count, insert_workspaces, percentile, round};

const READS: usize = 100;

pub async fn run(which: Db, total: u64, workspaces: u64, concurrency: usize) -> anyhow::Result<Value> {
    let bench = BenchDb::create(which, concurrency).await?;
    let (db, config) = (bench.db.clone(), bench.config.clone());
    insert_workspaces(&db, workspaces).await?;
    let (platform, depth) = (Platform::system(), QueueDepth::default());
    QueueDashboard::read(&db, &platform, &depth).await?;
    let params = |n: u64| probe::Params {
        workspace_id: format!("ws_bench{:08}", n % workspaces),
        value: None,
        sleep_ms: 0,
        fail_attempts: if n % 1000 == 999 { 3 } else { 0 },
        skip: n % 100 == 50,
    };
    let started = Instant::now();
    for chunk in (0..total).collect::<Vec<_>>().chunks(1000) {
        runs::fan_out(&db, chunk.iter().map(|n| NewRun::of::<probe::Probe>(&params(*n))).collect(), None).await?;
    }
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    let later = (0..1000).map(|n| NewRun::of::<probe::Probe>(&params(n)).at(tomorrow)).collect();
    runs::fan_out(&db, later, None).await?;
    let started_in = started.elapsed();
    let ctx = crate::common::job_context(&db, &config, offstage::mail::Mailer::from_settings(&config.mail)?)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let workers = tokio::spawn(queue::run_workers(ctx, async move { stopped.await.map_err(std::io::Error::other) }));
    let drained = Instant::now();
    // Retries come back within seconds: wait until nothing is due within the next minute.
    while queue::due_within(&db, 60).await.unwrap_or(1) > 0 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let drained_in = drained.elapsed();
    // Shut down as a process does: the last counts are added on the way out.
    let _ = stop.send(());
    workers.await??;
    let (mut reads, mut bytes) = (Vec::new(), 0);
    for _ in 0..READS {
        let at = Instant::now();
        let dash = QueueDashboard::read(&db, &platform, &depth).await?;
        bytes = serde_json::to_vec(&dash)?.len();
        reads.push(at.elapsed().as_secs_f64() * 1000.0);
    }
    reads.sort_by(f64::total_cmp);
    let part_times = parts(&db, &platform).await?;
    // Right after a million updates PostgreSQL's indexes of unfinished jobs are full of entries
    // of finished ones until (auto)vacuum clears them: read again once it has.
    let vacuumed = if which == Db::Postgres {
        sea_orm::ConnectionTrait::execute_unprepared(&db, "VACUUM (ANALYZE) apalis.jobs").await?;
        let mut again = Vec::new();
        for _ in 0..READS {
            let at = Instant::now();
            serde_json::to_vec(&QueueDashboard::read(&db, &platform, &depth).await?)?;
            again.push(at.elapsed().as_secs_f64() * 1000.0);
        }
        again.sort_by(f64::total_cmp);
        json!({ "p50": round(percentile(&again, 0.5)), "p99": round(percentile(&again, 0.99)), "parts_p50_ms": parts(&db, &platform).await? })
    } else {
        Value::Null
    };
    let dash = QueueDashboard::read(&db, &platform, &depth).await?;
    let old = Instant::now();
    runs::counts(&db, &platform).await?;
    let old_ms = old.elapsed().as_secs_f64() * 1000.0;
    let jobs = if which == Db::Postgres { "apalis.jobs" } else { "Jobs" };
    let out = json!({
        "bench": "dashboard",
        "db": which.name(),
        "runs": total,
        "workspaces": workspaces,
        "started_s": round(started_in.as_secs_f64()),
        "drained_s": round(drained_in.as_secs_f64()),
        "finished_jobs": count(&db, &format!("SELECT COUNT(*) AS n FROM {jobs} WHERE done_at IS NOT NULL")).await?,
        "tally_rows": {
            "per_minute": count(&db, "SELECT COUNT(*) AS n FROM run_tallies").await?,
            "per_workspace_hour": count(&db, "SELECT COUNT(*) AS n FROM workspace_run_tallies").await?,
        },
        "attempts_counted_last_day": dash.last_day.iter().map(|p| p.total()).sum::<i64>(),
        "read_ms": { "p50": round(percentile(&reads, 0.5)), "p99": round(percentile(&reads, 0.99)), "max": round(percentile(&reads, 1.0)) },
        "json_bytes": bytes,
        "part_p50_ms": part_times,
        "read_ms_after_vacuum": vacuumed,
        "old_queue_page_counts_ms": round(old_ms),
    });
    bench.drop().await?;
    Ok(out)
}

/// Each part of the read on its own, the median of 20: where the time goes.
async fn parts(db: &sea_orm::DatabaseConnection, platform: &Platform) -> anyhow::Result<Value> {
    use offstage::engine::queue::{depth, fair, workers};
    use offstage::engine::tallies::read as tallies;
    let minute = chrono::Utc::now().timestamp() / 60;
    let mut out = serde_json::Map::new();
    for part in
        ["depth", "oldest_due", "per_minute", "per_hour", "workers", "workflows", "workspaces", "backlogs", "failures"]
    {
        let mut times = Vec::new();
        for _ in 0..20 {
            let at = Instant::now();
            match part {
                // The job table's counts, as `QueueDepth` reads them.
                "depth" | "oldest_due" | "backlogs" => {
                    let txn = depth::begin_counting(db).await?;
                    match part {
                        "depth" => drop(depth::by_status(&txn).await?),
                        "oldest_due" => _ = depth::oldest_due_wait(&txn).await?,
                        _ => drop(fair::largest_backlogs(&txn, 8).await?),
                    }
                    txn.commit().await?;
                }
                "per_minute" => drop(tallies::periods(db, minute, 1, 60).await?),
                "per_hour" => drop(tallies::periods(db, minute, 60, 24).await?),
                "workers" => drop(workers::alive(db).await?),
                "workflows" => drop(tallies::busiest_workflows(db, minute - 59, 8).await?),
                "workspaces" => drop(tallies::busiest_workspaces(db, minute / 60 - 23, 8).await?),
                _ => drop(runs::recent_failures(db, platform, 8).await?),
            }
            times.push(at.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        out.insert(part.into(), json!(round(percentile(&times, 0.5))));
    }
    Ok(Value::Object(out))
}
