//! Recurring schedules: created in the UI, each tick starts exactly one run (even when several
//! processes fire at once), pause / resume / run now, and bad input explained.

use crate::helpers::*;
use crate::on_both_databases;
use chrono::{Duration, Utc};
use offstage::db::entities::{schedule, workflow_run};
use offstage::domain::{CronExpr, Timezone};
use offstage::engine::schedules::{self, NewSchedule};
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

async fn runs_of(app: &TestApp, ws_id: &str) -> Vec<workflow_run::Model> {
    workflow_run::Entity::find()
        .filter(workflow_run::Column::WorkspaceId.eq(ws_id))
        .filter(workflow_run::Column::Trigger.eq("schedule"))
        .filter(workflow_run::Column::Workflow.eq("probe"))
        .all(&app.db)
        .await
        .unwrap()
}

pub(crate) async fn yearly_probe(app: &TestApp, ws: &offstage::db::entities::workspace::Model) -> schedule::Model {
    let new = NewSchedule {
        workflow: app.workflows.find("probe").unwrap(),
        workspace: Some(ws.clone()),
        cron: CronExpr::parse("0 0 1 1 *").unwrap(),
        timezone: Some(Timezone::parse("UTC").unwrap()),
        params: serde_json::json!({}),
        created_by: "test".into(),
    };
    schedules::create(&app.db, new, &app.config.limits).await.unwrap()
}

