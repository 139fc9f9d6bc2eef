//! Workspaces imports (Platform → Imports, `offstage import workspaces`): customers moved from
//! another system, previewed, made 100 lines per run with their owner's invitation, digest
//! schedule and activity; a second import of the same file makes nothing; platform admins only.

use offstage::db::entities::{activity, email, import, import_row, invitation, membership, schedule, workspace};
use offstage::domain::Role;
use offstage::imports::{self, record, workspaces_file::parse_workspaces};
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::{newest_import, workspaces_csv};
use crate::cli::{offstage, one_error_line, stdout};
use crate::helpers::{ADMIN_EMAIL, Backend, TestApp, location};
use crate::on_both_databases;

async fn workspaces(app: &TestApp) -> u64 {
    workspace::Entity::find().count(&app.db).await.unwrap()
}

async fn owner_invitations(app: &TestApp) -> u64 {
    invitation::Entity::find().filter(invitation::Column::Role.eq("owner")).count(&app.db).await.unwrap()
}

/// Acme, whose Stripe customer is `cus_Acme`.
async fn acme_with_a_customer(app: &TestApp) -> workspace::Model {
    let acme = app.create_workspace("Acme", &app.admin).await;
    let mut active: workspace::ActiveModel = acme.into();
    active.stripe_customer_id = Set(Some("cus_Acme".into()));
    active.update(&app.db).await.unwrap()
}

