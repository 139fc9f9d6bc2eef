//! Platform pages: the queue overview's counts and backlogs (the live view is
//! `queue_dashboard`), every run across workspaces with bulk cancel and retry,
//! and the global schedules; all of them 404 for anyone but a platform admin.

use crate::helpers::*;
use crate::on_both_databases;
use chrono::{Duration, Utc};
use offstage::db::entities::schedule;
use offstage::engine::runs::{self, RunFilter, RunStatus};
use offstage::engine::{NewRun, probe};
use reqwest::StatusCode;
use sea_orm::EntityTrait;

fn params(ws: &offstage::db::entities::workspace::Model, fail_attempts: u32) -> probe::Params {
    probe::Params { workspace_id: ws.id.clone(), value: None, sleep_ms: 0, fail_attempts, skip: false }
}

const DAILY_HEALTH: &str = "sch_builtin_daily_health";

async fn stored_schedule(app: &TestApp, id: &str) -> schedule::Model {
    schedule::Entity::find_by_id(id).one(&app.db).await.unwrap().expect("the schedule")
}

/// How a count of runs of a status is shown on the queue overview.
fn stat(status: &str, n: i64) -> String {
    format!("<span class=\"label\">{status}</span><span class=\"value\" data-depth=\"{status}\">{n}</span>")
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
        assert!(queue.contains("Attempts in the last hour"));
        let (_, listed) = admin.get_html("/admin/platform/runs?workflow=probe&status=scheduled").await;
        assert_eq!(listed.matches("run-scheduled").count(), 3);
        let response = admin.post_form("/admin/platform/runs/bulk", &[("action", "cancel"), ("workflow", "probe"), ("status", "scheduled")]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let (_, after) = admin.get_html(&location(&response)).await;
        assert!(after.contains("3 runs cancelled."), "{after}");
        let filter = RunFilter { workflow: Some("probe".into()), limit: 100, ..RunFilter::default() };
        let statuses: Vec<RunStatus> = runs::list(&app.db, &offstage::tenancy::Platform::system(), &filter).await.unwrap().into_iter().map(|r| r.status).collect();
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
        assert!(runs::list(&app.db, &offstage::tenancy::Platform::system(), &filter).await.unwrap().iter().all(|r| r.status == RunStatus::Succeeded));
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

    async fn the_queue_overview_counts_runs_not_finished_by_status(app: TestApp) {
        let a = app.create_workspace("Alpha", &app.admin).await;
        // The workspace's own runs (recording it, its emails) count too: start from what they left.
        app.drain_jobs().await;
        let before = offstage::engine::queue::depth::by_status(&app.db).await.unwrap();
        for _ in 0..2 {
            runs::start(&app.db, NewRun::of::<probe::Probe>(&params(&a, 0))).await.unwrap();
        }
        runs::start(&app.db, NewRun::of::<probe::Probe>(&params(&a, 0)).at(Utc::now() + Duration::hours(2))).await.unwrap();
        // Failing more attempts than the probe's 3 ends it failed.
        runs::start(&app.db, NewRun::of::<probe::Probe>(&params(&a, 9))).await.unwrap();
        app.drain_jobs_due().await;
        let after = offstage::engine::queue::depth::by_status(&app.db).await.unwrap();
        for ((status, n), (_, was)) in after.iter().zip(&before) {
            let added = i64::from(matches!(*status, "scheduled" | "failed"));
            assert_eq!(*n, *was + added, "{status}: the succeeded runs are not in the queue any more");
        }
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let (status, queue) = admin.get_html("/admin/platform/queue").await;
        assert_eq!(status, StatusCode::OK);
        for (status, n) in &after {
            assert!(queue.contains(&stat(status, *n)), "{status} = {n} in {queue}");
        }
        assert!(queue.contains("href=\"/admin/platform/runs?status=failed\""));
    }

    async fn a_platform_admin_pauses_and_resumes_a_global_schedule(app: TestApp) {
        assert!(!stored_schedule(&app, DAILY_HEALTH).await.paused);
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let response = admin.post_form(&format!("/admin/platform/schedules/{DAILY_HEALTH}/pause"), &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&response), "/admin/platform/schedules");
        let paused = stored_schedule(&app, DAILY_HEALTH).await;
        assert!(paused.paused);
        assert_eq!(paused.next_run_at, None, "no next tick while paused");
        let (_, page) = admin.get_html(&location(&response)).await;
        assert!(page.contains("Schedule paused; it starts no runs until resumed."), "{page}");
        assert_eq!(page.matches("<span class=\"pill\">paused</span>").count(), 1);
        assert!(page.contains(&format!("/admin/platform/schedules/{DAILY_HEALTH}/resume")));

        let response = admin.post_form(&format!("/admin/platform/schedules/{DAILY_HEALTH}/resume"), &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&response), "/admin/platform/schedules");
        let resumed = stored_schedule(&app, DAILY_HEALTH).await;
        assert!(!resumed.paused);
        let next = resumed.next_run_at.expect("a next tick once resumed");
        assert!(next > Utc::now() && next <= Utc::now() + Duration::days(1), "{next}");
        assert_eq!(next.format("%H:%M:%S").to_string(), "03:00:00", "0 3 * * * in UTC");
        let (_, page) = admin.get_html(&location(&response)).await;
        assert!(page.contains("Schedule resumed from now on (missed ticks are not replayed)."), "{page}");
        assert!(!page.contains("Schedule paused;"), "the earlier flash was shown once");
        assert!(!page.contains("<span class=\"pill\">paused</span>"));
        assert!(page.contains(&next.format("%Y-%m-%d %H:%M:%S UTC").to_string()), "the next run is shown");
        assert!(page.contains(&format!("/admin/platform/schedules/{DAILY_HEALTH}/pause")));

        let unknown = admin.post_form(&format!("/admin/platform/schedules/{DAILY_HEALTH}/snooze"), &[]).await;
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
        assert!(!stored_schedule(&app, DAILY_HEALTH).await.paused);
    }
}

