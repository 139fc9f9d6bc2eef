//! Workflows and runs in the admin UI: running by hand from a generated form, the run history
//! with filters and search, a run's detail, and cancel / retry.

use crate::helpers::*;
use crate::on_both_databases;
use chrono::{Duration, Utc};
use offstage::domain::Role;
use offstage::engine::runs::{self, RunStatus};
use offstage::engine::{NewRun, probe};
use reqwest::StatusCode;

fn probe_params(ws: &offstage::db::entities::workspace::Model) -> probe::Params {
    probe::Params::noop(&ws.id)
}

on_both_databases! {
    async fn an_owner_runs_a_workflow_by_hand_from_a_form_built_from_its_schema(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let owner = app.sign_in(ADMIN_EMAIL).await;
        let (status, list) = owner.get_html(&format!("/admin/workspaces/{}/workflows", ws.slug)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(list.contains("probe") && list.contains("Run manually") && !list.contains("record_workspace_created"));
        let form_path = format!("/admin/workspaces/{}/workflows/probe/run", ws.slug);
        let (_, form) = owner.get_html(&form_path).await;
        for field in ["name=\"sleep_ms\"", "name=\"fail_attempts\"", "name=\"skip\"", "name=\"value\""] {
            assert!(form.contains(field), "{field} in the generated form");
        }
        assert!(!form.contains("name=\"workspace_id\""), "the workspace is filled in");
        let response = owner.post_form(&form_path, &[("value", "{\"hello\": \"world\"}"), ("sleep_ms", ""), ("fail_attempts", "0")]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let run_page = location(&response);
        assert!(run_page.starts_with(&format!("/admin/workspaces/{}/runs/", ws.slug)));
        app.drain_jobs().await;
        let (_, html) = owner.get_html(&run_page).await;
        assert!(html.contains("Run of probe started."));
        assert!(html.contains("run-succeeded") && html.contains("&#34;hello&#34;: &#34;world&#34;"), "{html}");
        assert!(html.contains("Timeline") && html.contains("Succeeded"));
    }

    async fn a_wrong_value_in_the_run_form_is_explained_and_starts_nothing(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let owner = app.sign_in(ADMIN_EMAIL).await;
        let form_path = format!("/admin/workspaces/{}/workflows/probe/run", ws.slug);
        for (field, value, message) in [("fail_attempts", "many", "fail_attempts: enter a whole number"), ("value", "{oops", "value: not valid JSON")] {
            let response = owner.post_form(&form_path, &[(field, value)]).await;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
            assert!(response.text().await.unwrap().contains(message), "{message}");
        }
        let filter = runs::RunFilter { workflow: Some("probe".into()), limit: 10, ..Default::default() };
        assert!(runs::list(&app.db, &app.scope(&ws), &filter).await.unwrap().is_empty());
        let member = app.create_user("mia@example.com").await;
        app.add_member(&ws, &member, Role::Member).await;
        let response = app.sign_in(&member.email).await.post_form(&form_path, &[]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "members cannot start runs");
    }

    async fn the_run_history_filters_by_status_and_finds_a_run_by_id(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let skipped = runs::start(&app.db, NewRun::of::<probe::Probe>(&probe::Params { skip: true, ..probe_params(&ws) })).await.unwrap();
        let scheduled = runs::start(&app.db, NewRun::of::<probe::Probe>(&probe_params(&ws)).at(Utc::now() + Duration::hours(2))).await.unwrap();
        app.drain_jobs_due().await;
        let owner = app.sign_in(ADMIN_EMAIL).await;
        let base = format!("/admin/workspaces/{}/runs", ws.slug);
        let (_, all) = owner.get_html(&base).await;
        assert!(all.contains(skipped.id.as_str()) && all.contains(scheduled.id.as_str()));
        let (_, only_skipped) = owner.get_html(&format!("{base}?status=skipped")).await;
        assert!(only_skipped.contains(skipped.id.as_str()) && !only_skipped.contains(scheduled.id.as_str()));
        let found = owner.get(&format!("{base}?q={}", scheduled.id)).await;
        assert_eq!(found.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&found), format!("{base}/{}", scheduled.id));
        let (_, missing) = owner.get_html(&format!("{base}?q=01NOPE")).await;
        assert!(missing.contains("No run of this workspace has the id"));
        let (_, detail) = owner.get_html(&format!("{base}/{}", skipped.id)).await;
        assert!(detail.contains("Skipped because “skip is false” was false"));
        let (_, empty) = owner.get_html(&format!("{base}?status=failed")).await;
        assert!(empty.contains("No runs match these filters"));
    }

    async fn an_owner_cancels_a_scheduled_run_and_retries_a_failed_one(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let scheduled = runs::start(&app.db, NewRun::of::<probe::Probe>(&probe_params(&ws)).at(Utc::now() + Duration::hours(2))).await.unwrap();
        let failing = runs::start(&app.db, NewRun::of::<probe::Probe>(&probe::Params { fail_attempts: 3, ..probe_params(&ws) })).await.unwrap();
        app.drain_jobs_due().await;
        assert_eq!(runs::get(&app.db, &failing.id, &offstage::tenancy::Platform::system()).await.unwrap().unwrap().status, RunStatus::Failed);
        let owner = app.sign_in(ADMIN_EMAIL).await;
        let base = format!("/admin/workspaces/{}/runs", ws.slug);
        let (_, page) = owner.get_html(&format!("{base}/{}", scheduled.id)).await;
        assert!(page.contains("Cancel run"));
        let response = owner.post_form(&format!("{base}/{}/cancel", scheduled.id), &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(runs::get(&app.db, &scheduled.id, &offstage::tenancy::Platform::system()).await.unwrap().unwrap().status, RunStatus::Cancelled);
        let (_, page) = owner.get_html(&format!("{base}/{}", failing.id)).await;
        assert!(page.contains("Retry") && page.contains("probe failing attempt 3"));
        let response = owner.post_form(&format!("{base}/{}/retry", failing.id), &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        app.drain_jobs_due().await;
        let retried = runs::get(&app.db, &failing.id, &offstage::tenancy::Platform::system()).await.unwrap().unwrap();
        assert_eq!(retried.status, RunStatus::Succeeded);
        let (_, page) = owner.get_html(&format!("{base}/{}", failing.id)).await;
        assert!(page.contains("Run queued again") && page.contains(&format!("Retried by {ADMIN_EMAIL}")));
    }

    async fn bulk_cancel_on_a_workspace_touches_only_that_workspaces_matching_runs(app: TestApp) {
        let a = app.create_workspace("Alpha", &app.admin).await;
        let b = app.create_workspace("Beta", &app.admin).await;
        let later = Utc::now() + Duration::hours(1);
        for ws in [&a, &a, &b] {
            runs::start(&app.db, NewRun::of::<probe::Probe>(&probe_params(ws)).at(later)).await.unwrap();
        }
        let owner = app.sign_in(ADMIN_EMAIL).await;
        let response = owner.post_form(&format!("/admin/workspaces/{}/runs/bulk", a.slug), &[("action", "cancel"), ("status", "scheduled"), ("workflow", "probe")]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let (_, html) = owner.get_html(&location(&response)).await;
        assert!(html.contains("2 runs cancelled."));
        let b_runs = runs::list(&app.db, &app.scope(&b), &runs::RunFilter { workflow: Some("probe".into()), limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!(b_runs[0].status, RunStatus::Scheduled, "another workspace's run is untouched");
    }
    async fn the_run_history_filters_by_creation_time_here_and_platform_wide_where_a_run_is_found_by_id(app: TestApp) {
        use offstage::db::entities::workflow_run;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        let ws = app.create_workspace("Acme", &app.admin).await;
        let later = Utc::now() + Duration::hours(2);
        let old = runs::start(&app.db, NewRun::of::<probe::Probe>(&probe_params(&ws)).at(later)).await.unwrap();
        let new = runs::start(&app.db, NewRun::of::<probe::Probe>(&probe_params(&ws)).at(later)).await.unwrap();
        workflow_run::Entity::update_many()
            .col_expr(workflow_run::Column::CreatedAt, Expr::value(Utc::now() - Duration::days(3)))
            .filter(workflow_run::Column::Id.eq(&old.id))
            .exec(&app.db)
            .await
            .unwrap();
        let admin = app.sign_in(ADMIN_EMAIL).await;
        for base in [format!("/admin/workspaces/{}/runs", ws.slug), "/admin/platform/runs".to_owned()] {
            let (status, day) = admin.get_html(&format!("{base}?within=24h")).await;
            assert_eq!(status, StatusCode::OK);
            assert!(day.contains(new.id.as_str()) && !day.contains(old.id.as_str()), "{base}: only the run created today");
            assert!(day.contains("value=\"24h\" selected") && day.contains("name=\"within\" value=\"24h\""), "the filter and the bulk form keep it");
            let (_, week) = admin.get_html(&format!("{base}?within=7d")).await;
            assert!(week.contains(new.id.as_str()) && week.contains(old.id.as_str()), "{base}: both within 7 days");
        }
        let (_, wrong) = admin.get_html(&format!("/admin/workspaces/{}/runs?within=2h", ws.slug)).await;
        assert!(wrong.contains("“2h” is not a period"), "{wrong}");
        assert_eq!(admin.get("/admin/platform/runs?within=2h").await.status(), StatusCode::BAD_REQUEST);

        let found = admin.get(&format!("/admin/platform/runs?q={}", old.id)).await;
        assert_eq!(found.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&found), format!("/admin/platform/runs/{}", old.id));
        let (_, missing) = admin.get_html("/admin/platform/runs?q=01NOPE").await;
        assert!(missing.contains("No run has the id “01NOPE”."));

        let response = admin
            .post_form(&format!("/admin/workspaces/{}/runs/bulk", ws.slug), &[("action", "cancel"), ("status", "scheduled"), ("within", "24h")])
            .await;
        assert_eq!(location(&response), format!("/admin/workspaces/{}/runs?workflow=&status=scheduled&within=24h", ws.slug));
        assert_eq!(runs::get(&app.db, &new.id, &offstage::tenancy::Platform::system()).await.unwrap().unwrap().status, RunStatus::Cancelled);
        assert_eq!(runs::get(&app.db, &old.id, &offstage::tenancy::Platform::system()).await.unwrap().unwrap().status, RunStatus::Scheduled, "older than the period");
    }

    async fn bulk_retry_on_a_workspace_runs_its_failed_runs_again(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let failing = probe::Params { fail_attempts: 3, ..probe_params(&ws) };
        let first = runs::start(&app.db, NewRun::of::<probe::Probe>(&failing)).await.unwrap();
        let second = runs::start(&app.db, NewRun::of::<probe::Probe>(&failing)).await.unwrap();
        app.drain_jobs_due().await;
        let owner = app.sign_in(ADMIN_EMAIL).await;
        let response = owner.post_form(&format!("/admin/workspaces/{}/runs/bulk", ws.slug), &[("action", "retry"), ("status", "failed")]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let (_, html) = owner.get_html(&location(&response)).await;
        assert!(html.contains("2 failed runs queued again."), "the flash says how many");
        app.drain_jobs_due().await;
        for run in [first, second] {
            assert_eq!(runs::get(&app.db, &run.id, &offstage::tenancy::Platform::system()).await.unwrap().unwrap().status, RunStatus::Succeeded, "the fourth attempt succeeds");
        }
    }

    async fn the_platform_lists_every_workflow_with_where_it_runs_and_a_link_to_its_runs(app: TestApp) {
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let (status, page) = admin.get_html("/admin/platform/workflows").await;
        assert_eq!(status, StatusCode::OK);
        for workflow in app.workflows.all() {
            assert!(page.contains(&format!("href=\"/admin/platform/runs?workflow={}\"", workflow.name())), "{} is listed", workflow.name());
        }
        assert!(page.contains("each workspace") && page.contains("the platform"), "per-workspace and global workflows");
        let member = app.create_user("mia@example.com").await;
        let (status, _) = app.sign_in(&member.email).await.get_html("/admin/platform/workflows").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "platform admins only");
    }

    async fn a_platform_admin_cancels_a_global_run_from_its_page(app: TestApp) {
        use offstage::workspaces::workflows::refresh_all_workspace_health as all;
        let later = Utc::now() + Duration::hours(2);
        let global = runs::start(&app.db, NewRun::of::<all::RefreshAllWorkspaceHealth>(&all::Params::default()).at(later)).await.unwrap();
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let page = format!("/admin/platform/runs/{}", global.id);
        let (status, html) = admin.get_html(&page).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains(&format!("action=\"{page}/cancel\"")) && !html.contains("/retry\""), "a scheduled run can be cancelled, not retried");
        let response = admin.post_form(&format!("{page}/cancel"), &[]).await;
        assert_eq!(location(&response), page);
        assert_eq!(runs::get(&app.db, &global.id, &offstage::tenancy::Platform::system()).await.unwrap().unwrap().status, RunStatus::Cancelled);
        let (_, html) = admin.get_html(&page).await;
        assert!(html.contains("Run cancelled; it will not start.") && !html.contains("/cancel\""), "{html}");
        let response = admin.post_form(&format!("{page}/retry"), &[]).await;
        let (_, html) = admin.get_html(&location(&response)).await;
        assert!(html.contains("flash-error"), "only a failed run can be retried");
    }
}
