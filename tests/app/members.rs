//! Members: joining by invitation (new and existing accounts), roles, removal and the
//! last-owner rule. (What an inviter must not be able to do: `invitations`.)

use crate::helpers::*;
use crate::on_both_databases;
use offstage::db::entities::{invitation, membership};
use offstage::domain::Role;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

async fn membership_of(app: &TestApp, ws_id: &str, user_id: &str) -> Option<membership::Model> {
    membership::Entity::find()
        .filter(membership::Column::WorkspaceId.eq(ws_id))
        .filter(membership::Column::UserId.eq(user_id))
        .one(&app.db)
        .await
        .unwrap()
}

on_both_databases! {
    async fn an_invited_user_with_an_account_joins_once_they_accept_and_then_sees_the_workspace(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let bob = app.create_user("bob@example.com").await;
        let owner = app.sign_in(ADMIN_EMAIL).await;
        let path = format!("/admin/workspaces/{}/members", ws.slug);
        let response = owner.post_form(&path, &[("email", "Bob@Example.com"), ("role", "admin")]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let (_, html) = owner.get_html(&path).await;
        assert!(html.contains("Invitation sent to bob@example.com."), "{html}");
        assert!(membership_of(&app, &ws.id, &bob.id).await.is_none(), "not a member before accepting");
        let bob_visitor = app.sign_in(&bob.email).await;
        let (_, home) = bob_visitor.get_html("/admin/workspaces").await;
        assert!(home.contains("Invitations for you") && home.contains("Acme"), "{home}");
        let invite = invitation::Entity::find().filter(invitation::Column::Email.eq("bob@example.com")).one(&app.db).await.unwrap().unwrap();
        let accepted = bob_visitor.post_form(&format!("/admin/invitations/{}/accept", invite.id), &[]).await;
        assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&accepted), format!("/admin/workspaces/{}", ws.slug));
        assert_eq!(membership_of(&app, &ws.id, &bob.id).await.unwrap().role, "admin");
        let (status, overview) = bob_visitor.get_html(&format!("/admin/workspaces/{}", ws.slug)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(overview.contains("Welcome to Acme!"));
    }

    async fn an_invitation_emails_a_link_that_creates_the_new_persons_account_and_membership(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let owner = app.sign_in(ADMIN_EMAIL).await;
        let path = format!("/admin/workspaces/{}/members", ws.slug);
        owner.post_form(&path, &[("email", "new@example.com"), ("role", "member")]).await;
        let (_, html) = owner.get_html(&path).await;
        assert!(html.contains("Pending invitations"));
        let token = app.invitation_token("new@example.com").await;
        assert_eq!(token.len(), 48);
        let invitee = app.visitor().await;
        let (status, page) = invitee.get_html(&format!("/invitations/{token}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("Choose a password for <strong>new@example.com</strong>"));
        let mismatch = invitee.post_form(&format!("/invitations/{token}"), &[("password", "long enough 1"), ("password_confirmation", "long enough 2")]).await;
        assert_eq!(mismatch.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let accepted = invitee.post_form(&format!("/invitations/{token}"), &[("password", "long enough 1"), ("password_confirmation", "long enough 1")]).await;
        assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&accepted), format!("/admin/workspaces/{}", ws.slug));
        let (status, overview) = invitee.get_html(&location(&accepted)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(overview.contains("Welcome to Acme!"));
        let reused = app.visitor().await.get_html(&format!("/invitations/{token}")).await;
        assert_eq!(reused.0, StatusCode::NOT_FOUND, "an invitation is used once");
    }

    async fn bad_input_on_the_add_member_form_is_explained_and_changes_nothing(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let owner = app.sign_in(ADMIN_EMAIL).await;
        let path = format!("/admin/workspaces/{}/members", ws.slug);
        for (email, role, message) in [
            ("not-an-email", "member", "is not a valid email address"),
            ("ok@example.com", "emperor", "is not a role"),
            (ADMIN_EMAIL, "member", "is already a member"),
        ] {
            let response = owner.post_form(&path, &[("email", email), ("role", role)]).await;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{email} {role}");
            assert!(response.text().await.unwrap().contains(message), "{message}");
        }
        assert_eq!(membership::Entity::find().count(&app.db).await.unwrap(), 1);
        assert_eq!(invitation::Entity::find().count(&app.db).await.unwrap(), 0);
    }

    async fn the_last_owner_can_be_neither_removed_nor_demoted(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let own = membership_of(&app, &ws.id, &app.admin.id).await.unwrap();
        let owner = app.sign_in(ADMIN_EMAIL).await;
        let base = format!("/admin/workspaces/{}/members/{}", ws.slug, own.id);
        let removed = owner.post_form(&format!("{base}/remove"), &[]).await;
        assert_eq!(removed.status(), StatusCode::CONFLICT);
        assert!(removed.text().await.unwrap().contains("at least one owner"));
        let demoted = owner.post_form(&format!("{base}/role"), &[("role", "member")]).await;
        assert_eq!(demoted.status(), StatusCode::CONFLICT);
        assert_eq!(membership_of(&app, &ws.id, &app.admin.id).await.unwrap().role, "owner");
    }

    async fn with_a_second_owner_the_first_can_step_down(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let bob = app.create_user("bob@example.com").await;
        app.add_member(&ws, &bob, Role::Owner).await;
        let own = membership_of(&app, &ws.id, &app.admin.id).await.unwrap();
        let owner = app.sign_in(ADMIN_EMAIL).await;
        let response = owner.post_form(&format!("/admin/workspaces/{}/members/{}/role", ws.slug, own.id), &[("role", "admin")]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(membership_of(&app, &ws.id, &app.admin.id).await.unwrap().role, "admin");
    }

    async fn an_admin_cannot_grant_the_owner_role_and_a_member_cannot_manage(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let adam = app.create_user("adam@example.com").await;
        let mia = app.create_user("mia@example.com").await;
        app.add_member(&ws, &adam, Role::Admin).await;
        app.add_member(&ws, &mia, Role::Member).await;
        let mia_membership = membership_of(&app, &ws.id, &mia.id).await.unwrap();
        let admin = app.sign_in(&adam.email).await;
        let role_path = format!("/admin/workspaces/{}/members/{}/role", ws.slug, mia_membership.id);
        let response = admin.post_form(&role_path, &[("role", "owner")]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let member = app.sign_in(&mia.email).await;
        let add = member.post_form(&format!("/admin/workspaces/{}/members", ws.slug), &[("email", "x@example.com"), ("role", "member")]).await;
        assert_eq!(add.status(), StatusCode::FORBIDDEN);
        assert_eq!(membership_of(&app, &ws.id, &mia.id).await.unwrap().role, "member");
        let (_, html) = member.get_html(&format!("/admin/workspaces/{}/members", ws.slug)).await;
        assert!(!html.contains("Invite a member"), "members do not see management forms");
    }

    async fn an_owner_removes_a_member_and_revokes_an_invitation(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let bob = app.create_user("bob@example.com").await;
        app.add_member(&ws, &bob, Role::Member).await;
        let owner = app.sign_in(ADMIN_EMAIL).await;
        owner.post_form(&format!("/admin/workspaces/{}/members", ws.slug), &[("email", "new@example.com"), ("role", "member")]).await;
        let bob_membership = membership_of(&app, &ws.id, &bob.id).await.unwrap();
        let removed = owner.post_form(&format!("/admin/workspaces/{}/members/{}/remove", ws.slug, bob_membership.id), &[]).await;
        assert_eq!(removed.status(), StatusCode::SEE_OTHER);
        assert!(membership_of(&app, &ws.id, &bob.id).await.is_none());
        let invite = invitation::Entity::find().filter(invitation::Column::Email.eq("new@example.com")).one(&app.db).await.unwrap().unwrap();
        let revoked = owner.post_form(&format!("/admin/workspaces/{}/invitations/{}/revoke", ws.slug, invite.id), &[]).await;
        assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
        let invite = invitation::Entity::find_by_id(&invite.id).one(&app.db).await.unwrap().unwrap();
        assert!(invite.revoked_at.is_some());
        let (status, _) = app.sign_in(&bob.email).await.get_html(&format!("/admin/workspaces/{}", ws.slug)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "a removed member is an outsider");
    }
}
