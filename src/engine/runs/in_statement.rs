//! Runs started inside a caller's own PostgreSQL statement, as data-modifying WITH clauses: a
//! feature that records many rows in one round trip (the Stripe inbox) starts their runs in the
//! same statement, without knowing how runs and their jobs are stored.

use chrono::{DateTime, Utc};
use sea_orm::DbBackend;
use sea_orm::sqlx::postgres::{PgArguments, Postgres};
use sea_orm::sqlx::query::QueryAs;

use super::{NewRun, PreparedRun, prepare};
use crate::engine::Error;
use crate::engine::queue::{self, WORKFLOW_QUEUE};

/// Runs prepared for one statement, in the order of the caller's rows.
pub struct RunsInStatement {
    prepared: Vec<PreparedRun>,
}

impl RunsInStatement {
    pub fn prepare(news: &[NewRun], now: DateTime<Utc>) -> Result<RunsInStatement, Error> {
        super::check_all(news)?;
        Ok(RunsInStatement { prepared: prepare(news, now)? })
    }

    /// The runs' ids, in order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.prepared.iter().map(|run| run.fact.id.as_str())
    }

    /// The clauses `runs AS (…), jobs AS (…)`: the n-th run is written when the n-th element of
    /// the caller's array `keys` (SQL, e.g. `$1::text[]`, visible as `r.key`) passes `join`
    /// (e.g. `JOIN events ON events.id = r.key AND events.new`). They read parameters
    /// `$first…$first+15`, which `bind` supplies.
    pub fn clauses(first: usize, keys: &str, join: &str) -> String {
        let p = |n: usize| format!("${}", first + n);
        let input = format!(
            "SELECT j.ord, j.id, j.job, j.max_attempts, j.priority, now() AS run_at, j.lane, true AS due \
             FROM unnest({}::text[], {}::bytea[], {}::int4[], {}::int4[], {}::text[]) WITH ORDINALITY \
                 AS j(id, job, max_attempts, priority, lane, ord) \
             JOIN runs ON runs.id = j.id",
            p(0),
            p(11),
            p(12),
            p(14),
            p(15),
        );
        let jobs = format!(
            "fair_input AS ({input}), {}, jobs AS ({} RETURNING id)",
            queue::fair::bases_clause(DbBackend::Postgres, "fair_input", &p(13)),
            queue::fair::insert_select(DbBackend::Postgres, "fair_input", &p(13)),
        );
        format!(
            r#"runs AS (
    INSERT INTO workflow_runs (id, workflow, workspace_id, params, business_key, idempotency_scope,
        idempotency_key, chain_id, "trigger", created_at, scheduled_for)
    SELECT r.id, r.workflow, r.workspace_id, r.params, r.business_key, r.idempotency_scope,
        r.idempotency_key, r.chain_id, r.run_trigger, r.created_at, r.scheduled_for
    FROM unnest({keys}, {}::text[], {}::text[], {}::text[], {}::text[], {}::text[], {}::text[],
            {}::text[], {}::text[], {}::text[], {}::timestamptz[], {}::timestamptz[])
        AS r(key, id, workflow, workspace_id, params, business_key, idempotency_scope, idempotency_key,
            chain_id, run_trigger, created_at, scheduled_for)
    {join}
    RETURNING id
), {jobs}"#,
            p(0),
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6),
            p(7),
            p(8),
            p(9),
            p(10),
        )
    }

    /// Binds the `PARAMETERS` values `clauses` reads, in order, after the caller's own.
    pub fn bind<'q, O>(&self, query: QueryAs<'q, Postgres, O, PgArguments>) -> QueryAs<'q, Postgres, O, PgArguments> {
        let facts: Vec<_> = self.prepared.iter().map(|run| &run.fact).collect();
        query
            .bind(facts.iter().map(|f| f.id.clone()).collect::<Vec<_>>())
            .bind(facts.iter().map(|f| f.workflow.clone()).collect::<Vec<_>>())
            .bind(facts.iter().map(|f| f.workspace_id.clone()).collect::<Vec<_>>())
            .bind(facts.iter().map(|f| f.params.clone()).collect::<Vec<_>>())
            .bind(facts.iter().map(|f| f.business_key.clone()).collect::<Vec<_>>())
            .bind(facts.iter().map(|f| f.idempotency_scope.clone()).collect::<Vec<_>>())
            .bind(facts.iter().map(|f| f.idempotency_key.clone()).collect::<Vec<_>>())
            .bind(facts.iter().map(|f| f.chain_id.clone()).collect::<Vec<_>>())
            .bind(facts.iter().map(|f| f.trigger.clone()).collect::<Vec<_>>())
            .bind(facts.iter().map(|f| f.created_at).collect::<Vec<_>>())
            .bind(facts.iter().map(|f| f.scheduled_for).collect::<Vec<_>>())
            .bind(self.prepared.iter().map(|run| run.job.payload.clone()).collect::<Vec<_>>())
            .bind(self.prepared.iter().map(|run| run.job.max_attempts).collect::<Vec<_>>())
            .bind(WORKFLOW_QUEUE)
            .bind(self.prepared.iter().map(|run| run.job.priority).collect::<Vec<_>>())
            .bind(self.prepared.iter().map(|run| run.job.lane.clone()).collect::<Vec<_>>())
    }
}
