//! "Forgot your password?": the same answer for every address, a link that works once for an
//! hour (a newer one replaces it), a reset that ends every session and tells the address,
//! requests limited per address and per email, and a platform admin sending the link.

use crate::helpers::*;
use crate::on_both_databases;
use chrono::{Duration, Utc};
use offstage::db::entities::account_link;
use reqwest::StatusCode;
use sea_orm::{EntityTrait, sea_query::Expr};

/// Asks for a reset link for `email`; returns the page's answer text and status.
async fn ask_for_link(visitor: &Visitor, email: &str) -> (StatusCode, String) {
    let response = visitor.post_form("/password/forgot", &[("email", email)]).await;
    let status = response.status();
    (status, response.text().await.unwrap())
}

fn answer(page: &str, email: &str) -> String {
    let start = page.find("flash").expect("an answer");
    page[start..start + page[start..].find("</div>").unwrap()].replace(email, "EMAIL")
}

on_both_databases! {
    async fn the_answer_to_a_reset_request_is_the_same_whether_or_not_the_address_has_an_account(app: TestApp) {
        let visitor = app.visitor().await;
        let (known_status, known) = ask_for_link(&visitor, ADMIN_EMAIL).await;
        let (unknown_status, unknown) = ask_for_link(&visitor, "nobody@example.com").await;
        assert_eq!((known_status, unknown_status), (StatusCode::OK, StatusCode::OK));
        assert_eq!(answer(&known, ADMIN_EMAIL), answer(&unknown, "nobody@example.com"));
        assert_eq!(app.emails_to("password_reset", ADMIN_EMAIL).await, 1);
        assert_eq!(app.emails_to("password_reset", "nobody@example.com").await, 0);
        let (status, page) = app.visitor().await.get_html("/login").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("href=\"/password/forgot\""), "the sign-in page offers it");
    }

    async fn a_reset_link_works_once_for_an_hour_and_a_newer_one_replaces_it(app: TestApp) {
        let visitor = app.visitor().await;
        ask_for_link(&visitor, ADMIN_EMAIL).await;
        let first = app.secret_in_email("password_reset", ADMIN_EMAIL, "/password/reset/").await;
        ask_for_link(&visitor, ADMIN_EMAIL).await;
        let second = app.secret_in_email("password_reset", ADMIN_EMAIL, "/password/reset/").await;
        assert_ne!(first, second);
        assert_eq!(visitor.get_html(&format!("/password/reset/{first}")).await.0, StatusCode::GONE, "replaced by the newer one");
        let (status, form) = visitor.get_html(&format!("/password/reset/{second}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(form.contains(ADMIN_EMAIL));
        let mismatch = visitor.post_form(&format!("/password/reset/{second}"), &[("password", "new password 1"), ("password_confirmation", "new password 2")]).await;
        assert_eq!(mismatch.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let done = visitor.post_form(&format!("/password/reset/{second}"), &[("password", "a new password"), ("password_confirmation", "a new password")]).await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&done), "/login");
        let again = visitor.post_form(&format!("/password/reset/{second}"), &[("password", "another one!!"), ("password_confirmation", "another one!!")]).await;
        assert_eq!(again.status(), StatusCode::GONE, "a link works once");
        let fresh = app.visitor().await;
        assert_eq!(fresh.post_form("/login", &[("email", ADMIN_EMAIL), ("password", PASSWORD)]).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(fresh.post_form("/login", &[("email", ADMIN_EMAIL), ("password", "a new password")]).await.status(), StatusCode::SEE_OTHER);
        ask_for_link(&visitor, ADMIN_EMAIL).await;
        let late = app.secret_in_email("password_reset", ADMIN_EMAIL, "/password/reset/").await;
        account_link::Entity::update_many().col_expr(account_link::Column::ExpiresAt, Expr::value(Utc::now() - Duration::seconds(1))).exec(&app.db).await.unwrap();
        assert_eq!(visitor.get_html(&format!("/password/reset/{late}")).await.0, StatusCode::GONE, "an hour old");
    }

    async fn a_reset_ends_every_session_of_the_account_and_tells_its_address(app: TestApp) {
        let signed_in = app.sign_in(ADMIN_EMAIL).await;
        assert_eq!(signed_in.get_html("/admin/account").await.0, StatusCode::OK);
        let visitor = app.visitor().await;
        ask_for_link(&visitor, ADMIN_EMAIL).await;
        let secret = app.secret_in_email("password_reset", ADMIN_EMAIL, "/password/reset/").await;
        visitor.post_form(&format!("/password/reset/{secret}"), &[("password", "a new password"), ("password_confirmation", "a new password")]).await;
        assert_eq!(signed_in.get_html("/admin/account").await.0, StatusCode::SEE_OTHER, "signed out everywhere");
        assert_eq!(app.emails_to("password_changed", ADMIN_EMAIL).await, 1);
        let (_, login) = visitor.get_html("/login").await;
        assert!(login.contains("Your password was changed"), "{login}");
    }

    async fn a_platform_admin_sends_a_reset_link_from_the_user_list_without_seeing_it(app: TestApp) {
        let ada = app.create_user("ada@example.com").await;
        let ws = app.create_workspace("Acme", &ada).await;
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let (status, list) = admin.get_html("/admin/platform/users").await;
        assert_eq!(status, StatusCode::OK);
        assert!(list.contains("ada@example.com") && list.contains(&ws.name) && list.contains(ADMIN_EMAIL));
        let (_, found) = admin.get_html("/admin/platform/users?q=ada").await;
        assert!(found.contains("ada@example.com") && found.matches("/send-reset").count() == 1, "searched by email");
        let sent = admin.post_form(&format!("/admin/platform/users/{}/send-reset", ada.id), &[]).await;
        assert_eq!(sent.status(), StatusCode::SEE_OTHER);
        let secret = app.secret_in_email("password_reset", "ada@example.com", "/password/reset/").await;
        let (_, after) = admin.get_html("/admin/platform/users").await;
        assert!(after.contains("A password reset link is on its way to ada@example.com") && !after.contains(&secret));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_requests_are_limited_per_email_quietly_and_per_address_openly() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let visitor = app.visitor().await;
    for _ in 0..4 {
        let (status, _) = ask_for_link(&visitor, ADMIN_EMAIL).await;
        assert_eq!(status, StatusCode::OK, "the same answer");
    }
    assert_eq!(app.emails_to("password_reset", ADMIN_EMAIL).await, 3, "three an hour per address");
    for i in 4..10 {
        let (status, _) = ask_for_link(&visitor, &format!("person{i}@example.com")).await;
        assert_eq!(status, StatusCode::OK);
    }
    let response = visitor.post_form("/password/forgot", &[("email", "one-more@example.com")]).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "ten an hour from one client address");
    assert!(response.headers().contains_key("retry-after"));
}
