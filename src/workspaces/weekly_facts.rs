//! The weekly digest's facts of a workspace: the runs that ended, the members who joined, the
//! billing changes and the health score's change over the past seven days, and who receives the
//! digest. The digest of every workspace runs at once on Sunday morning, so the digests running
//! at the same moment ask together (`db::batcher`) and two statements answer them all. With two
//! statements per workspace, 10,000 digests on PostgreSQL were all sent at 10.3–11.5 s; now at
//! 9.1–9.6 s.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value};

use crate::billing::EventStatus;
use crate::db::batcher::Batcher;
use crate::db::{placeholders, values_rows};
use crate::engine::runs::{self, EndedRuns};
use crate::mail::MANAGING_ROLES;
use crate::workspaces::Error;

/// Workspaces per read at most.
const WORKSPACES_PER_READ: usize = 64;
/// Reads at once on PostgreSQL.
const READERS: usize = 2;

/// One workspace's week.
#[derive(Debug, Clone, Default)]
pub struct WeekFacts {
    pub ended: EndedRuns,
    pub members_joined: Vec<String>,
    /// The Stripe events processed, by type.
    pub billing_events: Vec<String>,
    pub health: Option<i32>,
    /// The last score from before the week.
    pub health_then: Option<i32>,
    /// Who receives the digest (owners and admins, `mail::MANAGING_ROLES`), longest-standing
    /// first.
    pub managers: Vec<String>,
}

/// Reads the weeks of the workspaces whose digests ask at the same moment together (a service
/// of the workers, `startup::worker_services`).
pub struct WeeklyFactsReader {
    batcher: Batcher<(String, DateTime<Utc>), WeekFacts>,
}

impl WeeklyFactsReader {
    /// Starts the reader's tasks on the current runtime, reading through `read_db`.
    pub fn start(read_db: DatabaseConnection) -> WeeklyFactsReader {
        let batcher = Batcher::start(read_db, READERS, WORKSPACES_PER_READ, |db, asked| async move {
            facts_of_each(&db, &asked).await.map_err(|err| format!("{:#}", anyhow::Error::from(err)))
        });
        WeeklyFactsReader { batcher }
    }

    /// The week of `workspace_id` since `since`.
    pub async fn read(&self, workspace_id: &str, since: DateTime<Utc>) -> anyhow::Result<WeekFacts> {
        self.batcher.submit((workspace_id.to_owned(), since)).await.map_err(anyhow::Error::msg)
    }
}