on_both_databases! {
    async fn a_schedule_created_in_the_ui_starts_one_run_per_tick(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let owner = app.sign_in(ADMIN_EMAIL).await;
        let path = format!("/admin/workspaces/{}/schedules", ws.slug);
        let response = owner.post_form(&path, &[("workflow", "probe"), ("cron", "* * * * *"), ("timezone", ""), ("params", "{\"value\": 7}")]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let (_, html) = owner.get_html(&path).await;
        assert!(html.contains("Schedule created: probe runs next at"));
        assert!(html.contains("Europe/Berlin (workspace)"));
        // Its first tick comes due now rather than within the minute.
        let created = schedule::Entity::find().filter(schedule::Column::Workflow.eq("probe")).one(&app.db).await.unwrap().unwrap();
        let tick = Utc::now() - Duration::seconds(1);
        let mut active: schedule::ActiveModel = created.clone().into();
        active.next_run_at = Set(Some(tick));
        active.update(&app.db).await.unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while runs_of(&app, &ws.id).await.is_empty() {
            assert!(std::time::Instant::now() < deadline, "the due tick started no run");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        let runs = runs_of(&app, &ws.id).await;
        assert_eq!(runs.len(), 1, "one run for the tick, none in the seconds after");
        assert_eq!(runs[0].idempotency_key.as_deref(), Some(format!("schedule:{}:{}", created.id, tick.timestamp()).as_str()));
        let after = schedule::Entity::find_by_id(&created.id).one(&app.db).await.unwrap().unwrap();
        assert!(after.next_run_at.unwrap() > tick + Duration::seconds(58), "the next tick is the next minute");
    }

    async fn several_processes_firing_the_same_tick_start_one_run(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let found = yearly_probe(&app, &ws).await;
        let tick = Utc::now() - Duration::seconds(5);
        let mut active: schedule::ActiveModel = found.clone().into();
        active.next_run_at = Set(Some(tick));
        active.update(&app.db).await.unwrap();
        let now = Utc::now();
        let (a, b, c) = tokio::join!(
            schedules::fire_due(&app.db, &app.workflows, now),
            schedules::fire_due(&app.db, &app.workflows, now),
            schedules::fire_due(&app.db, &app.workflows, now)
        );
        let fired = [a, b, c].into_iter().map(|r| r.unwrap()).sum::<usize>();
        assert!(fired <= 1);
        let runs = runs_of(&app, &ws.id).await;
        assert_eq!(runs.len(), 1, "exactly one run for the tick");
        assert_eq!(runs[0].idempotency_key.as_deref(), Some(format!("schedule:{}:{}", found.id, tick.timestamp()).as_str()));
        let after = schedule::Entity::find_by_id(&found.id).one(&app.db).await.unwrap().unwrap();
        assert!(after.next_run_at.unwrap() > now, "the next tick moved on");
        assert_eq!(after.last_run_id.as_deref(), Some(runs[0].id.as_str()));
    }

    async fn a_paused_schedule_starts_nothing_until_resumed_and_run_now_starts_one(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let found = yearly_probe(&app, &ws).await;
        let owner = app.sign_in(ADMIN_EMAIL).await;
        let base = format!("/admin/workspaces/{}/schedules/{}", ws.slug, found.id);
        assert_eq!(owner.post_form(&format!("{base}/pause"), &[]).await.status(), StatusCode::SEE_OTHER);
        let paused = schedule::Entity::find_by_id(&found.id).one(&app.db).await.unwrap().unwrap();
        assert!(paused.paused && paused.next_run_at.is_none());
        schedules::fire_due(&app.db, &app.workflows, Utc::now() + Duration::days(400)).await.unwrap();
        assert!(runs_of(&app, &ws.id).await.is_empty(), "a paused schedule starts nothing");
        assert_eq!(owner.post_form(&format!("{base}/resume"), &[]).await.status(), StatusCode::SEE_OTHER);
        let resumed = schedule::Entity::find_by_id(&found.id).one(&app.db).await.unwrap().unwrap();
        assert!(!resumed.paused && resumed.next_run_at.unwrap() > Utc::now());
        let response = owner.post_form(&format!("{base}/run-now"), &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert!(location(&response).contains("/runs/"));
        assert_eq!(runs_of(&app, &ws.id).await.len(), 1);
        assert_eq!(owner.post_form(&format!("{base}/delete"), &[]).await.status(), StatusCode::SEE_OTHER);
        assert_eq!(schedule::Entity::find().filter(schedule::Column::Workflow.eq("probe")).count(&app.db).await.unwrap(), 0);
    }

    async fn bad_schedules_are_explained_and_nothing_is_created(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let owner = app.sign_in(ADMIN_EMAIL).await;
        let path = format!("/admin/workspaces/{}/schedules", ws.slug);
        for (fields, message) in [
            (vec![("workflow", "probe"), ("cron", "every day")], "cron:"),
            (vec![("workflow", "probe"), ("cron", "0 9 * * Sun"), ("timezone", "Mars/Base")], "not a known timezone"),
            (vec![("workflow", "probe"), ("cron", "0 9 * * Sun"), ("params", "[1]")], "parameters: write a JSON object"),
            (vec![("workflow", "probe"), ("cron", "0 9 * * Sun"), ("params", "{\"sleep_ms\": \"x\"}")], "sleep_ms"),
            (vec![("workflow", "record_workspace_created"), ("cron", "0 9 * * Sun")], "workflow: choose one of"),
        ] {
            let response = owner.post_form(&path, &fields).await;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
            assert!(response.text().await.unwrap().contains(message), "{message}");
        }
        assert_eq!(schedule::Entity::find().filter(schedule::Column::Workflow.eq("probe")).count(&app.db).await.unwrap(), 0);
    }

    async fn schedules_in_the_workspace_timezone_follow_it_when_it_changes(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let new = NewSchedule {
            workflow: app.workflows.find("probe").unwrap(),
            workspace: Some(ws.clone()),
            cron: CronExpr::parse("0 9 * * *").unwrap(),
            timezone: None,
            params: serde_json::json!({}),
            created_by: "test".into(),
        };
        let found = schedules::create(&app.db, new, &app.config.limits).await.unwrap();
        let berlin = found.next_run_at.unwrap();
        assert_eq!(berlin.with_timezone(&chrono_tz::Europe::Berlin).format("%H:%M").to_string(), "09:00");
        let owner = app.sign_in(ADMIN_EMAIL).await;
        let response = owner.post_form(&format!("/admin/workspaces/{}/settings", ws.slug), &[("name", "Acme"), ("timezone", "Asia/Tokyo")]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let moved = schedule::Entity::find_by_id(&found.id).one(&app.db).await.unwrap().unwrap().next_run_at.unwrap();
        assert_eq!(moved.with_timezone(&chrono_tz::Asia::Tokyo).format("%H:%M").to_string(), "09:00");
    }

    async fn the_weekly_digest_schedule_can_be_paused_but_not_deleted(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let id = offstage::workspaces::workflows::generate_weekly_digest::schedule_id(&ws.id);
        let owner = app.sign_in(ADMIN_EMAIL).await;
        let (_, page) = owner.get_html(&format!("/admin/workspaces/{}/schedules", ws.slug)).await;
        assert!(page.contains("generate_weekly_digest") && page.contains(&format!("/schedules/{id}/pause")));
        assert!(!page.contains(&format!("/schedules/{id}/delete")), "a built-in schedule offers no Delete");
        let response = owner.post_form(&format!("/admin/workspaces/{}/schedules/{id}/delete", ws.slug), &[]).await;
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert!(response.text().await.unwrap().contains("pause it instead"));
        assert!(schedule::Entity::find_by_id(&id).one(&app.db).await.unwrap().is_some());
        let response = owner.post_form(&format!("/admin/workspaces/{}/schedules/{id}/pause", ws.slug), &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert!(schedule::Entity::find_by_id(&id).one(&app.db).await.unwrap().unwrap().paused);
    }
}
