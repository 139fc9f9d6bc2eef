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
        for i in 0..offstage::accounts::MAX_FAILED_LOGINS_PER_IP {
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

    async fn the_return_address_after_sign_in_never_leaves_the_site(app: TestApp) {
        let visitor = app.visitor().await;
        let response = visitor.post_form("/login", &[("email", ADMIN_EMAIL), ("password", PASSWORD), ("next", "//evil.example.com/")]).await;
        assert_eq!(location(&response), "/admin/workspaces");
    }

    async fn every_page_carries_security_headers(app: TestApp) {
        let response = app.anonymous().get(app.url("/login")).send().await.unwrap();
        let headers = response.headers();
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(headers["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
        assert_eq!(headers["referrer-policy"], "same-origin");
    }
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
