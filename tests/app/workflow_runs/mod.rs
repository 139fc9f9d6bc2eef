//! The workflow engine through the API: starting runs (now, later, idempotently, waiting for
//! the output), retries with backoff, skips, failures and manual retry, cancellation by id and
//! by business key, and workspace isolation.

use crate::helpers::*;
use crate::on_both_databases;
use chrono::{Duration, Utc};
use offstage::domain::RunId;
use offstage::engine::runs::{self, RunStatus};
use offstage::engine::{NewRun, probe};
use offstage::error::AppError;
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

mod postgres_workers;
mod postgres_workspaces;

async fn timeline_of(app: &TestApp, id: &str) -> Vec<runs::TimelineEntry> {
    let run =
        runs::get(&app.db, &RunId::from(id), &offstage::tenancy::Platform::system()).await.unwrap().expect("the run");
    runs::timeline(&app.db, &run).await.unwrap()
}

async fn setup(app: &TestApp) -> (offstage::db::entities::workspace::Model, String) {
    let ws = app.create_workspace("Acme", &app.admin).await;
    let key = app.api_key(&ws).await;
    (ws, key)
}

fn kinds(run: &serde_json::Value) -> Vec<String> {
    run["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect()
}

/// Starts a probe run of `ws` as the operator would (API keys are not offered `probe`); returns its id.
async fn start_probe(app: &TestApp, ws: &offstage::db::entities::workspace::Model, params: serde_json::Value) -> RunId {
    let mut params = params;
    params["workspace_id"] = json!(ws.id);
    runs::start(&app.db, NewRun::named(&app.workflows, "probe", params).unwrap()).await.unwrap().id
}

on_both_databases! {
    async fn the_api_lists_runnable_workflows_with_their_parameter_schemas(app: TestApp) {
        let (_, key) = setup(&app).await;
        let (status, body) = app.api(Method::GET, &key, "/api/v1/workflows", None).await;
        assert_eq!(status, StatusCode::OK);
        let names: Vec<&str> = body["workflows"].as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"refresh_workspace_health"));
        assert!(!names.contains(&"record_workspace_created"), "internal workflows are not offered");
        assert!(!names.contains(&"probe"), "operator tools are not offered");
        let health = body["workflows"].as_array().unwrap().iter().find(|w| w["name"] == "refresh_workspace_health").unwrap();
        assert!(health["params_schema"]["properties"]["workspace_id"].is_object());
        assert!(health["description"].as_str().unwrap().len() > 10);
    }

    async fn a_run_started_with_wait_returns_its_output(app: TestApp) {
        let (ws, key) = setup(&app).await;
        let body = json!({ "wait": true });
        let (status, run) = app.api(Method::POST, &key, "/api/v1/workflows/refresh_workspace_health/runs", Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{run}");
        assert_eq!(run["status"], "succeeded");
        assert!(run["output"]["score"].is_number(), "{run}");
        assert_eq!(run["params"]["workspace_id"], ws.id, "the key's workspace is filled in");
        assert_eq!(run["attempts"], 1);
        assert!(run["finished_at"].is_string() && run["started_at"].is_string());
        assert_eq!(run["workflow"], "refresh_workspace_health");
        let (status, shown) = app.api(Method::GET, &key, &format!("/api/v1/runs/{}", run["id"].as_str().unwrap()), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(run, shown, "the same shape as GET /api/v1/runs/{{id}}, timeline included");
        assert!(!run["events"].as_array().unwrap().is_empty(), "{run}");
    }

    async fn a_run_is_accepted_then_runs_and_keeps_a_timeline(app: TestApp) {
        let (_, key) = setup(&app).await;
        let (status, run) = app.api(Method::POST, &key, "/api/v1/workflows/refresh_workspace_health/runs", Some(json!({}))).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert!(["queued", "running", "succeeded"].contains(&run["status"].as_str().unwrap()), "{run}");
        let done = app.finished_run(&key, run["id"].as_str().unwrap()).await;
        assert_eq!(done["status"], "succeeded");
        assert_eq!(kinds(&done), ["created", "started", "succeeded"]);
    }

    async fn failed_attempts_are_retried_with_backoff_until_one_succeeds(app: TestApp) {
        let (ws, key) = setup(&app).await;
        let id = start_probe(&app, &ws, json!({ "fail_attempts": 2 })).await;
        let run = app.finished_run(&key, &id).await;
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["attempts"], 3);
        assert_eq!(run["output"]["attempt"], 3);
        assert_eq!(kinds(&run), ["created", "started", "attempt_failed", "started", "attempt_failed", "started", "succeeded"]);
        let message = run["events"][2]["message"].as_str().unwrap();
        assert!(message.contains("Attempt 1 failed: probe failing attempt 1") && message.contains("Next attempt at"), "{message}");
    }

    async fn a_run_that_exhausts_its_attempts_fails_and_can_be_retried_by_hand(app: TestApp) {
        let (ws, key) = setup(&app).await;
        let id = start_probe(&app, &ws, json!({ "fail_attempts": 4 })).await;
        let run = app.finished_run(&key, &id).await;
        assert_eq!(run["status"], "failed", "{run}");
        assert_eq!(run["attempts"], 3);
        assert_eq!(run["error"], "probe failing attempt 3 of the first 4 on purpose");
        let (status, retried) = app.api(Method::POST, &key, &format!("/api/v1/runs/{id}/retry"), None).await;
        assert_eq!(status, StatusCode::OK, "{retried}");
        assert_eq!(retried["status"], "queued");
        let done = app.finished_run(&key, &id).await;
        assert_eq!(done["status"], "succeeded", "attempt 5 succeeds");
        assert_eq!(done["attempts"], 5);
        let before_and_after_the_retry = [
            "created", "started", "attempt_failed", "started", "attempt_failed", "started", "failed", "retried",
            "started", "succeeded",
        ];
        assert_eq!(kinds(&done), before_and_after_the_retry, "{done}");
        let failed = done["events"][6]["message"].as_str().unwrap();
        assert_eq!(failed, "Failed after 3 attempts: probe failing attempt 3 of the first 4 on purpose");
        assert!(done["events"][7]["message"].as_str().unwrap().contains("API key “Test key”"), "{done}");
        let (status, again) = app.api(Method::POST, &key, &format!("/api/v1/runs/{id}/retry"), None).await;
        assert_eq!(status, StatusCode::CONFLICT, "only failed runs are retried: {again}");
    }

    async fn a_run_whose_condition_is_false_is_skipped_with_the_reason(app: TestApp) {
        let (ws, key) = setup(&app).await;
        let id = start_probe(&app, &ws, json!({ "skip": true })).await;
        let run = app.finished_run(&key, &id).await;
        assert_eq!(run["status"], "skipped", "{run}");
        assert_eq!(run["skipped"]["condition"], "skip is false");
        assert_eq!(run["skipped"]["observed"], json!({ "skip": true }));
        assert_eq!(run["error"], serde_json::Value::Null);
    }

    async fn a_scheduled_run_never_starts_before_its_time_even_mid_second(app: TestApp) {
        let (_, key) = setup(&app).await;
        // Mid-second: SQLite's queue keeps whole seconds and hands the run over early; the
        // worker waits out the rest. (How late runs start is the benchmark's figure.)
        let next_second = Utc::now().timestamp() + 2;
        let at = chrono::DateTime::from_timestamp(next_second, 700_000_000).unwrap();
        let body = json!({ "run_at": at.to_rfc3339() });
        let (status, run) = app.api(Method::POST, &key, "/api/v1/workflows/refresh_workspace_health/runs", Some(body)).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(run["status"], "scheduled");
        let id = run["id"].as_str().unwrap();
        let done = app.finished_run(&key, id).await;
        assert_eq!(done["status"], "succeeded");
        let timeline = timeline_of(&app, id).await;
        let started = timeline.iter().find(|event| event.kind == "started").expect("a started event").at;
        assert!(started >= at, "started {started}, due {at}");
    }

    async fn an_attempt_that_outlives_its_workflows_timeout_fails_and_is_retried(app: TestApp) {
        let (ws, key) = setup(&app).await;
        let id = start_probe(&app, &ws, json!({ "sleep_ms": 5_000 })).await;
        let started = std::time::Instant::now();
        let failure = loop {
            let timeline = timeline_of(&app, &id).await;
            if let Some(event) = timeline.into_iter().find(|event| event.kind == "attempt_failed") {
                break event;
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(20), "the first attempt never failed");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert!(failure.message.starts_with("Attempt 1 failed: timed out after 4 s"), "{}", failure.message);
        let timeline = timeline_of(&app, &id).await;
        let attempt_started = timeline.iter().find(|event| event.kind == "started").expect("a started event").at;
        assert!(failure.at - attempt_started >= Duration::seconds(4), "cut before its timeout");
        let (_, now) = app.api(Method::GET, &key, &format!("/api/v1/runs/{id}"), None).await;
        assert!(["queued", "scheduled", "running"].contains(&now["status"].as_str().unwrap()), "{now}");
    }

    async fn a_run_for_a_workspace_that_does_not_exist_is_refused(app: TestApp) {
        use offstage::workspaces::workflows::refresh_workspace_health::{Params, RefreshWorkspaceHealth};
        let params = Params { workspace_id: "ws_01nosuchworkspace".into() };
        let refused = runs::start(&app.db, NewRun::of::<RefreshWorkspaceHealth>(&params)).await.map_err(AppError::from);
        assert!(matches!(&refused, Err(AppError::Unprocessable(m)) if m.starts_with("workspace_id")), "{refused:?}");
    }

    async fn a_batch_naming_a_workspace_that_does_not_exist_starts_none_of_its_runs(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        // Marked, so that the runs a new workspace starts by itself are not counted.
        let news: Vec<NewRun> = [ws.id.as_str(), "ws_01nosuchworkspace", ws.id.as_str()]
            .into_iter()
            .map(|id| NewRun::named(&app.workflows, "probe", json!({ "workspace_id": id, "value": "batch-marker" })).unwrap())
            .collect();
        let refused = runs::start_batch(&app.db, &news).await.map_err(AppError::from);
        assert!(matches!(&refused, Err(AppError::Unprocessable(m)) if m.starts_with("workspace_id")), "{refused:?}");
        let marked = count(&app.db, "SELECT COUNT(*) AS n FROM workflow_runs WHERE params LIKE '%batch-marker%'").await;
        assert_eq!(marked, 0, "the existing workspace's runs were not started either");
    }

    async fn a_queued_run_whose_workspace_was_deleted_is_skipped_when_it_reads_the_workspace(app: TestApp) {
        use offstage::workspaces::workflows::refresh_workspace_health::{Params, RefreshWorkspaceHealth};
        let ws = app.create_workspace("Gone", &app.admin).await;
        let params = Params { workspace_id: ws.id.clone() };
        let later = Utc::now() + Duration::hours(1);
        let run = runs::start(&app.db, NewRun::of::<RefreshWorkspaceHealth>(&params).at(later)).await.unwrap();
        // The run's own row goes with the workspace; its job stays queued.
        app.db.execute_unprepared(&format!("DELETE FROM workspaces WHERE id = '{}'", ws.id)).await.unwrap();
        let gone = runs::get(&app.db, &run.id, &offstage::tenancy::Platform::system()).await.unwrap();
        assert!(gone.is_none(), "the run's row went with its workspace: {gone:?}");
        offstage::engine::queue::advance_clock(&app.db, 3600).await.unwrap();
        app.drain_jobs_due().await;
        let table = app.jobs_table();
        let sql = format!("SELECT status, CAST(last_result AS TEXT) AS result FROM {table} WHERE id = '{}'", run.id);
        let row = app.db.query_one_raw(Statement::from_string(app.db.get_database_backend(), sql)).await.unwrap().unwrap();
        assert_eq!(row.try_get::<String>("", "status").unwrap(), "Done");
        let result: serde_json::Value = serde_json::from_str(&row.try_get::<String>("", "result").unwrap()).unwrap();
        assert_eq!(result["Ok"]["outcome"], "skipped", "{result}");
        assert_eq!(result["Ok"]["skipped"]["condition"], "the workspace exists");
        assert_eq!(result["Ok"]["skipped"]["observed"], json!({ "workspace_id": ws.id, "exists": false }));
    }

    async fn a_pending_run_can_be_cancelled_once_and_then_never_runs(app: TestApp) {
        let (_, key) = setup(&app).await;
        let body = json!({ "run_at": (Utc::now() + Duration::hours(1)).to_rfc3339() });
        let (_, run) = app.api(Method::POST, &key, "/api/v1/workflows/refresh_workspace_health/runs", Some(body)).await;
        let path = format!("/api/v1/runs/{}/cancel", run["id"].as_str().unwrap());
        let (status, cancelled) = app.api(Method::POST, &key, &path, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(cancelled["status"], "cancelled");
        assert!(cancelled["error"].as_str().unwrap().starts_with("cancelled by API key"));
        let (status, again) = app.api(Method::POST, &key, &path, None).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(again["error"]["code"], "conflict");
        let (_, finished) = app.api(Method::POST, &key, "/api/v1/workflows/refresh_workspace_health/runs", Some(json!({ "wait": true }))).await;
        let (status, _) = app.api(Method::POST, &key, &format!("/api/v1/runs/{}/cancel", finished["id"].as_str().unwrap()), None).await;
        assert_eq!(status, StatusCode::CONFLICT, "a finished run cannot be cancelled");
    }

    async fn the_same_idempotency_key_returns_the_same_run(app: TestApp) {
        let (ws, key) = setup(&app).await;
        let body = json!({ "idempotency_key": "order-42" });
        let path = "/api/v1/workflows/refresh_workspace_health/runs";
        let (first_status, first) = app.api(Method::POST, &key, path, Some(body.clone())).await;
        let (second_status, second) = app.api(Method::POST, &key, path, Some(body)).await;
        assert_eq!((first_status, second_status), (StatusCode::ACCEPTED, StatusCode::OK));
        assert_eq!(first["id"], second["id"]);
        let filter = runs::RunFilter { workflow: Some("refresh_workspace_health".into()), limit: 10, ..Default::default() };
        let started: Vec<_> = runs::list(&app.db, &app.scope(&ws), &filter).await.unwrap();
        assert_eq!(started.iter().filter(|r| r.trigger == "api").count(), 1);
    }

    async fn bad_requests_name_what_is_wrong_and_start_nothing(app: TestApp) {
        let (ws, key) = setup(&app).await;
        let health = "/api/v1/workflows/refresh_workspace_health/runs";
        let cases = [
            (health, json!({ "params": { "workspace_id": 7 } }), StatusCode::NOT_FOUND, "Not found"),
            (health, json!({ "params": { "colour": "red" } }), StatusCode::UNPROCESSABLE_ENTITY, "colour"),
            (health, json!({ "params": [1, 2] }), StatusCode::UNPROCESSABLE_ENTITY, "params"),
            (health, json!({ "run_at": "tomorrow" }), StatusCode::UNPROCESSABLE_ENTITY, "run_at"),
            (health, json!({ "wait": "yes" }), StatusCode::UNPROCESSABLE_ENTITY, "wait"),
            (health, json!({ "idempotency_key": "" }), StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key"),
            (health, json!({ "idempotency_key": "é".repeat(201) }), StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key"),
            ("/api/v1/workflows/nope/runs", json!({}), StatusCode::NOT_FOUND, "Not found"),
            ("/api/v1/workflows/record_workspace_created/runs", json!({}), StatusCode::NOT_FOUND, "Not found"),
            ("/api/v1/workflows/probe/runs", json!({}), StatusCode::NOT_FOUND, "Not found"),
        ];
        for (path, body, expected, mentions) in cases {
            let (status, answer) = app.api(Method::POST, &key, path, Some(body.clone())).await;
            assert_eq!(status, expected, "{body}: {answer}");
            assert!(answer["error"]["message"].as_str().unwrap().contains(mentions), "{body}: {answer}");
        }
        // A body of whitespace alone is not JSON; no body at all starts with the defaults.
        for (body, expected) in [(" ", StatusCode::BAD_REQUEST), ("\n\t", StatusCode::BAD_REQUEST), ("", StatusCode::ACCEPTED)] {
            let answer = reqwest::Client::new()
                .post(app.url(health))
                .bearer_auth(&key)
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), expected, "body {body:?}");
        }
        let (status, _) = app.api(Method::POST, &key, health, Some(json!({ "idempotency_key": "é".repeat(200) }))).await;
        assert_eq!(status, StatusCode::ACCEPTED, "200 characters are fine, whatever their bytes");
        let filter = runs::RunFilter { workflow: Some("probe".into()), limit: 10, ..Default::default() };
        assert!(runs::list(&app.db, &app.scope(&ws), &filter).await.unwrap().is_empty());
    }

    async fn runs_belong_to_the_keys_workspace_only(app: TestApp) {
        let (ws_a, key_a) = setup(&app).await;
        let ws_b = app.create_workspace("Beta", &app.admin).await;
        let key_b = app.api_key(&ws_b).await;
        let later = json!({ "run_at": (Utc::now() + Duration::hours(1)).to_rfc3339() });
        let (_, run) = app.api(Method::POST, &key_a, "/api/v1/workflows/refresh_workspace_health/runs", Some(later)).await;
        let path = format!("/api/v1/runs/{}", run["id"].as_str().unwrap());
        assert_eq!(app.api(Method::GET, &key_b, &path, None).await.0, StatusCode::NOT_FOUND);
        assert_eq!(app.api(Method::POST, &key_b, &format!("{path}/cancel"), None).await.0, StatusCode::NOT_FOUND);
        let (_, listed) = app.api(Method::GET, &key_b, "/api/v1/runs", None).await;
        assert!(listed["runs"].as_array().unwrap().iter().all(|r| r["workspace_id"] == ws_b.id));
        let other = json!({ "params": { "workspace_id": ws_a.id } });
        assert_eq!(app.api(Method::POST, &key_b, "/api/v1/workflows/refresh_workspace_health/runs", Some(other)).await.0, StatusCode::NOT_FOUND);
        assert_eq!(app.api(Method::GET, &key_a, &path, None).await.0, StatusCode::OK);
    }

    async fn runs_are_listed_newest_first_and_filtered(app: TestApp) {
        let (ws, key) = setup(&app).await;
        let health = "/api/v1/workflows/refresh_workspace_health/runs";
        app.api(Method::POST, &key, health, Some(json!({ "wait": true }))).await;
        let skipped = start_probe(&app, &ws, json!({ "skip": true })).await;
        app.finished_run(&key, &skipped).await;
        let later = json!({ "run_at": (Utc::now() + Duration::hours(1)).to_rfc3339() });
        let (_, scheduled) = app.api(Method::POST, &key, health, Some(later)).await;
        let (_, all) = app.api(Method::GET, &key, "/api/v1/runs?workflow=refresh_workspace_health", None).await;
        let all = all["runs"].as_array().unwrap().clone();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0]["id"], scheduled["id"], "newest first");
        let (_, skipped) = app.api(Method::GET, &key, "/api/v1/runs?status=skipped", None).await;
        assert_eq!(skipped["runs"].as_array().unwrap().len(), 1);
        let (_, limited) = app.api(Method::GET, &key, "/api/v1/runs?limit=1", None).await;
        assert_eq!(limited["runs"].as_array().unwrap().len(), 1);
        let (status, bad) = app.api(Method::GET, &key, "/api/v1/runs?status=done", None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad["error"]["message"].as_str().unwrap().contains("not a run status"));
    }

    async fn pending_runs_are_cancelled_together_by_business_key(app: TestApp) {
        let (ws, _) = setup(&app).await;
        let later = Utc::now() + Duration::hours(1);
        let params = probe::Params::noop(&ws.id);
        for key in ["reminder:acme", "reminder:acme", "other"] {
            runs::start(&app.db, NewRun::of::<probe::Probe>(&params).at(later).business_key(key)).await.unwrap();
        }
        let cancelled = runs::cancel_by_business_key(&app.db, &app.scope(&ws), "reminder:acme", "the billing sync").await.unwrap();
        assert_eq!(cancelled, 2);
        let filter = runs::RunFilter { workflow: Some("probe".into()), limit: 10, ..Default::default() };
        let statuses: Vec<RunStatus> = runs::list(&app.db, &app.scope(&ws), &filter).await.unwrap().into_iter().map(|r| r.status).collect();
        assert_eq!(statuses.iter().filter(|s| **s == RunStatus::Cancelled).count(), 2);
        assert_eq!(statuses.iter().filter(|s| **s == RunStatus::Scheduled).count(), 1);
    }

    async fn the_openapi_document_describes_every_workflow_from_the_registry(app: TestApp) {
        let response = app.anonymous().get(app.url("/api/v1/openapi.json")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let doc: serde_json::Value = response.json().await.unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let health = &doc["paths"]["/workflows/refresh_workspace_health/runs"]["post"];
        let body = &health["requestBody"]["content"]["application/json"]["schema"];
        let params = &body["properties"]["params"]["anyOf"][0];
        assert!(params["properties"]["workspace_id"].is_object(), "{params}");
        assert_eq!(params["required"], json!([]), "the key's workspace is filled in");
        assert_eq!(body["properties"]["idempotency_key"]["maxLength"], 200);
        assert!(doc["paths"]["/workflows/record_workspace_created/runs"].is_null(), "internal workflows are not documented");
        assert!(doc["paths"]["/workflows/probe/runs"].is_null(), "operator tools are not documented");
        assert!(doc["paths"]["/runs/{id}/cancel"]["post"]["responses"]["409"].is_object());
        for status in ["400", "401", "404", "422", "429"] {
            assert!(health["responses"][status].is_object(), "{status} is documented");
        }
    }

    async fn methods_a_path_does_not_have_are_405_with_the_allowed_ones(app: TestApp) {
        let (_, key) = setup(&app).await;
        for (method, path, allowed) in [
            (Method::DELETE, "/api/v1/runs/01ANY", "GET"),
            (Method::PUT, "/api/v1/workspace", "GET"),
            (Method::GET, "/api/v1/workflows/refresh_workspace_health/runs", "POST"),
        ] {
            let response = app.anonymous().request(method.clone(), app.url(path)).bearer_auth(&key).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_eq!(response.headers()["allow"], allowed, "{method} {path}");
        }
    }
}
