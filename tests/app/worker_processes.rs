//! Separate `offstage worker` processes beside a web-only app: two workers execute 10,000 runs
//! exactly once and fire each schedule tick once; a worker killed with SIGKILL in the middle of
//! runs loses none of them, as another recovers its runs (heartbeat timeout) and finishes them;
//! Stripe events acknowledged by a web server killed right after are processed by a worker started
//! afterwards.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::process::free_port;
use crate::helpers::*;
use offstage::engine::runs::{self, RunFilter, RunStatus};
use offstage::engine::{NewRun, probe};

pub(crate) struct Worker(Child);

impl Worker {
    fn start(app: &TestApp) -> Worker {
        Worker::start_with(app, "8")
    }

    pub(crate) fn start_with(app: &TestApp, concurrency: &str) -> Worker {
        Worker::command(app, "worker", concurrency, 0)
    }

    /// `offstage web` (the web server alone, no workers) on `port`.
    fn web_only(app: &TestApp, port: u16) -> Worker {
        Worker::command(app, "web", "4", port)
    }

    /// `offstage worker` with settings of its own (`OFFSTAGE_…` variables).
    pub(crate) fn with_env(app: &TestApp, settings: &[(&str, &str)]) -> Worker {
        let mut command = Worker::base(app, "worker", "4", 0);
        for (key, value) in settings {
            command.env(key, value);
        }
        Worker::spawn(&mut command)
    }

    /// `offstage worker` sending mail through `smtp_url`.
    pub(crate) fn mailing(app: &TestApp, smtp_url: &str) -> Worker {
        Worker::spawn(Worker::base(app, "worker", "4", 0).env("OFFSTAGE_SMTP_URL", smtp_url))
    }

    fn command(app: &TestApp, mode: &str, concurrency: &str, port: u16) -> Worker {
        Worker::spawn(&mut Worker::base(app, mode, concurrency, port))
    }

    fn spawn(command: &mut Command) -> Worker {
        Worker(command.spawn().expect("start offstage worker"))
    }

