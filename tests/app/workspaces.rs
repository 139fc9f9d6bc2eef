//! Creating, listing, opening and configuring workspaces in the admin UI.

use crate::helpers::*;
use crate::on_both_databases;
use offstage::db::entities::workspace;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

on_both_databases! {
    async fn a_user_creates_a_workspace_and_becomes_its_owner(app: TestApp) {
        let ada = app.create_user("ada@example.com").await;
        let visitor = app.sign_in(&ada.email).await;
        let response = visitor.post_form("/admin/workspaces", &[("name", "Acme Corp"), ("slug", ""), ("timezone", "America/New_York")]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&response), "/admin/workspaces/acme-corp");
        let (status, html) = visitor.get_html("/admin/workspaces/acme-corp").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Workspace “Acme Corp” created."), "flash shown");
        assert!(html.contains("Your role: <strong>owner</strong>"));
        assert!(html.contains("Times shown in America/New_York"));
        assert!(html.contains(" EST") || html.contains(" EDT"), "times in the workspace's zone");
        let (_, again) = visitor.get_html("/admin/workspaces/acme-corp").await;
        assert!(!again.contains("Workspace “Acme Corp” created."), "a flash is shown once");
    }

    async fn a_second_workspace_with_the_same_name_gets_a_numbered_slug(app: TestApp) {
        let visitor = app.sign_in(ADMIN_EMAIL).await;
        for _ in 0..2 {
            visitor.post_form("/admin/workspaces", &[("name", "Acme"), ("timezone", "UTC")]).await;
        }
        let slugs: Vec<String> = workspace::Entity::find().all(&app.db).await.unwrap().into_iter().map(|w| w.slug).collect();
        assert!(slugs.contains(&"acme".to_owned()) && slugs.contains(&"acme-2".to_owned()), "{slugs:?}");
    }

    async fn bad_input_on_the_new_workspace_form_is_explained_and_changes_nothing(app: TestApp) {
        app.create_workspace("Taken", &app.admin).await;
        let visitor = app.sign_in(ADMIN_EMAIL).await;
        let cases = [
            (vec![("name", ""), ("timezone", "UTC")], "Enter a name"),
            (vec![("name", "Ok"), ("slug", "Bad Slug"), ("timezone", "UTC")], "is not a valid slug"),
            (vec![("name", "Ok"), ("timezone", "Mars/Olympus")], "is not a known timezone"),
            (vec![("name", "Ok"), ("slug", "taken"), ("timezone", "UTC")], "is taken"),
        ];
        for (fields, message) in cases {
            let response = visitor.post_form("/admin/workspaces", &fields).await;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
            let html = response.text().await.unwrap();
            assert!(html.contains(message), "{fields:?} should say {message}");
        }
        assert_eq!(workspace::Entity::find().count(&app.db).await.unwrap(), 1);
    }

    async fn the_list_shows_members_only_their_workspaces_and_admins_all(app: TestApp) {
        let ada = app.create_user("ada@example.com").await;
        let bob = app.create_user("bob@example.com").await;
        app.create_workspace("Ada's", &ada).await;
        app.create_workspace("Bob's", &bob).await;
        let (_, html) = app.sign_in(&ada.email).await.get_html("/admin/workspaces").await;
        assert!(html.contains("Ada&#x27;s") || html.contains("Ada&#39;s"), "{html}");
        assert!(!html.contains("Bob"));
        let (_, html) = app.sign_in(ADMIN_EMAIL).await.get_html("/admin/workspaces").await;
        assert!(html.contains("Bob") && html.contains("Ada"));
    }

    async fn the_list_searches_and_pages(app: TestApp) {
        for i in 0..55 {
            app.create_workspace(&format!("Customer {i:02}"), &app.admin).await;
        }
        app.create_workspace("Zebra Inc", &app.admin).await;
        let visitor = app.sign_in(ADMIN_EMAIL).await;
        let (_, first) = visitor.get_html("/admin/workspaces").await;
        assert!(first.contains("Page 1 of 2") && first.contains("56 in all"));
        let (_, second) = visitor.get_html("/admin/workspaces?page=2").await;
        assert!(second.contains("Zebra Inc"));
        let (_, found) = visitor.get_html("/admin/workspaces?q=zebra").await;
        assert!(found.contains("Zebra Inc") && !found.contains("Customer 01"));
        let (_, none) = visitor.get_html("/admin/workspaces?q=nothing-like-this").await;
        assert!(none.contains("Nothing matches"));
    }

    async fn owners_change_the_name_and_timezone_in_settings(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let visitor = app.sign_in(ADMIN_EMAIL).await;
        let path = format!("/admin/workspaces/{}/settings", ws.slug);
        let response = visitor.post_form(&path, &[("name", "Acme Renamed"), ("timezone", "Asia/Tokyo")]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let saved = workspace::Entity::find_by_id(&ws.id).one(&app.db).await.unwrap().unwrap();
        assert_eq!((saved.name.as_str(), saved.timezone.as_str()), ("Acme Renamed", "Asia/Tokyo"));
        let bad = visitor.post_form(&path, &[("name", "Acme"), ("timezone", "Nowhere/City")]).await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let unchanged = workspace::Entity::find().filter(workspace::Column::Id.eq(&ws.id)).one(&app.db).await.unwrap().unwrap();
        assert_eq!(unchanged.timezone, "Asia/Tokyo");
    }

    async fn a_plain_member_sees_settings_but_cannot_change_them(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let mia = app.create_user("mia@example.com").await;
        app.add_member(&ws, &mia, offstage::domain::Role::Member).await;
        let visitor = app.sign_in(&mia.email).await;
        let path = format!("/admin/workspaces/{}/settings", ws.slug);
        let (status, html) = visitor.get_html(&path).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Only owners and admins can change these settings"));
        let response = visitor.post_form(&path, &[("name", "Hijacked"), ("timezone", "UTC")]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let saved = workspace::Entity::find_by_id(&ws.id).one(&app.db).await.unwrap().unwrap();
        assert_eq!(saved.name, "Acme");
    }
}
