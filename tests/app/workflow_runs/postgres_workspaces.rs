//! Runs and their workspace on PostgreSQL, where a statement's runs check their workspaces once
//! (migration `m20261205_000033`) instead of a foreign key checking each run: a start and a
//! deletion of its workspace that overlap end as they did with the key.

use std::time::Duration;

use offstage::engine::runs;
use offstage::engine::{NewRun, probe};
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};

use crate::helpers::{Backend, TestApp, count, postgres_configured};

fn probe_of(workspace_id: &str) -> NewRun {
    NewRun::of::<probe::Probe>(&probe::Params::noop(workspace_id))
}

/// Waits until some session of this database waits for a lock (the task under test, blocked by
/// the test's open transaction); fails after 10 s.
async fn until_a_session_waits_for_a_lock(db: &DatabaseConnection) {
    let waiting = "SELECT COUNT(*) AS n FROM pg_stat_activity \
        WHERE datname = current_database() AND wait_event_type = 'Lock'";
    for _ in 0..200 {
        if count(db, waiting).await > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no session waited for a lock within 10 s");
}

async fn runs_of(db: &DatabaseConnection, workspace_id: &str) -> i64 {
    count(db, &format!("SELECT COUNT(*) AS n FROM workflow_runs WHERE workspace_id = '{workspace_id}'")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_start_waits_for_its_workspace_being_deleted_and_is_then_refused_without_a_trace() {
    if !postgres_configured() {
        return;
    }
    let app = TestApp::spawn_web_only(Backend::Postgres).await;
    let ws = app.create_workspace("Going", &app.admin).await;
    let jobs_of_ws = format!("SELECT COUNT(*) AS n FROM apalis.jobs WHERE lane = '{}'", ws.id);
    let jobs_before = count(&app.db, &jobs_of_ws).await;
    let deleting = app.db.begin().await.unwrap();
    deleting.execute_unprepared(&format!("DELETE FROM workspaces WHERE id = '{}'", ws.id)).await.unwrap();
    let db = app.db.clone();
    let news: Vec<NewRun> = (0..3).map(|_| probe_of(&ws.id)).collect();
    let start = tokio::spawn(async move { runs::start_batch(&db, &news).await });
    until_a_session_waits_for_a_lock(&app.db).await;
    assert!(!start.is_finished(), "the start waits for the deletion's lock on the workspace");
    deleting.commit().await.unwrap();
    let refused = start.await.unwrap();
    assert!(
        matches!(&refused, Err(offstage::engine::Error::Invalid(message)) if message.starts_with("workspace_id")),
        "{refused:?}"
    );
    assert_eq!(runs_of(&app.db, &ws.id).await, 0);
    assert_eq!(count(&app.db, &jobs_of_ws).await, jobs_before, "the runs' jobs were not written either");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_workspace_deleted_while_its_runs_start_waits_for_them_and_takes_them_along() {
    if !postgres_configured() {
        return;
    }
    let app = TestApp::spawn_web_only(Backend::Postgres).await;
    let ws = app.create_workspace("Going", &app.admin).await;
    let kept = app.create_workspace("Staying", &app.admin).await;
    let kept_before = runs_of(&app.db, &kept.id).await;
    let starting = offstage::db::begin_write(&app.db).await.unwrap();
    let news = [probe_of(&ws.id), probe_of(&ws.id), probe_of(&kept.id)];
    runs::start_batch_in(&starting, &news).await.unwrap();
    let db = app.db.clone();
    let id = ws.id.clone();
    let deletion =
        tokio::spawn(async move { db.execute_unprepared(&format!("DELETE FROM workspaces WHERE id = '{id}'")).await });
    until_a_session_waits_for_a_lock(&app.db).await;
    assert!(!deletion.is_finished(), "the deletion waits for the start that holds the workspace");
    starting.commit().await.unwrap();
    deletion.await.unwrap().unwrap();
    assert_eq!(runs_of(&app.db, &ws.id).await, 0, "the runs committed first went with their workspace");
    assert_eq!(runs_of(&app.db, &kept.id).await, kept_before + 1, "another workspace's run stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_run_cannot_be_moved_to_another_workspace() {
    if !postgres_configured() {
        return;
    }
    let app = TestApp::spawn_web_only(Backend::Postgres).await;
    let (ws, other) = (app.create_workspace("Acme", &app.admin).await, app.create_workspace("Other", &app.admin).await);
    let (ws_before, other_before) = (runs_of(&app.db, &ws.id).await, runs_of(&app.db, &other.id).await);
    let run = runs::start(&app.db, probe_of(&ws.id)).await.unwrap();
    let moved = app
        .db
        .execute_unprepared(&format!("UPDATE workflow_runs SET workspace_id = '{}' WHERE id = '{}'", other.id, run.id))
        .await;
    assert!(offstage::db::is_foreign_key_violation(&moved.unwrap_err()), "refused: a run stays in its workspace");
    assert_eq!(runs_of(&app.db, &ws.id).await, ws_before + 1);
    assert_eq!(runs_of(&app.db, &other.id).await, other_before);
    let same = format!("UPDATE workflow_runs SET workspace_id = '{}' WHERE id = '{}'", ws.id, run.id);
    let unchanged = app.db.execute_unprepared(&same).await.unwrap();
    assert_eq!(unchanged.rows_affected(), 1, "writing the same workspace again is no move");
}
