//! Tenant isolation, walked route by route from tables that a test holds to the source: every
//! admin route of workspace A answers 404 to a member of B (as if A did not exist) and changes
//! nothing; ids of A reached through B's URLs are not found either; every platform route is 404
//! to anyone but a platform admin; an API key reaches only its own workspace; and no route
//! handler acts as Offstage itself (the capability that reads across workspaces).

mod routes;

use crate::helpers::*;
use crate::on_both_databases;
use offstage::db::entities::{api_key, invitation, membership, workspace};
use offstage::domain::Role;
use reqwest::StatusCode;
use routes::{API_ROUTES, PLATFORM_ROUTES, WORKSPACE_ROUTES};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// Every field any admin form reads, so no request fails for want of one.
const EVERY_FIELD: &[(&str, &str)] = &[
    ("name", "Owned"),
    ("timezone", "UTC"),
    ("email", "outsider@example.com"),
    ("role", "owner"),
    ("action", "cancel"),
    ("status", ""),
    ("workflow", "refresh_workspace_health"),
    ("cron", "* * * * *"),
    ("params", "{}"),
    ("price", "price_pro_monthly"),
];

/// Workspace A with a member, a pending invitation, an API key, a run and a schedule; an
/// outsider who owns B.
struct World {
    a: workspace::Model,
    b: workspace::Model,
    a_membership: String,
    a_invitation: String,
    a_key: String,
    a_run: String,
    a_schedule: String,
    a_export: String,
    a_import: String,
    outsider: Visitor,
}

