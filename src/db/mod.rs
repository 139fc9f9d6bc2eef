//! The database: connecting (SQLite or PostgreSQL from one URL), migrating, and the sea-orm
//! entities. Workspace-owned rows are read through `tenancy::Scope`; the few deliberately
//! global queries live with their feature (`accounts` for sign-in, `workspaces` for lists).

pub mod backup;
pub mod batcher;
pub mod entities;

use std::time::Duration;

use anyhow::Context;
use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, SqlErr, SqliteTransactionMode,
    SqlxSqliteConnector, TransactionOptions, TransactionTrait,
};

use crate::config::DatabaseKind;

/// Opens the pool. SQLite runs in WAL mode with `synchronous=FULL`: a committed write survives
/// kill -9 and power loss. SQLite takes one connection: it has one writer anyway, and writers
/// on several connections wait for each other in SQLite's busy handler, which sleeps in steps of
/// up to 100 ms; one connection queues them in order instead (pickup p99 702 ms → 16 ms).
pub async fn connect(url: &str, kind: DatabaseKind) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(10))
        .max_connections(match kind {
            DatabaseKind::Sqlite => 1,
            DatabaseKind::Postgres => POSTGRES_CONNECTIONS,
        })
        .min_connections(1)
        .test_before_acquire_if_idle_for(PING_WHEN_IDLE_FOR)
        .map_sqlx_sqlite_opts(|opts: SqliteConnectOptions| {
            opts.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .pragma("cache_size", WRITER_CACHE_KIB)
        });
    if kind == DatabaseKind::Sqlite {
        create_sqlite_parent_dir(url)?;
    }
    Database::connect(options)
        .await
        .with_context(|| format!("OFFSTAGE_DATABASE_URL: cannot connect to {}", redact(url)))
}

/// Connections in a process's PostgreSQL pool.
pub const POSTGRES_CONNECTIONS: u32 = 20;

/// A pooled connection is tested with a ping before it is handed out only once it has been idle
/// this long, as pgx's pool does (HikariCP: half a second). sqlx's default pinged at every
/// checkout: a round trip before every start and every worker's fetch, on the critical path of
/// each (sqlx still pings each connection as it goes back to the pool, off that path). A busy
/// connection the server has dropped fails its next statement instead, and the pool replaces it.
pub const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// Options for a pool of `max` connections beside the main one (`connect`), tested as it is
/// (`PING_WHEN_IDLE_FOR`).
pub fn pool_options<DB: sea_orm::sqlx::Database>(max: u32) -> sea_orm::sqlx::pool::PoolOptions<DB> {
    sea_orm::sqlx::pool::PoolOptions::<DB>::new().max_connections(max).test_before_acquire(false).before_acquire(
        |conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_WHEN_IDLE_FOR {
                    sea_orm::sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        },
    )
}

/// Read-only connections beside SQLite's one writer connection (`connect`): a read on one of
/// them takes the last commit (WAL) without waiting its turn behind the writes. Two cores spent
/// half the weekly digest handing the writer connection from task to task; its reads now go
/// here. Reads that must see a transaction's own writes stay on that transaction. On
/// PostgreSQL, and for a database with no file (in memory), the pool itself.
pub fn readers(db: &DatabaseConnection) -> DatabaseConnection {
    if db.get_database_backend() != DbBackend::Sqlite {
        return db.clone();
    }
    let options = (*db.get_sqlite_connection_pool().connect_options())
        .clone()
        .read_only(true)
        .pragma("cache_size", READER_CACHE_KIB);
    if !options.get_filename().is_file() {
        return db.clone();
    }
    let pool = pool_options::<sea_orm::sqlx::Sqlite>(SQLITE_READERS)
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy_with(options);
    SqlxSqliteConnector::from_sqlx_sqlite_pool(pool)
}

