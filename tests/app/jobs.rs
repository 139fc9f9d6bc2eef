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
        use offstage::workspaces::workflows::record_workspace_created::{Params, RecordWorkspaceCreated};
        let params = Params { workspace_id: ws.id.clone(), created_by: ADMIN_EMAIL.into() };
        let run = offstage::engine::runs::start(&app.db, offstage::engine::NewRun::of::<RecordWorkspaceCreated>(&params)).await.unwrap();
        app.drain_jobs().await;
        let entries = activity::Entity::find()
            .filter(activity::Column::WorkspaceId.eq(&ws.id))
            .filter(activity::Column::Kind.eq("workspace.created"))
            .all(&app.db)
            .await
            .unwrap();
        assert_eq!(entries.len(), 1);
        let second = offstage::engine::runs::get(&app.db, &run.id, &offstage::tenancy::Platform::system()).await.unwrap().unwrap();
        assert_eq!(second.status, offstage::engine::RunStatus::Skipped);
        assert_eq!(second.skipped.unwrap().condition, "the creation is not recorded yet");
    }
}

#[tokio::test]
async fn on_sqlite_the_job_table_keeps_only_the_indexes_offstage_reads_and_an_acknowledgement_finds_its_jobs_by_id() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let app = TestApp::spawn_web_only(Backend::Sqlite).await;
    // A second start (a restart, another process) leaves the table as the first did.
    offstage::engine::queue::setup_queue_tables(&app.db).await.unwrap();
    let query = |sql: &str| app.db.query_all_raw(Statement::from_string(DbBackend::Sqlite, sql.to_owned()));
    let rows =
        query("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'Jobs' AND sql IS NOT NULL")
            .await
            .unwrap();
    let indexes: std::collections::BTreeMap<String, String> = rows
        .iter()
        .map(|row| (row.try_get::<String>("", "name").unwrap(), row.try_get::<String>("", "sql").unwrap()))
        .collect();
    for gone in ["idx_jobs_job_type_status_run_at", "idx_jobs_claimable", "idx_jobs_pending", "idx_jobs_failed", "LIdx"]
    {
        assert!(!indexes.contains_key(gone), "{gone} is still there: {indexes:#?}");
    }
    assert!(!indexes.contains_key("idx_jobs_idempotency_key"), "{indexes:#?}");
    assert!(indexes["offstage_jobs_lock_by"].ends_with("WHERE lock_by IS NOT NULL"), "{indexes:#?}");
    assert!(indexes["offstage_jobs_idempotency_key"].contains("WHERE idempotency_key IS NOT NULL"), "{indexes:#?}");
    assert!(indexes.contains_key("idx_jobs_status_run_at"), "the counts by status read it: {indexes:#?}");

    // apalis's acknowledgement (its `ack.sql`) walks the batch and finds each job by id, not
    // every job the worker ever ran through the index on `lock_by`.
    let plan = query(
        "EXPLAIN QUERY PLAN WITH j AS (SELECT value ->> 'task_id' AS task_id, value ->> 'attempt' AS attempt, \
           value ->> 'result' AS result, value ->> 'status' AS status FROM json_each('[]')) \
         UPDATE Jobs SET status = j.status, attempts = j.attempt, last_result = j.result, done_at = strftime('%s', 'now') \
         FROM j WHERE Jobs.id = j.task_id AND Jobs.lock_by = 'w1'",
    )
    .await
    .unwrap();
    let plan: Vec<String> = plan.iter().map(|row| row.try_get::<String>("", "detail").unwrap()).collect();
    assert!(plan.iter().any(|step| step.contains("sqlite_autoindex_Jobs")), "{plan:#?}");
    assert!(!plan.iter().any(|step| step.contains("offstage_jobs_lock_by")), "{plan:#?}");
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
        offstage::engine::queue::ACKNOWLEDGE
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
        sea_orm::sqlx::query(offstage::engine::queue::ACKNOWLEDGE).bind(&acks).bind("w1").execute(pool).await.unwrap();
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

#[tokio::test]
async fn on_postgresql_a_start_of_many_runs_wakes_the_workers_with_one_announcement_and_a_later_run_with_none() {
    if !postgres_configured() {
        return;
    }
    use offstage::engine::{NewRun, probe, runs};
    let app = TestApp::spawn_web_only(Backend::Postgres).await;
    let ws = app.create_workspace("Acme", &app.admin).await;
    let params = probe::Params::noop(&ws.id);
    let mut listener =
        sea_orm::sqlx::postgres::PgListener::connect_with(app.db.get_postgres_connection_pool()).await.unwrap();
    listener.listen("apalis::job::insert").await.unwrap();
    // Whatever creating the workspace announced.
    heard_within_half_a_second(&mut listener).await;

    let items = (0..300).map(|_| NewRun::of::<probe::Probe>(&params)).collect();
    let ids = runs::fan_out(&app.db, items, None).await.unwrap();
    let heard = heard_within_half_a_second(&mut listener).await;
    assert_eq!(heard.len(), 1, "one announcement for 300 runs started together: {heard:?}");
    assert_eq!(heard[0]["job_type"], "workflows");
    assert!(ids.iter().any(|id| heard[0]["id"] == id.to_string()), "it names one of the runs: {heard:?}");

    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    runs::start(&app.db, NewRun::of::<probe::Probe>(&params).at(later)).await.unwrap();
    let heard = heard_within_half_a_second(&mut listener).await;
    assert!(heard.is_empty(), "a run due in an hour wakes nobody now: {heard:?}");
}

/// The announcements `listener` hears until none comes for half a second.
async fn heard_within_half_a_second(listener: &mut sea_orm::sqlx::postgres::PgListener) -> Vec<serde_json::Value> {
    let mut heard = Vec::new();
    while let Ok(Ok(notification)) = tokio::time::timeout(std::time::Duration::from_millis(500), listener.recv()).await
    {
        heard.push(serde_json::from_str::<serde_json::Value>(notification.payload()).unwrap());
    }
    heard
}

/// The engine's scale test on SQLite, where one process runs web and workers: 10,000 runs are
/// each handed to a worker once, and a schedule firing every second meanwhile starts at most one
/// run per tick (`helpers::scale`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_one_process_executes_ten_thousand_runs_exactly_once_and_fires_each_tick_once() {
    use crate::helpers::scale;
    let app = TestApp::spawn(Backend::Sqlite).await;
    scale::record_handovers(&app).await;
    let ws = app.create_workspace("Acme", &app.admin).await;
    let every_second = scale::queue_runs_and_a_schedule_every_second(&app, &ws).await;
    scale::wait_until_all_ran(&app, every_second).await;
    scale::assert_each_run_executed_once(&app, &ws).await;
}