    /// `offstage {mode}` on the app's database, with its settings.
    fn base(app: &TestApp, mode: &str, concurrency: &str, port: u16) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_offstage"));
        command
            .arg(mode)
            .env("OFFSTAGE_STRIPE_WEBHOOK_SECRET", STRIPE_SECRET)
            .env("OFFSTAGE_BIND", format!("127.0.0.1:{port}"))
            .env("OFFSTAGE_DATABASE_URL", &app.database_url)
            .env("OFFSTAGE_DATA_DIR", &app.config.data_dir)
            .env("OFFSTAGE_SECRET_KEY", app.config.secret_key.expose())
            .env("OFFSTAGE_WORKER_CONCURRENCY", concurrency)
            .env("OFFSTAGE_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }

    /// Sends SIGTERM and waits (up to 40 s) for the process to exit; whether it exited cleanly.
    fn terminate(&mut self) -> bool {
        Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(40);
        while Instant::now() < deadline {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub(crate) fn kill_9(&mut self) {
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

/// Stripe events acknowledged with 200 by `offstage web` are processed even when that process is
/// killed with SIGKILL right after the last answer: the inbox row and its run were committed
/// before the 200, and a worker started after the kill finishes them. Neither the killed process
/// nor the test's own (web-only) app runs workers, so at the kill nothing has been processed yet.
async fn acknowledged_webhooks_survive_kill_9_of_the_server(backend: Backend) {
    let app = TestApp::spawn_web_only(backend).await;
    let ws = app.create_workspace("Acme", &app.admin).await;
    let port = free_port();
    let mut server = Worker::web_only(&app, port);
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while !client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status() == reqwest::StatusCode::OK) {
        assert!(started.elapsed() < Duration::from_secs(20), "offstage serve did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut ids = Vec::new();
    for n in 0..20 {
        let id = format!("evt_crash_{n}");
        let body = serde_json::to_vec(&serde_json::json!({
            "id": id, "object": "event", "type": "invoice.paid", "created": chrono::Utc::now().timestamp(),
            "data": { "object": {
                "id": format!("in_crash_{n}"), "object": "invoice", "customer": "cus_crash", "amount_paid": 1000,
                "currency": "usd", "subscription_details": { "metadata": { "workspace_id": ws.id } },
            } },
        }))
        .unwrap();
        let signature = offstage::billing::signature::sign(
            &offstage::config::Secret::new(STRIPE_SECRET),
            chrono::Utc::now().timestamp(),
            &body,
        );
        let response = client
            .post(format!("{base}/webhooks/stripe"))
            .header("Stripe-Signature", signature)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        ids.push(id);
    }
    server.kill_9();
    use offstage::db::entities::{invoice, stripe_event, workflow_run};
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let recorded =
        stripe_event::Entity::find().filter(stripe_event::Column::Id.is_in(ids.clone())).all(&app.db).await.unwrap();
    assert_eq!(recorded.len(), 20, "every acknowledged event is in the inbox");
    let statuses: Vec<&str> = recorded.iter().map(|e| e.status.as_str()).collect();
    assert_eq!(statuses, vec!["received"; 20], "nothing was processed before the kill");
    let keys: Vec<String> = ids.iter().map(|id| format!("stripe:{id}")).collect();
    let queued = workflow_run::Entity::find()
        .filter(workflow_run::Column::BusinessKey.is_in(keys))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(queued, 20, "each event's processing run was committed with it");
    let invoices_before =
        invoice::Entity::find().filter(invoice::Column::WorkspaceId.eq(&ws.id)).count(&app.db).await.unwrap();
    assert_eq!(invoices_before, 0);
    let _worker = Worker::start(&app);
    let killed_at = Instant::now();
    loop {
        let processed = stripe_event::Entity::find()
            .filter(stripe_event::Column::Id.is_in(ids.clone()))
            .filter(stripe_event::Column::Status.eq("processed"))
            .count(&app.db)
            .await
            .unwrap();
        if processed == 20 {
            break;
        }
        assert!(killed_at.elapsed() < Duration::from_secs(30), "{processed} of 20 processed 30 s after the kill");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let invoices =
        invoice::Entity::find().filter(invoice::Column::WorkspaceId.eq(&ws.id)).count(&app.db).await.unwrap();
    assert_eq!(invoices, 20, "each invoice stored once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_webhooks_survive_kill_9_of_the_server_on_sqlite() {
    acknowledged_webhooks_survive_kill_9_of_the_server(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_webhooks_survive_kill_9_of_the_server_on_postgres() {
    if !postgres_configured() {
        return;
    }
    acknowledged_webhooks_survive_kill_9_of_the_server(Backend::Postgres).await;
}

async fn statuses(app: &TestApp, ws_id: &str) -> Vec<RunStatus> {
    let filter = RunFilter { workflow: Some("probe".into()), limit: 1000, ..RunFilter::default() };
    let all = runs::list(&app.db, &offstage::tenancy::Platform::system(), &filter).await.unwrap();
    all.into_iter().filter(|r| r.workspace_id.as_deref() == Some(ws_id)).map(|r| r.status).collect()
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
        return;
    }
    a_killed_worker_loses_no_runs(Backend::Postgres).await;
}

/// Jobs a worker holds (taken from the queue or running) and runs that succeeded.
async fn held_and_succeeded(app: &TestApp, ws_id: &str) -> (i64, usize) {
    use sea_orm::ConnectionTrait;
    let table = app.jobs_table();
    let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE status IN ('Queued', 'Running')");
    let row = app.db.query_one_raw(sea_orm::Statement::from_string(app.db.get_database_backend(), sql)).await;
    let held = row.unwrap().unwrap().try_get::<i64>("", "n").unwrap();
    (held, statuses(app, ws_id).await.into_iter().filter(|s| *s == RunStatus::Succeeded).count())
}

/// A worker stopped with SIGTERM in the middle of many short runs finishes those it started,
/// writes each one's end down, and gives back those it had taken but not started: afterwards it
/// holds nothing, and a new worker runs the rest.
async fn a_stopped_worker_writes_down_every_run_it_finished(backend: Backend) {
    let app = TestApp::spawn_web_only(backend).await;
    let ws = app.create_workspace("Acme", &app.admin).await;
    let params =
        probe::Params { workspace_id: ws.id.clone(), value: None, sleep_ms: 50, fail_attempts: 0, skip: false };
    let items: Vec<NewRun> = (0..800).map(|_| NewRun::of::<probe::Probe>(&params)).collect();
    runs::fan_out(&app.db, items, None).await.unwrap();
    let mut worker = Worker::start_with(&app, "16");
    let started = Instant::now();
    while held_and_succeeded(&app, &ws.id).await.1 < 50 {
        assert!(started.elapsed() < Duration::from_secs(30), "the worker did not get going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(worker.terminate(), "the worker did not exit cleanly after SIGTERM");
    let (held, succeeded) = held_and_succeeded(&app, &ws.id).await;
    assert_eq!(held, 0, "the stopped worker still holds jobs ({succeeded} runs succeeded)");
    assert!(succeeded < 800, "every run finished before the stop: make the runs longer");
    let _next = Worker::start(&app);
    let restarted = Instant::now();
    while held_and_succeeded(&app, &ws.id).await.1 < 800 {
        assert!(restarted.elapsed() < Duration::from_secs(30), "the rest did not run after the restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_with_sigterm_writes_down_every_run_it_finished_on_sqlite() {
    a_stopped_worker_writes_down_every_run_it_finished(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_with_sigterm_writes_down_every_run_it_finished_on_postgres() {
    if !postgres_configured() {
        return;
    }
    a_stopped_worker_writes_down_every_run_it_finished(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_execute_ten_thousand_runs_exactly_once_and_fire_each_tick_once() {
    if !postgres_configured() {
        return;
    }
    use crate::helpers::scale;
    let app = TestApp::spawn_web_only(Backend::Postgres).await;
    scale::record_handovers(&app).await;
    let ws = app.create_workspace("Acme", &app.admin).await;
    let every_second = scale::queue_runs_and_a_schedule_every_second(&app, &ws).await;
    let _workers = [Worker::start_with(&app, "16"), Worker::start_with(&app, "16")];
    let took = scale::wait_until_all_ran(&app, every_second).await;
    eprintln!("10,000 runs drained by two worker processes in {:.1} s", took.as_secs_f64());
    scale::assert_each_run_executed_once(&app, &ws).await;
}
