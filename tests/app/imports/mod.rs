//! Members imports (`offstage::imports`): a CSV previewed before anything is sent, then invited
//! 100 lines per run; a second import of the same file invites nobody; the daily invitation
//! limit refuses an import at its preview; the error report; 404 to members without the right
//! role; the API with its refusals and cancel; a worker killed with SIGKILL in the middle; and
//! the platform's workspaces imports (`workspaces`).

mod api;
mod resume;
mod workspaces;

use offstage::db::entities::{import, invitation};
use offstage::domain::Role;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use crate::helpers::{ADMIN_EMAIL, Backend, TestApp, location};

/// A CSV of `header`, `count` lines made by `line_of`, then the given lines.
pub(crate) fn csv_of(header: &str, count: usize, line_of: impl Fn(usize) -> String, more: &[&str]) -> Vec<u8> {
    let mut text = format!("{header}\n");
    for n in 0..count {
        text.push_str(&line_of(n));
        text.push('\n');
    }
    for line in more {
        text.push_str(line);
        text.push('\n');
    }
    text.into_bytes()
}

/// A members CSV of `people` new addresses (`person{n}@example.com`), then the given lines.
pub(crate) fn members_csv(people: usize, more: &[&str]) -> Vec<u8> {
    csv_of("email,role,name", people, |n| format!("person{n}@example.com,member,Person {n}"), more)
}

/// A workspaces CSV of `customers` good lines (`Customer {n}`, slug `customer-{n}`, owner
/// `owner{n}@example.com`, Europe/Berlin, pro, `cus_C{n}`), then the given lines.
pub(crate) fn workspaces_csv(customers: usize, more: &[&str]) -> Vec<u8> {
    let line_of = |n| format!("Customer {n},customer-{n},owner{n}@example.com,Europe/Berlin,pro,cus_C{n}");
    csv_of("name,slug,owner_email,timezone,plan,stripe_customer_id", customers, line_of, more)
}

pub(crate) async fn newest_import(app: &TestApp) -> import::Model {
    import::Entity::find().order_by_desc(import::Column::CreatedAt).one(&app.db).await.unwrap().expect("an import")
}

async fn invitations_to_people(app: &TestApp, ws: &str) -> u64 {
    invitation::Entity::find()
        .filter(invitation::Column::WorkspaceId.eq(ws))
        .filter(invitation::Column::Email.like("person%"))
        .count(&app.db)
        .await
        .unwrap()
}

