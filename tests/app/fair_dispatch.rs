//! Fair dispatch: workspaces take turns. One workspace's backlog of thousands of runs (or of
//! emails to deliver) does not delay another workspace's runs (or emails), with one worker
//! process or two, while the backlog keeps its own order.

use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::worker_processes::Worker;
use offstage::domain::RunId;
use offstage::engine::runs::{self, RunView};
use offstage::engine::{NewRun, Priority, probe};
use offstage::mail::{Category, NewEmail, Rendered, outbox};
use offstage::tenancy::Platform;
use sea_orm::{ConnectionTrait, Statement};

const BACKLOG: usize = 3_000;

/// A run that holds its worker for 20 ms: the backlog takes seconds to drain.
fn probe_of(ws: &offstage::db::entities::workspace::Model) -> probe::Params {
    probe::Params { workspace_id: ws.id.clone(), value: None, sleep_ms: 20, fail_attempts: 0, skip: false }
}

async fn finished(app: &TestApp, ids: &[RunId], within: Duration) -> Vec<RunView> {
    let deadline = Instant::now() + within;
    loop {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            found.extend(runs::get_many(&app.db, &Platform::system(), chunk).await.unwrap());
        }
        if found.len() == ids.len() && found.iter().all(|run| run.status.is_finished()) {
            return found;
        }
        assert!(Instant::now() < deadline, "the runs did not finish within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Workspace A queues `BACKLOG` runs; `processes` worker processes start; once they run A's
/// first, workspace B starts a run every 100 ms. Each of B's runs starts within half a second, while most of A's
/// backlog is still waiting, and A's runs start in the order they were queued.
async fn another_workspaces_runs_start_while_a_backlog_waits(backend: Backend, processes: usize) {
    let app = TestApp::spawn_web_only(backend).await;
    let (a, b) = (app.create_workspace("Flood", &app.admin).await, app.create_workspace("Quiet", &app.admin).await);
    let mut backlog = Vec::with_capacity(BACKLOG);
    for _ in 0..BACKLOG / 1000 {
        let items = (0..1000).map(|_| NewRun::of::<probe::Probe>(&probe_of(&a))).collect();
        backlog.extend(runs::fan_out(&app.db, items, None).await.unwrap());
    }
    let _workers: Vec<Worker> = (0..processes).map(|_| Worker::start_with(&app, "8")).collect();
    // B's waits are measured from when the workers are up (A's first run has started), not
    // from when their processes were spawned: a process's start-up is not a queue's unfairness.
    let deadline = Instant::now() + Duration::from_secs(30);
    while runs::get(&app.db, &backlog[0], &Platform::system()).await.unwrap().is_none_or(|run| run.started_at.is_none())
    {
        assert!(Instant::now() < deadline, "the worker processes did not start a run within 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut quiet = Vec::new();
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        quiet.push(runs::start(&app.db, NewRun::of::<probe::Probe>(&probe_of(&b))).await.unwrap().id);
    }
    let quiet = finished(&app, &quiet, Duration::from_secs(60)).await;
    let backlog = finished(&app, &backlog, Duration::from_secs(120)).await;
    let started = |run: &RunView| run.started_at.expect("started");
    for run in &quiet {
        let waited = started(run) - run.created_at;
        assert!(waited < chrono::Duration::milliseconds(500), "B's run waited {waited} behind A's backlog");
    }
    let last_quiet = quiet.iter().map(started).max().unwrap();
    let after = backlog.iter().filter(|run| started(run) > last_quiet).count();
    assert!(after > BACKLOG / 3, "only {after} of A's {BACKLOG} runs were left when B's last run started");
    // A's own runs kept their order: each batch of 1,000 started, on the whole, before the next.
    let mean_start =
        |runs: &[RunView]| runs.iter().map(|run| started(run).timestamp_micros()).sum::<i64>() / runs.len() as i64;
    let by_batch: Vec<i64> = backlog.chunks(1000).map(mean_start).collect();
    assert!(by_batch.windows(2).all(|pair| pair[0] < pair[1]), "A's batches started out of order: {by_batch:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_another_workspaces_runs_start_while_a_backlog_waits() {
    another_workspaces_runs_start_while_a_backlog_waits(Backend::Sqlite, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_with_two_worker_processes_another_workspaces_runs_start_while_a_backlog_waits() {
    if postgres_configured() {
        another_workspaces_runs_start_while_a_backlog_waits(Backend::Postgres, 2).await;
    }
}

/// One start naming two workspaces tags each workspace's due runs one after another from the end
/// of its own line, in the batch's order and per priority class, and leaves a run due later
/// untagged. (Creating a workspace queues runs of its own, so neither line starts empty.)
async fn one_start_tags_each_workspaces_due_runs_in_its_own_order(backend: Backend) {
    let app = TestApp::spawn_web_only(backend).await;
    let (a, b) = (app.create_workspace("First", &app.admin).await, app.create_workspace("Second", &app.admin).await);
    let run = |ws| NewRun::of::<probe::Probe>(&probe_of(ws));
    let items = vec![
        run(&a),
        run(&b),
        run(&a),
        run(&a).at(chrono::Utc::now() + chrono::Duration::hours(1)),
        run(&b),
        run(&a).at_priority(Priority::Urgent),
        run(&a),
    ];
    let started = runs::start_batch(&app.db, &items).await.unwrap();
    let sql = format!("SELECT fair_tag FROM {} WHERE id = $1", app.jobs_table());
    let mut tags = Vec::new();
    for item in &started {
        let statement =
            Statement::from_sql_and_values(app.db.get_database_backend(), &sql, [item.id.to_string().into()]);
        let row = app.db.query_one_raw(statement).await.unwrap().expect("the run's job");
        tags.push(row.try_get::<Option<i64>>("", "fair_tag").unwrap());
    }
    let (first_a, first_b) = (tags[0].expect("a due run is tagged"), tags[1].expect("a due run is tagged"));
    let expected =
        [Some(first_a), Some(first_b), Some(first_a + 1), None, Some(first_b + 1), tags[5], Some(first_a + 2)];
    assert_eq!(tags, expected, "tags in the batch's order");
    assert!(tags[5].is_some(), "the urgent run is tagged in its own class");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_one_start_tags_each_workspaces_due_runs_in_its_own_order() {
    one_start_tags_each_workspaces_due_runs_in_its_own_order(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_one_start_tags_each_workspaces_due_runs_in_its_own_order() {
    if postgres_configured() {
        one_start_tags_each_workspaces_due_runs_in_its_own_order(Backend::Postgres).await;
    }
}

/// Both lookups of an insert's tag read their own index, whatever PostgreSQL's statistics say.
/// Statistics taken when the job table held ten runs, then a backlog of 3,000: with one
/// predicate for both indexes, the flooding workspace's last tag was read through the class's
/// index, past every other lane's runs (the weekly digest's main cost, and B's in the noisy
/// neighbour bench).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_workspaces_last_tag_is_read_from_its_own_index_beside_a_backlog() {
    if !postgres_configured() {
        return;
    }
    let app = TestApp::spawn_web_only(Backend::Postgres).await;
    let (a, b) = (app.create_workspace("Flood", &app.admin).await, app.create_workspace("Quiet", &app.admin).await);
    let first = (0..10).map(|_| NewRun::of::<probe::Probe>(&probe_of(&a))).collect();
    runs::fan_out(&app.db, first, None).await.unwrap();
    app.db.execute_unprepared("ANALYZE apalis.jobs").await.unwrap();
    for _ in 0..BACKLOG / 1000 {
        let items = (0..1000).map(|_| NewRun::of::<probe::Probe>(&probe_of(&a))).collect();
        runs::fan_out(&app.db, items, None).await.unwrap();
    }
    let priority = <probe::Probe as offstage::engine::Workflow>::PRIORITY.queue_value();
    for lane in [&b.id, &a.id] {
        let plan = offstage::engine::queue::fair::explain_base_postgres(&app.db, lane, priority).await.unwrap();
        assert!(plan.contains("using offstage_jobs_fair_next"), "the class's lowest tag not from its index:\n{plan}");
        assert!(plan.contains("using offstage_jobs_lane_tags"), "the lane's highest tag not from its index:\n{plan}");
        assert!(
            !plan.contains("Rows Removed by Filter") && !plan.contains("Sort"),
            "a lookup read past others:\n{plan}"
        );
    }
}

/// An email of workspace `ws` (or of nobody's workspace), as an import's invitation.
fn invitation(ws: Option<&str>, n: usize) -> NewEmail {
    NewEmail {
        workspace_id: ws.map(str::to_owned),
        recipient: format!("person{n}@example.com"),
        kind: "fair_invitation",
        category: Category::Transactional,
        dedupe_key: format!("fair_invitation:{}:{n}", ws.unwrap_or("account")),
        rendered: Rendered { subject: "You are invited".into(), html: "<p>Hi</p>".into(), text: "Hi".into() },
    }
}

/// Workspace A's import queues 3,000 invitations at bulk priority, then workspace B's queues
/// one: each email's delivery is a run of its own workspace, so B's goes in B's turn, not after
/// all of A's (when every delivery was a global run, they shared one line and B's went last).
/// Mail about a person's own account is nobody's workspace's.
async fn one_workspaces_flood_of_email_does_not_hold_back_another_workspaces(backend: Backend) {
    let app = TestApp::spawn_web_only(backend).await;
    let (a, b) = (app.create_workspace("Flood", &app.admin).await, app.create_workspace("Quiet", &app.admin).await);
    let queue = |emails: Vec<NewEmail>| {
        let db = app.db.clone();
        async move {
            let txn = offstage::db::begin_write(&db).await.unwrap();
            outbox::enqueue_at_in(&txn, &emails, "example.com", Priority::Bulk).await.unwrap();
            txn.commit().await.unwrap();
        }
    };
    queue((0..BACKLOG).map(|n| invitation(Some(&a.id), n)).collect()).await;
    queue(vec![invitation(Some(&b.id), 0), invitation(None, 0)]).await;
    let sends = |ws: Option<&str>| {
        let db = app.db.clone();
        let (condition, values) = match ws {
            Some(ws) => ("workspace_id = $1", vec![ws.into()]),
            None => ("workspace_id IS NULL", vec![]),
        };
        let sql = format!("SELECT COUNT(*) AS n FROM workflow_runs WHERE workflow = 'send_email' AND {condition}");
        async move {
            let row = db.query_one_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, values)).await;
            row.unwrap().unwrap().try_get::<i64>("", "n").unwrap()
        }
    };
    let placed = (sends(Some(&a.id)).await, sends(Some(&b.id)).await, sends(None).await);
    assert_eq!(placed, (BACKLOG as i64, 1, 1), "each delivery is its email's workspace's");
    let _worker = Worker::start_with(&app, "8");
    let deadline = Instant::now() + Duration::from_secs(120);
    let emails = loop {
        let emails = app.emails_of("fair_invitation").await;
        if emails.iter().all(|email| email.sent_at.is_some()) {
            break emails;
        }
        assert!(Instant::now() < deadline, "the invitations were not all sent within 120 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let sent_at = |ws: &str| emails.iter().find(|e| e.workspace_id.as_deref() == Some(ws)).and_then(|e| e.sent_at);
    let quiet = sent_at(&b.id).expect("B's invitation sent");
    let before = emails.iter().filter(|e| e.workspace_id.as_deref() == Some(&a.id) && e.sent_at < Some(quiet)).count();
    assert!(before < BACKLOG / 3, "{before} of A's {BACKLOG} invitations were sent before B's one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_one_workspaces_flood_of_email_does_not_hold_back_another_workspaces_email() {
    one_workspaces_flood_of_email_does_not_hold_back_another_workspaces(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_one_workspaces_flood_of_email_does_not_hold_back_another_workspaces_email() {
    if postgres_configured() {
        one_workspaces_flood_of_email_does_not_hold_back_another_workspaces(Backend::Postgres).await;
    }
}
