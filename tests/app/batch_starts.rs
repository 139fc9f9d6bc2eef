//! `POST /api/v1/workflows/{name}/runs/batch`: up to 1,000 runs in one request, all or none. A
//! bad item refuses the whole batch with a 422 naming its index and field; the answer keeps the
//! items' order; a repeated idempotency key (earlier, or within the batch) answers with the first
//! run as a duplicate; another workspace's id is as unknown as any. Under the API, one batch
//! across workspaces (a schedule's) finds each workspace's earlier keys, and no other's, and a
//! batch without keys (one statement on PostgreSQL, with no transaction of its own) is still
//! all or none.

use crate::helpers::*;
use crate::on_both_databases;
use offstage::db::entities::workflow_run;
use offstage::engine::{NewRun, Workflow, probe, runs};
use offstage::tenancy::Platform;
use offstage::workspaces::workflows::refresh_workspace_health::{Params, RefreshWorkspaceHealth};
use reqwest::{Method, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

const BATCH: &str = "/api/v1/workflows/refresh_workspace_health/runs/batch";

/// Runs started over the API (a new workspace's own runs aside).
async fn runs_in_database(app: &TestApp) -> u64 {
    workflow_run::Entity::find().filter(workflow_run::Column::Trigger.eq("api")).count(&app.db).await.unwrap()
}

fn answers(body: &Value) -> &Vec<Value> {
    body["runs"].as_array().unwrap_or_else(|| panic!("no runs in {body}"))
}

on_both_databases! {
    async fn a_batch_starts_every_run_in_one_request_and_answers_in_the_items_order(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let key = app.api_key(&ws).await;
        let before = runs_in_database(&app).await;
        let later = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
        let items: Vec<Value> = (0..1000)
            .map(|i| if i % 100 == 7 { json!({ "run_at": later }) } else { json!({ "params": {} }) })
            .collect();
        let (status, body) = app.api(Method::POST, &key, BATCH, Some(json!({ "runs": items }))).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let runs = answers(&body);
        assert_eq!(runs.len(), 1000);
        assert_eq!(runs_in_database(&app).await - before, 1000);
        for (i, run) in runs.iter().enumerate() {
            let expected = if i % 100 == 7 { "scheduled" } else { "queued" };
            assert_eq!(run["status"], expected, "item {i}: {run}");
            assert_eq!(run["duplicate"], false);
        }
        // The order is the items' order: the seventh item's run is the one due in two hours.
        let seventh = runs[7]["id"].as_str().unwrap();
        let (_, run) = app.api(Method::GET, &key, &format!("/api/v1/runs/{seventh}"), None).await;
        assert_eq!(run["status"], "scheduled", "{run}");
        assert_eq!(run["workspace_id"], ws.id.as_str());
        assert_eq!(run["trigger"], "api");
    }

    async fn one_bad_item_refuses_the_whole_batch_naming_its_index_and_field(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let key = app.api_key(&ws).await;
        let before = runs_in_database(&app).await;
        let cases = [
            (json!({ "params": { "nope": 1 } }), "runs[2].params.nope: unknown field `nope`"),
            (json!({ "params": [1] }), "runs[2].params: must be a JSON object"),
            (json!({ "run_at": "next tuesday" }), "runs[2].run_at: "),
            (json!({ "idempotency_key": "" }), "runs[2].idempotency_key: use 1 to 200 characters"),
            (json!({ "idempotency_key": "k".repeat(201) }), "runs[2].idempotency_key: use 1 to 200 characters"),
            (json!({ "wait": true }), "runs[2].wait: unknown field `wait`"),
        ];
        for (bad, message) in cases {
            let items = json!([{}, { "idempotency_key": "fine" }, bad, {}]);
            let (status, body) = app.api(Method::POST, &key, BATCH, Some(json!({ "runs": items }))).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
            let said = body["error"]["message"].as_str().unwrap();
            assert!(said.starts_with(message), "{bad}: said “{said}”, expected “{message}…”");
        }
        for (runs, count) in [(json!([]), 0), (json!(vec![json!({}); 1001]), 1001)] {
            let (status, body) = app.api(Method::POST, &key, BATCH, Some(json!({ "runs": runs }))).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            let expected = format!("runs: give 1 to 1000 runs (this batch has {count})");
            assert_eq!(body["error"]["message"], expected.as_str());
        }
        assert_eq!(runs_in_database(&app).await, before, "nothing started");
    }

    async fn a_repeated_idempotency_key_answers_with_the_first_run_as_a_duplicate(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let key = app.api_key(&ws).await;
        let single = "/api/v1/workflows/refresh_workspace_health/runs";
        let (status, first) = app.api(Method::POST, &key, single, Some(json!({ "idempotency_key": "earlier" }))).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{first}");
        let before = runs_in_database(&app).await;
        let items = json!([
            { "idempotency_key": "new" },
            { "idempotency_key": "earlier" },
            {},
            { "idempotency_key": "new" },
        ]);
        let (status, body) = app.api(Method::POST, &key, BATCH, Some(json!({ "runs": items }))).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let runs = answers(&body);
        let duplicates: Vec<bool> = runs.iter().map(|r| r["duplicate"].as_bool().unwrap()).collect();
        assert_eq!(duplicates, [false, true, false, true]);
        assert_eq!(runs[1]["id"], first["id"], "the earlier run, not a new one");
        assert_eq!(runs[3]["id"], runs[0]["id"], "the batch's own first run with that key");
        assert_ne!(runs[2]["id"], runs[0]["id"]);
        assert_eq!(runs_in_database(&app).await - before, 2, "two new runs, no more");
        // Sent again, the whole batch is duplicates of the same runs.
        let (status, again) = app.api(Method::POST, &key, BATCH, Some(json!({ "runs": [items[0], items[1]] }))).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{again}");
        assert_eq!(answers(&again)[0]["id"], runs[0]["id"]);
        assert_eq!(answers(&again)[1]["id"], first["id"]);
        assert!(answers(&again).iter().all(|r| r["duplicate"] == true));
    }

    async fn a_batch_naming_another_workspace_is_refused_and_starts_nothing(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let other = app.create_workspace("Other", &app.admin).await;
        let key = app.api_key(&ws).await;
        let before = runs_in_database(&app).await;
        let items = json!([{}, { "params": { "workspace_id": other.id } }]);
        let (status, body) = app.api(Method::POST, &key, BATCH, Some(json!({ "runs": items }))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        let (status, body) = app
            .api(Method::POST, &key, "/api/v1/workflows/probe/runs/batch", Some(json!({ "runs": [{}] })))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "an operator tool is not offered to keys: {body}");
        assert_eq!(runs_in_database(&app).await, before);
    }

    async fn a_batch_across_workspaces_finds_each_workspaces_earlier_keys_and_no_other(app: TestApp) {
        let (a, b) = (app.create_workspace("Acme", &app.admin).await, app.create_workspace("Other", &app.admin).await);
        let health = |ws: &str, key: &str| {
            NewRun::of::<RefreshWorkspaceHealth>(&Params { workspace_id: ws.to_owned() }).idempotency_key(key)
        };
        let earlier = offstage::engine::runs::start(&app.db, health(&a.id, "k")).await.unwrap();
        let batch = [health(&a.id, "k"), health(&b.id, "k"), health(&a.id, "j"), health(&b.id, "k")];
        let started = offstage::engine::runs::start_batch(&app.db, &batch).await.unwrap();
        let duplicates: Vec<bool> = started.iter().map(|s| s.duplicate).collect();
        assert_eq!(duplicates, [true, false, false, true]);
        assert_eq!(started[0].id, earlier.id, "workspace A's own earlier run");
        assert_eq!(started[3].id, started[1].id, "workspace B's key is B's, started by this batch");
        assert!(started[1].id != earlier.id && started[2].id != earlier.id);
    }

    async fn a_fan_out_of_a_thousand_runs_with_one_of_no_workspace_starts_none_of_them(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let probe = |ws: &str| NewRun::of::<probe::Probe>(&probe::Params::noop(ws));
        let probes = || workflow_run::Entity::find().filter(workflow_run::Column::Workflow.eq(probe::Probe::NAME)).count(&app.db);
        let items: Vec<NewRun> = (0..1000).map(|i| probe(if i == 999 { "ws_deleted_meanwhile" } else { &ws.id })).collect();
        let refused = runs::fan_out(&app.db, items, None).await;
        assert!(matches!(refused, Err(offstage::engine::Error::Invalid(_))), "{refused:?}");
        assert_eq!(probes().await.unwrap(), 0, "some of the runs started");
        let started = runs::fan_out(&app.db, (0..3).map(|_| probe(&ws.id)).collect(), None).await.unwrap();
        assert_eq!(probes().await.unwrap(), 3);
        // A run's view joins its job: each run has one.
        assert_eq!(runs::get_many(&app.db, &Platform::system(), &started).await.unwrap().len(), 3, "a run without its job");
    }
}
