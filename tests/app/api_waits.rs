//! `"wait": true` without amplifying load: a run that does not start now is refused at once,
//! each API key holds only a few waits (429 with `Retry-After` beyond), waiters are woken when
//! their run ends, and while they wait they leave the database alone.

use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::on_both_databases;
use reqwest::{Method, StatusCode};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Statement};
use serde_json::json;

const HEALTH: &str = "/api/v1/workflows/refresh_workspace_health/runs";

async fn runs_started(app: &TestApp) -> u64 {
    offstage::db::entities::workflow_run::Entity::find()
        .filter(offstage::db::entities::workflow_run::Column::Trigger.eq("api"))
        .count(&app.db)
        .await
        .unwrap()
}

/// Waits until `n` runs were started over the API (bounded).
async fn until_started(app: &TestApp, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while runs_started(app).await < n {
        assert!(Instant::now() < deadline, "the waiting requests did not start their runs");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

on_both_databases! {
    async fn waiting_for_a_run_that_does_not_start_now_is_refused_at_once(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let key = app.api_key(&ws).await;
        let started = Instant::now();
        let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
        let (status, body) = app.api(Method::POST, &key, HEALTH, Some(json!({ "wait": true, "run_at": later }))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().starts_with("wait:"), "{body}");
        assert!(started.elapsed() < Duration::from_secs(5), "answered at once, not after the wait's 30 s");
        assert_eq!(runs_started(&app).await, 0, "nothing started");
    }
}

/// Web processes only: the runs wait for workers that are not there, so the requests wait.
async fn waits_held_open(backend: Backend) {
    let app = TestApp::spawn_web_only_with(backend, |config| config.limits.api_waits_per_key = 2).await;
    let ws = app.create_workspace("Acme", &app.admin).await;
    let key = app.api_key(&ws).await;
    let held = tokio::spawn({
        let (url, key) = (app.url(HEALTH), key.clone());
        async move {
            let one = || async {
                let response = reqwest::Client::new()
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&json!({ "wait": true }))
                    .send()
                    .await
                    .unwrap();
                let ended = Instant::now();
                (response.status(), response.json::<serde_json::Value>().await.unwrap(), ended)
            };
            tokio::join!(one(), one())
        }
    });
    until_started(&app, 2).await;
    let refused =
        app.anonymous().post(app.url(HEALTH)).bearer_auth(&key).json(&json!({ "wait": true })).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(runs_started(&app).await, 2, "the refused request started nothing");
    let (_, listed) = app.api(Method::GET, &key, "/api/v1/runs?workflow=refresh_workspace_health", None).await;
    // From the last cancellation sent: the last waiter cannot end before its run is cancelled.
    let mut cancelled_at = Instant::now();
    for run in listed["runs"].as_array().unwrap() {
        cancelled_at = Instant::now();
        let (status, _) =
            app.api(Method::POST, &key, &format!("/api/v1/runs/{}/cancel", run["id"].as_str().unwrap()), None).await;
        assert_eq!(status, StatusCode::OK);
    }
    let ((first, first_run, first_end), (second, second_run, second_end)) = held.await.unwrap();
    assert_eq!((first, second), (StatusCode::OK, StatusCode::OK));
    assert_eq!((first_run["status"].as_str(), second_run["status"].as_str()), (Some("cancelled"), Some("cancelled")));
    let woken = first_end.max(second_end).duration_since(cancelled_at);
    assert!(woken < Duration::from_millis(300), "the waiters were woken by the cancellation, not a poll: {woken:?}");
    let (status, _) = app.api(Method::POST, &key, HEALTH, Some(json!({}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "runs without wait are not limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_an_api_key_holds_only_its_limit_of_waits_and_a_cancellation_wakes_them() {
    waits_held_open(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_an_api_key_holds_only_its_limit_of_waits_and_a_cancellation_wakes_them() {
    if !postgres_configured() {
        return;
    }
    waits_held_open(Backend::Postgres).await;
}

/// Transactions PostgreSQL has counted for the app's database.
async fn transactions(app: &TestApp) -> i64 {
    let sql = "SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()";
    app.db.execute_unprepared("SELECT pg_stat_clear_snapshot()").await.unwrap();
    let row = app.db.query_one_raw(Statement::from_string(sea_orm::DbBackend::Postgres, sql)).await.unwrap().unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// Ten requests waiting four seconds: 2,000 reads of their runs at one every 20 ms; now a few.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_waiting_requests_leave_the_database_alone_until_their_runs_end() {
    if !postgres_configured() {
        return;
    }
    let app = TestApp::spawn_web_only(Backend::Postgres).await;
    let ws = app.create_workspace("Acme", &app.admin).await;
    let key = app.api_key(&ws).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = transactions(&app).await;
    let waits = (0..10).map(|_| async {
        let response = reqwest::Client::new()
            .post(app.url(HEALTH))
            .bearer_auth(&key)
            .json(&json!({ "wait": true }))
            .send()
            .await
            .unwrap();
        response.status()
    });
    let waiting = futures::future::join_all(waits);
    let cancelling = async {
        until_started(&app, 10).await;
        tokio::time::sleep(Duration::from_secs(4)).await;
        let (_, listed) = app.api(Method::GET, &key, "/api/v1/runs?workflow=refresh_workspace_health", None).await;
        for run in listed["runs"].as_array().unwrap() {
            app.api(Method::POST, &key, &format!("/api/v1/runs/{}/cancel", run["id"].as_str().unwrap()), None).await;
        }
    };
    let (statuses, ()) = tokio::join!(waiting, cancelling);
    assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
    // Backends report their counts within a second or so of going idle.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let spent = transactions(&app).await - before;
    assert!(spent < 400, "{spent} transactions while ten requests waited four seconds");
}
