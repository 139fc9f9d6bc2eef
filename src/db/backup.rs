//! Backups of a SQLite database while Offstage runs, and the way back. `backup` writes a
//! consistent copy with `VACUUM INTO` (one read transaction: writers go on meanwhile, and the
//! copy holds every commit made before it began), beside the target, checks it, then renames
//! it into place. `restore` checks a backup (integrity, and migrations this build knows) and,
//! with every Offstage process stopped, puts it in place of the database; the database it
//! replaces is kept beside it, its write-ahead log folded in first, so nothing is lost either way.
//! PostgreSQL is backed up with `pg_dump` (see the README).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, SqlxSqliteConnector, Statement};
use serde::Serialize;

/// What a backup or a restore copied, as one JSON line of the command prints it.
#[derive(Debug, Serialize)]
pub struct Copied {
    pub file: String,
    pub bytes: u64,
    pub seconds: f64,
    pub runs: i64,
    pub stripe_events: i64,
    pub integrity: String,
    /// On a restore, where the database it replaced was kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced_kept_at: Option<String>,
}

/// The file of a `sqlite:` URL; an error naming PostgreSQL's way otherwise.
fn sqlite_file(database_url: &str) -> anyhow::Result<PathBuf> {
    if !database_url.starts_with("sqlite:") {
        bail!("backup and restore copy a SQLite database; on PostgreSQL use pg_dump and pg_restore (README: Backups)");
    }
    let options = SqliteConnectOptions::from_str(database_url).context("OFFSTAGE_DATABASE_URL")?;
    Ok(options.get_filename().to_path_buf())
}

async fn open(file: &Path, read_only: bool) -> anyhow::Result<DatabaseConnection> {
    let options = SqliteConnectOptions::new().filename(file).read_only(read_only).busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
    Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

async fn one<T: sea_orm::TryGetable>(db: &DatabaseConnection, sql: &str, column: &str) -> anyhow::Result<T> {
    let row = db.query_one_raw(Statement::from_string(DbBackend::Sqlite, sql)).await?.context("no row")?;
    Ok(row.try_get::<T>("", column)?)
}

/// Checks `file`: SQLite's integrity check, and what it holds.
async fn check(file: &Path, started: Instant) -> anyhow::Result<Copied> {
    let db = open(file, true).await.with_context(|| format!("{} is not a SQLite database", file.display()))?;
    let integrity: String = one(&db, "PRAGMA integrity_check", "integrity_check").await?;
    if integrity != "ok" {
        bail!("{} fails SQLite's integrity check: {integrity}", file.display());
    }
    let copied = Copied {
        file: file.display().to_string(),
        bytes: std::fs::metadata(file)?.len(),
        seconds: (started.elapsed().as_secs_f64() * 100.0).round() / 100.0,
        runs: one(&db, "SELECT COUNT(*) AS n FROM workflow_runs", "n").await?,
        stripe_events: one(&db, "SELECT COUNT(*) AS n FROM stripe_events", "n").await?,
        integrity,
        replaced_kept_at: None,
    };
    db.close().await?;
    Ok(copied)
}

/// Writes a consistent copy of the database to `to` (which must not exist yet).
pub async fn backup(database_url: &str, to: &Path) -> anyhow::Result<Copied> {
    let started = Instant::now();
    let source = sqlite_file(database_url)?;
    if to.exists() {
        bail!("{} already exists: choose another name, or remove it first", to.display());
    }
    let partial = with_suffix(to, "partial");
    let _ = std::fs::remove_file(&partial);
    let db = open(&source, true).await.with_context(|| format!("cannot open {}", source.display()))?;
    let into =
        Statement::from_sql_and_values(DbBackend::Sqlite, "VACUUM INTO $1", [partial.display().to_string().into()]);
    db.execute_raw(into).await.with_context(|| format!("writing {}", partial.display()))?;
    db.close().await?;
    let copied = check(&partial, started).await?;
    std::fs::File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, to)?;
    sync_dir(to)?;
    Ok(Copied { file: to.display().to_string(), seconds: elapsed(started), ..copied })
}

/// Puts the backup `from` in place of the database, once it is checked and no Offstage
/// process runs on it.
pub async fn restore(database_url: &str, from: &Path) -> anyhow::Result<Copied> {
    let started = Instant::now();
    let target = sqlite_file(database_url)?;
    check(from, started).await?;
    check_migrations(from).await?;
    let mut kept = None;
    if target.exists() {
        refuse_while_running(&target).await?;
        let db = open(&target, false).await?;
        // The log's commits go into the file, so the file kept is the whole database.
        db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await?;
        db.close().await?;
        let keep = with_suffix(&target, &format!("before-restore-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ")));
        std::fs::rename(&target, &keep)?;
        kept = Some(keep.display().to_string());
    }
    // A log left beside the target would be replayed onto the restored file.
    let name = target.file_name().and_then(|n| n.to_str()).unwrap_or("offstage.db").to_owned();
    for stale in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(target.with_file_name(format!("{name}{stale}")));
    }
    let restoring = with_suffix(&target, "restoring");
    std::fs::copy(from, &restoring)?;
    std::fs::File::open(&restoring)?.sync_all()?;
    std::fs::rename(&restoring, &target)?;
    sync_dir(&target)?;
    let copied = check(&target, started).await?;
    Ok(Copied { replaced_kept_at: kept, seconds: elapsed(started), ..copied })
}

/// Refuses a backup from a newer Offstage (one with migrations this build does not know).
async fn check_migrations(file: &Path) -> anyhow::Result<()> {
    let db = open(file, true).await?;
    let rows =
        db.query_all_raw(Statement::from_string(DbBackend::Sqlite, "SELECT version FROM seaql_migrations")).await?;
    db.close().await?;
    let known: Vec<String> = Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();
    for row in rows {
        let version: String = row.try_get("", "version")?;
        if !known.contains(&version) {
            bail!(
                "the backup was made by a newer Offstage (migration {version} is unknown here): restore it with that version"
            );
        }
    }
    Ok(())
}

/// An Offstage process whose workers beat lately (`queue::ALIVE_WITHIN`) still uses the database.
async fn refuse_while_running(target: &Path) -> anyhow::Result<()> {
    let db = open(target, true).await?;
    let beat = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT CAST(strftime('%s', 'now') AS INTEGER) - MAX(last_seen) AS ago FROM Workers",
        ))
        .await
        .ok()
        .flatten()
        .and_then(|row| row.try_get::<Option<i64>>("", "ago").ok().flatten());
    db.close().await?;
    let alive = crate::engine::queue::ALIVE_WITHIN.as_secs() as i64;
    if let Some(ago) = beat.filter(|ago| *ago < alive) {
        bail!(
            "Offstage is running on {} (its workers beat {ago} s ago): stop every Offstage process first",
            target.display()
        );
    }
    Ok(())
}

/// `path` with `.suffix` added to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("offstage.db");
    path.with_file_name(format!("{name}.{suffix}"))
}

fn sync_dir(file: &Path) -> std::io::Result<()> {
    match file.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => std::fs::File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

fn elapsed(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 100.0).round() / 100.0
}
