//! Offstage's own runs in a workspace (trial reminders, dunning steps, email deliveries) are
//! read-only to its tenants: an API key or a workspace owner can look at them but neither cancel
//! nor retry them; a platform admin can.

use crate::helpers::*;
use crate::on_both_databases;
use offstage::db::entities::workflow_run;
use offstage::domain::RunId;
use offstage::engine::RunStatus;
use offstage::engine::runs;
use reqwest::{Method, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// A workspace on trial owned by a tenant (not a platform admin), and its trial reminder run.
async fn trial(app: &TestApp) -> (offstage::db::entities::workspace::Model, String) {
    let alice = app.create_user("alice@example.com").await;
    let ws = app.create_workspace("Acme", &alice).await;
    let reminder = workflow_run::Entity::find()
        .filter(workflow_run::Column::WorkspaceId.eq(&ws.id))
        .filter(workflow_run::Column::Workflow.eq("send_trial_ending_email"))
        .one(&app.db)
        .await
        .unwrap()
        .expect("a trial reminder is scheduled");
    (ws, reminder.id)
}

async fn status(app: &TestApp, id: &str) -> RunStatus {
    runs::get(&app.db, &RunId::from(id), &offstage::tenancy::Platform::system()).await.unwrap().unwrap().status
}

async fn with_trials() -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, |config| config.trial_days = Some(14)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_can_read_but_not_cancel_offstages_own_runs() {
    let app = with_trials().await;
    let (ws, reminder) = trial(&app).await;
    let key = app.api_key(&ws).await;
    let (shown, run) = app.api(Method::GET, &key, &format!("/api/v1/runs/{reminder}"), None).await;
    assert_eq!(shown, StatusCode::OK, "{run}");
    let (refused, body) = app.api(Method::POST, &key, &format!("/api/v1/runs/{reminder}/cancel"), None).await;
    assert_eq!(refused, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    assert_eq!(status(&app, &reminder).await, RunStatus::Scheduled, "the reminder still goes out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_owner_cannot_cancel_offstages_own_runs_one_by_one_or_in_bulk_but_a_platform_admin_can() {
    let app = with_trials().await;
    let (ws, reminder) = trial(&app).await;
    let owner = app.sign_in("alice@example.com").await;
    let page = format!("/admin/workspaces/{}/runs/{reminder}", ws.slug);
    let (_, html) = owner.get_html(&page).await;
    assert!(html.contains("send_trial_ending_email") && !html.contains("Cancel run"), "no cancel button");
    assert_eq!(owner.post_form(&format!("{page}/cancel"), &[]).await.status(), StatusCode::FORBIDDEN);
    let bulk = owner
        .post_form(
            &format!("/admin/workspaces/{}/runs/bulk", ws.slug),
            &[("action", "cancel"), ("status", "scheduled")],
        )
        .await;
    assert_eq!(bulk.status(), StatusCode::SEE_OTHER);
    assert_eq!(status(&app, &reminder).await, RunStatus::Scheduled, "bulk actions leave Offstage's runs alone");
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let (_, html) = admin.get_html(&page).await;
    assert!(html.contains("Cancel run"), "a platform admin may");
    assert_eq!(admin.post_form(&format!("{page}/cancel"), &[]).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(status(&app, &reminder).await, RunStatus::Cancelled);
}

on_both_databases! {
    async fn a_tenants_own_runs_stay_theirs_to_cancel(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let key = app.api_key(&ws).await;
        let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
        let (_, run) = app.api(Method::POST, &key, "/api/v1/workflows/refresh_workspace_health/runs", Some(serde_json::json!({ "run_at": later }))).await;
        let (status, _) = app.api(Method::POST, &key, &format!("/api/v1/runs/{}/cancel", run["id"].as_str().unwrap()), None).await;
        assert_eq!(status, StatusCode::OK);
    }
}
