//! `GET /healthz` and `GET /readyz`.

use crate::on_both_databases;
use migrations::MigratorTrait;
use reqwest::StatusCode;

/// `/readyz` until it answers 200 (a process's workers register just after it starts), bounded.
async fn ready(app: &crate::helpers::TestApp) -> serde_json::Value {
    for _ in 0..100 {
        let response = app.anonymous().get(app.url("/readyz")).send().await.unwrap();
        if response.status() == StatusCode::OK {
            return response.json().await.unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("/readyz did not answer 200 within 10 s");
}

on_both_databases! {
    async fn ready_once_migrated_and_its_workers_beat_and_not_ready_while_a_migration_is_pending(app: TestApp) {
        let body = ready(&app).await;
        assert_eq!(body["status"], "ready");
        assert_eq!(body["database"], "ok");
        assert_eq!(body["migrations"], "ok");
        assert_eq!(body["workers"], "ok", "this process runs workers, and they beat");

        migrations::Migrator::down(&app.db, Some(1)).await.unwrap();
        let response = app.anonymous().get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["status"], "not ready");
        assert_eq!(body["migrations"], "pending: run offstage migrate");
        migrations::Migrator::up(&app.db, None).await.unwrap();
        assert_eq!(ready(&app).await["migrations"], "ok");
    }

    async fn health_reports_the_database_and_the_queue_as_ok(app: TestApp) {
        let response = app.anonymous().get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["status"], "ok");
        assert_eq!(body["database"], "ok");
        assert_eq!(body["queue"], "ok");
    }
}

/// A real outage: PostgreSQL refuses new connections and drops the open ones. (An SQLite file
/// cannot go away under a process that has it open, so this one runs on PostgreSQL.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_503_when_postgresql_is_unreachable() {
    if !crate::helpers::postgres_configured() {
        return;
    }
    let app = crate::helpers::TestApp::spawn(crate::helpers::Backend::Postgres).await;
    let name = app.pg_database();
    crate::helpers::pg::admin_exec(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).await;
    app.drop_postgres_connections().await;
    let response = app.anonymous().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["database"], "unavailable");
    assert_eq!(body["status"], "unavailable");
    crate::helpers::pg::admin_exec(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).await;
}

/// PostgreSQL drops every open connection (a restart, a failover) and takes new ones at once.
/// A pooled connection is pinged before use only after `db::PING_WHEN_IDLE_FOR` idle, so a
/// request may be given a broken one: it fails, and the pool closes that connection. At most one
/// request per pooled connection fails that way; then the process answers, and its workers run
/// what is started, as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_postgresql_drops_every_connection_requests_are_answered_and_runs_run_again() {
    use offstage::db::entities::activity;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    if !crate::helpers::postgres_configured() {
        return;
    }
    let app = crate::helpers::TestApp::spawn(crate::helpers::Backend::Postgres).await;
    app.drain_jobs().await;
    app.drop_postgres_connections().await;
    let mut answers = Vec::new();
    for _ in 0..40 {
        answers.push(app.anonymous().get(app.url("/healthz")).send().await.unwrap().status());
    }
    let pool_size = offstage::db::POSTGRES_CONNECTIONS as usize;
    assert!(
        answers[pool_size..].iter().all(|status| *status == StatusCode::OK),
        "a request failed after every pooled connection had its chance: {answers:?}"
    );
    // Creating a workspace starts a run that records it; the workers run it.
    let ws = app.create_workspace("Acme", &app.admin).await;
    app.drain_jobs().await;
    let recorded = activity::Entity::find()
        .filter(activity::Column::WorkspaceId.eq(&ws.id))
        .filter(activity::Column::Kind.eq("workspace.created"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(recorded.len(), 1, "the run started after the drop did not run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_only_process_is_ready_without_workers_of_its_own() {
    let app = crate::helpers::TestApp::spawn_web_only(crate::helpers::Backend::Sqlite).await;
    let body = ready(&app).await;
    assert_eq!(body["workers"], "not run by this process");
}
