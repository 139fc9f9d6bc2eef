//! `offstage-bench fan-out --db sqlite|postgres --items N`: one `fan_out` of N no-op runs (what
//! a workflow does to start one run per workspace, or an import per chunk), timed from the
//! call to its commit, on a fresh database with no workers running.

use std::time::Instant;

use offstage::engine::{NewRun, probe, runs};
use serde_json::json;

use crate::common::{BenchDb, Db, round};

pub async fn run(which: Db, items: u64) -> anyhow::Result<serde_json::Value> {
    let bench = BenchDb::create(which, 1).await?;
    let ws = bench.workspace().await?;
    let params = probe::Params::noop(&ws.id);
    let started = Instant::now();
    let news = (0..items).map(|_| NewRun::of::<probe::Probe>(&params)).collect();
    let ids = runs::fan_out(&bench.db, news, None).await?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(ids.len() as u64 == items, "fan_out started {} runs of {items}", ids.len());
    let line = json!({
        "bench": "fan_out",
        "db": which.name(),
        "items": items,
        "seconds": round(seconds),
        "runs_per_s": round(items as f64 / seconds),
    });
    bench.drop().await?;
    Ok(line)
}
