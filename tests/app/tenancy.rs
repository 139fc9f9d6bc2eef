//! Tenant isolation: a member of workspace B asking for anything of workspace A gets 404 (as if
//! it did not exist) on every route, and nothing changes; ids of A reached through B's URLs
//! are not found either.

use crate::helpers::*;
use crate::on_both_databases;
use offstage::db::entities::{api_key, invitation, membership, workspace};
use offstage::domain::Role;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// Workspace A with a member, a pending invitation and an API key; an outsider who owns B.
struct World {
    a_schedule: String,
    a_run: String,
    a: workspace::Model,
    b: workspace::Model,
    a_membership: String,
    a_invitation: String,
    a_key: String,
    outsider: Visitor,
}

async fn world(app: &TestApp) -> World {
    let a = app.create_workspace("Alpha", &app.admin).await;
    let member = app.create_user("member@example.com").await;
    app.add_member(&a, &member, Role::Member).await;
    let scope = offstage::tenancy::Scope::trusted(a.clone(), offstage::tenancy::Actor::System);
    scope
        .add_member(&app.db, &offstage::domain::Email::parse("invitee@example.com").unwrap(), Role::Member, &app.config)
        .await
        .unwrap();
    let key = scope.create_api_key(&app.db, "Alpha key").await.unwrap();
    let outsider_user = app.create_user("outsider@example.com").await;
    let b = app.create_workspace("Beta", &outsider_user).await;
    let a_membership = membership::Entity::find()
        .filter(membership::Column::UserId.eq(&member.id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let a_invitation = invitation::Entity::find().one(&app.db).await.unwrap().unwrap().id;
    let params = offstage::workflows::probe::Params {
        workspace_id: a.id.clone(),
        value: None,
        sleep_ms: 0,
        fail_attempts: 0,
        skip: false,
    };
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    let a_run = offstage::workflows::runs::start(
        &app.db,
        offstage::workflows::NewRun::of::<offstage::workflows::probe::Probe>(&params).at(later),
    )
    .await
    .unwrap()
    .id;
    let schedule = offstage::workflows::schedules::NewSchedule {
        workflow: offstage::workflows::find("probe").unwrap(),
        workspace: Some(a.clone()),
        cron: offstage::domain::CronExpr::parse("0 0 1 1 *").unwrap(),
        timezone: None,
        params: serde_json::json!({}),
        created_by: "test".into(),
    };
    let a_schedule = offstage::workflows::schedules::create(&app.db, schedule).await.unwrap().id;
    app.drain_jobs_due().await;
    World {
        a_schedule,
        a_run,
        a,
        b,
        a_membership,
        a_invitation,
        a_key: key.key.id,
        outsider: app.sign_in("outsider@example.com").await,
    }
}

/// Everything about A that a change could touch.
async fn snapshot(app: &TestApp, w: &World) -> String {
    let ws = workspace::Entity::find_by_id(&w.a.id).one(&app.db).await.unwrap();
    let members =
        membership::Entity::find().filter(membership::Column::WorkspaceId.eq(&w.a.id)).all(&app.db).await.unwrap();
    let invites = invitation::Entity::find().all(&app.db).await.unwrap();
    let keys = api_key::Entity::find().filter(api_key::Column::WorkspaceId.eq(&w.a.id)).all(&app.db).await.unwrap();
    let runs = offstage::workflows::runs::list(
        &app.db,
        &offstage::workflows::runs::RunFilter { limit: 100, ..Default::default() },
    )
    .await
    .unwrap();
    let runs: Vec<(String, offstage::workflows::RunStatus)> = runs.into_iter().map(|r| (r.id, r.status)).collect();
    let schedules = offstage::db::entities::schedule::Entity::find().all(&app.db).await.unwrap();
    format!("{ws:?}{members:?}{invites:?}{keys:?}{runs:?}{schedules:?}")
}

on_both_databases! {
    async fn every_admin_route_of_another_workspace_answers_404_and_changes_nothing(app: TestApp) {
        let w = world(&app).await;
        let before = snapshot(&app, &w).await;
        let a = &w.a.slug;
        let gets = [
            format!("/admin/workspaces/{a}"),
            format!("/admin/workspaces/{a}/members"),
            format!("/admin/workspaces/{a}/api-keys"),
            format!("/admin/workspaces/{a}/settings"),
            format!("/admin/workspaces/{a}/workflows"),
            format!("/admin/workspaces/{a}/workflows/probe/run"),
            format!("/admin/workspaces/{a}/runs"),
            format!("/admin/workspaces/{a}/runs/{}", w.a_run),
            format!("/admin/workspaces/{a}/schedules"),
            format!("/admin/workspaces/{a}/billing"),
        ];
        for path in &gets {
            let (status, html) = w.outsider.get_html(path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "GET {path}");
            assert!(!html.contains("Alpha"), "GET {path} leaks nothing");
        }
        let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
            (format!("/admin/workspaces/{a}/settings"), vec![("name", "Owned"), ("timezone", "UTC")]),
            (format!("/admin/workspaces/{a}/members"), vec![("email", "outsider@example.com"), ("role", "owner")]),
            (format!("/admin/workspaces/{a}/members/{}/role", w.a_membership), vec![("role", "owner")]),
            (format!("/admin/workspaces/{a}/members/{}/remove", w.a_membership), vec![]),
            (format!("/admin/workspaces/{a}/invitations/{}/revoke", w.a_invitation), vec![]),
            (format!("/admin/workspaces/{a}/api-keys"), vec![("name", "Stolen")]),
            (format!("/admin/workspaces/{a}/api-keys/{}/revoke", w.a_key), vec![]),
            (format!("/admin/workspaces/{a}/workflows/probe/run"), vec![]),
            (format!("/admin/workspaces/{a}/runs/{}/cancel", w.a_run), vec![]),
            (format!("/admin/workspaces/{a}/runs/{}/retry", w.a_run), vec![]),
            (format!("/admin/workspaces/{a}/runs/bulk"), vec![("action", "cancel")]),
            (format!("/admin/workspaces/{a}/schedules"), vec![("workflow", "probe"), ("cron", "* * * * *")]),
            (format!("/admin/workspaces/{a}/schedules/{}/pause", w.a_schedule), vec![]),
            (format!("/admin/workspaces/{a}/schedules/{}/run-now", w.a_schedule), vec![]),
            (format!("/admin/workspaces/{a}/schedules/{}/delete", w.a_schedule), vec![]),
        ];
        for (path, fields) in &posts {
            let response = w.outsider.post_form(path, fields).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "POST {path}");
        }
        assert_eq!(snapshot(&app, &w).await, before);
    }

    async fn ids_of_another_workspace_are_not_found_through_ones_own_workspace(app: TestApp) {
        let w = world(&app).await;
        let before = snapshot(&app, &w).await;
        let b = &w.b.slug;
        let (status, _) = w.outsider.get_html(&format!("/admin/workspaces/{b}/runs/{}", w.a_run)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "A's run through B's URL");
        let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
            (format!("/admin/workspaces/{b}/members/{}/role", w.a_membership), vec![("role", "admin")]),
            (format!("/admin/workspaces/{b}/members/{}/remove", w.a_membership), vec![]),
            (format!("/admin/workspaces/{b}/invitations/{}/revoke", w.a_invitation), vec![]),
            (format!("/admin/workspaces/{b}/api-keys/{}/revoke", w.a_key), vec![]),
            (format!("/admin/workspaces/{b}/runs/{}/cancel", w.a_run), vec![]),
            (format!("/admin/workspaces/{b}/runs/{}/retry", w.a_run), vec![]),
            (format!("/admin/workspaces/{b}/schedules/{}/pause", w.a_schedule), vec![]),
            (format!("/admin/workspaces/{b}/schedules/{}/run-now", w.a_schedule), vec![]),
            (format!("/admin/workspaces/{b}/schedules/{}/delete", w.a_schedule), vec![]),
        ];
        for (path, fields) in &posts {
            let response = w.outsider.post_form(path, fields).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "POST {path}");
        }
        assert_eq!(snapshot(&app, &w).await, before);
    }

    async fn an_api_key_only_ever_sees_its_own_workspace(app: TestApp) {
        let w = world(&app).await;
        let scope = offstage::tenancy::Scope::trusted(w.b.clone(), offstage::tenancy::Actor::System);
        let b_key = scope.create_api_key(&app.db, "Beta key").await.unwrap();
        let response = app.anonymous().get(app.url("/api/v1/workspace")).bearer_auth(&b_key.secret).send().await.unwrap();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["id"], w.b.id);
        assert_ne!(body["id"], w.a.id);
    }

    async fn a_platform_admin_opens_every_workspace(app: TestApp) {
        let w = world(&app).await;
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let (status, html) = admin.get_html(&format!("/admin/workspaces/{}/members", w.b.slug)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("outsider@example.com"));
    }
}
