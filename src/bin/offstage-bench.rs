//! `offstage-bench jobs --db sqlite|postgres --runs N`: measures the workflow engine on a fresh
//! database and prints one JSON line — enqueue rates (one call per run, and in bulk), drain rate,
//! pickup latency at 200 runs/s, lateness of scheduled runs, peak RSS with many future runs, and
//! bare apalis draining the same number of no-op jobs on the same storage, with the ratio.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use clap::{Parser, Subcommand, ValueEnum};
use offstage::config::{Config, Secret, database_kind};
use offstage::db::entities::{run_event, workflow_run};
use offstage::domain::{Email, Password, Timezone, WorkspaceName};
use offstage::jobs::{self, JobContext};
use offstage::workflows::{NewRun, probe, runs};
use offstage::{accounts, startup, workspaces};
use sea_orm::{ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, QueryFilter, Statement};
use serde_json::json;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// The workflow engine's queue: enqueue, drain, pickup, lateness, memory, and bare apalis.
    Jobs {
        #[arg(long, value_enum, default_value = "sqlite")]
        db: Db,
        /// No-op runs for the enqueue and drain phases.
        #[arg(long, default_value_t = 10_000)]
        runs: u64,
        /// Runs scheduled a day ahead for the memory phase.
        #[arg(long, default_value_t = 100_000)]
        future: u64,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Db {
    Sqlite,
    Postgres,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    (sorted[index] * 10.0).round() / 10.0
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    (kb / 1024.0 * 10.0).round() / 10.0
}

async fn wait_until_drained(db: &DatabaseConnection) -> Duration {
    let started = Instant::now();
    // Checked every 50 ms: the check itself scans the job table and competes with the workers.
    while jobs::due_within(db, 0).await.unwrap_or(1) > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

/// Milliseconds from `reference(run)` to the run's first `started` event, sorted.
async fn delays(
    db: &DatabaseConnection,
    ids: &[String],
    reference: impl Fn(&workflow_run::Model) -> chrono::DateTime<Utc>,
) -> anyhow::Result<Vec<f64>> {
    let mut started: HashMap<String, chrono::DateTime<Utc>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let events = run_event::Entity::find()
            .filter(run_event::Column::RunId.is_in(chunk.to_vec()))
            .filter(run_event::Column::Kind.eq("started"))
            .all(db)
            .await?;
        for e in events {
            started.entry(e.run_id).or_insert(e.at);
        }
    }
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        for run in workflow_run::Entity::find().filter(workflow_run::Column::Id.is_in(chunk.to_vec())).all(db).await? {
            if let Some(at) = started.get(&run.id) {
                out.push((*at - reference(&run)).num_microseconds().unwrap_or(0) as f64 / 1000.0);
            }
        }
    }
    out.sort_by(|a, b| a.total_cmp(b));
    Ok(out)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Bench::Jobs { db: which, runs: n, future, concurrency } = Cli::parse().command;
    let dir = tempfile::tempdir()?;
    let (url, pg_admin) = match which {
        Db::Sqlite => (format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display()), None),
        Db::Postgres => {
            let admin_url = std::env::var("OFFSTAGE_BENCH_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
            let name = format!("offstage_bench_{}", ulid::Ulid::new().to_string().to_lowercase());
            let admin = Database::connect(&admin_url).await?;
            admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
            let mut parsed = url::Url::parse(&admin_url)?;
            parsed.set_path(&format!("/{name}"));
            (parsed.to_string(), Some((admin, name)))
        }
    };
    let config = Config {
        database_url: url.clone(),
        database_kind: database_kind(&url)?,
        data_dir: dir.path().to_path_buf(),
        bind: "127.0.0.1:0".parse()?,
        base_url: "http://127.0.0.1".into(),
        secret_key: Secret::new("bench-secret-bench-secret-bench-secret-0123"),
        admin_email: None,
        admin_password: None,
        worker_concurrency: concurrency,
        retry_base: Duration::from_secs(2),
        stripe: Default::default(),
    };
    let db = startup::prepare_database(&config).await?;
    let owner = accounts::create_user(
        &db,
        &Email::parse("bench@example.com").map_err(anyhow::Error::msg)?,
        &Password::parse("bench-password").map_err(anyhow::Error::msg)?,
        true,
    )
    .await?;
    let new = workspaces::NewWorkspace {
        name: WorkspaceName::parse("Bench").map_err(anyhow::Error::msg)?,
        slug: None,
        timezone: Timezone::parse("UTC").map_err(anyhow::Error::msg)?,
    };
    let ws = workspaces::create(&db, new, &owner).await?;
    let params = probe::Params { workspace_id: ws.id.clone(), value: None, sleep_ms: 0, fail_attempts: 0, skip: false };

    // Enqueue, one call per run.
    let singles = (n / 10).max(500);
    let started = Instant::now();
    for _ in 0..singles {
        runs::start(&db, NewRun::of::<probe::Probe>(&params)).await?;
    }
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
    let ctx = JobContext { db: db.clone(), config: config.clone() };
    let workers = tokio::spawn(jobs::run_workers(ctx, std::future::pending::<std::io::Result<()>>()));
    let drained = wait_until_drained(&db).await;
    let drain_rate = (singles + bulk + 1) as f64 / drained.as_secs_f64();
    // Pickup latency at 200 runs/s for 5 s.
    let mut ids = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    for _ in 0..1000 {
        tick.tick().await;
        ids.push(runs::start(&db, NewRun::of::<probe::Probe>(&params)).await?.id);
    }
    wait_until_drained(&db).await;
    let pickup = delays(&db, &ids, |r| r.created_at).await?;
    // Lateness of 500 runs due over the next 3–5 s.
    let base = Utc::now() + chrono::Duration::seconds(3);
    let mut ids = Vec::new();
    for i in 0..500 {
        let at = base + chrono::Duration::milliseconds(i * 4);
        ids.push(runs::start(&db, NewRun::of::<probe::Probe>(&params).at(at)).await?.id);
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    wait_until_drained(&db).await;
    let lateness = delays(&db, &ids, |r| r.scheduled_for).await?;
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
    let (bare_push, bare_drain) = jobs::bare::push_and_drain(&db, n, concurrency).await?;
    let bare_rate = n as f64 / bare_drain.as_secs_f64();
    let round = |v: f64| (v * 10.0).round() / 10.0;
    println!(
        "{}",
        json!({
            "bench": "jobs",
            "db": if which == Db::Sqlite { "sqlite" } else { "postgres" },
            "runs": n,
            "concurrency": concurrency,
            "enqueue_single_per_s": round(enqueue_single),
            "enqueue_bulk_per_s": round(enqueue_bulk),
            "drain_per_s": round(drain_rate),
            "pickup_ms": { "p50": percentile(&pickup, 0.5), "p95": percentile(&pickup, 0.95), "p99": percentile(&pickup, 0.99), "n": pickup.len() },
            "lateness_ms": { "p50": percentile(&lateness, 0.5), "p99": percentile(&lateness, 0.99), "n": lateness.len() },
            "future_runs": future,
            "future_enqueue_s": round(future_enqueue),
            "peak_rss_mb": rss,
            "bare_apalis": { "push_bulk_per_s": round(n as f64 / bare_push.as_secs_f64()), "drain_per_s": round(bare_rate) },
            "drain_ratio_bare_over_offstage": round(bare_rate / drain_rate),
        })
    );
    db.close().await?;
    if let Some((admin, name)) = pg_admin {
        admin
            .execute_raw(Statement::from_string(
                admin.get_database_backend(),
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            ))
            .await?;
    }
    Ok(())
}
