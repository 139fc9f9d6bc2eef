//! The engine's scale test, on either database: 10,000 probe runs and a schedule firing every
//! second, with the database itself writing down every time a worker takes a run from the queue
//! (apalis marks it `Queued` for that worker), so a run taken twice would show as executed twice.

use std::time::{Duration, Instant};

use offstage::db::entities::{schedule, workflow_run, workspace};
use offstage::engine::runs::{self, RunFilter, RunStatus};
use offstage::engine::{NewRun, probe};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Statement};

use super::TestApp;

/// Starts recording hand-overs in a `handovers` table.
pub async fn record_handovers(app: &TestApp) {
    let sql = match app.db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            "CREATE TABLE handovers (job_id TEXT NOT NULL); \
             CREATE FUNCTION note_handover() RETURNS trigger LANGUAGE plpgsql AS \
               $$ BEGIN INSERT INTO handovers VALUES (NEW.id); RETURN NEW; END $$; \
             CREATE TRIGGER note_handover AFTER UPDATE OF status ON apalis.jobs FOR EACH ROW \
               WHEN (NEW.status = 'Queued' AND OLD.status IS DISTINCT FROM 'Queued' AND NEW.job_type = 'workflows') \
               EXECUTE FUNCTION note_handover();"
        }
        _ => {
            "CREATE TABLE handovers (job_id TEXT NOT NULL); \
             CREATE TRIGGER note_handover AFTER UPDATE OF status ON Jobs FOR EACH ROW \
               WHEN NEW.status = 'Queued' AND OLD.status IS NOT 'Queued' AND NEW.job_type = 'workflows' \
               BEGIN INSERT INTO handovers VALUES (NEW.id); END;"
        }
    };
    app.db.execute_unprepared(sql).await.unwrap();
}

/// Queues 10,000 probe runs of `ws` and creates a probe schedule firing every second (a global
/// one, the operator's: a workspace's own schedules fire at most once a minute).
pub async fn queue_runs_and_a_schedule_every_second(app: &TestApp, ws: &workspace::Model) -> schedule::Model {
    let params = probe::Params::noop(&ws.id);
    let items: Vec<NewRun> = (0..10_000).map(|_| NewRun::of::<probe::Probe>(&params)).collect();
    runs::fan_out(&app.db, items, None).await.unwrap();
    let every_second = offstage::engine::schedules::NewSchedule {
        workflow: app.workflows.find("probe").unwrap(),
        workspace: None,
        cron: offstage::domain::CronExpr::parse("* * * * * *").unwrap(),
        timezone: None,
        params: serde_json::json!({ "workspace_id": ws.id }),
        created_by: "test".into(),
    };
    offstage::engine::schedules::create(&app.db, every_second, &app.config.limits).await.unwrap()
}

/// Waits (at least 6 s, for a few ticks; at most 240 s) until nothing is due, then deletes the schedule and lets
/// its last tick finish, so nothing starts while the runs are counted. Returns the time taken.
pub async fn wait_until_all_ran(app: &TestApp, every_second: schedule::Model) -> Duration {
    let started = Instant::now();
    loop {
        let unfinished = offstage::engine::queue::due_within(&app.db, 60).await.unwrap();
        if unfinished == 0 && started.elapsed() > Duration::from_secs(6) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(240), "{unfinished} runs still unfinished");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let took = started.elapsed();
    offstage::engine::schedules::delete(&app.db, every_second).await.unwrap();
    app.drain_jobs().await;
    took
}

/// Every run of `ws` succeeded at its first attempt, and every due run was handed to a worker
/// exactly once; the schedule started at most one run per tick.
pub async fn assert_each_run_executed_once(app: &TestApp, ws: &workspace::Model) {
    let succeeded = RunFilter {
        workflow: Some("probe".into()),
        status: Some(RunStatus::Succeeded),
        limit: 1000,
        ..RunFilter::default()
    };
    assert!(runs::list(&app.db, &app.scope(ws), &succeeded).await.unwrap().iter().all(|r| r.attempts == 1));
    // Every run that was due (the workspace's onboarding emails are days ahead).
    let due = workflow_run::Entity::find()
        .filter(workflow_run::Column::ScheduledFor.lte(chrono::Utc::now()))
        .count(&app.db)
        .await
        .unwrap();
    assert!(due >= 10_003, "10,000 runs and the ticks: {due}");
    let count = |sql: &'static str| async move {
        let statement = Statement::from_string(app.db.get_database_backend(), sql);
        app.db.query_one_raw(statement).await.unwrap().unwrap().try_get::<i64>("", "n").unwrap()
    };
    let twice = count("SELECT COUNT(*) AS n FROM (SELECT job_id FROM handovers GROUP BY job_id HAVING COUNT(*) > 1) t");
    assert_eq!(twice.await, 0, "no run handed to a worker more than once");
    let executions = count("SELECT COUNT(*) AS n FROM handovers").await;
    assert_eq!(executions as u64, due, "every due run executed exactly once");

    let ticks: Vec<i64> = workflow_run::Entity::find()
        .filter(workflow_run::Column::Trigger.eq("schedule"))
        .order_by_asc(workflow_run::Column::ScheduledFor)
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .map(|run| run.scheduled_for.timestamp())
        .collect();
    assert!(ticks.len() >= 3, "the schedule fired a few times in 6 s: {ticks:?}");
    // A tick the clock reaches late is fired once, and the ones it passed meanwhile are not
    // caught up (as cron does): every second at most once.
    assert!(ticks.windows(2).all(|pair| pair[0] < pair[1]), "one run per tick: {ticks:?}");
}