on_both_databases! {
    async fn a_workspaces_import_is_previewed_made_100_lines_per_run_and_makes_nothing_twice(app: TestApp) {
        acme_with_a_customer(&app).await;
        let before = workspaces(&app).await;
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let file = workspaces_csv(
            203,
            &[
                "Other Co,acme,x@example.com,,,",
                "Wonka,wonka,ed@example.com,,,cus_Acme",
                "Bad,bad,not-an-email,,,",
                "Dup,customer-5,dup@example.com,,,",
                "No Slug Corp,,ada@example.com,,,",
            ],
        );
        let response = admin.post_file("/admin/platform/imports", file.clone()).await;
        let imported = newest_import(&app).await;
        let page = format!("/admin/platform/imports/{}", imported.id);
        assert_eq!(location(&response), page);
        assert_eq!((imported.kind.as_str(), imported.workspace_id.as_deref()), ("workspaces", None));
        assert_eq!((imported.status.as_str(), imported.total_rows, imported.failed_rows), ("preview", 208, 2));
        let (_, html) = admin.get_html(&page).await;
        assert!(html.contains("<strong>206</strong> rows are ready") && html.contains("Make 206 workspaces"), "the preview");
        assert!(html.contains("is not a valid email") && html.contains("The same slug as line 7"), "the first reasons");
        assert_eq!(workspaces(&app).await, before, "nothing is made before it is confirmed");

        let response = admin.post_form(&format!("{page}/start"), &[]).await;
        assert_eq!(location(&response), page);
        app.drain_jobs_due().await;
        let done = newest_import(&app).await;
        assert_eq!(
            (done.status.as_str(), done.processed_rows, done.created, done.skipped, done.failed_rows),
            ("succeeded", 208, 204, 0, 4)
        );
        assert_eq!(workspaces(&app).await, before + 204);
        let runs = offstage::engine::runs::list(
            &app.db,
            &offstage::tenancy::Platform::system(),
            &offstage::engine::runs::RunFilter { workflow: Some("import_workspaces".into()), limit: 10, ..Default::default() },
        )
        .await
        .unwrap();
        assert_eq!(runs.len(), 3, "206 lines to do are 3 runs of up to 100");

        // One imported workspace, whole.
        let seven = workspace::Entity::find().filter(workspace::Column::Slug.eq("customer-7")).one(&app.db).await.unwrap().unwrap();
        assert_eq!(
            (seven.name.as_str(), seven.timezone.as_str(), seven.plan.as_str(), seven.stripe_customer_id.as_deref()),
            ("Customer 7", "Europe/Berlin", "pro", Some("cus_C7"))
        );
        assert_eq!((seven.subscription_status.as_str(), seven.trial_ends_at), ("none", None), "no trial");
        let invited = invitation::Entity::find().filter(invitation::Column::WorkspaceId.eq(&seven.id)).all(&app.db).await.unwrap();
        assert_eq!(invited.len(), 1);
        assert_eq!((invited[0].email.as_str(), invited[0].role.as_str()), ("owner7@example.com", "owner"));
        assert_eq!(invited[0].invited_by.as_deref(), Some(ADMIN_EMAIL));
        let members = membership::Entity::find().filter(membership::Column::WorkspaceId.eq(&seven.id)).count(&app.db).await.unwrap();
        assert_eq!(members, 0, "nobody is made an owner without accepting");
        let sent = email::Entity::find()
            .filter(email::Column::WorkspaceId.eq(&seven.id))
            .all(&app.db)
            .await
            .unwrap();
        assert_eq!(sent.iter().map(|e| (e.kind.as_str(), e.recipient.as_str())).collect::<Vec<_>>(), [("invitation", "owner7@example.com")], "the invitation only: no onboarding");
        let logged = activity::Entity::find().filter(activity::Column::WorkspaceId.eq(&seven.id)).all(&app.db).await.unwrap();
        assert!(logged.iter().any(|a| a.message == format!("Workspace “Customer 7” was imported by {ADMIN_EMAIL}")), "{logged:?}");
        let digest = schedule::Entity::find_by_id(format!("dig_{}", seven.id)).one(&app.db).await.unwrap();
        assert!(digest.is_some_and(|d| d.workflow == "generate_weekly_digest"), "its weekly digest");
        let defaults = workspace::Entity::find().filter(workspace::Column::Slug.eq("no-slug-corp")).one(&app.db).await.unwrap().unwrap();
        assert_eq!((defaults.timezone.as_str(), defaults.plan.as_str(), defaults.stripe_customer_id), ("UTC", "free", None));

        let (_, html) = admin.get_html(&page).await;
        assert!(html.contains("Importing: making 206 workspaces") && html.contains("208 of 208"), "the flash and the rows done");
        let report = admin.get(&format!("{page}/errors.csv")).await.text().await.unwrap();
        let lines: Vec<&str> = report.lines().collect();
        assert_eq!(lines.len(), 5, "{report}");
        assert_eq!(lines[1], "205,acme,the slug “acme” belongs to another workspace", "{report}");
        assert_eq!(lines[2], "206,wonka,the Stripe customer cus_Acme belongs to the workspace “acme”", "{report}");

        // The same file again: nothing is made twice.
        let invitations = owner_invitations(&app).await;
        admin.post_file("/admin/platform/imports", file).await;
        let again = newest_import(&app).await;
        admin.post_form(&format!("/admin/platform/imports/{}/start", again.id), &[]).await;
        app.drain_jobs_due().await;
        let again = newest_import(&app).await;
        assert_eq!((again.status.as_str(), again.created, again.skipped, again.failed_rows), ("succeeded", 0, 204, 4));
        assert_eq!(workspaces(&app).await, before + 204);
        assert_eq!(owner_invitations(&app).await, invitations, "nobody is invited twice");
        let skipped = import_row::Entity::find()
            .filter(import_row::Column::ImportId.eq(&again.id))
            .filter(import_row::Column::Outcome.eq("skipped"))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(skipped.message.as_deref(), Some("already imported"));
        let (_, html) = admin.get_html("/admin/platform/imports").await;
        assert!(html.contains(&format!("/admin/platform/imports/{}", again.id)), "the list");
    }

    async fn offstage_import_workspaces_makes_them_and_prints_its_counts(app: TestApp) {
        let before = workspaces(&app).await;
        let path = app.config.data_dir.join("customers.csv");
        std::fs::write(&path, workspaces_csv(150, &["Bad,bad,not-an-email,,,"])).unwrap();
        let file = path.to_str().unwrap();
        let output = offstage(&app, &["import", "workspaces", "--file", file], "");
        assert!(output.status.success(), "{output:?}");
        let printed: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
        assert_eq!((printed["total_rows"].as_u64(), printed["created"].as_i64(), printed["skipped"].as_i64(), printed["failed_rows"].as_i64()), (Some(151), Some(150), Some(0), Some(1)), "{printed}");
        assert_eq!(workspaces(&app).await, before + 150);
        let recorded = import::Entity::find_by_id(printed["import_id"].as_str().unwrap()).one(&app.db).await.unwrap().unwrap();
        assert_eq!((recorded.status.as_str(), recorded.requested_by.as_deref()), ("succeeded", Some("the command line")));

        let output = offstage(&app, &["import", "workspaces", "--file", file], "");
        let printed: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
        assert_eq!((printed["created"].as_i64(), printed["skipped"].as_i64()), (Some(0), Some(150)), "run again, nothing twice");
        assert_eq!(workspaces(&app).await, before + 150);

        std::fs::write(&path, "name,seats\nAcme,3\n").unwrap();
        let refused = one_error_line(&offstage(&app, &["import", "workspaces", "--file", file], ""));
        assert!(refused.contains("“seats”"), "{refused}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_platform_admins_import_workspaces_and_a_file_that_cannot_be_one_is_refused_whole() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let acme = app.create_workspace("Acme", &app.admin).await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let response = admin.post_file("/admin/platform/imports", b"name,owner_email,seats\nA,a@b.co,3\n".to_vec()).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.unwrap().contains("a column “seats”"), "says what is wrong");
    assert_eq!(import::Entity::find().count(&app.db).await.unwrap(), 0, "nothing is kept");
    admin.post_file("/admin/platform/imports", workspaces_csv(3, &[])).await;
    let made = newest_import(&app).await;

    let owner = app.create_user("owner@acme.test").await;
    app.add_member(&acme, &owner, Role::Owner).await;
    let owner = app.sign_in("owner@acme.test").await;
    let page = format!("/admin/platform/imports/{}", made.id);
    for path in ["/admin/platform/imports".to_owned(), page.clone(), format!("{page}/errors.csv")] {
        assert_eq!(owner.get(&path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    for path in [format!("{page}/start"), format!("{page}/cancel")] {
        assert_eq!(owner.post_form(&path, &[]).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let upload = owner.post_file("/admin/platform/imports", workspaces_csv(2, &[])).await;
    assert_eq!(upload.status(), StatusCode::NOT_FOUND);
    assert_eq!(import::Entity::find().count(&app.db).await.unwrap(), 1, "the owner's upload is not kept");
    assert_eq!(newest_import(&app).await.status, "preview", "nothing changed");
    // A members import is not a platform import.
    let members = offstage::imports::csv_file::parse_members(b"email\nsomeone@example.com\n", true).unwrap();
    let theirs = offstage::imports::record::create(&app.db, &app.scope(&acme), &members, "preview").await.unwrap();
    assert_eq!(admin.get(&format!("/admin/platform/imports/{}", theirs.id)).await.status(), StatusCode::NOT_FOUND);
}

/// The next lines of an import of 100,000 come in order from their index, though PostgreSQL had
/// no statistics of them when they were uploaded (autovacuum comes later). Without, the planner
/// expected two lines left, read all 99,900 still to do and sorted them to take the next 100
/// (21 ms here, 28 ms a batch halfway through the bench's import).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_large_imports_next_lines_are_read_in_order_from_its_index() {
    if !crate::helpers::postgres_configured() {
        return;
    }
    let app = TestApp::spawn_web_only(Backend::Postgres).await;
    let lines = parse_workspaces(&workspaces_csv(100_000, &[])[..]).unwrap();
    let large = record::create_platform(&app.db, "workspaces", "test", &lines, "running").await.unwrap();

    let progress = imports::workspaces::next_batch(&app.db, &large.id, &app.config).await.unwrap();
    assert_eq!((progress.processed, progress.total, progress.more), (100, 100_000, true));
    let plan = record::explain_pending_postgres(&app.db, &large.id).await.unwrap();
    assert!(plan.contains("Index Scan using idx_import_rows_pending"), "the lines not read from their index:\n{plan}");
    assert!(!plan.contains("Sort"), "the lines left were sorted to take the next 100:\n{plan}");
}
