//! `offstage-bench metrics --db sqlite|postgres --runs N`: the cost of a `/metrics` scrape with
//! N runs in the database, half of them finished and half scheduled for tomorrow (the ones the
//! queue gauges count): the database's gauges read and the text rendered, each scrape reading
//! the database (as the first scrape does, and the background read that a scrape finding them
//! older than 5 s starts), and from the cache (every other scrape, which never waits).

use std::time::{Duration, Instant};

use offstage::engine::queue;
use offstage::engine::{NewRun, probe, runs};
use offstage::telemetry::gauges::Gauges;
use serde_json::{Value, json};

use crate::common::{BenchDb, Db, percentile, round};
use crate::jobs::wait_until_drained;

const SCRAPES: usize = 50;

pub async fn run(which: Db, total: u64) -> anyhow::Result<Value> {
    let bench = BenchDb::create(which, 16).await?;
    let (db, config) = (bench.db.clone(), bench.config.clone());
    let ws = bench.workspace().await?;
    let params = probe::Params::noop(&ws.id);
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    for n in 0..total.div_ceil(1000) {
        let later = n % 2 == 1;
        let items = (0..1000)
            .map(|_| {
                let run = NewRun::of::<probe::Probe>(&params);
                if later { run.at(tomorrow) } else { run }
            })
            .collect();
        runs::fan_out(&db, items, None).await?;
    }
    let ctx = crate::common::job_context(&db, &config, offstage::mail::Mailer::from_settings(&config.mail)?)?;
    let workers = tokio::spawn(queue::run_workers(ctx, std::future::pending::<std::io::Result<()>>()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    wait_until_drained(&db).await;
    workers.abort();
    let (mut uncached, mut cached, mut bytes) = (Vec::new(), Vec::new(), 0);
    let kept = Gauges::default();
    for _ in 0..SCRAPES {
        let (ms, len) = scrape_once(&db, &Gauges::default()).await?;
        uncached.push(ms);
        bytes = len;
        cached.push(scrape_once(&db, &kept).await?.0);
    }
    uncached.sort_by(f64::total_cmp);
    cached.sort_by(f64::total_cmp);
    bench.drop().await?;
    Ok(json!({
        "bench": "metrics",
        "db": which.name(),
        "runs": total,
        "scrape_ms_reading_the_database": { "p50": round(percentile(&uncached, 0.5)), "p99": round(percentile(&uncached, 0.99)), "max": round(percentile(&uncached, 1.0)) },
        "scrape_ms_from_the_cache": { "p50": round(percentile(&cached, 0.5)), "p99": round(percentile(&cached, 0.99)) },
        "bytes": bytes,
    }))
}

/// One scrape as `/metrics` makes it: milliseconds, and the text's length.
async fn scrape_once(db: &sea_orm::DatabaseConnection, gauges: &Gauges) -> anyhow::Result<(f64, usize)> {
    let started = Instant::now();
    gauges.refresh(db).await?;
    let handle = offstage::telemetry::metrics::handle();
    handle.run_upkeep();
    let text = handle.render();
    Ok((started.elapsed().as_secs_f64() * 1000.0, text.len()))
}