/// The writer connection's page cache, 16 MiB (negative: KiB; SQLite's default is 2 MiB, with
/// which 10,000 weekly digests spent a fifth of their time re-reading pages from the OS). Not
/// more: when a commit's B-tree rebalancing has renumbered a page through SQLite's spare page
/// number (1 GiB into the file), the commit walks the whole cache to drop pages past the end of
/// the file. With 64 MiB that walk took 6 % of the writer thread in the `jobs` drain; with 16 MiB
/// an import of 100,000 workspaces took 52.5 · 54.2 s against 54.7 · 55.9 s, the digests and the
/// drain as fast.
pub const WRITER_CACHE_KIB: &str = "-16384";

/// Reader connections on SQLite: each has a thread of its own.
const SQLITE_READERS: u32 = 4;
/// Each reader's page cache, 8 MiB (negative: KiB). With 64 MiB each (the writer's then), the bench
/// process of 10,000 weekly digests peaked at 191 MB; with 8 MiB, 105 MB, the digests as fast
/// (12.0–14.6 s against 11.3–13.5 s, interleaved): the readers' queries are answered from
/// indexes the OS keeps cached anyway.
const READER_CACHE_KIB: &str = "-8192";

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await.context("running database migrations")
}

/// How many migrations this build knows that the database has not applied.
pub async fn pending_migrations(db: &DatabaseConnection) -> Result<usize, DbErr> {
    Ok(Migrator::get_pending_migrations_read_only(db).await?.len())
}

/// Begins a transaction that will write. On SQLite it takes the write lock at BEGIN
/// (IMMEDIATE), so a transaction that reads first cannot fail later with SQLITE_BUSY when
/// another writer got there in between; it waits its turn (busy_timeout) instead.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let options =
        TransactionOptions { sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate), ..Default::default() };
    db.begin_with_options(options).await
}

/// The placeholders of `count` values bound in order, the first of them value number `first`:
/// `$first, $first+1, …` on PostgreSQL, and plain `?`s on SQLite, which numbers them in order
/// itself. SQLite finds the value of a `$n` by walking the statement's list of named parameters,
/// at each bind: the 1,000 values of 100 emails walked half a million entries. Only for
/// statements whose every value is bound this way (sqlx counts `?`s, not `$n`s).
pub fn placeholders(backend: DbBackend, first: usize, count: usize) -> impl Iterator<Item = String> {
    (first..first + count).map(move |n| if backend == DbBackend::Sqlite { "?".to_owned() } else { format!("${n}") })
}

/// The rows of a `VALUES` list of `rows` rows of `columns` values each, bound in order from value
/// number `first` (`placeholders`): `($1, $2), ($3, $4)` on PostgreSQL.
pub fn values_rows(backend: DbBackend, first: usize, rows: usize, columns: usize) -> String {
    let row =
        |r: usize| format!("({})", placeholders(backend, first + r * columns, columns).collect::<Vec<_>>().join(", "));
    (0..rows).map(row).collect::<Vec<_>>().join(", ")
}

/// True when the error is a unique-constraint violation (a duplicate email, slug, …).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// A row refers to one that does not exist (a workspace id, say).
pub fn is_foreign_key_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::ForeignKeyConstraintViolation(_)))
}

fn create_sqlite_parent_dir(url: &str) -> anyhow::Result<()> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("OFFSTAGE_DATABASE_URL: cannot create directory {}", parent.display()))?;
    }
    Ok(())
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// PostgreSQL's plan of `statement` as it ran (EXPLAIN ANALYZE's text, one line per node), for
/// the tests that a query reads the index it should whatever the statistics say.
#[cfg(feature = "test-hooks")]
pub async fn explain_analyze_postgres(db: &DatabaseConnection, statement: sea_orm::Statement) -> Result<String, DbErr> {
    use sea_orm::ConnectionTrait;
    let explain = sea_orm::Statement {
        sql: format!("EXPLAIN ANALYZE {}", statement.sql),
        db_backend: DbBackend::Postgres,
        ..statement
    };
    let rows = db.query_all_raw(explain).await?;
    let lines: Result<Vec<String>, _> = rows.iter().map(|row| row.try_get::<String>("", "QUERY PLAN")).collect();
    Ok(lines?.join("\n"))
}
