//! Invitations as an attacker sees them: the link goes only to the invited address, an existing
//! account joins only when its owner accepts, the answer does not tell who has an account, and a
//! workspace may send only so many a day.

use crate::helpers::*;
use crate::on_both_databases;
use offstage::db::entities::{invitation, membership};
use offstage::domain::Role;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

async fn is_member(app: &TestApp, ws_id: &str, user_id: &str) -> bool {
    membership::Entity::find()
        .filter(membership::Column::WorkspaceId.eq(ws_id))
        .filter(membership::Column::UserId.eq(user_id))
        .count(&app.db)
        .await
        .unwrap()
        > 0
}

/// The flash shown after inviting `email` to `ws` as `visitor`, and the members page it is on.
async fn invite(visitor: &Visitor, slug: &str, email: &str) -> (StatusCode, String) {
    let path = format!("/admin/workspaces/{slug}/members");
    let response = visitor.post_form(&path, &[("email", email), ("role", "member")]).await;
    let status = response.status();
    let (_, page) = visitor.get_html(&path).await;
    (status, page)
}

on_both_databases! {
    async fn someone_who_invites_an_address_never_sees_its_link_and_cannot_claim_its_account(app: TestApp) {
        let attacker = app.create_user("mallory@example.com").await;
        let ws = app.create_workspace("Mallory Inc", &attacker).await;
        let mallory = app.sign_in(&attacker.email).await;
        let (status, page) = invite(&mallory, &ws.slug, "ceo@victim.test").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let token = app.invitation_token("ceo@victim.test").await;
        assert!(!page.contains(&token) && !page.contains("127.0.0.1/invitations/"), "the inviter's page shows no link: {page}");
        for path in ["/admin/workspaces", &format!("/admin/workspaces/{}", ws.slug), &format!("/admin/workspaces/{}/emails", ws.slug)] {
            let (_, html) = mallory.get_html(path).await;
            assert!(!html.contains(&token), "{path} shows the invitation's secret");
        }
        assert_eq!(mallory.get_html("/admin/platform/mailbox").await.0, StatusCode::NOT_FOUND, "only platform admins read the Mailbox");
        let guessed = mallory.post_form("/invitations/0000", &[("password", "mallory's own"), ("password_confirmation", "mallory's own")]).await;
        assert_eq!(guessed.status(), StatusCode::NOT_FOUND);
        let fresh = app.visitor().await;
        let claimed = fresh.post_form("/login", &[("email", "ceo@victim.test"), ("password", "mallory's own")]).await;
        assert_eq!(claimed.status(), StatusCode::UNAUTHORIZED, "no account was made for the victim");
    }

    async fn inviting_an_existing_account_adds_nobody_until_its_owner_accepts_and_declining_leaves_it_out(app: TestApp) {
        let bob = app.create_user("bob@example.com").await;
        let ws = app.create_workspace("Acme", &app.admin).await;
        let owner = app.sign_in(ADMIN_EMAIL).await;
        let (status, _) = invite(&owner, &ws.slug, "bob@example.com").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(!is_member(&app, &ws.id, &bob.id).await, "an existing account is not added without its consent");
        let bob_visitor = app.sign_in(&bob.email).await;
        assert_eq!(bob_visitor.get_html(&format!("/admin/workspaces/{}", ws.slug)).await.0, StatusCode::NOT_FOUND);
        let pending = invitation::Entity::find().filter(invitation::Column::Email.eq("bob@example.com")).one(&app.db).await.unwrap().unwrap();
        let declined = bob_visitor.post_form(&format!("/admin/invitations/{}/decline", pending.id), &[]).await;
        assert_eq!(declined.status(), StatusCode::SEE_OTHER);
        let (_, home) = bob_visitor.get_html("/admin/workspaces").await;
        assert!(home.contains("You declined the invitation to Acme."), "{home}");
        assert!(!home.contains("Invitations for you"), "{home}");
        assert!(!is_member(&app, &ws.id, &bob.id).await);
        let accept_later = bob_visitor.post_form(&format!("/admin/invitations/{}/accept", pending.id), &[]).await;
        assert_eq!(accept_later.status(), StatusCode::NOT_FOUND, "a declined invitation is over");
    }

    async fn the_answer_to_an_invite_is_the_same_whether_or_not_the_address_has_an_account(app: TestApp) {
        app.create_user("known@example.com").await;
        let ws = app.create_workspace("Acme", &app.admin).await;
        let owner = app.sign_in(ADMIN_EMAIL).await;
        let (known_status, known_page) = invite(&owner, &ws.slug, "known@example.com").await;
        let (unknown_status, unknown_page) = invite(&owner, &ws.slug, "unknown@example.com").await;
        assert_eq!(known_status, unknown_status);
        let flash = |page: &str, email: &str| {
            let start = page.find("Invitation sent to").expect("a flash");
            page[start..start + page[start..].find('<').unwrap()].replace(email, "EMAIL")
        };
        assert_eq!(flash(&known_page, "known@example.com"), flash(&unknown_page, "unknown@example.com"));
        let kinds: Vec<String> = app.emails_of("invitation").await.into_iter().map(|e| e.subject).collect();
        assert_eq!(kinds.len(), 2, "both addresses get the same invitation email");
        assert_eq!(kinds[0], kinds[1]);
    }

    async fn an_invitation_addressed_to_someone_else_cannot_be_accepted_or_declined_by_its_id(app: TestApp) {
        let bob = app.create_user("bob@example.com").await;
        let mallory = app.create_user("mallory@example.com").await;
        let ws = app.create_workspace("Acme", &app.admin).await;
        app.scope(&ws).invite(&app.db, &offstage::domain::Email::parse("bob@example.com").unwrap(), Role::Admin, &app.config).await.unwrap();
        let pending = invitation::Entity::find().one(&app.db).await.unwrap().unwrap();
        let intruder = app.sign_in(&mallory.email).await;
        for action in ["accept", "decline"] {
            let response = intruder.post_form(&format!("/admin/invitations/{}/{action}", pending.id), &[]).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{action}");
        }
        assert!(!is_member(&app, &ws.id, &mallory.id).await);
        let still = invitation::Entity::find_by_id(&pending.id).one(&app.db).await.unwrap().unwrap();
        assert!(still.accepted_at.is_none() && still.revoked_at.is_none(), "bob's invitation is untouched");
        assert!(!is_member(&app, &ws.id, &bob.id).await);
    }

    async fn while_mail_is_captured_the_mailbox_shows_the_invitation_link_to_the_platform_admin(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        app.scope(&ws).invite(&app.db, &offstage::domain::Email::parse("new@example.com").unwrap(), Role::Member, &app.config).await.unwrap();
        app.drain_jobs_due().await;
        let token = app.invitation_token("new@example.com").await;
        let email = app.emails_of("invitation").await.pop().unwrap();
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let (status, html) = admin.get_html(&format!("/admin/platform/mailbox/{}", email.id)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains(&format!("/invitations/{token}")), "the link, for trying the flow locally");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_may_send_only_its_daily_number_of_invitations() {
    let app = TestApp::spawn_with(Backend::Sqlite, |config| config.limits.invitations_per_day = 2).await;
    let ws = app.create_workspace("Acme", &app.admin).await;
    let owner = app.sign_in(ADMIN_EMAIL).await;
    let path = format!("/admin/workspaces/{}/members", ws.slug);
    for n in 1..=2 {
        let email = format!("person{n}@example.com");
        let response = owner.post_form(&path, &[("email", email.as_str()), ("role", "member")]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "invitation {n}");
    }
    let third = owner.post_form(&path, &[("email", "person3@example.com"), ("role", "member")]).await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(third.headers().contains_key("retry-after"));
    assert!(third.text().await.unwrap().contains("sent 2 invitations in the last 24 hours"));
    assert_eq!(invitation::Entity::find().count(&app.db).await.unwrap(), 2, "the third was not sent");
    assert_eq!(app.emails_of("invitation").await.len(), 2);
}
