//! API keys: created and shown once in the UI, authenticate the JSON API, revocable.

use crate::helpers::*;
use crate::on_both_databases;
use offstage::db::entities::api_key;
use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};

/// Creates a key through the UI and returns the secret shown on the page.
async fn create_key(app: &TestApp, visitor: &Visitor, slug: &str, name: &str) -> String {
    let response = visitor.post_form(&format!("/admin/workspaces/{slug}/api-keys"), &[("name", name)]).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let html = response.text().await.unwrap();
    assert!(html.contains("it is shown only this once"));
    let start = html.find("osk_").unwrap();
    let secret: String = html[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    let (_, listing) = visitor.get_html(&format!("/admin/workspaces/{slug}/api-keys")).await;
    assert!(!listing.contains(&secret), "the secret is never shown again");
    let _ = app;
    secret
}

async fn get_workspace(app: &TestApp, auth: Option<&str>) -> reqwest::Response {
    let mut request = app.anonymous().get(app.url("/api/v1/workspace"));
    if let Some(value) = auth {
        request = request.header("Authorization", value);
    }
    request.send().await.unwrap()
}

on_both_databases! {
    async fn a_key_created_in_the_ui_reads_its_workspace_over_the_api(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let owner = app.sign_in(ADMIN_EMAIL).await;
        let secret = create_key(&app, &owner, &ws.slug, "Production").await;
        let response = get_workspace(&app, Some(&format!("Bearer {secret}"))).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["id"], ws.id);
        assert_eq!(body["slug"], "acme");
        assert_eq!(body["name"], "Acme");
        assert_eq!(body["timezone"], "Europe/Berlin");
        assert_eq!(body["plan"], "free");
        assert_eq!(body["subscription_status"], "none");
        assert_eq!(body["trial_ends_at"], serde_json::Value::Null);
        assert_eq!(body["members_count"], 1);
        let key = api_key::Entity::find().one(&app.db).await.unwrap().unwrap();
        assert!(key.last_used_at.is_some(), "last use is recorded");
        assert_ne!(key.token_hash, secret, "only a hash is stored");
        let (_, listing) = owner.get_html(&format!("/admin/workspaces/{}/api-keys", ws.slug)).await;
        assert!(listing.contains(&key.prefix));
    }

    async fn missing_malformed_and_unknown_keys_get_401_as_json(app: TestApp) {
        for auth in [None, Some("Basic abc"), Some("Bearer osk_nope_nope"), Some("Bearer ")] {
            let response = get_workspace(&app, auth).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "unauthorized");
            assert!(body["error"]["message"].as_str().unwrap().len() > 10);
        }
    }

    async fn a_revoked_key_stops_working_at_once(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let owner = app.sign_in(ADMIN_EMAIL).await;
        let secret = create_key(&app, &owner, &ws.slug, "Temp").await;
        assert_eq!(get_workspace(&app, Some(&format!("Bearer {secret}"))).await.status(), StatusCode::OK);
        let key = api_key::Entity::find().one(&app.db).await.unwrap().unwrap();
        let response = owner.post_form(&format!("/admin/workspaces/{}/api-keys/{}/revoke", ws.slug, key.id), &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(get_workspace(&app, Some(&format!("Bearer {secret}"))).await.status(), StatusCode::UNAUTHORIZED);
        let (_, listing) = owner.get_html(&format!("/admin/workspaces/{}/api-keys", ws.slug)).await;
        assert!(listing.contains("was revoked"));
        assert!(listing.contains("revoked "));
    }

    async fn a_key_needs_a_name(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let owner = app.sign_in(ADMIN_EMAIL).await;
        let response = owner.post_form(&format!("/admin/workspaces/{}/api-keys", ws.slug), &[("name", "   ")]).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(response.text().await.unwrap().contains("Give the key a name"));
        assert_eq!(api_key::Entity::find().count(&app.db).await.unwrap(), 0);
    }

    async fn unknown_api_routes_answer_404_as_json(app: TestApp) {
        let response = app.anonymous().get(app.url("/api/v1/nothing-here")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found");
    }
}
