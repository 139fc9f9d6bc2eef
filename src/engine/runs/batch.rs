//! Starting many runs at once, the one path every start takes (a single start is a batch of one):
//! one transaction, one SELECT for the idempotency keys already used, then the multi-row INSERTs
//! of `insert_all`. A key used before, or earlier in the same batch, gives the first run back
//! marked as a duplicate instead of a second run. On PostgreSQL a batch without keys is one
//! INSERT, which commits by itself: no BEGIN and COMMIT of its own.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value};

use super::{NewRun, RunStatus, check_all, get_many, insert_all, insert_all_is_one_statement};
use crate::db::begin_write;
use crate::domain::RunId;
use crate::engine::Error;
use crate::tenancy::Platform;

/// Idempotency keys looked up per SELECT.
const KEYS_PER_LOOKUP: usize = 500;

/// What one item of a batch became: its run, that run's status, and whether it was started
/// before (a repeated idempotency key) rather than by this batch.
#[derive(Debug, Clone)]
pub struct Started {
    pub id: RunId,
    pub status: RunStatus,
    pub duplicate: bool,
}

/// Starts `news` together and answers for each, in their order (`place_all`), with the
/// status of each run.
pub async fn start_batch(db: &DatabaseConnection, news: &[NewRun]) -> Result<Vec<Started>, Error> {
    let placed = place_all(db, news).await?;
    let earlier: Vec<RunId> = placed.iter().filter(|p| p.duplicate).map(|p| p.id.clone()).collect();
    let statuses: HashMap<RunId, RunStatus> =
        get_many(db, &Platform::system(), &earlier).await?.into_iter().map(|run| (run.id, run.status)).collect();
    let now = Utc::now();
    Ok(placed
        .into_iter()
        .zip(news)
        .map(|(placed, new)| {
            let status = match statuses.get(&placed.id) {
                Some(status) if placed.duplicate => *status,
                _ if new.run_at.is_some_and(|at| at > now) => RunStatus::Scheduled,
                _ => RunStatus::Queued,
            };
            Started { id: placed.id, status, duplicate: placed.duplicate }
        })
        .collect())
}

/// Starts `news` all or none and says where each went, in their order: in one transaction, or
/// as one statement alone (`one_statement_alone`). A concurrent start with one of the same keys
/// that commits first makes this batch look again, once.
pub(super) async fn place_all(db: &DatabaseConnection, news: &[NewRun]) -> Result<Vec<Placed>, Error> {
    if one_statement_alone(db.get_database_backend(), news) {
        return start_batch_in(db, news).await;
    }
    let mut looked_again = false;
    loop {
        let txn = begin_write(db).await?;
        match start_batch_in(&txn, news).await {
            Ok(placed) => {
                txn.commit().await?;
                return Ok(placed);
            }
            Err(Error::Conflict(_)) if !looked_again => {
                txn.rollback().await?;
                looked_again = true;
            }
            Err(err) => return Err(err),
        }
    }
}

/// Whether `news` can go in without a transaction of their own: with no idempotency key there
/// is nothing to read first, and `insert_all` may write them with one statement. Then a start
/// waits for one round trip to the server instead of three (BEGIN, INSERT, COMMIT).
fn one_statement_alone(backend: DbBackend, news: &[NewRun]) -> bool {
    news.iter().all(|new| new.idempotency_key.is_none()) && insert_all_is_one_statement(backend, news.len())
}

/// Where one item went: its run's id, and whether that run was there before.
pub struct Placed {
    pub id: RunId,
    pub duplicate: bool,
}

/// `start_batch` inside the caller's transaction, without reading statuses back.
pub async fn start_batch_in<C: ConnectionTrait>(txn: &C, news: &[NewRun]) -> Result<Vec<Placed>, Error> {
    check_all(news)?;
    let mut known = used_keys(txn, news).await?;
    // Which items are new runs, and for each repeat, the item (or earlier run) it repeats.
    let mut fresh = Vec::with_capacity(news.len());
    let mut repeats: Vec<Option<Result<RunId, usize>>> = Vec::with_capacity(news.len());
    let mut first_in_batch: HashMap<(String, &str), usize> = HashMap::new();
    for (index, new) in news.iter().enumerate() {
        let Some(key) = new.idempotency_key.as_deref() else {
            fresh.push(new);
            repeats.push(None);
            continue;
        };
        let scoped = (new.idempotency_scope(), key);
        if let Some(id) = known.remove(&(scoped.0.clone(), key.to_owned())) {
            // Later repeats of it in this batch find it through the first.
            first_in_batch.insert(scoped, index);
            repeats.push(Some(Ok(id)));
        } else if let Some(first) = first_in_batch.get(&scoped) {
            repeats.push(Some(Err(*first)));
        } else {
            first_in_batch.insert(scoped, index);
            fresh.push(new);
            repeats.push(None);
        }
    }
    let mut inserted = insert_all(txn, fresh).await?.into_iter();
    let mut placed: Vec<Placed> = Vec::with_capacity(news.len());
    for repeat in repeats {
        let next = match repeat {
            None => Placed {
                id: inserted.next().ok_or_else(|| Error::Corrupt("fewer runs inserted than asked".into()))?,
                duplicate: false,
            },
            Some(Ok(id)) => Placed { id, duplicate: true },
            Some(Err(first)) => Placed { id: placed[first].id.clone(), duplicate: true },
        };
        placed.push(next);
    }
    Ok(placed)
}

/// The runs that already hold any of the items' idempotency keys, by (scope, key): one SELECT
/// per 500 keys whatever their scopes (a schedule's batch has one scope per workspace), each
/// pair answered from the unique index.
async fn used_keys<C: ConnectionTrait>(db: &C, news: &[NewRun]) -> Result<HashMap<(String, String), RunId>, Error> {
    let pairs: Vec<(String, &str)> = news
        .iter()
        .filter_map(|new| new.idempotency_key.as_deref().map(|key| (new.idempotency_scope(), key)))
        .collect();
    let backend = db.get_database_backend();
    let mut found = HashMap::new();
    for chunk in pairs.chunks(KEYS_PER_LOOKUP) {
        let (source, values): (String, Vec<Value>) = match backend {
            DbBackend::Postgres => (
                format!("unnest({}, {}) AS k(scope, key)", super::array(1, "text"), super::array(2, "text")),
                vec![
                    chunk.iter().map(|(scope, _)| scope.clone()).collect::<Vec<_>>().into(),
                    chunk.iter().map(|(_, key)| key.to_string()).collect::<Vec<_>>().into(),
                ],
            ),
            _ => (
                "(SELECT value ->> 0 AS scope, value ->> 1 AS key FROM json_each($1)) AS k".to_owned(),
                vec![serde_json::to_string(chunk)?.into()],
            ),
        };
        let sql = format!(
            "SELECT r.id, r.idempotency_scope, r.idempotency_key FROM {source} \
             JOIN workflow_runs r ON r.idempotency_scope = k.scope AND r.idempotency_key = k.key \
             WHERE r.idempotency_key IS NOT NULL"
        );
        for row in db.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await? {
            let id: String = row.try_get("", "id")?;
            let scoped: (String, String) = (row.try_get("", "idempotency_scope")?, row.try_get("", "idempotency_key")?);
            found.insert(scoped, RunId::from(id));
        }
    }
    Ok(found)
}
