//! `GET /healthz`.

use crate::on_both_databases;
use reqwest::StatusCode;

on_both_databases! {
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
    let name = app.database_url.rsplit('/').next().unwrap().to_owned();
    crate::helpers::pg::admin_exec(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).await;
    crate::helpers::pg::admin_exec(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .await;
    let response = app.anonymous().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["database"], "unavailable");
    assert_eq!(body["status"], "unavailable");
    crate::helpers::pg::admin_exec(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).await;
}
