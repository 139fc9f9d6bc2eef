//! Runs written on PostgreSQL as data-modifying WITH clauses over array parameters: every start
//! writes its runs and their jobs with one statement per 1,000 runs (`insert_all`), and a
//! feature that records many rows in one round trip (the Stripe inbox, the email outbox) starts
//! their runs in its own statement, without knowing how runs and their jobs are stored.
//!
//! Arrays travel in PostgreSQL's binary format: reading 1,000 runs from them took 3.8 ms where
//! `json_to_recordset` took 7.4 ms. sea-orm cannot bind a NULL inside an array, so an absent
//! text is `''` (`NULLIF`); `check_all` refuses an empty key, so `''` never means anything else.
//!
//! Each array is read through `array`, which hides its length from the planner: seeing it, the
//! planner priced a statement of one run below its generic plan and planned it again at each
//! execution (0.5 ms each, 943 of 1,744 single starts in the `jobs` bench, 30 % fewer starts/s).

use chrono::{DateTime, Utc};
use sea_orm::{DbBackend, Value};

use super::{NewRun, PreparedRun, prepare};
use crate::engine::Error;
use crate::engine::queue::{self, WORKFLOW_QUEUE};

/// The array parameter `$n` of element type `ty`, read so that the planner does not look into
/// it: it estimates every statement the same, so PostgreSQL keeps one generic plan instead of
/// planning each execution for its array's length.
pub fn array(n: usize, ty: &str) -> String {
    format!("(SELECT ${n}::{ty}[])")
}

/// One array parameter: `value` of every item (an absent text as `''`, see above).
pub fn column<T, U>(items: &[T], value: impl Fn(&T) -> U) -> Value
where
    Vec<U>: Into<Value>,
{
    items.iter().map(value).collect::<Vec<U>>().into()
}

/// Runs prepared for one statement, in the order of the caller's rows.
pub struct RunsInStatement {
    prepared: Vec<PreparedRun>,
}

impl RunsInStatement {
    pub fn prepare(news: &[NewRun], now: DateTime<Utc>) -> Result<RunsInStatement, Error> {
        super::check_all(news)?;
        Ok(RunsInStatement { prepared: prepare(news, now)? })
    }

    pub(super) fn of(prepared: Vec<PreparedRun>) -> RunsInStatement {
        RunsInStatement { prepared }
    }

    /// The runs' ids, in order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.prepared.iter().map(|run| run.fact.id.as_str())
    }

    /// The clauses `runs AS (…), …, jobs AS (…)`, reading parameters `$first…$first+17` (`values`).
    /// With `only = Some((keys, join))`, the n-th run is written only when the n-th element of
    /// the caller's array `keys` (SQL, e.g. `array(1, "text")`, visible as `r.key`) passes `join`
    /// (e.g. `JOIN events ON events.id = r.key AND events.new`).
    pub fn clauses(first: usize, only: Option<(&str, &str)>) -> String {
        let p = |n: usize| format!("${}", first + n);
        let a = |n: usize, ty: &str| array(first + n, ty);
        let (keys, key, join) = match only {
            Some((keys, join)) => (format!("{keys}, "), "key, ", join),
            None => (String::new(), "", ""),
        };
        let written = if only.is_some() { "JOIN runs ON runs.id = j.id" } else { "" };
        // A run due now gets the statement's own `now()`: the insert trigger announces only rows
        // with `run_at <= now()` (`wake::ANNOUNCE_ONCE_PER_INSERT`), and `now()` is when the
        // transaction began, before any time taken here.
        let input = format!(
            "SELECT j.ord, j.id, j.job, j.max_attempts, j.priority, \
                 CASE WHEN j.due THEN now() ELSE j.run_at END AS run_at, j.lane, j.due \
             FROM unnest({}, {}, {}, {}, {}, {}, {}) \
                 WITH ORDINALITY AS j(id, job, max_attempts, priority, lane, run_at, due, ord) {written}",
            a(0, "text"),
            a(11, "bytea"),
            a(12, "int4"),
            a(14, "int4"),
            a(15, "text"),
            a(16, "timestamptz"),
            a(17, "bool"),
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
    SELECT r.id, r.workflow, NULLIF(r.workspace_id, ''), r.params, NULLIF(r.business_key, ''), r.idempotency_scope,
        NULLIF(r.idempotency_key, ''), NULLIF(r.chain_id, ''), r.run_trigger, r.created_at, r.scheduled_for
    FROM unnest({keys}{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})
        AS r({key}id, workflow, workspace_id, params, business_key, idempotency_scope, idempotency_key,
            chain_id, run_trigger, created_at, scheduled_for)
    {join}
    RETURNING id
), {jobs}"#,
            a(0, "text"),
            a(1, "text"),
            a(2, "text"),
            a(3, "text"),
            a(4, "text"),
            a(5, "text"),
            a(6, "text"),
            a(7, "text"),
            a(8, "text"),
            a(9, "timestamptz"),
            a(10, "timestamptz"),
        )
    }

    /// The 18 values `clauses` reads, in order, to follow the caller's own. The runs' texts move
    /// into them rather than being copied (sea-orm copies every value once more to bind it).
    pub fn into_values(self) -> Vec<Value> {
        let mut runs = self.prepared;
        let text = |runs: &mut [PreparedRun], field: fn(&mut PreparedRun) -> &mut String| -> Value {
            runs.iter_mut().map(|run| std::mem::take(field(run))).collect::<Vec<String>>().into()
        };
        let optional = |runs: &mut [PreparedRun], field: fn(&mut PreparedRun) -> &mut Option<String>| -> Value {
            runs.iter_mut().map(|run| field(run).take().unwrap_or_default()).collect::<Vec<String>>().into()
        };
        vec![
            text(&mut runs, |run| &mut run.fact.id),
            text(&mut runs, |run| &mut run.fact.workflow),
            optional(&mut runs, |run| &mut run.fact.workspace_id),
            text(&mut runs, |run| &mut run.fact.params),
            optional(&mut runs, |run| &mut run.fact.business_key),
            text(&mut runs, |run| &mut run.fact.idempotency_scope),
            optional(&mut runs, |run| &mut run.fact.idempotency_key),
            optional(&mut runs, |run| &mut run.fact.chain_id),
            text(&mut runs, |run| &mut run.fact.trigger),
            column(&runs, |run| run.fact.created_at),
            column(&runs, |run| run.fact.scheduled_for),
            runs.iter_mut().map(|run| std::mem::take(&mut run.job.payload)).collect::<Vec<Vec<u8>>>().into(),
            column(&runs, |run| run.job.max_attempts),
            WORKFLOW_QUEUE.into(),
            column(&runs, |run| run.job.priority),
            text(&mut runs, |run| &mut run.job.lane),
            column(&runs, |run| run.job.run_at),
            // Due when it was not asked for later than its start (`prepare`).
            column(&runs, |run| run.job.run_at <= run.fact.created_at),
        ]
    }
}