/// For each `(workspace, since)` asked, that workspace's week since then.
async fn facts_of_each<C: ConnectionTrait>(db: &C, asked: &[(String, DateTime<Utc>)]) -> Result<Vec<WeekFacts>, Error> {
    let ended = runs::ended_since_each(db, asked).await?;
    let mut facts: Vec<WeekFacts> =
        ended.into_iter().map(|ended| WeekFacts { ended, ..WeekFacts::default() }).collect();
    if asked.is_empty() {
        return Ok(facts);
    }
    let backend = db.get_database_backend();
    let constants = placeholders(backend, 1 + 3 * asked.len(), 3).collect::<Vec<_>>();
    let (rows, owner, admin, processed) =
        (values_rows(backend, 1, asked.len(), 3), &constants[0], &constants[1], &constants[2]);
    // `fact` names what each row is; a workspace without a health score has a NULL one. On
    // PostgreSQL each workspace's facts are read by a nested loop over the asked ones (LATERAL;
    // OFFSET 0 keeps the planner from flattening it into set joins, which hash-joined whole
    // tables when their statistics lagged behind their rows). SQLite has no LATERAL, and its
    // joins are nested loops anyway.
    let sql = if backend == DbBackend::Postgres {
        format!(
            "WITH asked (n, workspace_id, since) AS (VALUES {rows}) \
             SELECT asked.n, f.fact, f.value, f.at FROM asked CROSS JOIN LATERAL ( \
               SELECT 'member' AS fact, u.email AS value, m.created_at AS at FROM memberships m \
                 JOIN users u ON u.id = m.user_id WHERE m.workspace_id = asked.workspace_id AND m.created_at >= asked.since \
               UNION ALL SELECT 'manager', u.email, m.created_at FROM memberships m \
                 JOIN users u ON u.id = m.user_id WHERE m.workspace_id = asked.workspace_id AND m.role IN ({owner}, {admin}) \
               UNION ALL SELECT 'billing', e.event_type, e.received_at FROM stripe_events e \
                 WHERE e.workspace_id = asked.workspace_id AND e.status = {processed} AND e.received_at >= asked.since \
               UNION ALL SELECT * FROM (SELECT 'health_now' AS fact, CAST(h.score AS TEXT) AS value, h.computed_at AS at \
                 FROM health_scores h WHERE h.workspace_id = asked.workspace_id ORDER BY h.computed_at DESC LIMIT 1) latest \
               UNION ALL SELECT * FROM (SELECT 'health_then' AS fact, CAST(h.score AS TEXT) AS value, h.computed_at AS at \
                 FROM health_scores h WHERE h.workspace_id = asked.workspace_id AND h.computed_at < asked.since \
                 ORDER BY h.computed_at DESC LIMIT 1) earlier \
               OFFSET 0) f \
             ORDER BY 1, 4"
        )
    } else {
        format!(
            "WITH asked (n, workspace_id, since) AS (VALUES {rows}) \
             SELECT asked.n, 'member' AS fact, u.email AS value, m.created_at AS at FROM asked \
                JOIN memberships m ON m.workspace_id = asked.workspace_id AND m.created_at >= asked.since \
                JOIN users u ON u.id = m.user_id \
             UNION ALL SELECT asked.n, 'manager', u.email, m.created_at FROM asked \
                JOIN memberships m ON m.workspace_id = asked.workspace_id AND m.role IN ({owner}, {admin}) \
                JOIN users u ON u.id = m.user_id \
             UNION ALL SELECT asked.n, 'billing', e.event_type, e.received_at FROM asked \
                JOIN stripe_events e ON e.workspace_id = asked.workspace_id AND e.status = {processed} \
                    AND e.received_at >= asked.since \
             UNION ALL SELECT asked.n, 'health_now', (SELECT CAST(h.score AS TEXT) FROM health_scores h \
                WHERE h.workspace_id = asked.workspace_id ORDER BY h.computed_at DESC LIMIT 1), NULL FROM asked \
             UNION ALL SELECT asked.n, 'health_then', (SELECT CAST(h.score AS TEXT) FROM health_scores h \
                WHERE h.workspace_id = asked.workspace_id AND h.computed_at < asked.since \
                ORDER BY h.computed_at DESC LIMIT 1), NULL FROM asked \
             ORDER BY 1, 4"
        )
    };
    let mut values: Vec<Value> = Vec::with_capacity(3 * asked.len() + 3);
    for (n, (workspace_id, since)) in asked.iter().enumerate() {
        values.extend([Value::from(n as i64), workspace_id.clone().into(), (*since).into()]);
    }
    values.extend([
        MANAGING_ROLES[0].as_str().into(),
        MANAGING_ROLES[1].as_str().into(),
        EventStatus::Processed.as_str().into(),
    ]);
    let rows = db.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    for row in rows {
        let n: i64 = row.try_get("", "n")?;
        let Some(week) = usize::try_from(n).ok().and_then(|n| facts.get_mut(n)) else { continue };
        let Some(value) = row.try_get::<Option<String>>("", "value")? else { continue };
        match row.try_get::<String>("", "fact")?.as_str() {
            "member" => week.members_joined.push(value),
            "manager" => week.managers.push(value),
            "billing" => week.billing_events.push(value),
            "health_now" => week.health = value.parse().ok(),
            _ => week.health_then = value.parse().ok(),
        }
    }
    Ok(facts)
}
