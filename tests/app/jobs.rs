//! The background runtime end to end: a job queued in the creating transaction is run by a worker.

use crate::helpers::*;
use crate::on_both_databases;
use offstage::db::entities::activity;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

on_both_databases! {
    async fn creating_a_workspace_queues_a_job_that_records_it_in_the_activity_log(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        app.drain_jobs().await;
        let entries = activity::Entity::find()
            .filter(activity::Column::WorkspaceId.eq(&ws.id))
            .filter(activity::Column::Kind.eq("workspace.created"))
            .all(&app.db)
            .await
            .unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].message, format!("Workspace “Acme” was created by {ADMIN_EMAIL}"));
        assert_eq!(entries[0].actor.as_deref(), Some("Offstage"));
        let visitor = app.sign_in(ADMIN_EMAIL).await;
        let (_, html) = visitor.get_html(&format!("/admin/workspaces/{}", ws.slug)).await;
        assert!(html.contains("Workspace “Acme” was created by"));
    }

    async fn running_the_creation_job_twice_records_it_once(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        app.drain_jobs().await;
        use offstage::workflows::record_workspace_created::{Params, RecordWorkspaceCreated};
        let params = Params { workspace_id: ws.id.clone(), created_by: ADMIN_EMAIL.into() };
        let run = offstage::workflows::runs::start(&app.db, offstage::workflows::NewRun::of::<RecordWorkspaceCreated>(&params)).await.unwrap();
        app.drain_jobs().await;
        let entries = activity::Entity::find()
            .filter(activity::Column::WorkspaceId.eq(&ws.id))
            .filter(activity::Column::Kind.eq("workspace.created"))
            .all(&app.db)
            .await
            .unwrap();
        assert_eq!(entries.len(), 1);
        let second = offstage::workflows::runs::get(&app.db, &run.id, None).await.unwrap().unwrap();
        assert_eq!(second.status, offstage::workflows::RunStatus::Skipped);
        assert_eq!(second.skipped.unwrap().condition, "the creation is not recorded yet");
    }
}

#[tokio::test]
async fn on_postgresql_an_acknowledgement_finds_its_jobs_by_id_however_many_the_worker_ran() {
    if !postgres_configured() {
        return;
    }
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn_web_only(Backend::Postgres).await;
    // Worker w1 ran 5,000 jobs and holds two; worker w2 holds a third.
    app.db
        .execute_unprepared(
            "INSERT INTO apalis.workers (id, worker_type, storage_name, layers, last_seen) \
             VALUES ('w1', 'workflows', 'PgStorage', '', now()), ('w2', 'workflows', 'PgStorage', '', now())",
        )
        .await
        .unwrap();
    app.db
        .execute_unprepared(
            "INSERT INTO apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, priority, metadata, lock_by, lock_at) \
             SELECT 'done-' || n, 'workflows', '\\x7b7d'::bytea, CASE WHEN n <= 5000 THEN 'Done' ELSE 'Running' END, 1, 3, now(), 0, ''::hstore, \
                    CASE WHEN n <= 5002 THEN 'w1' ELSE 'w2' END, now() \
             FROM generate_series(1, 5003) AS n",
        )
        .await
        .unwrap();
    let ack = |id: &str| serde_json::json!({ "task_id": id, "attempt": 1, "result": { "Ok": "acknowledged" }, "status": "Done" });
    let acks = serde_json::json!([ack("done-5001"), ack("done-5002"), ack("done-5003")]);
    let pool = app.db.get_postgres_connection_pool();

    let (plan,): (serde_json::Value,) = sea_orm::sqlx::query_as(sea_orm::sqlx::AssertSqlSafe(format!(
        "EXPLAIN (FORMAT JSON) {}",
        offstage::jobs::ACKNOWLEDGE
    )))
    .bind(&acks)
    .bind("w1")
    .fetch_one(pool)
    .await
    .unwrap();
    let plan = plan.to_string();
    assert!(plan.contains("jobs_pkey"), "{plan}");
    assert!(!plan.contains("lock_by_idx") && !plan.contains("idx_apalis_jobs_lock_by"), "{plan}");
    assert!(!plan.contains("Seq Scan"), "{plan}");

    let acknowledged =
        sea_orm::sqlx::query(offstage::jobs::ACKNOWLEDGE).bind(&acks).bind("w1").execute(pool).await.unwrap();
    assert_eq!(acknowledged.rows_affected(), 2, "only the jobs w1 holds");
    let statuses: Vec<(String, String, Option<serde_json::Value>)> = sea_orm::sqlx::query_as(
        "SELECT id, status, last_result FROM apalis.jobs WHERE id IN ('done-5001', 'done-5002', 'done-5003') ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        statuses,
        vec![
            ("done-5001".into(), "Done".into(), Some(serde_json::json!({ "Ok": "acknowledged" }))),
            ("done-5002".into(), "Done".into(), Some(serde_json::json!({ "Ok": "acknowledged" }))),
            ("done-5003".into(), "Running".into(), None),
        ]
    );
}