/// Platform → Queue lists the workspaces with the most runs waiting, largest first (web only:
/// no worker takes them meanwhile).
async fn the_queue_page_shows_the_workspaces_with_the_largest_backlogs(backend: Backend) {
    let app = TestApp::spawn_web_only(backend).await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let (_, empty) = admin.get_html("/admin/platform/queue").await;
    assert!(empty.contains("Largest backlogs") && empty.contains("No runs are waiting"), "{empty}");
    let (flood, quiet) =
        (app.create_workspace("Flood", &app.admin).await, app.create_workspace("Quiet", &app.admin).await);
    for (ws, n) in [(&flood, 30), (&quiet, 4)] {
        let items = (0..n).map(|_| NewRun::of::<probe::Probe>(&params(ws, 0))).collect();
        runs::fan_out(&app.db, items, None).await.unwrap();
    }
    // The page reads the backlogs behind itself: they show within about 2 s.
    let mut html = String::new();
    for _ in 0..50 {
        let (status, page) = admin.get_html("/admin/platform/queue").await;
        assert_eq!(status, StatusCode::OK);
        html = page;
        if html.contains(">Flood</a>") && html.contains(">Quiet</a>") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (at_flood, at_quiet) =
        (html.find(">Flood</a>").expect("Flood listed"), html.find(">Quiet</a>").expect("Quiet listed"));
    assert!(at_flood < at_quiet, "the largest backlog comes first");
    let counts: Vec<&str> =
        html.split("<td class=\"backlog\">").skip(1).filter_map(|rest| rest.split('<').next()).collect();
    // New workspaces' own runs (their first activity) wait too, in their lanes.
    assert!(counts.first().is_some_and(|n| n.parse::<u32>().unwrap() >= 30), "{counts:?}");
    assert!(html.contains(&format!("/admin/workspaces/{}/runs?status=queued", flood.slug)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_the_queue_page_shows_the_workspaces_with_the_largest_backlogs() {
    the_queue_page_shows_the_workspaces_with_the_largest_backlogs(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_the_queue_page_shows_the_workspaces_with_the_largest_backlogs() {
    if postgres_configured() {
        the_queue_page_shows_the_workspaces_with_the_largest_backlogs(Backend::Postgres).await;
    }
}
