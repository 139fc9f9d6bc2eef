//! Health scores: the per-workspace workflow over the API, and the daily global chain that walks
//! every workspace in batches of 100 by recursion, fanning out one run per workspace.

use crate::helpers::ADMIN_EMAIL;
use crate::on_both_databases;
use offstage::db::entities::{health_score, workflow_run};
use offstage::engine::NewRun;
use offstage::engine::runs::{self, RunFilter, RunStatus};
use offstage::workspaces::workflows::refresh_all_workspace_health as all;
use reqwest::{Method, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

on_both_databases! {
    async fn a_workspace_refreshes_its_own_health_score_over_the_api(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let key = app.api_key(&ws).await;
        app.drain_jobs().await;
        let (status, run) = app.api(Method::POST, &key, "/api/v1/workflows/refresh_workspace_health/runs", Some(json!({ "wait": true }))).await;
        assert_eq!(status, StatusCode::OK, "{run}");
        // 1 member (6) + 2 activity entries: creation and the key (2) + no subscription (15) + an API key (10).
        assert_eq!(run["output"]["score"], 33, "{run}");
        assert_eq!(run["output"]["factors"]["billing"]["points"], 15);
        let stored = health_score::Entity::find().filter(health_score::Column::WorkspaceId.eq(&ws.id)).one(&app.db).await.unwrap().unwrap();
        assert_eq!(stored.score, 33);
        let other = app.create_workspace("Other", &app.admin).await;
        let body = json!({ "params": { "workspace_id": other.id } });
        let (status, _) = app.api(Method::POST, &key, "/api/v1/workflows/refresh_workspace_health/runs", Some(body)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "another workspace is not found");
    }

    async fn the_daily_chain_refreshes_every_workspace_in_batches_of_one_hundred(app: TestApp) {
        let count = 2 * all::BATCH + 5;
        for i in 0..count {
            app.create_workspace(&format!("Customer {i:03}"), &app.admin).await;
        }
        app.drain_jobs().await;
        let first = runs::start(&app.db, NewRun::of::<all::RefreshAllWorkspaceHealth>(&all::Params::default()).trigger("schedule")).await.unwrap();
        app.drain_jobs().await;
        let chain = runs::list(&app.db, &offstage::tenancy::Platform::system(), &RunFilter { chain_id: Some(first.id.clone()), limit: 100, ..RunFilter::default() }).await.unwrap();
        assert_eq!(chain.len(), 3, "205 workspaces take three runs of 100");
        assert!(chain.iter().all(|r| r.status == RunStatus::Succeeded));
        let last = &chain[0];
        assert_eq!(last.output.as_ref().unwrap()["progress"], json!({ "processed": count, "total": count }));
        let fanned = workflow_run::Entity::find().filter(workflow_run::Column::Trigger.eq("fan_out")).count(&app.db).await.unwrap();
        assert_eq!(fanned, count);
        let scored = health_score::Entity::find().count(&app.db).await.unwrap();
        assert_eq!(scored, count, "one score per workspace");
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let (status, page) = admin.get_html(&format!("/admin/platform/runs/{}", last.id)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains(&format!("Chain: 3 runs · {count} of {count} processed")), "the chain shows as one job with its progress");
        assert!(page.contains(&format!("href=\"/admin/platform/runs/{}\"", first.id)), "its other runs are linked");
    }
}
