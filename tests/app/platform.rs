//! Platform pages: the queue overview, every run across workspaces with bulk cancel and retry,
//! and the global schedules; all of them 404 for anyone but a platform admin.

use crate::helpers::*;
use crate::on_both_databases;
use chrono::{Duration, Utc};
use offstage::workflows::runs::{self, RunFilter, RunStatus};
use offstage::workflows::{NewRun, probe};
use reqwest::StatusCode;

fn params(ws: &offstage::db::entities::workspace::Model, fail_attempts: u32) -> probe::Params {
    probe::Params { workspace_id: ws.id.clone(), value: None, sleep_ms: 0, fail_attempts, skip: false }
}

on_both_databases! {
    async fn platform_pages_are_not_found_for_anyone_but_a_platform_admin(app: TestApp) {
        let user = app.create_user("ada@example.com").await;
        let visitor = app.sign_in(&user.email).await;
        for path in ["/admin/platform/queue", "/admin/platform/runs", "/admin/platform/schedules", "/admin/platform/runs/01NOPE"] {
            assert_eq!(visitor.get_html(path).await.0, StatusCode::NOT_FOUND, "{path}");
        }
        let bulk = visitor.post_form("/admin/platform/runs/bulk", &[("action", "cancel")]).await;
        assert_eq!(bulk.status(), StatusCode::NOT_FOUND);
        let action = visitor.post_form("/admin/platform/schedules/sch_builtin_daily_health/run-now", &[]).await;
        assert_eq!(action.status(), StatusCode::NOT_FOUND);
        let (status, html) = visitor.get_html("/admin/workspaces").await;
        assert_eq!(status, StatusCode::OK);
        assert!(!html.contains("/admin/platform/queue"), "no Platform link for them");
    }

    async fn a_platform_admin_sees_the_queue_and_cancels_a_filtered_selection(app: TestApp) {
        let a = app.create_workspace("Alpha", &app.admin).await;
        let b = app.create_workspace("Beta", &app.admin).await;
        let later = Utc::now() + Duration::hours(1);
        for ws in [&a, &b, &b] {
            runs::start(&app.db, NewRun::of::<probe::Probe>(&params(ws, 0)).at(later)).await.unwrap();
        }
        runs::start(&app.db, NewRun::of::<probe::Probe>(&params(&a, 0))).await.unwrap();
        app.drain_jobs_due().await;
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let (status, queue) = admin.get_html("/admin/platform/queue").await;
        assert_eq!(status, StatusCode::OK);
        assert!(queue.contains("Finished in the last hour"));
        let (_, listed) = admin.get_html("/admin/platform/runs?workflow=probe&status=scheduled").await;
        assert_eq!(listed.matches("run-scheduled").count(), 3);
        let response = admin.post_form("/admin/platform/runs/bulk", &[("action", "cancel"), ("workflow", "probe"), ("status", "scheduled")]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let (_, after) = admin.get_html(&location(&response)).await;
        assert!(after.contains("3 runs cancelled."), "{after}");
        let filter = RunFilter { workflow: Some("probe".into()), limit: 100, ..RunFilter::default() };
        let statuses: Vec<RunStatus> = runs::list(&app.db, &filter).await.unwrap().into_iter().map(|r| r.status).collect();
        assert_eq!(statuses.iter().filter(|s| **s == RunStatus::Cancelled).count(), 3);
        assert_eq!(statuses.iter().filter(|s| **s == RunStatus::Succeeded).count(), 1);
    }

    async fn a_platform_admin_retries_every_failed_run_at_once(app: TestApp) {
        let a = app.create_workspace("Alpha", &app.admin).await;
        for _ in 0..2 {
            runs::start(&app.db, NewRun::of::<probe::Probe>(&params(&a, 3))).await.unwrap();
        }
        app.drain_jobs_due().await;
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let response = admin.post_form("/admin/platform/runs/bulk", &[("action", "retry"), ("workflow", ""), ("status", "failed")]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let (_, after) = admin.get_html(&location(&response)).await;
        assert!(after.contains("2 failed runs queued again."));
        app.drain_jobs_due().await;
        let filter = RunFilter { workflow: Some("probe".into()), limit: 100, ..RunFilter::default() };
        assert!(runs::list(&app.db, &filter).await.unwrap().iter().all(|r| r.status == RunStatus::Succeeded));
    }

    async fn the_built_in_daily_schedule_is_listed_and_can_run_now(app: TestApp) {
        app.create_workspace("Alpha", &app.admin).await;
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let (_, html) = admin.get_html("/admin/platform/schedules").await;
        assert!(html.contains("refresh_all_workspace_health") && html.contains("0 3 * * *"));
        let response = admin.post_form("/admin/platform/schedules/sch_builtin_daily_health/run-now", &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let run_page = location(&response);
        app.drain_jobs().await;
        let (status, page) = admin.get_html(&run_page).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("refresh_all_workspace_health") && page.contains("run-succeeded") && page.contains("global"));
    }
}
