//! Limits per workflow and workspace: a workflow declared one-at-a-time runs one at a time in
//! each workspace, across two worker processes, while other workspaces' runs go on beside it;
//! the others wait queued, and their page says why.

use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::worker_processes::Worker;
use offstage::db::entities::workspace;
use offstage::domain::RunId;
use offstage::engine::probe::{self, ProbeOneAtATime};
use offstage::engine::runs::{self, RunStatus, RunView};
use offstage::engine::{NewRun, Workflow};
use offstage::tenancy::Platform;

const RUNS_PER_WORKSPACE: usize = 8;
/// Each run holds its slot at least this long.
const SLEEP_MS: u64 = 400;

fn one_at_a_time(ws: &workspace::Model) -> NewRun {
    let params =
        probe::Params { workspace_id: ws.id.clone(), value: None, sleep_ms: SLEEP_MS, fail_attempts: 0, skip: false };
    NewRun::of::<ProbeOneAtATime>(&params)
}

async fn views(app: &TestApp, ids: &[RunId]) -> Vec<RunView> {
    runs::get_many(&app.db, &Platform::system(), ids).await.unwrap()
}

/// Polls until `ready` holds for the runs, for at most `within`.
async fn until(app: &TestApp, ids: &[RunId], within: Duration, ready: impl Fn(&[RunView]) -> bool) -> Vec<RunView> {
    let deadline = Instant::now() + within;
    loop {
        let found = views(app, ids).await;
        if found.len() == ids.len() && ready(&found) {
            return found;
        }
        assert!(Instant::now() < deadline, "the runs were not as expected within {within:?}: {found:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The runs' starts in order; each starts only after the one before has held its slot for
/// `SLEEP_MS` (and, where the database keeps its end to the microsecond, after it ended).
fn assert_one_at_a_time(runs: &[RunView], precise_ends: bool) {
    let mut by_start: Vec<&RunView> = runs.iter().collect();
    by_start.sort_by_key(|run| run.started_at);
    for pair in by_start.windows(2) {
        let (before, after) = (pair[0], pair[1]);
        let (started, next) = (before.started_at.unwrap(), after.started_at.unwrap());
        assert!(
            next >= started + chrono::Duration::milliseconds(SLEEP_MS as i64),
            "run {} started at {next}, while run {} (started {started}) still ran",
            after.id,
            before.id
        );
        if precise_ends {
            let ended = before.finished_at.unwrap();
            assert!(next >= ended, "run {} started at {next}, before run {} ended at {ended}", after.id, before.id);
        }
    }
}

/// Two workspaces queue eight one-at-a-time probes each; two worker processes of four workers
/// each run them. In each workspace they run one after another, never two at once, while the
/// two workspaces' runs overlap; a waiting run says why on its page, and can be cancelled.
async fn a_one_at_a_time_workflow_never_runs_twice_at_once_in_a_workspace(backend: Backend) {
    let app = TestApp::spawn_web_only(backend).await;
    let (a, b) = (app.create_workspace("Importer", &app.admin).await, app.create_workspace("Other", &app.admin).await);
    let in_a =
        runs::fan_out(&app.db, (0..RUNS_PER_WORKSPACE).map(|_| one_at_a_time(&a)).collect(), None).await.unwrap();
    let in_b =
        runs::fan_out(&app.db, (0..RUNS_PER_WORKSPACE).map(|_| one_at_a_time(&b)).collect(), None).await.unwrap();
    let admin = app.sign_in(&app.admin.email).await;
    let _workers: Vec<Worker> = (0..2).map(|_| Worker::start_with(&app, "4")).collect();

    // While one run holds the slot, the others wait, queued, and say why. Whichever worker
    // begins its attempt first takes the slot, so the one to look at is the latest that waits
    // (a freed slot goes to the oldest waiting, so it waits longest).
    let found =
        until(&app, &in_a, Duration::from_secs(30), |found| found.iter().any(|run| run.waiting.is_some())).await;
    let waiting = found.into_iter().filter(|run| run.waiting.is_some()).max_by(|x, y| x.id.cmp(&y.id)).unwrap();
    let cancelled_id = waiting.id.clone();
    assert_eq!(waiting.status, RunStatus::Queued);
    assert_eq!(waiting.waiting.as_deref(), Some("1 running per workspace"));
    let (status, page) = admin.get_html(&format!("/admin/workspaces/{}/runs/{cancelled_id}", a.slug)).await;
    assert_eq!(status, 200);
    assert!(page.contains("waiting: 1 running per workspace"), "the run page does not say why it waits: {page}");
    let timeline = runs::timeline(&app.db, &waiting).await.unwrap();
    assert!(
        timeline.iter().any(|entry| entry.kind == "waiting" && entry.message == "Waiting: 1 running per workspace")
    );
    let cancelled = runs::cancel(&app.db, &waiting, "the test").await.unwrap();
    assert_eq!(cancelled.status, RunStatus::Cancelled);

    let all: Vec<RunId> = in_a.iter().chain(&in_b).cloned().collect();
    let done =
        until(&app, &all, Duration::from_secs(60), |found| found.iter().all(|run| run.status.is_finished())).await;
    let (ran_in_a, ran_in_b): (Vec<RunView>, Vec<RunView>) = done
        .into_iter()
        .filter(|run| run.id != cancelled_id)
        .partition(|run| run.workspace_id.as_ref().map(|ws| ws.as_str()) == Some(a.id.as_str()));
    for run in ran_in_a.iter().chain(&ran_in_b) {
        assert_eq!(run.status, RunStatus::Succeeded, "{run:#?}");
        assert_eq!(run.attempts, 1, "waiting for a slot used up an attempt: {run:#?}");
    }
    assert_eq!((ran_in_a.len(), ran_in_b.len()), (RUNS_PER_WORKSPACE - 1, RUNS_PER_WORKSPACE));
    let precise_ends = backend == Backend::Postgres;
    assert_one_at_a_time(&ran_in_a, precise_ends);
    assert_one_at_a_time(&ran_in_b, precise_ends);
    // The limit is per workspace: B's runs did not wait for A's.
    let span = |runs: &[RunView]| {
        (
            runs.iter().filter_map(|r| r.started_at).min().unwrap(),
            runs.iter().filter_map(|r| r.started_at).max().unwrap(),
        )
    };
    let ((a_first, a_last), (b_first, b_last)) = (span(&ran_in_a), span(&ran_in_b));
    assert!(
        b_first < a_last && a_first < b_last,
        "the workspaces' runs did not overlap: A {a_first}–{a_last}, B {b_first}–{b_last}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_a_one_at_a_time_workflow_never_runs_twice_at_once_in_a_workspace() {
    a_one_at_a_time_workflow_never_runs_twice_at_once_in_a_workspace(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_one_at_a_time_workflow_never_runs_twice_at_once_in_a_workspace() {
    if postgres_configured() {
        a_one_at_a_time_workflow_never_runs_twice_at_once_in_a_workspace(Backend::Postgres).await;
    }
}

/// Sets a job's queue columns directly: the state a process that died for good leaves behind.
async fn set_job(app: &TestApp, id: &RunId, status: &str, group: &str) {
    use sea_orm::ConnectionTrait;
    let backend = app.db.get_database_backend();
    let table = app.jobs_table();
    let sql = format!("UPDATE {table} SET status = $1, limit_group = $2, fair_tag = NULL WHERE id = $3");
    let values: Vec<sea_orm::Value> = vec![status.into(), group.into(), id.to_string().into()];
    app.db.execute_raw(sea_orm::Statement::from_sql_and_values(backend, sql, values)).await.unwrap();
}

/// A holder's process died for good and its slot was freed without its acknowledgement: the
/// sweep puts the oldest parked run of that group back in the queue, and leaves a group whose
/// slot is still held alone.
async fn a_slot_freed_without_its_acknowledgement_is_found_by_the_sweep(backend: Backend) {
    let app = TestApp::spawn_web_only(backend).await;
    let (a, b) = (app.create_workspace("Orphaned", &app.admin).await, app.create_workspace("Held", &app.admin).await);
    let in_a = runs::fan_out(&app.db, (0..2).map(|_| one_at_a_time(&a)).collect(), None).await.unwrap();
    let in_b = runs::fan_out(&app.db, (0..2).map(|_| one_at_a_time(&b)).collect(), None).await.unwrap();
    for id in in_a.iter().chain(&in_b) {
        set_job(&app, id, "Parked", ProbeOneAtATime::NAME).await;
    }
    set_job(&app, &in_b[0], "Running", ProbeOneAtATime::NAME).await;
    assert_eq!(offstage::engine::queue::limits::sweep(&app.db).await.unwrap(), 1);
    let after = views(&app, &in_a).await;
    let status_of = |id: &RunId| after.iter().find(|run| &run.id == id).map(|run| run.status);
    assert_eq!((status_of(&in_a[0]), status_of(&in_a[1])), (Some(RunStatus::Queued), Some(RunStatus::Queued)));
    // A worker runs A's first run, whose end hands the slot on to the second; B's slot stays
    // held, so B's second run keeps waiting.
    let _worker = Worker::start_with(&app, "1");
    until(&app, &in_a, Duration::from_secs(30), |found| found.iter().all(|run| run.status == RunStatus::Succeeded))
        .await;
    let held = views(&app, &in_b[1..]).await.remove(0);
    assert_eq!(held.status, RunStatus::Queued, "{held:#?}");
    assert_eq!(held.started_at, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_a_slot_freed_without_its_acknowledgement_is_found_by_the_sweep() {
    a_slot_freed_without_its_acknowledgement_is_found_by_the_sweep(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_slot_freed_without_its_acknowledgement_is_found_by_the_sweep() {
    if postgres_configured() {
        a_slot_freed_without_its_acknowledgement_is_found_by_the_sweep(Backend::Postgres).await;
    }
}