async fn world(app: &TestApp) -> World {
    let a = app.create_workspace("Alpha", &app.admin).await;
    let member = app.create_user("member@example.com").await;
    app.add_member(&a, &member, Role::Member).await;
    let scope = app.scope(&a);
    let invitee = offstage::domain::Email::parse("invitee@example.com").unwrap();
    scope.invite(&app.db, &invitee, Role::Member, &app.config).await.unwrap();
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
    let a_invitation = invitation::Entity::find()
        .filter(invitation::Column::Email.eq("invitee@example.com"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let params = offstage::workspaces::workflows::refresh_workspace_health::Params { workspace_id: a.id.clone() };
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    let new = offstage::engine::NewRun::of::<
        offstage::workspaces::workflows::refresh_workspace_health::RefreshWorkspaceHealth,
    >(&params);
    let a_run = offstage::engine::runs::start(&app.db, new.at(later)).await.unwrap().id;
    let schedule = offstage::engine::schedules::NewSchedule {
        workflow: app.workflows.find("refresh_workspace_health").unwrap(),
        workspace: Some(a.clone()),
        cron: offstage::domain::CronExpr::parse("0 0 1 1 *").unwrap(),
        timezone: None,
        params: serde_json::json!({}),
        created_by: "test".into(),
    };
    let a_schedule = offstage::engine::schedules::create(&app.db, schedule, &app.config.limits).await.unwrap().id;
    let asked = offstage::exports::workflows::export_workspace_data::new_export(&a, &app.admin.id);
    let a_export = offstage::exports::record::create(&app.db, asked).await.unwrap().id;
    let rows = offstage::imports::csv_file::parse_members(b"email\nimported@example.com\n", true).unwrap();
    let a_import = offstage::imports::record::create(&app.db, &scope, &rows, "preview").await.unwrap().id;
    app.drain_jobs_due().await;
    World {
        a_export,
        a_import,
        a,
        b,
        a_membership,
        a_invitation,
        a_key: key.key.id,
        a_run: a_run.into_string(),
        a_schedule,
        outsider: app.sign_in("outsider@example.com").await,
    }
}

/// The requests a route template stands for, with `slug` and A's ids filled in.
fn concrete(template: &str, slug: &str, w: &World) -> Vec<String> {
    let path = template.replace("{slug}", slug);
    let id = [
        ("/members/", &w.a_membership),
        ("/invitations/", &w.a_invitation),
        ("/api-keys/", &w.a_key),
        ("/exports/", &w.a_export),
        ("/imports/", &w.a_import),
        ("/runs/", &w.a_run),
        ("/schedules/", &w.a_schedule),
        ("/mailbox/", &w.a_run),
        ("/stripe-events/", &w.a_run),
        ("/users/", &w.a_run),
    ]
    .iter()
    .find(|(part, _)| path.contains(part))
    .map(|(_, id)| id.to_string())
    .unwrap_or_default();
    let path = path.replace("{id}", &id).replace("{kind}", "invitation");
    let actions: &[&str] = if path.contains("/billing/") {
        &["customer", "upgrade", "portal", "unknown"]
    } else if path.contains("/schedules/") {
        &["pause", "resume", "run-now", "delete"]
    } else {
        &["cancel", "retry"]
    };
    let names = ["refresh_workspace_health", "probe"];
    let with_actions: Vec<String> = if path.contains("{action}") {
        actions.iter().map(|action| path.replace("{action}", action)).collect()
    } else {
        vec![path]
    };
    with_actions
        .into_iter()
        .flat_map(
            |p| {
                if p.contains("{name}") { names.iter().map(|n| p.replace("{name}", n)).collect() } else { vec![p] }
            },
        )
        .collect()
}

/// Everything about A that a change could touch.
async fn snapshot(app: &TestApp, w: &World) -> String {
    let ws = workspace::Entity::find_by_id(&w.a.id).one(&app.db).await.unwrap();
    let members =
        membership::Entity::find().filter(membership::Column::WorkspaceId.eq(&w.a.id)).all(&app.db).await.unwrap();
    let invites = invitation::Entity::find().all(&app.db).await.unwrap();
    let keys = api_key::Entity::find().filter(api_key::Column::WorkspaceId.eq(&w.a.id)).all(&app.db).await.unwrap();
    let runs = offstage::engine::runs::list(
        &app.db,
        &offstage::tenancy::Platform::system(),
        &offstage::engine::runs::RunFilter { limit: 100, ..Default::default() },
    )
    .await
    .unwrap();
    let runs: Vec<(String, offstage::engine::RunStatus)> =
        runs.into_iter().map(|r| (r.id.into_string(), r.status)).collect();
    let schedules = offstage::db::entities::schedule::Entity::find().all(&app.db).await.unwrap();
    let exports = offstage::db::entities::export::Entity::find().all(&app.db).await.unwrap();
    let imports = offstage::db::entities::import::Entity::find_by_id(&w.a_import).one(&app.db).await.unwrap();
    format!("{ws:?}{members:?}{invites:?}{keys:?}{runs:?}{schedules:?}{exports:?}{imports:?}")
}

on_both_databases! {
    async fn every_admin_route_of_another_workspace_answers_404_and_changes_nothing(app: TestApp) {
        let w = world(&app).await;
        let before = snapshot(&app, &w).await;
        for (method, template) in WORKSPACE_ROUTES {
            for path in concrete(template, &w.a.slug, &w) {
                let path = format!("/admin{path}");
                let (status, body) = match *method {
                    "GET" => w.outsider.get_html(&path).await,
                    _ => {
                        let response = w.outsider.post_form(&path, EVERY_FIELD).await;
                        (response.status(), response.text().await.unwrap())
                    }
                };
                assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
                assert!(!body.contains("Alpha"), "{method} {path} leaks nothing");
            }
        }
        assert_eq!(snapshot(&app, &w).await, before);
    }

    async fn ids_of_another_workspace_are_not_found_through_ones_own_workspace(app: TestApp) {
        let w = world(&app).await;
        let before = snapshot(&app, &w).await;
        for (method, template) in WORKSPACE_ROUTES.iter().filter(|(_, t)| t.contains("{id}")) {
            for path in concrete(template, &w.b.slug, &w) {
                let path = format!("/admin{path}");
                let status = match *method {
                    "GET" => w.outsider.get_html(&path).await.0,
                    _ => w.outsider.post_form(&path, EVERY_FIELD).await.status(),
                };
                assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: A's id through B's URL");
            }
        }
        assert_eq!(snapshot(&app, &w).await, before);
    }

    async fn every_platform_route_is_404_to_anyone_but_a_platform_admin(app: TestApp) {
        let w = world(&app).await;
        let before = snapshot(&app, &w).await;
        for (method, template) in PLATFORM_ROUTES {
            for path in concrete(template, "", &w) {
                let path = format!("/admin{path}");
                let status = match *method {
                    "GET" => w.outsider.get_html(&path).await.0,
                    _ => w.outsider.post_form(&path, EVERY_FIELD).await.status(),
                };
                assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
            }
        }
        assert_eq!(snapshot(&app, &w).await, before);
    }

    async fn every_api_route_reaches_only_the_keys_own_workspace(app: TestApp) {
        let w = world(&app).await;
        let b_key = app.api_key(&w.b).await;
        let before = snapshot(&app, &w).await;
        for (method, template) in API_ROUTES {
            for path in concrete(template, "", &w) {
                let url = app.url(&format!("/api/v1{path}"));
                let a_params = serde_json::json!({ "params": { "workspace_id": w.a.id } });
                let request = match *method {
                    "GET" => app.anonymous().get(url),
                    "DELETE" => app.anonymous().delete(url),
                    _ if path.ends_with("/members") => app.anonymous().post(url).header("content-type", "text/csv").body("email\n"),
                    _ if path.ends_with("/batch") => app.anonymous().post(url).json(&serde_json::json!({ "runs": [a_params] })),
                    _ => app.anonymous().post(url).json(&a_params),
                };
                let response = request.bearer_auth(&b_key).send().await.unwrap();
                let status = response.status();
                let body = response.text().await.unwrap();
                assert!(!body.contains(&w.a.id) && !body.contains(&w.a_run), "{method} {path} shows A: {body}");
                if path.contains(&w.a_run) || path.contains(&w.a_import) || path.contains("/workflows/") {
                    assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
                }
            }
        }
        assert_eq!(snapshot(&app, &w).await, before);
    }

    async fn a_platform_admin_opens_every_workspace(app: TestApp) {
        let w = world(&app).await;
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let (status, html) = admin.get_html(&format!("/admin/workspaces/{}/members", w.b.slug)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("outsider@example.com"));
    }
}
