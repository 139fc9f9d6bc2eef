//! What both benchmarks share: a fresh database (a temporary SQLite file, or a new PostgreSQL
//! database dropped at the end) with a workspace, and the figures' arithmetic.

use std::time::Duration;

use chrono::Utc;
use clap::ValueEnum;
use offstage::config::{Config, Secret, StripeSettings, database_kind};
use offstage::db::entities::workspace;
use offstage::domain::{Email, Password, Timezone, WorkspaceName};
use offstage::{accounts, startup, workspaces};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

#[derive(Clone, Copy, ValueEnum, PartialEq)]
pub enum Db {
    Sqlite,
    Postgres,
}

impl Db {
    pub fn name(self) -> &'static str {
        match self {
            Db::Sqlite => "sqlite",
            Db::Postgres => "postgres",
        }
    }
}

/// The webhook secret the webhooks benchmark signs with.
pub const WEBHOOK_SECRET: &str = "whsec_bench";

pub struct BenchDb {
    pub db: DatabaseConnection,
    pub config: Config,
    pg_admin: Option<(DatabaseConnection, String)>,
    _dir: tempfile::TempDir,
}

impl BenchDb {
    /// A migrated, empty database and the settings to run Offstage on it.
    pub async fn create(which: Db, concurrency: usize) -> anyhow::Result<BenchDb> {
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
                // The peers' client (node-postgres) speaks plain TCP unless told otherwise; sqlx
                // prefers TLS, which cost a third of the enqueue rate on one machine. Compare
                // like with like unless the URL asks for TLS.
                if !parsed.query_pairs().any(|(key, _)| key == "sslmode") {
                    parsed.query_pairs_mut().append_pair("sslmode", "disable");
                }
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
            counts_every: offstage::config::COUNTS_EVERY,
            stripe: StripeSettings { webhook_secrets: vec![Secret::new(WEBHOOK_SECRET)], ..StripeSettings::default() },
            mail: offstage::config::MailSettings::default(),
            trial_days: None,
            sessions: Default::default(),
            trusted_proxies: Vec::new(),
            limits: Default::default(),
            signup: offstage::config::Signup::Invite,
            require_two_factor: offstage::config::RequireTwoFactor::None,
            storage_url: None,
            export_expiry_days: 7,
            retention: Default::default(),
            metrics_token: None,
            metrics_bind: None,
        };
        let db = startup::prepare_database(&config).await?;
        Ok(BenchDb { db, config, pg_admin, _dir: dir })
    }

    /// A workspace (with its owner) to run against.
    pub async fn workspace(&self) -> anyhow::Result<workspace::Model> {
        self.workspace_named("Bench").await
    }

    /// Another workspace, with an owner of its own.
    pub async fn workspace_named(&self, name: &str) -> anyhow::Result<workspace::Model> {
        let owner = accounts::create_user(
            &self.db,
            &Email::parse(&format!("{}@example.com", name.to_lowercase())).map_err(anyhow::Error::msg)?,
            &Password::parse("bench-password").map_err(anyhow::Error::msg)?,
            true,
            accounts::EmailProof::Verified,
        )
        .await?;
        let new = workspaces::NewWorkspace {
            name: WorkspaceName::parse(name).map_err(anyhow::Error::msg)?,
            slug: None,
            timezone: Timezone::parse("UTC").map_err(anyhow::Error::msg)?,
            trial_days: None,
        };
        Ok(workspaces::create(&self.db, new, &owner).await?)
    }

    /// Closes the pool and drops the PostgreSQL database.
    pub async fn drop(self) -> anyhow::Result<()> {
        // Workers that were stopped mid-flight may still hold a connection (PostgreSQL's LISTEN):
        // closing waits for them at most briefly; the database is dropped with FORCE anyway.
        let _ = tokio::time::timeout(Duration::from_secs(5), self.db.close()).await;
        if let Some((admin, name)) = self.pg_admin {
            admin
                .execute_raw(Statement::from_string(
                    admin.get_database_backend(),
                    format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ))
                .await?;
        }
        Ok(())
    }
}

/// The value at `p` (0–1) of sorted milliseconds, to 0.1.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    round(sorted[index])
}

pub fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

pub fn peak_rss_mb() -> f64 {
    vm_hwm_mb("/proc/self/status")
}

/// The peak resident memory (VmHWM) a `/proc/…/status` file gives, in MB.
pub fn vm_hwm_mb(status_path: &str) -> f64 {
    let status = std::fs::read_to_string(status_path).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    round(kb / 1024.0)
}

/// What the workers of a benchmark get: every workflow, and the services with `mailer`.
pub fn job_context(
    db: &sea_orm::DatabaseConnection,
    config: &offstage::config::Config,
    mailer: offstage::mail::Mailer,
) -> anyhow::Result<offstage::engine::queue::JobContext> {
    let registry = offstage::registry::workflows().map_err(anyhow::Error::msg)?;
    let storage = offstage::storage::Storage::from_settings(None, &config.data_dir)?;
    let services = offstage::startup::worker_services(db, config, mailer, storage);
    Ok(offstage::engine::queue::JobContext::new(db.clone(), config.clone(), registry, services))
}

/// `n` workspaces, each with an owner who joined now (so every digest has something to say).
pub async fn insert_workspaces(db: &DatabaseConnection, n: u64) -> anyhow::Result<()> {
    let backend = db.get_database_backend();
    let now = Utc::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let (mut users, mut spaces, mut members) = (Vec::new(), Vec::new(), Vec::new());
        for i in chunk {
            let (u, w) = (format!("usr_bench{i:08}"), format!("ws_bench{i:08}"));
            users.push(format!("('{u}', 'owner{i}@bench.test', 'x', false, '{}')", now.to_rfc3339()));
            spaces.push(format!(
                "('{w}', 'Bench {i}', 'bench-{i}', 'Europe/Berlin', 'free', 'none', false, '{}')",
                now.to_rfc3339()
            ));
            members.push(format!("('mem_bench{i:08}', '{w}', '{u}', 'owner', '{}')", now.to_rfc3339()));
        }
        let statements = [
            format!(
                "INSERT INTO users (id, email, password_hash, is_platform_admin, created_at) VALUES {}",
                users.join(", ")
            ),
            format!(
                "INSERT INTO workspaces (id, name, slug, timezone, plan, subscription_status, cancel_at_period_end, created_at) VALUES {}",
                spaces.join(", ")
            ),
            format!(
                "INSERT INTO memberships (id, workspace_id, user_id, role, created_at) VALUES {}",
                members.join(", ")
            ),
        ];
        for sql in statements {
            db.execute_raw(Statement::from_string(backend, sql)).await?;
        }
    }
    Ok(())
}

/// The `n` column of one row `sql` returns (a `SELECT COUNT(*) AS n …`).
pub async fn count(db: &DatabaseConnection, sql: &str) -> anyhow::Result<i64> {
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await?;
    Ok(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0))
}