async fn a_members_import_is_previewed_run_in_batches_of_100_and_invites_nobody_twice(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| config.limits.invitations_per_day = 600).await;
    let acme = app.create_workspace("Acme", &app.admin).await;
    let already = app.create_user("already@acme.test").await;
    app.add_member(&acme, &already, Role::Member).await;
    let invited = offstage::domain::Email::parse("invited@acme.test").unwrap();
    app.scope(&acme).invite(&app.db, &invited, Role::Admin, &app.config).await.unwrap();
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let upload = format!("/admin/workspaces/{}/members/import", acme.slug);
    let (status, html) = admin.get_html(&upload).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("may send 598 more today"), "the room left today, before uploading");

    let file = members_csv(
        250,
        &[
            "already@acme.test,member,",
            "Invited@acme.test,,",
            "not-an-email,member,",
            "person1@example.com,admin,",
            "x@example.com,boss,",
        ],
    );
    let response = admin.post_file(&upload, file.clone()).await;
    let imported = newest_import(&app).await;
    let page = format!("/admin/workspaces/{}/imports/{}", acme.slug, imported.id);
    assert_eq!(location(&response), page);
    assert_eq!((imported.status.as_str(), imported.total_rows, imported.failed_rows), ("preview", 255, 3));
    let (_, html) = admin.get_html(&page).await;
    assert!(html.contains("<strong>252</strong> rows are ready") && html.contains("Invite 252 people"), "the preview");
    assert!(
        html.contains("is not a valid email") && html.contains("The same email as line 3") && html.contains("boss"),
        "the first reasons"
    );
    assert_eq!(invitations_to_people(&app, &acme.id).await, 0, "nothing is sent before it is confirmed");

    let response = admin.post_form(&format!("{page}/start"), &[]).await;
    assert_eq!(location(&response), page);
    app.drain_jobs_due().await;
    let done = newest_import(&app).await;
    assert_eq!(
        (done.status.as_str(), done.processed_rows, done.created, done.skipped, done.failed_rows),
        ("succeeded", 255, 250, 2, 3)
    );
    assert_eq!(invitations_to_people(&app, &acme.id).await, 250);
    let chain = offstage::engine::runs::list(
        &app.db,
        &app.scope(&acme),
        &offstage::engine::runs::RunFilter { workflow: Some("import_members".into()), limit: 10, ..Default::default() },
    )
    .await
    .unwrap();
    assert_eq!(chain.len(), 3, "252 lines to do are 3 runs of up to 100");
    let (_, html) = admin.get_html(&page).await;
    assert!(
        html.contains("Importing: inviting 252 people") && html.contains("255 of 255"),
        "the flash and the rows done"
    );
    let report = admin.get(&format!("{page}/errors.csv")).await;
    assert_eq!(report.headers()["content-type"], "text/csv; charset=utf-8");
    let report = report.text().await.unwrap();
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines[0], "row,value,message");
    assert_eq!(lines.len(), 4, "{report}");
    assert!(lines[2] == "255,person1@example.com,The same email as line 3", "{report}");

    // The same file again: everyone is a member or invited already.
    admin.post_file(&upload, file).await;
    let again = newest_import(&app).await;
    admin.post_form(&format!("/admin/workspaces/{}/imports/{}/start", acme.slug, again.id), &[]).await;
    app.drain_jobs_due().await;
    let again = newest_import(&app).await;
    assert_eq!((again.status.as_str(), again.created, again.skipped, again.failed_rows), ("succeeded", 0, 252, 3));
    assert_eq!(invitations_to_people(&app, &acme.id).await, 250, "nobody is invited twice");
    let skipped: Vec<String> = offstage::db::entities::import_row::Entity::find()
        .filter(offstage::db::entities::import_row::Column::ImportId.eq(&again.id))
        .filter(offstage::db::entities::import_row::Column::Outcome.eq("skipped"))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|row| row.message)
        .collect();
    assert!(skipped.contains(&"already a member".to_owned()) && skipped.contains(&"already invited".to_owned()));

    // 348 more today at most (600 - 252): a file of 400 new people is refused at its preview.
    let big: Vec<String> = (0..400).map(|n| format!("new{n}@example.com")).collect();
    let big_file = format!("email\n{}\n", big.join("\n")).into_bytes();
    admin.post_file(&upload, big_file).await;
    let refused = newest_import(&app).await;
    let refused_page = format!("/admin/workspaces/{}/imports/{}", acme.slug, refused.id);
    let (_, html) = admin.get_html(&refused_page).await;
    assert!(html.contains("may send 348 more invitations today"), "the reason, at the preview");
    admin.post_form(&format!("{refused_page}/start"), &[]).await;
    assert_eq!(newest_import(&app).await.status, "preview", "it does not start");
    let response = admin.post_form(&format!("{refused_page}/cancel"), &[]).await;
    assert_eq!(location(&response), refused_page);
    assert_eq!(newest_import(&app).await.status, "cancelled", "discarded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_import_is_previewed_run_in_batches_of_100_and_invites_nobody_twice_on_sqlite() {
    a_members_import_is_previewed_run_in_batches_of_100_and_invites_nobody_twice(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_import_is_previewed_run_in_batches_of_100_and_invites_nobody_twice_on_postgres() {
    if !crate::helpers::postgres_configured() {
        return;
    }
    a_members_import_is_previewed_run_in_batches_of_100_and_invites_nobody_twice(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_cannot_be_an_import_is_refused_at_the_upload_and_members_cannot_import_at_all() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let acme = app.create_workspace("Acme", &app.admin).await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let upload = format!("/admin/workspaces/{}/members/import", acme.slug);
    let response = admin.post_file(&upload, b"mail,role\na@example.com,member\n".to_vec()).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.unwrap().contains("a column “mail”"), "says what is wrong");
    let big = vec![b'a'; offstage::imports::csv_file::MAX_BYTES + 1];
    let response = admin.post_file(&upload, big).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(response.text().await.unwrap().contains("larger than the 16 MB"));
    assert_eq!(import::Entity::find().count(&app.db).await.unwrap(), 0, "nothing is kept");

    let rows = offstage::imports::csv_file::parse_members(b"email\nsomeone@example.com\n", true).unwrap();
    let made = offstage::imports::record::create(&app.db, &app.scope(&acme), &rows, "preview").await.unwrap();
    let member = app.create_user("member@acme.test").await;
    app.add_member(&acme, &member, Role::Member).await;
    let member = app.sign_in("member@acme.test").await;
    let page = format!("/admin/workspaces/{}/imports/{}", acme.slug, made.id);
    for path in [upload.clone(), page.clone(), format!("{page}/errors.csv")] {
        assert_eq!(member.get(&path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(member.post_form(&format!("{page}/start"), &[]).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(member.post_file(&upload, b"email\nx@example.com\n".to_vec()).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(newest_import(&app).await.status, "preview", "nothing changed");
}
