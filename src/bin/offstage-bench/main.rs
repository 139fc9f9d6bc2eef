//! `offstage-bench`: benchmarks that print one JSON line each, on a fresh database.
//! `jobs` measures the workflow engine (and bare apalis beside it); `fan-out` one start of many
//! runs; `fairness` one workspace's runs beside another's backlog; `webhooks` measures Stripe
//! webhook intake (and the database's durable-insert floor beside it); `email` measures SMTP
//! delivery through the outbox and the weekly digest of many workspaces; `heavy` the work off
//! the request path (a month's revenue of many workspaces); `export` "export all workspaces"
//! by a worker process, its time and peak memory; `import` a members import beside another
//! workspace's runs; `retention` the tables' sizes and pickup while a million runs go through
//! with a short retention; `metrics` the cost of a `/metrics` scrape; `dashboard` the
//! cost of Platform → Queue's figures.

// Like a test, a benchmark that cannot go on stops right there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod dashboard;
mod email;
mod export;
mod fairness;
mod fan_out;
mod heavy;
mod import;
mod jobs;
mod metrics;
mod process;
mod retention;
mod webhooks;

use clap::{Parser, Subcommand};

use common::Db;

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
    /// One `fan_out` of many no-op runs, in one transaction.
    FanOut {
        #[arg(long, value_enum, default_value = "sqlite")]
        db: Db,
        #[arg(long, default_value_t = 100_000)]
        items: u64,
    },
    /// Noisy neighbour: B's pickup while A holds a backlog, with fair dispatch and with FIFO.
    Fairness {
        #[arg(long, value_enum, default_value = "sqlite")]
        db: Db,
        /// Workspace A's queued no-op runs.
        #[arg(long, default_value_t = 100_000)]
        backlog: u64,
        /// Seconds during which workspace B starts a run every 100 ms.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
    /// Stripe webhooks: events/s durably accepted, latency at 500/s, processing, and the floor.
    Webhooks {
        #[arg(long, value_enum, default_value = "sqlite")]
        db: Db,
        /// Unique signed events posted for the throughput phase.
        #[arg(long, default_value_t = 10_000)]
        events: u64,
        /// Requests in flight at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
    /// Email: emails/s delivered over SMTP through the outbox, and weekly digests of N workspaces.
    Email {
        #[arg(long, value_enum, default_value = "sqlite")]
        db: Db,
        #[arg(long, default_value_t = 5_000)]
        emails: u64,
        #[arg(long, default_value_t = 10_000)]
        workspaces: u64,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
    /// "Export all workspaces" of N workspaces by a worker process: time and its peak memory,
    /// to local storage and (with --s3) to moto's S3 server.
    Export {
        #[arg(long, value_enum, default_value = "sqlite")]
        db: Db,
        #[arg(long, default_value_t = 100_000)]
        workspaces: u64,
        /// Also export to moto's S3-compatible server (`moto_server` on the PATH).
        #[arg(long)]
        s3: bool,
    },
    /// An import of N rows (members of one workspace, or workspaces) while another workspace's
    /// runs keep starting.
    Import {
        #[arg(long, value_enum, default_value = "sqlite")]
        db: Db,
        #[arg(long, value_enum, default_value = "members")]
        kind: import::Kind,
        #[arg(long, default_value_t = 10_000)]
        rows: u64,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
    /// Retention: N runs pushed through while the prune keeps runs for `keep` seconds; table
    /// sizes and another workspace's pickup at the start and the end.
    Retention {
        #[arg(long, value_enum, default_value = "sqlite")]
        db: Db,
        #[arg(long, default_value_t = 1_000_000)]
        runs: u64,
        #[arg(long, default_value_t = 5)]
        keep: u64,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
    /// A `/metrics` scrape with N runs in the database, half finished, half scheduled.
    Metrics {
        #[arg(long, value_enum, default_value = "sqlite")]
        db: Db,
        #[arg(long, default_value_t = 100_000)]
        runs: u64,
    },
    /// Platform → Queue's figures with N runs finished over W workspaces.
    Dashboard {
        #[arg(long, value_enum, default_value = "sqlite")]
        db: Db,
        #[arg(long, default_value_t = 1_000_000)]
        runs: u64,
        #[arg(long, default_value_t = 1_000)]
        workspaces: u64,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
    /// Heavy work: a month's revenue of N workspaces with 12 paid invoices each.
    Heavy {
        #[arg(long, value_enum, default_value = "sqlite")]
        db: Db,
        #[arg(long, default_value_t = 10_000)]
        workspaces: u64,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("OFFSTAGE_LOG") {
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    }
    let line = match Cli::parse().command {
        Bench::Jobs { db, runs, future, concurrency } => jobs::run(db, runs, future, concurrency).await?,
        Bench::FanOut { db, items } => fan_out::run(db, items).await?,
        Bench::Fairness { db, backlog, seconds, concurrency } => {
            fairness::run(db, backlog, seconds, concurrency).await?
        }
        Bench::Webhooks { db, events, concurrency } => webhooks::run(db, events, concurrency).await?,
        Bench::Email { db, emails, workspaces, concurrency } => email::run(db, emails, workspaces, concurrency).await?,
        Bench::Heavy { db, workspaces, concurrency } => heavy::run(db, workspaces, concurrency).await?,
        Bench::Export { db, workspaces, s3 } => export::run(db, workspaces, s3).await?,
        Bench::Import { db, kind, rows, concurrency } => import::run(db, kind, rows, concurrency).await?,
        Bench::Metrics { db, runs } => metrics::run(db, runs).await?,
        Bench::Dashboard { db, runs, workspaces, concurrency } => {
            dashboard::run(db, runs, workspaces, concurrency).await?
        }
        Bench::Retention { db, runs, keep, concurrency } => retention::run(db, runs, keep, concurrency).await?,
    };
    println!("{line}");
    Ok(())
}
