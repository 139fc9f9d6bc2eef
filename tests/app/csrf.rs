//! CSRF: every state-changing form is refused without the session's token, and nothing changes.

use crate::helpers::*;
use crate::on_both_databases;
use offstage::db::entities::workspace;
use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};

on_both_databases! {
    async fn every_state_changing_form_is_refused_without_a_valid_token(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let slug = ws.slug.clone();
        let visitor = app.sign_in(ADMIN_EMAIL).await;
        let routes = [
            "/logout".to_owned(),
            "/admin/workspaces".to_owned(),
            format!("/admin/workspaces/{slug}/settings"),
            format!("/admin/workspaces/{slug}/members"),
            format!("/admin/workspaces/{slug}/members/mem_x/role"),
            format!("/admin/workspaces/{slug}/members/mem_x/remove"),
            format!("/admin/workspaces/{slug}/invitations/inv_x/revoke"),
            format!("/admin/workspaces/{slug}/api-keys"),
            format!("/admin/workspaces/{slug}/api-keys/key_x/revoke"),
            "/admin/account/password".to_owned(),
        ];
        for route in &routes {
            let fields = [("name", "Changed"), ("timezone", "UTC"), ("email", "x@example.com"), ("role", "member")];
            let missing = visitor.post_raw(route, &fields).await;
            assert_eq!(missing.status(), StatusCode::FORBIDDEN, "{route} without a token");
            let mut wrong = vec![("csrf_token", "0000")];
            wrong.extend_from_slice(&fields);
            let wrong = visitor.post_raw(route, &wrong).await;
            assert_eq!(wrong.status(), StatusCode::FORBIDDEN, "{route} with a wrong token");
        }
        assert_eq!(workspace::Entity::find().count(&app.db).await.unwrap(), 1);
        let (status, html) = visitor.get_html(&format!("/admin/workspaces/{slug}/settings")).await;
        assert_eq!(status, StatusCode::OK, "the session survived");
        assert!(html.contains("value=\"Acme\""));
    }

    async fn the_sign_in_form_needs_its_token_too(app: TestApp) {
        let visitor = app.visitor().await;
        let response = visitor.post_raw("/login", &[("email", ADMIN_EMAIL), ("password", PASSWORD)]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(response.text().await.unwrap().contains("Reload the page"));
    }
}
