//! `offstage-bench import --db sqlite|postgres --kind members|workspaces --rows N`: an import of
//! N rows (workspace A's members: each line an invitation and its email in the outbox; or N
//! workspaces: each a workspace, its owner's invitation and email, its digest schedule), read
//! and stored, then done 100 lines per run by the workers of this process, while workspace B
//! starts a no-op run every 100 ms. Prints the time to store the file, the time from the
//! import's start to its last line committed, and B's pickup (from before its INSERT to its
//! start) meanwhile.

use std::time::{Duration, Instant};

use offstage::db::entities::import;
use offstage::engine::queue;
use offstage::engine::{NewRun, probe, runs};
use offstage::imports::csv_file::parse_members;
use offstage::imports::record;
use offstage::imports::workflows::{import_members, import_workspaces};
use offstage::imports::workspaces_file::parse_workspaces;
use offstage::tenancy::{Platform, Scope};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::common::{BenchDb, Db, count, percentile, round};
use crate::jobs::{delays, wait_until_drained};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Kind {
    Members,
    Workspaces,
}

pub async fn run(which: Db, kind: Kind, rows: u64, concurrency: usize) -> anyhow::Result<Value> {
    let bench = BenchDb::create(which, concurrency).await?;
    let db = bench.db.clone();
    let mut config = bench.config.clone();
    config.limits.invitations_per_day = u32::try_from(rows + 10).unwrap_or(u32::MAX);
    let (a, b) = (bench.workspace_named("Importer").await?, bench.workspace_named("Quiet").await?);
    let upload = Instant::now();
    let made = match kind {
        Kind::Members => {
            let mut file = String::from("email,role,name\n");
            for n in 0..rows {
                file.push_str(&format!("person{n}@example.com,member,Person {n}\n"));
            }
            let lines = parse_members(file.as_bytes(), true).map_err(anyhow::Error::msg)?;
            record::create(&db, &Scope::acting_for(&Platform::system(), a.clone()), &lines, "running").await?
        }
        Kind::Workspaces => {
            let mut file = String::from("name,slug,owner_email,timezone,plan,stripe_customer_id\n");
            for n in 0..rows {
                file.push_str(&format!("Customer {n},customer-{n},owner{n}@example.com,Europe/Berlin,pro,cus_B{n}\n"));
            }
            let lines = parse_workspaces(file.as_bytes()).map_err(anyhow::Error::msg)?;
            record::create_platform(&db, "workspaces", "bench", &lines, "running").await?
        }
    };
    let upload_s = upload.elapsed().as_secs_f64();

    let ctx = crate::common::job_context(&db, &config, offstage::mail::Mailer::from_settings(&config.mail)?)?;
    let workers = tokio::spawn(queue::run_workers(ctx, std::future::pending::<std::io::Result<()>>()));
    let started = chrono::Utc::now();
    match kind {
        Kind::Members => import_members::start(&db, &made, "code").await?,
        Kind::Workspaces => import_workspaces::start(&db, &made, "code").await?,
    };
    let noop = probe::Params::noop(&b.id);
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
    let (invitations, emails) = match kind {
        Kind::Members => {
            let made_in = format!("workspace_id = '{}'", a.id);
            let invitations = count(&db, &format!("SELECT COUNT(*) AS n FROM invitations WHERE {made_in}")).await?;
            let emails =
                count(&db, &format!("SELECT COUNT(*) AS n FROM emails WHERE {made_in} AND kind = 'invitation'"))
                    .await?;
            (invitations, emails)
        }
        Kind::Workspaces => {
            let made = count(&db, "SELECT COUNT(*) AS n FROM workspaces WHERE slug LIKE 'customer-%'").await?;
            let schedules =
                count(&db, "SELECT COUNT(*) AS n FROM schedules WHERE workflow = 'generate_weekly_digest'").await?;
            anyhow::ensure!(
                made as u64 == rows && schedules as u64 >= rows,
                "{made} workspaces, {schedules} schedules"
            );
            let invitations = count(&db, "SELECT COUNT(*) AS n FROM invitations WHERE role = 'owner'").await?;
            let emails = count(&db, "SELECT COUNT(*) AS n FROM emails WHERE kind = 'invitation'").await?;
            (invitations, emails)
        }
    };
    anyhow::ensure!(
        invitations as u64 == rows && emails as u64 == rows,
        "{invitations} invitations, {emails} emails for {rows} rows"
    );
    let line = json!({
        "bench": "import",
        "kind": format!("{kind:?}").to_lowercase(),
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