/// The engine's scale test on SQLite, where one process runs web and workers: 10,000 runs are
/// each handed to a worker once (the database itself records every hand-over), and a schedule
/// firing every second meanwhile starts at most one run per tick.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_one_process_executes_ten_thousand_runs_exactly_once_and_fires_each_tick_once() {
    use offstage::db::entities::workflow_run;
    use offstage::workflows::runs::{self, RunFilter, RunStatus};
    use offstage::workflows::{NewRun, probe};
    use sea_orm::{ConnectionTrait, DbBackend, PaginatorTrait, QueryOrder, Statement};
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.db
        .execute_unprepared(
            "CREATE TABLE handovers (job_id TEXT NOT NULL); \
             CREATE TRIGGER note_handover AFTER UPDATE OF status ON Jobs FOR EACH ROW \
               WHEN NEW.status = 'Queued' AND OLD.status IS NOT 'Queued' AND NEW.job_type = 'workflows' \
               BEGIN INSERT INTO handovers VALUES (NEW.id); END;",
        )
        .await
        .unwrap();
    let ws = app.create_workspace("Acme", &app.admin).await;
    let params = probe::Params { workspace_id: ws.id.clone(), value: None, sleep_ms: 0, fail_attempts: 0, skip: false };
    let items: Vec<NewRun> = (0..10_000).map(|_| NewRun::of::<probe::Probe>(&params)).collect();
    let every_second = offstage::workflows::schedules::NewSchedule {
        workflow: offstage::workflows::find("probe").unwrap(),
        workspace: Some(ws.clone()),
        cron: offstage::domain::CronExpr::parse("* * * * * *").unwrap(),
        timezone: None,
        params: serde_json::json!({}),
        created_by: "test".into(),
    };
    let every_second = offstage::workflows::schedules::create(&app.db, every_second).await.unwrap();
    runs::fan_out(&app.db, items, None).await.unwrap();
    let started = std::time::Instant::now();
    while offstage::jobs::due_within(&app.db, 60).await.unwrap() > 0 || started.elapsed().as_secs() < 4 {
        assert!(started.elapsed().as_secs() < 240, "runs still unfinished after 240 s");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    offstage::workflows::schedules::delete(&app.db, every_second).await.unwrap();
    app.drain_jobs().await;

    let succeeded = RunFilter {
        workspace_id: Some(ws.id.clone()),
        workflow: Some("probe".into()),
        status: Some(RunStatus::Succeeded),
        limit: 1000,
        ..RunFilter::default()
    };
    assert!(runs::list(&app.db, &succeeded).await.unwrap().iter().all(|r| r.attempts == 1));
    let due = workflow_run::Entity::find()
        .filter(workflow_run::Column::ScheduledFor.lte(chrono::Utc::now()))
        .count(&app.db)
        .await
        .unwrap();
    assert!(due >= 10_004, "10,000 runs and the ticks: {due}");
    let count = |sql: &'static str| {
        let db = app.db.clone();
        async move {
            let row = db.query_one_raw(Statement::from_string(DbBackend::Sqlite, sql)).await.unwrap().unwrap();
            row.try_get::<i64>("", "n").unwrap()
        }
    };
    assert_eq!(
        count("SELECT COUNT(*) AS n FROM (SELECT job_id FROM handovers GROUP BY job_id HAVING COUNT(*) > 1)").await,
        0
    );
    assert_eq!(count("SELECT COUNT(*) AS n FROM handovers").await as u64, due, "every due run executed exactly once");

    let ticks: Vec<i64> = workflow_run::Entity::find()
        .filter(workflow_run::Column::Trigger.eq("schedule"))
        .order_by_asc(workflow_run::Column::ScheduledFor)
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .map(|run| run.scheduled_for.timestamp())
        .collect();
    assert!(ticks.len() >= 4, "{ticks:?}");
    // A tick the clock reaches late is fired once, and the ones it passed meanwhile are not
    // caught up (as cron does): every second at most once.
    assert!(ticks.windows(2).all(|pair| pair[0] < pair[1]), "one run per tick: {ticks:?}");
}
