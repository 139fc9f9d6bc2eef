//! The user's own account: changing the password signs out other sessions.

use crate::helpers::*;
use crate::on_both_databases;
use reqwest::StatusCode;

on_both_databases! {
    async fn changing_the_password_keeps_this_session_and_ends_the_others(app: TestApp) {
        let here = app.sign_in(ADMIN_EMAIL).await;
        let elsewhere = app.sign_in(ADMIN_EMAIL).await;
        let response = here
            .post_form("/admin/account/password", &[("current_password", PASSWORD), ("new_password", "a brand new one"), ("new_password_confirmation", "a brand new one")])
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let (status, html) = here.get_html("/admin/account").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Password changed."));
        assert_eq!(elsewhere.get_html("/admin/account").await.0, StatusCode::SEE_OTHER);
        let fresh = app.visitor().await;
        let old = fresh.post_form("/login", &[("email", ADMIN_EMAIL), ("password", PASSWORD)]).await;
        assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
        let new = fresh.post_form("/login", &[("email", ADMIN_EMAIL), ("password", "a brand new one")]).await;
        assert_eq!(new.status(), StatusCode::SEE_OTHER);
    }

    async fn a_wrong_current_password_or_a_bad_new_one_changes_nothing(app: TestApp) {
        let visitor = app.sign_in(ADMIN_EMAIL).await;
        for (current, new, confirm, message) in [
            ("wrong password", "a brand new one", "a brand new one", "current password is not right"),
            (PASSWORD, "a brand new one", "another one!!", "don&#x27;t match"),
            (PASSWORD, "short", "short", "at least 8 characters"),
        ] {
            let response = visitor
                .post_form("/admin/account/password", &[("current_password", current), ("new_password", new), ("new_password_confirmation", confirm)])
                .await;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
            let html = response.text().await.unwrap();
            assert!(html.contains(message) || html.contains(&message.replace("&#x27;", "&#39;")), "{message}: {html}");
        }
        let fresh = app.visitor().await;
        let still = fresh.post_form("/login", &[("email", ADMIN_EMAIL), ("password", PASSWORD)]).await;
        assert_eq!(still.status(), StatusCode::SEE_OTHER);
    }
}
