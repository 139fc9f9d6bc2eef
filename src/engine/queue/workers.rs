//! The worker processes alive now, from the heartbeats apalis records in its workers table:
//! each process's host and id, when it started, when it was last heard from, and how many runs
//! it is running.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use serde::Serialize;

use super::ALIVE_WITHIN;

/// One worker process (its workers, one per queue and restart, taken together).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerProcess {
    pub host: String,
    pub pid: String,
    pub queues: Vec<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub last_seen: DateTime<Utc>,
    pub running: i64,
}

impl WorkerProcess {
    pub fn is_this_process(&self) -> bool {
        self.host == host() && self.pid == std::process::id().to_string()
    }
}

/// This machine's name in worker names (`runtime::worker_name`): `HOSTNAME`, or "host".
pub(super) fn host() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into())
}

/// Whether a worker of this process has been heard from lately, for `/readyz`.
pub async fn alive_here<C: ConnectionTrait>(db: &C) -> Result<bool, DbErr> {
    Ok(alive(db).await?.iter().any(WorkerProcess::is_this_process))
}

/// Processes with a worker heard from within `ALIVE_WITHIN`, longest running first.
pub async fn alive<C: ConnectionTrait>(db: &C) -> Result<Vec<WorkerProcess>, DbErr> {
    let backend = db.get_database_backend();
    let within = ALIVE_WITHIN.as_secs();
    let sql = match backend {
        DbBackend::Postgres => format!(
            "SELECT w.id, CAST(EXTRACT(EPOCH FROM w.started_at) AS BIGINT) AS started, \
               CAST(EXTRACT(EPOCH FROM w.last_seen) AS BIGINT) AS seen, COALESCE(r.n, 0) AS running \
             FROM apalis.workers w LEFT JOIN (SELECT lock_by, COUNT(*) AS n FROM apalis.jobs \
               WHERE status = 'Running' GROUP BY lock_by) r ON r.lock_by = w.id \
             WHERE w.last_seen >= now() - interval '{within} seconds'"
        ),
        _ => format!(
            "SELECT w.id, w.started_at AS started, w.last_seen AS seen, COALESCE(r.n, 0) AS running \
             FROM Workers w LEFT JOIN (SELECT lock_by, COUNT(*) AS n FROM Jobs \
               WHERE status = 'Running' GROUP BY lock_by) r ON r.lock_by = w.id \
             WHERE w.last_seen >= CAST(strftime('%s', 'now') AS INTEGER) - {within}"
        ),
    };
    let rows = db.query_all_raw(Statement::from_string(backend, sql)).await?;
    let mut processes: BTreeMap<(String, String), WorkerProcess> = BTreeMap::new();
    for row in rows {
        let id: String = row.try_get("", "id")?;
        let (queue, host, pid) = parse_name(&id);
        let started = row.try_get::<Option<i64>>("", "started")?.and_then(|s| Utc.timestamp_opt(s, 0).single());
        let seen = Utc.timestamp_opt(row.try_get::<i64>("", "seen")?, 0).single().unwrap_or_else(Utc::now);
        let running: i64 = row.try_get("", "running")?;
        let process = processes.entry((host.clone(), pid.clone())).or_insert_with(|| WorkerProcess {
            host,
            pid,
            queues: Vec::new(),
            started_at: started,
            last_seen: seen,
            running: 0,
        });
        if !process.queues.contains(&queue) {
            process.queues.push(queue);
        }
        process.started_at = process.started_at.into_iter().chain(started).min();
        process.last_seen = process.last_seen.max(seen);
        process.running += running;
    }
    let mut alive: Vec<WorkerProcess> = processes.into_values().collect();
    alive.sort_by_key(|p| (p.started_at, p.host.clone(), p.pid.clone()));
    Ok(alive)
}

/// `queue@host:pid:suffix:restarts` (`runtime::worker_name`) as (queue, host, pid); a name of
/// another shape is its own host.
fn parse_name(id: &str) -> (String, String, String) {
    let Some((queue, rest)) = id.split_once('@') else {
        return (String::new(), id.to_owned(), String::new());
    };
    let mut parts = rest.rsplitn(3, ':');
    let (_restarts, _suffix, process) = (parts.next(), parts.next(), parts.next());
    match process.and_then(|p| p.rsplit_once(':')) {
        Some((host, pid)) => (queue.to_owned(), host.to_owned(), pid.to_owned()),
        None => (queue.to_owned(), rest.to_owned(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_name;

    #[test]
    fn a_worker_name_gives_its_queue_host_and_process() {
        assert_eq!(parse_name("workflows@web-1:4242:ABCDEF:0"), ("workflows".into(), "web-1".into(), "4242".into()));
        assert_eq!(parse_name("stranger"), (String::new(), "stranger".into(), String::new()));
    }
}
