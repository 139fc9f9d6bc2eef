//! A workspace's own data export: a ZIP of CSV files for its owners, with nothing of another
//! workspace and no secret in it; 404 to its other members and to everyone else; and gone once
//! it expires.

use std::io::Read;

use offstage::db::entities::export;
use offstage::domain::Role;
use offstage::storage::Storage;
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::newest_export;
use crate::helpers::{ADMIN_EMAIL, location};
use crate::on_both_databases;

/// The ZIP's files, by name, in order.
fn unzip(bytes: &[u8]) -> Vec<(String, String)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).unwrap();
            let mut text = String::new();
            file.read_to_string(&mut text).unwrap();
            (file.name().unwrap().into_owned(), text)
        })
        .collect()
}

on_both_databases! {
    async fn a_workspace_owner_downloads_its_own_data_as_a_zip_of_csv_files_and_no_one_else_can(app: TestApp) {
        let acme = app.create_workspace("Acme", &app.admin).await;
        let owner = app.create_user("owner@acme.test").await;
        app.add_member(&acme, &owner, Role::Owner).await;
        let member = app.create_user("member@acme.test").await;
        app.add_member(&acme, &member, Role::Member).await;
        let scope = app.scope(&acme);
        let key = scope.create_api_key(&app.db, "CI key").await.unwrap();
        let invitee = offstage::domain::Email::parse("invitee@acme.test").unwrap();
        scope.invite(&app.db, &invitee, Role::Member, &app.config).await.unwrap();
        let params = offstage::engine::probe::Params::noop(&acme.id);
        let probe = offstage::engine::runs::start(&app.db, offstage::engine::NewRun::of::<offstage::engine::probe::Probe>(&params)).await.unwrap();
        let outsider = app.create_user("outsider@other.test").await;
        let other = app.create_workspace("Other", &outsider).await;
        app.scope(&other).create_api_key(&app.db, "Other key").await.unwrap();
        app.drain_jobs_due().await;

        let owner_visitor = app.sign_in("owner@acme.test").await;
        let (_, settings) = owner_visitor.get_html(&format!("/admin/workspaces/{}/settings", acme.slug)).await;
        assert!(settings.contains(&format!("/admin/workspaces/{}/exports", acme.slug)), "owners find it under Settings");
        let page = format!("/admin/workspaces/{}/exports", acme.slug);
        let (status, html) = owner_visitor.get_html(&page).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("No export yet"));
        let response = owner_visitor.post_form(&page, &[]).await;
        assert_eq!(location(&response), page);
        app.drain_jobs_due().await;
        let done = newest_export(&app).await;
        assert_eq!((done.status.as_str(), done.format.as_str(), done.workspace_id.as_deref()), ("succeeded", "zip", Some(acme.id.as_str())));
        let (_, html) = owner_visitor.get_html(&page).await;
        assert!(html.contains("Exporting this workspace") && html.contains("owner@acme.test"), "a flash, and who asked");
        let download = format!("/admin/workspaces/{}/exports/{}/download", acme.slug, done.id);
        assert!(html.contains(&download));

        let response = owner_visitor.get(&download).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/zip");
        assert!(response.headers()["content-disposition"].to_str().unwrap().contains("acme-data-"));
        let files = unzip(&response.bytes().await.unwrap());
        let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["members.csv", "invitations.csv", "api_keys.csv", "runs.csv", "emails.csv", "invoices.csv", "activity.csv"]);
        let file = |name: &str| files.iter().find(|(n, _)| n == name).map(|(_, text)| text.clone()).unwrap();
        let members = file("members.csv");
        assert!(members.starts_with("email,role,joined_at\r\n"), "{members}");
        assert!(members.contains("owner@acme.test,owner,") && members.contains("member@acme.test,member,"), "{members}");
        assert!(!members.contains("outsider@other.test"));
        let keys = file("api_keys.csv");
        assert!(keys.contains("CI key") && keys.contains(&key.key.prefix), "{keys}");
        assert!(!keys.contains(&key.key.token_hash) && !keys.contains(&key.secret), "never a secret");
        assert!(!keys.contains("Other key"), "nothing of another workspace");
        assert!(file("invitations.csv").contains("invitee@acme.test"));
        assert!(file("runs.csv").contains(probe.id.as_str()), "the workspace's runs");
        assert!(file("activity.csv").lines().count() > 1, "its activity");
        let rows: usize = files.iter().map(|(_, text)| text.lines().count() - 1).sum();
        assert_eq!(rows as i64, done.rows, "the rows counted are the rows written");

        // Other members and other workspaces: as if it did not exist.
        let member_visitor = app.sign_in("member@acme.test").await;
        assert_eq!(member_visitor.get(&page).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(member_visitor.get(&download).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(member_visitor.post_form(&page, &[]).await.status(), StatusCode::NOT_FOUND);
        let (_, settings) = member_visitor.get_html(&format!("/admin/workspaces/{}/settings", acme.slug)).await;
        assert!(!settings.contains(&page), "no link for members who cannot use it");
        let outsider_visitor = app.sign_in("outsider@other.test").await;
        assert_eq!(outsider_visitor.get(&download).await.status(), StatusCode::NOT_FOUND);
        let through_other = format!("/admin/workspaces/{}/exports/{}/download", other.slug, done.id);
        assert_eq!(outsider_visitor.get(&through_other).await.status(), StatusCode::NOT_FOUND, "A's export through B");
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let platform = format!("/admin/platform/exports/{}/download", done.id);
        assert_eq!(admin.get(&platform).await.status(), StatusCode::NOT_FOUND, "not a platform export");
        assert_eq!(export::Entity::find().count(&app.db).await.unwrap(), 1, "no one else started one");

        // Expired: the daily clean-up deletes the file, and the download says so.
        export::Entity::update_many()
            .col_expr(export::Column::ExpiresAt, Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)))
            .filter(export::Column::Id.eq(&done.id))
            .exec(&app.db)
            .await
            .unwrap();
        assert_eq!(owner_visitor.get(&download).await.status(), StatusCode::GONE);
        let storage = Storage::from_settings(None, &app.config.data_dir).unwrap();
        let key = done.file_key.clone().unwrap();
        assert!(storage.size(&key).await.unwrap().is_some());
        let expire = offstage::exports::workflows::expire_exports::Params::default();
        offstage::engine::runs::start(&app.db, offstage::engine::NewRun::of::<offstage::exports::workflows::expire_exports::ExpireExports>(&expire)).await.unwrap();
        app.drain_jobs_due().await;
        assert_eq!(storage.size(&key).await.unwrap(), None, "the file is deleted");
        assert_eq!(newest_export(&app).await.status, "expired");
        let (_, html) = owner_visitor.get_html(&page).await;
        assert!(html.contains("export-expired") && !html.contains(&download));
    }
}
