//! The shared workers are not a tenant's to use as they like: `probe` (it sleeps and fails on
//! purpose) is for platform admins only, and a workspace's schedules fire at most once a minute
//! and are limited in number.

use crate::helpers::*;
use crate::on_both_databases;
use chrono::{Duration, Utc};
use offstage::db::entities::{schedule, workflow_run};
use reqwest::{Method, StatusCode};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

async fn probe_runs(app: &TestApp) -> u64 {
    workflow_run::Entity::find().filter(workflow_run::Column::Workflow.eq("probe")).count(&app.db).await.unwrap()
}

on_both_databases! {
    async fn an_api_key_can_neither_see_nor_start_the_operators_probe(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let key = app.api_key(&ws).await;
        let (_, offered) = app.api(Method::GET, &key, "/api/v1/workflows", None).await;
        assert!(offered["workflows"].as_array().unwrap().iter().all(|w| w["name"] != "probe"), "{offered}");
        let body = json!({ "params": { "sleep_ms": 6000, "fail_attempts": 3 } });
        let (status, _) = app.api(Method::POST, &key, "/api/v1/workflows/probe/runs", Some(body)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(probe_runs(&app).await, 0);
        let doc: serde_json::Value = app.anonymous().get(app.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
        assert!(doc["paths"]["/workflows/probe/runs"].is_null());
    }

    async fn a_workspace_owner_can_neither_start_nor_schedule_the_probe_but_a_platform_admin_can(app: TestApp) {
        let alice = app.create_user("alice@example.com").await;
        let ws = app.create_workspace("Acme", &alice).await;
        let owner = app.sign_in(&alice.email).await;
        let (_, list) = owner.get_html(&format!("/admin/workspaces/{}/workflows", ws.slug)).await;
        assert!(list.contains("refresh_workspace_health") && !list.contains("probe"), "{list}");
        let form = format!("/admin/workspaces/{}/workflows/probe/run", ws.slug);
        assert_eq!(owner.get_html(&form).await.0, StatusCode::NOT_FOUND);
        assert_eq!(owner.post_form(&form, &[("sleep_ms", "6000")]).await.status(), StatusCode::NOT_FOUND);
        let schedules_path = format!("/admin/workspaces/{}/schedules", ws.slug);
        let scheduled = owner.post_form(&schedules_path, &[("workflow", "probe"), ("cron", "* * * * *"), ("params", "{}")]).await;
        assert_eq!(scheduled.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let (_, page) = owner.get_html(&schedules_path).await;
        assert!(!page.contains("<option value=\"probe\""), "probe is not offered to schedule");
        assert_eq!(probe_runs(&app).await, 0);
        let admin = app.sign_in(ADMIN_EMAIL).await;
        assert_eq!(admin.get_html(&form).await.0, StatusCode::OK);
        assert_eq!(admin.post_form(&form, &[("fail_attempts", "0")]).await.status(), StatusCode::SEE_OTHER);
        assert_eq!(probe_runs(&app).await, 1, "a platform admin may");
    }

    async fn a_workspace_schedule_that_would_fire_every_second_is_refused(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let owner = app.sign_in(ADMIN_EMAIL).await;
        let path = format!("/admin/workspaces/{}/schedules", ws.slug);
        for cron in ["* * * * * *", "*/5 * * * * *", "0,30 * * * * *"] {
            let response = owner.post_form(&path, &[("workflow", "refresh_workspace_health"), ("cron", cron), ("params", "{}")]).await;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{cron}");
            assert!(response.text().await.unwrap().contains("at most once a minute"), "{cron}");
        }
        let ok = owner.post_form(&path, &[("workflow", "refresh_workspace_health"), ("cron", "15 * * * * *"), ("params", "{}")]).await;
        assert_eq!(ok.status(), StatusCode::SEE_OTHER, "once a minute, at second 15, is fine");
        let mine = schedule::Entity::find().filter(schedule::Column::WorkspaceId.eq(&ws.id)).filter(schedule::Column::Workflow.eq("refresh_workspace_health")).count(&app.db).await.unwrap();
        assert_eq!(mine, 1);
    }

    async fn an_every_second_schedule_made_before_the_rule_fires_at_most_once_a_minute(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let tick = Utc::now() - Duration::seconds(1);
        schedule::ActiveModel {
            id: Set("sch_legacy_every_second".into()),
            workflow: Set("refresh_workspace_health".into()),
            workspace_id: Set(Some(ws.id.clone())),
            cron: Set("* * * * * *".into()),
            timezone: Set(None),
            params: Set("{}".into()),
            paused: Set(false),
            next_run_at: Set(Some(tick)),
            last_run_at: Set(None),
            last_run_id: Set(None),
            created_by: Set(Some("an older build".into())),
            created_at: Set(Utc::now() - Duration::days(30)),
        }
        .insert(&app.db)
        .await
        .unwrap();
        // The workers' own clock fires it (once a second); count the runs it started.
        let ticks = || async {
            workflow_run::Entity::find()
                .filter(workflow_run::Column::IdempotencyKey.starts_with("schedule:sch_legacy_every_second:"))
                .count(&app.db)
                .await
                .unwrap()
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while ticks().await == 0 {
            assert!(std::time::Instant::now() < deadline, "the due tick never fired");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(3000)).await;
        assert_eq!(ticks().await, 1, "not again in the seconds after");
        let after = schedule::Entity::find_by_id("sch_legacy_every_second").one(&app.db).await.unwrap().unwrap();
        assert!(after.next_run_at.unwrap() >= tick + Duration::seconds(59), "next tick {:?}", after.next_run_at);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_may_have_only_its_number_of_schedules() {
    let app = TestApp::spawn_with(Backend::Sqlite, |config| config.limits.schedules_per_workspace = 2).await;
    let ws = app.create_workspace("Acme", &app.admin).await;
    let owner = app.sign_in(ADMIN_EMAIL).await;
    let path = format!("/admin/workspaces/{}/schedules", ws.slug);
    for minute in ["0", "30"] {
        let cron = format!("{minute} 9 * * *");
        let response = owner
            .post_form(&path, &[("workflow", "refresh_workspace_health"), ("cron", cron.as_str()), ("params", "{}")])
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "the weekly digest's built-in schedule does not count");
    }
    let third = owner
        .post_form(&path, &[("workflow", "refresh_workspace_health"), ("cron", "45 9 * * *"), ("params", "{}")])
        .await;
    assert_eq!(third.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(third.text().await.unwrap().contains("already has 2 schedules"));
    let count = schedule::Entity::find().filter(schedule::Column::WorkspaceId.eq(&ws.id)).count(&app.db).await.unwrap();
    assert_eq!(count, 3, "two of its own and the weekly digest");
}
