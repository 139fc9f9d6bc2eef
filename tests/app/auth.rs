//! Signing in and out, the session cookie, and the failed-login throttle.

use crate::helpers::*;
use crate::on_both_databases;
use reqwest::StatusCode;

on_both_databases! {
    async fn an_anonymous_visitor_is_sent_to_the_sign_in_page(app: TestApp) {
        let response = app.anonymous().get(app.url("/admin/workspaces")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&response), "/login?next=%2Fadmin%2Fworkspaces");
    }

    async fn signing_in_with_the_right_password_opens_the_workspace_list(app: TestApp) {
        let visitor = app.visitor().await;
        let response = visitor.post_form("/login", &[("email", ADMIN_EMAIL), ("password", PASSWORD), ("next", "/admin/account")]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&response), "/admin/account");
        let cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        let (status, html) = visitor.get_html("/admin/workspaces").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains(ADMIN_EMAIL));
        assert!(html.contains("No workspaces yet"));
    }

    async fn a_wrong_password_is_refused_with_a_clear_message(app: TestApp) {
        let visitor = app.visitor().await;
        let response = visitor.post_form("/login", &[("email", ADMIN_EMAIL), ("password", "not the password")]).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.text().await.unwrap().contains("match an account"));
        let (status, _) = visitor.get_html("/admin/workspaces").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }

    async fn an_unknown_email_is_refused_like_a_wrong_password(app: TestApp) {
        let visitor = app.visitor().await;
        let response = visitor.post_form("/login", &[("email", "nobody@example.com"), ("password", PASSWORD)]).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }

    async fn repeated_failures_are_throttled_even_with_the_right_password_afterwards(app: TestApp) {
        let visitor = app.visitor().await;
        for _ in 0..5 {
            let response = visitor.post_form("/login", &[("email", ADMIN_EMAIL), ("password", "guess")]).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        }
        let response = visitor.post_form("/login", &[("email", ADMIN_EMAIL), ("password", PASSWORD)]).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(response.text().await.unwrap().contains("Too many failed sign-in attempts"));
    }

    async fn one_address_guessing_many_accounts_is_throttled_too(app: TestApp) {
        let visitor = app.visitor().await;
        for i in 0..offstage::accounts::throttle::MAX_FAILURES_PER_ADDRESS {
            let email = format!("guess{i}@example.com");
            let response = visitor.post_form("/login", &[("email", &email), ("password", "guess")]).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        }
        let response = visitor.post_form("/login", &[("email", ADMIN_EMAIL), ("password", PASSWORD)]).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    }

    async fn signing_out_ends_the_session(app: TestApp) {
        let visitor = app.sign_in(ADMIN_EMAIL).await;
        let response = visitor.post_form("/logout", &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&response), "/login");
        let (status, _) = visitor.get_html("/admin/workspaces").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }

    async fn a_return_address_that_a_browser_would_read_as_another_site_sends_to_the_admin_instead(app: TestApp) {
        for next in ["//evil.example.com/", "/\t/evil.example", "/\\evil.example", "/admin\r\nSet-Cookie: x=1", "https://evil.example", " /admin"] {
            let visitor = app.visitor().await;
            let response = visitor.post_form("/login", &[("email", ADMIN_EMAIL), ("password", PASSWORD), ("next", next)]).await;
            assert_eq!(response.status(), StatusCode::SEE_OTHER, "{next:?}");
            assert_eq!(location(&response), "/admin", "{next:?}");
        }
        let (status, page) = app.visitor().await.get_html("/login?next=%2F%09%2Fevil.example").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("name=\"next\" value=\"/admin\""), "{page}");
        let visitor = app.visitor().await;
        let response = visitor.post_form("/login", &[("email", ADMIN_EMAIL), ("password", PASSWORD), ("next", "/admin/account?tab=1")]).await;
        assert_eq!(location(&response), "/admin/account?tab=1", "a path of this site is followed");
        let home = visitor.get("/admin").await;
        assert_eq!(location(&home), "/admin/workspaces");
    }

    async fn a_page_number_past_any_list_is_a_clear_400_not_a_broken_connection(app: TestApp) {
        let visitor = app.sign_in(ADMIN_EMAIL).await;
        for page in ["200000000000000000", "0", "100001", "18446744073709551615", "-1", "abc", "1e3", "99999999999999999999999"] {
            let (status, html) = visitor.get_html(&format!("/admin/workspaces?page={page}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "page={page}");
            assert!(html.contains("page: use a number from 1 to 100000"), "page={page}: {html}");
        }
        assert_eq!(visitor.get_html("/admin/workspaces?page=100000").await.0, StatusCode::OK, "an empty last page is a page");
        let ws = app.create_workspace("Acme", &app.admin).await;
        let key = app.api_key(&ws).await;
        for (limit, expected) in [("0", StatusCode::UNPROCESSABLE_ENTITY), ("201", StatusCode::UNPROCESSABLE_ENTITY), ("200000000000000000", StatusCode::UNPROCESSABLE_ENTITY), ("-5", StatusCode::UNPROCESSABLE_ENTITY), ("many", StatusCode::BAD_REQUEST)] {
            let response = app.anonymous().get(app.url(&format!("/api/v1/runs?limit={limit}"))).bearer_auth(&key).send().await.unwrap();
            assert_eq!(response.status(), expected, "limit={limit}");
            let body: serde_json::Value = response.json().await.unwrap();
            assert!(body["error"]["message"].as_str().unwrap().contains("limit"), "limit={limit}: {body}");
        }
    }

    async fn every_page_carries_security_headers(app: TestApp) {
        let response = app.anonymous().get(app.url("/login")).send().await.unwrap();
        let headers = response.headers();
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(headers["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
        assert_eq!(headers["referrer-policy"], "same-origin");
        assert!(!headers.contains_key("strict-transport-security"), "no HSTS over plain http");
    }

    async fn a_new_api_keys_page_and_every_signed_in_page_are_never_stored_by_browsers(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let owner = app.sign_in(ADMIN_EMAIL).await;
        let created = owner.post_form(&format!("/admin/workspaces/{}/api-keys", ws.slug), &[("name", "Production")]).await;
        assert_eq!(created.status(), StatusCode::CREATED);
        assert_eq!(created.headers()["cache-control"], "no-store", "the page showing the secret once");
        for path in ["/admin/workspaces", "/admin/account", &format!("/admin/workspaces/{}/members", ws.slug)] {
            let response = owner.get(path).await;
            assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
        }
        let css = app.anonymous().get(app.url("/static/app.css")).send().await.unwrap();
        assert_eq!(css.headers()["cache-control"], "public, max-age=3600", "static files are still cached");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_are_told_to_use_https_only_when_the_public_url_is_https() {
    let app =
        TestApp::spawn_with(Backend::Sqlite, |config| config.base_url = "https://offstage.example.com".into()).await;
    let response = app.anonymous().get(app.url("/login")).send().await.unwrap();
    assert_eq!(response.headers()["strict-transport-security"], "max-age=31536000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_is_secure_when_the_public_url_is_https() {
    let app =
        TestApp::spawn_with(Backend::Sqlite, |config| config.base_url = "https://offstage.example.com".into()).await;
    let response = app.anonymous().get(app.url("/login")).send().await.unwrap();
    let cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");
    let plain = TestApp::spawn(Backend::Sqlite).await;
    let response = plain.anonymous().get(plain.url("/login")).send().await.unwrap();
    let cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(!cookie.contains("Secure"), "{cookie}");
}
