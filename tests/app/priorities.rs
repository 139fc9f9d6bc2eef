//! Priorities: when more runs are due than the workers can start, a workflow of a higher class
//! goes first (Stripe events and email before bulk work), whatever was queued before it.

use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::worker_processes::Worker;
use offstage::engine::runs::{self, RunView};
use offstage::engine::{NewRun, probe};
use offstage::tenancy::Platform;
use offstage::workspaces::workflows::refresh_workspace_health::{self, RefreshWorkspaceHealth};

async fn finished(app: &TestApp, ids: &[offstage::domain::RunId]) -> Vec<RunView> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = runs::get_many(&app.db, &Platform::system(), ids).await.unwrap();
        if found.iter().all(|run| run.status.is_finished()) && found.len() == ids.len() {
            return found;
        }
        assert!(Instant::now() < deadline, "the runs did not finish within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Thirty bulk runs are queued before one normal run; a worker process that starts one run at a
/// time starts the normal run first.
async fn a_run_of_a_higher_class_starts_before_bulk_runs_queued_earlier(backend: Backend) {
    let app = TestApp::spawn_web_only(backend).await;
    let ws = app.create_workspace("Acme", &app.admin).await;
    let health = refresh_workspace_health::Params { workspace_id: ws.id.clone() };
    let bulk: Vec<NewRun> = (0..30).map(|_| NewRun::of::<RefreshWorkspaceHealth>(&health)).collect();
    let mut ids = runs::fan_out(&app.db, bulk, None).await.unwrap();
    let params = probe::Params::noop(&ws.id);
    let normal = runs::start(&app.db, NewRun::of::<probe::Probe>(&params)).await.unwrap().id;
    ids.push(normal.clone());
    let _worker = Worker::start_with(&app, "1");
    let done = finished(&app, &ids).await;
    let started = |run: &RunView| run.started_at.expect("started");
    let normal_start = done.iter().find(|run| run.id == normal).map(started).unwrap();
    let bulk_starts: Vec<_> = done.iter().filter(|run| run.id != normal).map(started).collect();
    assert!(
        bulk_starts.iter().all(|at| *at > normal_start),
        "the normal run started at {normal_start}, after bulk runs: {bulk_starts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_a_run_of_a_higher_class_starts_before_bulk_runs_queued_earlier() {
    a_run_of_a_higher_class_starts_before_bulk_runs_queued_earlier(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_run_of_a_higher_class_starts_before_bulk_runs_queued_earlier() {
    if postgres_configured() {
        a_run_of_a_higher_class_starts_before_bulk_runs_queued_earlier(Backend::Postgres).await;
    }
}
