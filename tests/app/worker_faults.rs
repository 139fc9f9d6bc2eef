//! Separate worker processes: a worker killed with SIGKILL in the middle of runs loses none of
//! them; another worker recovers its runs (heartbeat timeout) and finishes every one.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::*;
use offstage::workflows::runs::{self, RunFilter, RunStatus};
use offstage::workflows::{NewRun, probe};

struct Worker(Child);

impl Worker {
    fn start(app: &TestApp) -> Worker {
        let child = Command::new(env!("CARGO_BIN_EXE_offstage"))
            .arg("worker")
            .env("OFFSTAGE_DATABASE_URL", &app.database_url)
            .env("OFFSTAGE_DATA_DIR", &app.config.data_dir)
            .env("OFFSTAGE_SECRET_KEY", app.config.secret_key.expose())
            .env("OFFSTAGE_WORKER_CONCURRENCY", "8")
            .env("OFFSTAGE_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start offstage worker");
        Worker(child)
    }

    fn kill_9(&mut self) {
        Command::new("kill").args(["-KILL", &self.0.id().to_string()]).status().unwrap();
        let _ = self.0.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn statuses(app: &TestApp, ws_id: &str) -> Vec<RunStatus> {
    let filter = RunFilter {
        workspace_id: Some(ws_id.to_owned()),
        workflow: Some("probe".into()),
        limit: 1000,
        ..RunFilter::default()
    };
    runs::list(&app.db, &filter).await.unwrap().into_iter().map(|r| r.status).collect()
}

async fn a_killed_worker_loses_no_runs(backend: Backend) {
    let app = TestApp::spawn_web_only(backend).await;
    let ws = app.create_workspace("Acme", &app.admin).await;
    let params =
        probe::Params { workspace_id: ws.id.clone(), value: None, sleep_ms: 3_000, fail_attempts: 0, skip: false };
    for _ in 0..20 {
        runs::start(&app.db, NewRun::of::<probe::Probe>(&params)).await.unwrap();
    }
    let mut first = Worker::start(&app);
    let started = Instant::now();
    loop {
        let now = statuses(&app, &ws.id).await;
        if now.contains(&RunStatus::Running) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the worker never started a run: {now:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.kill_9();
    let killed_at = Instant::now();
    let _second = Worker::start(&app);
    loop {
        let now = statuses(&app, &ws.id).await;
        if now.iter().all(|s| *s == RunStatus::Succeeded) {
            break;
        }
        assert!(killed_at.elapsed() < Duration::from_secs(30), "runs not recovered within 30 s of the kill: {now:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("{backend:?}: all 20 runs succeeded {:.1} s after the kill", killed_at.elapsed().as_secs_f64());
    assert_eq!(statuses(&app, &ws.id).await.len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_run_loses_nothing_on_sqlite() {
    a_killed_worker_loses_no_runs(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_run_loses_nothing_on_postgres() {
    if !postgres_configured() {
        eprintln!("OFFSTAGE_TEST_POSTGRES_URL is not set: the PostgreSQL variant does not run here");
        return;
    }
    a_killed_worker_loses_no_runs(Backend::Postgres).await;
}
