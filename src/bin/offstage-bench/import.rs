//! `offstage-bench import --db sqlite|postgres --rows N`: workspace A imports a CSV of N people
//! (read and stored, then invited 100 lines per run by the workers of this process, each line an
//! invitation and its email in the outbox) while workspace B starts a no-op run every 100 ms.
//! Prints the time to store the file, the time from the import's start to its last invitation
//! committed, and B's pickup (from before its INSERT to its start) meanwhile.

use std::time::{Duration, Instant};

use offstage::db::entities::import;
use offstage::engine::queue;
use offstage::engine::{NewRun, probe, runs};
use offstage::imports::csv_file::parse_members;
use offstage::imports::record;
use offstage::imports::workflows::import_members;
use offstage::tenancy::{Platform, Scope};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::common::{BenchDb, Db, count, percentile, round};
use crate::jobs::{delays, wait_until_drained};

pub async fn run(which: Db, rows: u64, concurrency: usize) -> anyhow::Result<Value> {
    let bench = BenchDb::create(which, concurrency).await?;
    let db = bench.db.clone();
    let mut config = bench.config.clone();
    config.limits.invitations_per_day = u32::try_from(rows + 10).unwrap_or(u32::MAX);
    let (a, b) = (bench.workspace_named("Importer").await?, bench.workspace_named("Quiet").await?);
    let mut file = String::from("email,role,name\n");
    for n in 0..rows {
        file.push_str(&format!("person{n}@example.com,member,Person {n}\n"));
    }
    let upload = Instant::now();
    let lines = parse_members(file.as_bytes(), true).map_err(anyhow::Error::msg)?;
    let scope = Scope::acting_for(&Platform::system(), a.clone());
    let made = record::create(&db, &scope, &lines, "running").await?;
    let upload_s = upload.elapsed().as_secs_f64();

    let ctx = crate::common::job_context(&db, &config, offstage::mail::Mailer::from_settings(&config.mail)?)?;
    let workers = tokio::spawn(queue::run_workers(ctx, std::future::pending::<std::io::Result<()>>()));
    let started = chrono::Utc::now();
    import_members::start(&db, &made, "code").await?;
    let noop = probe::Params { workspace_id: b.id.clone(), value: None, sleep_ms: 0, fail_attempts: 0, skip: false };
    let mut quiet = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let finished = loop {
        tick.tick().await;
        quiet.push(runs::start(&db, NewRun::of::<probe::Probe>(&noop)).await?.id);
        let now = import::Entity::find_by_id(&made.id).one(&db).await?;
        if let Some(done) = now.filter(|i| i.status == "succeeded") {
            break done;
        }
        anyhow::ensure!(chrono::Utc::now() - started < chrono::Duration::seconds(900), "the import took over 900 s");
    };
    wait_until_drained(&db).await;
    let pickup = delays(&db, &quiet, |run| run.created_at).await?;
    workers.abort();
    let import_s = (finished.finished_at.unwrap_or(started) - started).num_milliseconds() as f64 / 1000.0;
    let invitations =
        count(&db, &format!("SELECT COUNT(*) AS n FROM invitations WHERE workspace_id = '{}'", a.id)).await?;
    let emails = count(
        &db,
        &format!("SELECT COUNT(*) AS n FROM emails WHERE workspace_id = '{}' AND kind = 'invitation'", a.id),
    )
    .await?;
    anyhow::ensure!(
        invitations as u64 == rows && emails as u64 == rows,
        "{invitations} invitations, {emails} emails for {rows} rows"
    );
    let line = json!({
        "bench": "import",
        "db": which.name(),
        "rows": rows,
        "concurrency": concurrency,
        "upload_s": round(upload_s),
        "import_s": round(import_s),
        "total_s": round(upload_s + import_s),
        "rows_per_s": round(rows as f64 / import_s.max(0.001)),
        "b_pickup_ms": { "p50": percentile(&pickup, 0.5), "p99": percentile(&pickup, 0.99), "max": percentile(&pickup, 1.0), "n": pickup.len() },
    });
    bench.drop().await?;
    Ok(line)
}
