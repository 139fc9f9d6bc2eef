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

/// The rows of `arrays` (each an array's SQL and the column it becomes), element by element, as
/// a subquery. Each `unnest` is in the select list, where PostgreSQL reads the arrays side by
/// side as it goes: `unnest(a, b, …)` in FROM first copied each array into a tuple store of its
/// own (12.8 → 11.8 ms for the statement of 1,000 runs).
fn zipped(arrays: &[(String, &str)]) -> String {
    let columns: Vec<String> = arrays.iter().map(|(array, name)| format!("unnest({array}) AS {name}")).collect();
    format!("(SELECT {})", columns.join(", "))
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

    /// The clauses `runs AS (…), …, jobs AS (…)`, reading parameters `$first…$first+16` (`values`).
    /// The jobs' INSERT returns nothing: no caller reads the jobs' ids, and keeping 1,000 of them
    /// cost 0.1–0.2 ms of the 8.5 ms statement.
    /// With `only = Some((keys, join))`, the n-th run is written only when the n-th element of
    /// the caller's array `keys` (SQL, e.g. `array(1, "text")`, visible as `r.key`) passes `join`
    /// (e.g. `JOIN events ON events.id = r.key AND events.new`).
    pub fn clauses(first: usize, only: Option<(&str, &str)>) -> String {
        let p = |n: usize| format!("${}", first + n);
        let a = |n: usize, ty: &str| array(first + n, ty);
        let join = only.map_or("", |(_, join)| join);
        // Only a statement that writes some of its runs reads back which.
        let (written, returning) =
            if only.is_some() { ("JOIN runs ON runs.id = j.id", "RETURNING id") } else { ("", "") };
        // A run due now gets the statement's own `now()`: the insert trigger announces only rows
        // with `run_at <= now()` (`wake::ANNOUNCE_ONCE_PER_INSERT`), and `now()` is when the
        // transaction began, before any time taken here.
        let jobs_input = zipped(&[
            (a(0, "text"), "id"),
            (a(11, "bytea"), "job"),
            (a(12, "int4"), "max_attempts"),
            (a(14, "int4"), "priority"),
            // A job's lane is its run's workspace, `''` for none: the same array.
            (a(2, "text"), "lane"),
            (a(15, "timestamptz"), "run_at"),
            (a(16, "int8"), "place"),
        ]);
        let input = format!(
            "SELECT j.id, j.job, j.max_attempts, j.priority, \
                 CASE WHEN j.place > 0 THEN now() ELSE j.run_at END AS run_at, j.lane, j.place > 0 AS due, j.place \
             FROM {jobs_input} AS j {written}"
        );
        let jobs = format!(
            "fair_input AS ({input}), {}, jobs AS ({})",
            queue::fair::bases_clause(DbBackend::Postgres, "fair_input", &p(13)),
            queue::fair::insert_select(DbBackend::Postgres, "fair_input", &p(13)),
        );
        let mut runs_arrays: Vec<(String, &str)> = only.map(|(keys, _)| (keys.to_owned(), "key")).into_iter().collect();
        runs_arrays.extend([
            (a(0, "text"), "id"),
            (a(1, "text"), "workflow"),
            (a(2, "text"), "workspace_id"),
            (a(3, "text"), "params"),
            (a(4, "text"), "business_key"),
            (a(5, "text"), "idempotency_scope"),
            (a(6, "text"), "idempotency_key"),
            (a(7, "text"), "chain_id"),
            (a(8, "text"), "run_trigger"),
            (a(9, "timestamptz"), "created_at"),
            (a(10, "timestamptz"), "scheduled_for"),
        ]);
        let runs_input = zipped(&runs_arrays);
        format!(
            r#"runs AS (
    INSERT INTO workflow_runs (id, workflow, workspace_id, params, business_key, idempotency_scope,
        idempotency_key, chain_id, "trigger", created_at, scheduled_for)
    SELECT r.id, r.workflow, NULLIF(r.workspace_id, ''), r.params, NULLIF(r.business_key, ''), r.idempotency_scope,
        NULLIF(r.idempotency_key, ''), NULLIF(r.chain_id, ''), r.run_trigger, r.created_at, r.scheduled_for
    FROM {runs_input} AS r
    {join}
    {returning}
), {jobs}"#
        )
    }

    /// The 17 values `clauses` reads, in order, to follow the caller's own. The runs' texts move
    /// into them rather than being copied (sea-orm copies every value once more to bind it).
    pub fn into_values(self) -> Vec<Value> {
        let mut runs = self.prepared;
        // Due when it was not asked for later than its start (`prepare`); a run not due has place 0.
        let places: Vec<i64> = queue::fair::places(
            runs.iter().map(|run| (run.job.lane.as_str(), run.job.priority, run.job.run_at <= run.fact.created_at)),
        )
        .into_iter()
        .map(|place| place.unwrap_or_default())
        .collect();
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
            column(&runs, |run| run.job.run_at),
            places.into(),
        ]
    }
}
