//! Verified email addresses: an unconfirmed account is told and can neither join nor create a
//! workspace until it confirms; an invitation's own emailed link confirms; changing the email
//! takes effect once the new address confirms and tells the old one.

use crate::helpers::*;
use crate::on_both_databases;
use offstage::db::entities::{invitation, user};
use offstage::domain::Role;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

async fn account(app: &TestApp, id: &str) -> user::Model {
    user::Entity::find_by_id(id).one(&app.db).await.unwrap().unwrap()
}

on_both_databases! {
    async fn an_unconfirmed_account_is_told_and_can_neither_join_nor_create_a_workspace_until_it_confirms(app: TestApp) {
        let newcomer = app.create_unconfirmed_user("new@example.com").await;
        let ws = app.create_workspace("Acme", &app.admin).await;
        app.scope(&ws).invite(&app.db, &offstage::domain::Email::parse(&newcomer.email).unwrap(), Role::Member, &app.config).await.unwrap();
        let visitor = app.sign_in(&newcomer.email).await;
        let (status, home) = visitor.get_html("/admin/workspaces").await;
        assert_eq!(status, StatusCode::OK, "an unconfirmed account signs in");
        assert!(home.contains("Confirm your email address"), "and is told: {home}");
        assert!(!home.contains("Invitations for you"), "an unconfirmed address may be someone else's: {home}");
        let pending = invitation::Entity::find().filter(invitation::Column::Email.eq(&newcomer.email)).one(&app.db).await.unwrap().unwrap();
        let refused = visitor.post_form(&format!("/admin/invitations/{}/accept", pending.id), &[]).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "cannot be added to a workspace");
        let create = visitor.post_form("/admin/workspaces", &[("name", "Mine"), ("timezone", "UTC")]).await;
        assert_eq!(create.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(create.text().await.unwrap().contains("Confirm your email address first"));
        let sent = visitor.post_form("/admin/account/email/confirmation", &[]).await;
        assert_eq!(sent.status(), StatusCode::SEE_OTHER);
        let secret = app.secret_in_email("verify_email", &newcomer.email, "/email/verify/").await;
        let confirmed = visitor.get(&format!("/email/verify/{secret}")).await;
        assert_eq!(confirmed.status(), StatusCode::SEE_OTHER);
        assert!(account(&app, &newcomer.id).await.email_verified());
        assert_eq!(visitor.get(&format!("/email/verify/{secret}")).await.status(), StatusCode::GONE, "a link works once");
        let (_, home) = visitor.get_html("/admin/workspaces").await;
        assert!(!home.contains("Confirm your email address:"), "{home}");
        assert!(home.contains("Invitations for you"), "{home}");
        let joined = visitor.post_form(&format!("/admin/invitations/{}/accept", pending.id), &[]).await;
        assert_eq!(joined.status(), StatusCode::SEE_OTHER);
        let create = visitor.post_form("/admin/workspaces", &[("name", "Mine"), ("timezone", "UTC")]).await;
        assert_eq!(create.status(), StatusCode::SEE_OTHER);
    }

    async fn an_invitation_accepted_through_its_emailed_link_confirms_the_address(app: TestApp) {
        let newcomer = app.create_unconfirmed_user("new@example.com").await;
        let ws = app.create_workspace("Acme", &app.admin).await;
        app.scope(&ws).invite(&app.db, &offstage::domain::Email::parse(&newcomer.email).unwrap(), Role::Member, &app.config).await.unwrap();
        let token = app.invitation_token(&newcomer.email).await;
        let visitor = app.sign_in(&newcomer.email).await;
        let accepted = visitor.post_form(&format!("/invitations/{token}"), &[]).await;
        assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
        assert!(account(&app, &newcomer.id).await.email_verified(), "the link reached the address");
    }

    async fn a_new_email_takes_effect_once_it_is_confirmed_and_the_old_address_is_told(app: TestApp) {
        let ada = app.create_user("ada@example.com").await;
        let visitor = app.sign_in(&ada.email).await;
        let wrong = visitor.post_form("/admin/account/email", &[("new_email", "ada@new.example.com"), ("current_password", "not it")]).await;
        assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(wrong.text().await.unwrap().contains("current password is not right"));
        let asked = visitor.post_form("/admin/account/email", &[("new_email", "ada@new.example.com"), ("current_password", PASSWORD)]).await;
        assert_eq!(asked.status(), StatusCode::SEE_OTHER);
        assert_eq!(account(&app, &ada.id).await.email, "ada@example.com", "nothing changes before the confirmation");
        assert_eq!(app.emails_to("email_change_requested", "ada@example.com").await, 1, "the old address is told");
        let secret = app.secret_in_email("verify_email", "ada@new.example.com", "/email/verify/").await;
        assert_eq!(visitor.get(&format!("/email/verify/{secret}")).await.status(), StatusCode::SEE_OTHER);
        let (_, page) = visitor.get_html("/admin/account").await;
        assert!(page.contains("Your email address is now ada@new.example.com"), "{page}");
        assert_eq!(account(&app, &ada.id).await.email, "ada@new.example.com");
        let fresh = app.visitor().await;
        assert_eq!(fresh.post_form("/login", &[("email", "ada@new.example.com"), ("password", PASSWORD)]).await.status(), StatusCode::SEE_OTHER);
    }

    async fn changing_to_an_address_that_has_an_account_answers_the_same_and_sends_it_nothing(app: TestApp) {
        let ada = app.create_user("ada@example.com").await;
        app.create_user("taken@example.com").await;
        let visitor = app.sign_in(&ada.email).await;
        let asked = visitor.post_form("/admin/account/email", &[("new_email", "taken@example.com"), ("current_password", PASSWORD)]).await;
        assert_eq!(asked.status(), StatusCode::SEE_OTHER);
        let (_, page) = visitor.get_html("/admin/account").await;
        assert!(page.contains("Check taken@example.com"), "{page}");
        assert_eq!(app.emails_to("verify_email", "taken@example.com").await, 0);
        assert_eq!(account(&app, &ada.id).await.email, "ada@example.com");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmation_emails_are_limited_per_account() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let newcomer = app.create_unconfirmed_user("new@example.com").await;
    let visitor = app.sign_in(&newcomer.email).await;
    for _ in 0..3 {
        assert_eq!(visitor.post_form("/admin/account/email/confirmation", &[]).await.status(), StatusCode::SEE_OTHER);
    }
    let fourth = visitor.post_form("/admin/account/email/confirmation", &[]).await;
    assert_eq!(fourth.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.emails_to("verify_email", &newcomer.email).await, 3);
}
