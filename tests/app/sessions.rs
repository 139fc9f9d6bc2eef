//! Sessions live on the server: a copy of the cookie is worth nothing once its session ended
//! (signing out, idle or absolute expiry, a password change, "sign out everywhere else"), and
//! the Account page lists where you are signed in.

use crate::helpers::*;
use crate::on_both_databases;
use chrono::{Duration, Utc};
use offstage::db::entities::session;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

/// A client that sends exactly the given cookie and keeps nothing: a copy of a stolen cookie.
async fn with_cookie(app: &TestApp, cookie: &str, path: &str) -> StatusCode {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    client.get(app.url(path)).header("Cookie", cookie).send().await.unwrap().status()
}

/// Signs in with a plain client and returns the session cookie it was given.
async fn session_cookie(app: &TestApp, email: &str) -> String {
    let visitor = app.visitor().await;
    let response = visitor.post_form("/login", &[("email", email), ("password", PASSWORD)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let set = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("offstage_session="))
        .expect("a session cookie");
    set.split(';').next().unwrap().to_owned()
}

on_both_databases! {
    async fn a_copy_of_the_session_cookie_opens_nothing_after_signing_out(app: TestApp) {
        let visitor = app.sign_in(ADMIN_EMAIL).await;
        let (status, html) = visitor.get_html("/admin/account").await;
        assert_eq!(status, StatusCode::OK);
        let cookie = {
            let url = reqwest::Url::parse(&app.url("/")).unwrap();
            let jar_header = visitor.cookies(&url);
            jar_header.split("; ").find(|c| c.starts_with("offstage_session=")).unwrap().to_owned()
        };
        assert_eq!(with_cookie(&app, &cookie, "/admin/account").await, StatusCode::OK, "the copy works while signed in");
        assert!(html.contains("this browser"));
        let out = visitor.post_form("/logout", &[]).await;
        assert_eq!(out.status(), StatusCode::SEE_OTHER);
        assert_eq!(with_cookie(&app, &cookie, "/admin/account").await, StatusCode::SEE_OTHER, "signed out everywhere");
        assert!(session::Entity::find().all(&app.db).await.unwrap().is_empty(), "the session row is gone");
    }

    async fn a_session_unused_for_its_idle_timeout_has_ended(app: TestApp) {
        let cookie = session_cookie(&app, ADMIN_EMAIL).await;
        let idle = Utc::now() - Duration::days(7) - Duration::minutes(1);
        session::Entity::update_many().col_expr(session::Column::LastSeenAt, Expr::value(idle)).exec(&app.db).await.unwrap();
        assert_eq!(with_cookie(&app, &cookie, "/admin/account").await, StatusCode::SEE_OTHER);
        assert!(session::Entity::find().all(&app.db).await.unwrap().is_empty(), "an ended session is removed");
    }

    async fn a_session_ends_at_its_lifetime_however_much_it_is_used(app: TestApp) {
        let cookie = session_cookie(&app, ADMIN_EMAIL).await;
        assert_eq!(with_cookie(&app, &cookie, "/admin/account").await, StatusCode::OK);
        let over = Utc::now() - Duration::seconds(1);
        session::Entity::update_many().col_expr(session::Column::ExpiresAt, Expr::value(over)).exec(&app.db).await.unwrap();
        assert_eq!(with_cookie(&app, &cookie, "/admin/account").await, StatusCode::SEE_OTHER);
    }

    async fn the_account_page_lists_where_you_are_signed_in_and_signs_out_everywhere_else(app: TestApp) {
        let here = app.sign_in(ADMIN_EMAIL).await;
        let elsewhere_cookie = session_cookie(&app, ADMIN_EMAIL).await;
        let third_cookie = session_cookie(&app, ADMIN_EMAIL).await;
        let (_, html) = here.get_html("/admin/account").await;
        assert_eq!(html.matches("127.0.0.1").count(), 3, "three sessions, each with its address: {html}");
        assert!(html.contains("Sign out everywhere else"));
        let sessions = session::Entity::find().all(&app.db).await.unwrap();
        assert_eq!(sessions.len(), 3);
        let response = here.post_form("/admin/account/sessions/sign-out-others", &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let (status, html) = here.get_html("/admin/account").await;
        assert_eq!(status, StatusCode::OK, "this browser stays signed in");
        assert!(html.contains("Signed out of 2 other browsers."));
        assert!(!html.contains("Sign out everywhere else"), "nothing else to sign out");
        assert_eq!(with_cookie(&app, &elsewhere_cookie, "/admin/account").await, StatusCode::SEE_OTHER);
        assert_eq!(with_cookie(&app, &third_cookie, "/admin/account").await, StatusCode::SEE_OTHER);
    }

    async fn one_other_session_is_signed_out_from_the_account_page_and_nobody_elses(app: TestApp) {
        let bob = app.create_user("bob@example.com").await;
        let here = app.sign_in(ADMIN_EMAIL).await;
        let other_cookie = session_cookie(&app, ADMIN_EMAIL).await;
        let bob_cookie = session_cookie(&app, &bob.email).await;
        let mine: Vec<session::Model> =
            session::Entity::find().filter(session::Column::UserId.eq(&app.admin.id)).all(&app.db).await.unwrap();
        let bobs = session::Entity::find().filter(session::Column::UserId.eq(&bob.id)).one(&app.db).await.unwrap().unwrap();
        let refused = here.post_form(&format!("/admin/account/sessions/{}/sign-out", bobs.id), &[]).await;
        assert_eq!(refused.status(), StatusCode::NOT_FOUND, "another person's session is not yours to end");
        assert_eq!(with_cookie(&app, &bob_cookie, "/admin/account").await, StatusCode::OK);
        let (_, html) = here.get_html("/admin/account").await;
        let other = mine.iter().find(|s| html.contains(&format!("/admin/account/sessions/{}/sign-out", s.id))).unwrap();
        let response = here.post_form(&format!("/admin/account/sessions/{}/sign-out", other.id), &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(with_cookie(&app, &other_cookie, "/admin/account").await, StatusCode::SEE_OTHER);
        assert_eq!(here.get_html("/admin/account").await.0, StatusCode::OK);
    }

    async fn a_password_change_ends_every_other_session_including_copies_of_their_cookies(app: TestApp) {
        let here = app.sign_in(ADMIN_EMAIL).await;
        let stolen = session_cookie(&app, ADMIN_EMAIL).await;
        let response = here
            .post_form("/admin/account/password", &[("current_password", PASSWORD), ("new_password", "a brand new one"), ("new_password_confirmation", "a brand new one")])
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(with_cookie(&app, &stolen, "/admin/account").await, StatusCode::SEE_OTHER);
        assert_eq!(here.get_html("/admin/account").await.0, StatusCode::OK);
        assert_eq!(session::Entity::find().all(&app.db).await.unwrap().len(), 1);
    }
}
