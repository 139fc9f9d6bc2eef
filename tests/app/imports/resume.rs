//! A worker process killed with SIGKILL in the middle of an import: a second worker goes on
//! where it was, and every person is invited exactly once (one invitation, one email), every
//! workspace made exactly once. The same for `offstage import workspaces` killed and run again.

use std::time::{Duration, Instant};

use offstage::db::entities::{email, import, invitation, workspace};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::{members_csv, workspaces_csv};
use crate::helpers::{Backend, TestApp};
use crate::worker_processes::Worker;

const PEOPLE: usize = 3_000;

async fn processed(app: &TestApp, id: &str) -> import::Model {
    import::Entity::find_by_id(id).one(&app.db).await.unwrap().unwrap()
}

/// Waits until `id` has done at least `rows` lines, kills the worker with SIGKILL, and checks
/// it was killed in the middle; then a second worker (returned) goes on.
async fn kill_after(app: &TestApp, id: &str, rows: i64, mut first: Worker, env: &[(&str, &str)]) -> Worker {
    let started = Instant::now();
    loop {
        let done = processed(app, id).await.processed_rows;
        if done >= rows {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the first worker did only {done} rows in 60 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.kill_9();
    let at_kill = processed(app, id).await;
    assert!(at_kill.processed_rows < at_kill.total_rows, "killed in the middle ({} done)", at_kill.processed_rows);
    assert_eq!(at_kill.status, "running");
    let second = Worker::with_env(app, env);
    let started = Instant::now();
    while processed(app, id).await.status != "succeeded" {
        assert!(started.elapsed() < Duration::from_secs(120), "the import did not finish 120 s after the kill");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    second
}

async fn an_import_killed_in_the_middle_resumes_and_invites_each_person_once(backend: Backend) {
    let app = TestApp::spawn_web_only_with(backend, |c| c.limits.invitations_per_day = 10_000).await;
    let acme = app.create_workspace("Acme", &app.admin).await;
    let key = app.api_key(&acme).await;
    let response = app
        .anonymous()
        .post(app.url("/api/v1/imports/members"))
        .bearer_auth(&key)
        .header("content-type", "text/csv")
        .body(members_csv(PEOPLE, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let id = response.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let limit = [("OFFSTAGE_INVITATIONS_PER_DAY", "10000")];

    let first = Worker::with_env(&app, &limit);
    let _second = kill_after(&app, &id, 300, first, &limit).await;
    let done = processed(&app, &id).await;
    assert_eq!(
        (done.processed_rows, done.created, done.skipped, done.failed_rows),
        (PEOPLE as i64, PEOPLE as i64, 0, 0)
    );
    let invitations =
        invitation::Entity::find().filter(invitation::Column::WorkspaceId.eq(&acme.id)).all(&app.db).await.unwrap();
    let addresses: std::collections::BTreeSet<&str> = invitations.iter().map(|i| i.email.as_str()).collect();
    assert_eq!((invitations.len(), addresses.len()), (PEOPLE, PEOPLE), "each person invited once");
    let emails = email::Entity::find()
        .filter(email::Column::WorkspaceId.eq(&acme.id))
        .filter(email::Column::Kind.eq("invitation"))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(emails, PEOPLE as u64, "one invitation email each");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_in_the_middle_resumes_and_invites_each_person_once_on_sqlite() {
    an_import_killed_in_the_middle_resumes_and_invites_each_person_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_in_the_middle_resumes_and_invites_each_person_once_on_postgres() {
    if !crate::helpers::postgres_configured() {
        return;
    }
    an_import_killed_in_the_middle_resumes_and_invites_each_person_once(Backend::Postgres).await;
}

async fn a_workspaces_import_killed_in_the_middle_resumes_and_makes_each_workspace_once(backend: Backend) {
    let app = TestApp::spawn_web_only_with(backend, |_| {}).await;
    let lines = offstage::imports::workspaces_file::parse_workspaces(&workspaces_csv(PEOPLE, &[])).unwrap();
    let made =
        offstage::imports::record::create_platform(&app.db, "workspaces", "test", &lines, "running").await.unwrap();
    offstage::imports::workflows::import_workspaces::start(&app.db, &made, "code").await.unwrap();
    let first = Worker::with_env(&app, &[]);
    let _second = kill_after(&app, &made.id, 300, first, &[]).await;
    let done = processed(&app, &made.id).await;
    assert_eq!((done.created, done.skipped, done.failed_rows), (PEOPLE as i64, 0, 0));
    let customers =
        workspace::Entity::find().filter(workspace::Column::Slug.like("customer-%")).count(&app.db).await.unwrap();
    let invitations =
        invitation::Entity::find().filter(invitation::Column::Email.like("owner%")).count(&app.db).await.unwrap();
    let emails = email::Entity::find().filter(email::Column::Kind.eq("invitation")).count(&app.db).await.unwrap();
    assert_eq!((customers, invitations, emails), (PEOPLE as u64, PEOPLE as u64, PEOPLE as u64), "each made once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspaces_import_killed_in_the_middle_resumes_and_makes_each_workspace_once_on_sqlite() {
    a_workspaces_import_killed_in_the_middle_resumes_and_makes_each_workspace_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspaces_import_killed_in_the_middle_resumes_and_makes_each_workspace_once_on_postgres() {
    if !crate::helpers::postgres_configured() {
        return;
    }
    a_workspaces_import_killed_in_the_middle_resumes_and_makes_each_workspace_once(Backend::Postgres).await;
}

async fn offstage_import_workspaces_killed_in_the_middle_continues_its_import_when_run_again(backend: Backend) {
    let app = TestApp::spawn_web_only_with(backend, |_| {}).await;
    let path = app.config.data_dir.join("customers.csv");
    std::fs::write(&path, workspaces_csv(PEOPLE, &[])).unwrap();
    let args = ["import", "workspaces", "--file", path.to_str().unwrap()];
    let mut first = crate::cli::offstage_command(&app, &args).spawn().unwrap();
    let from_the_command_line =
        || import::Entity::find().filter(import::Column::RequestedBy.eq("the command line")).all(&app.db);
    let started = Instant::now();
    let begun = loop {
        if let Some(begun) = from_the_command_line().await.unwrap().into_iter().find(|i| i.processed_rows >= 300) {
            break begun;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the command did not do 300 lines in 60 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    first.kill().unwrap();
    first.wait().unwrap();
    let at_kill = processed(&app, &begun.id).await;
    assert!(at_kill.processed_rows < at_kill.total_rows, "killed in the middle ({} done)", at_kill.processed_rows);
    assert_eq!(at_kill.status, "running");
    let admin = app.sign_in(crate::helpers::ADMIN_EMAIL).await;
    let (_, html) = admin.get_html(&format!("/admin/platform/imports/{}", begun.id)).await;
    assert!(html.contains("run it again on the same file"), "the page says how to go on");

    let output = crate::cli::offstage(&app, &args, "");
    assert!(output.status.success(), "{output:?}");
    let printed: serde_json::Value = serde_json::from_str(crate::cli::stdout(&output).trim()).unwrap();
    assert_eq!((printed["import_id"].as_str(), printed["resumed"].as_bool()), (Some(begun.id.as_str()), Some(true)));
    let done = processed(&app, &begun.id).await;
    assert_eq!(done.status, "succeeded");
    assert_eq!(
        (done.processed_rows, done.created, done.skipped, done.failed_rows),
        (PEOPLE as i64, PEOPLE as i64, 0, 0)
    );
    assert_eq!(from_the_command_line().await.unwrap().len(), 1, "continued, not begun again beside it");
    let customers =
        workspace::Entity::find().filter(workspace::Column::Slug.like("customer-%")).count(&app.db).await.unwrap();
    let invitations =
        invitation::Entity::find().filter(invitation::Column::Email.like("owner%")).count(&app.db).await.unwrap();
    assert_eq!((customers, invitations), (PEOPLE as u64, PEOPLE as u64), "each made once");

    let output = crate::cli::offstage(&app, &args, "");
    let printed: serde_json::Value = serde_json::from_str(crate::cli::stdout(&output).trim()).unwrap();
    assert_ne!(printed["import_id"].as_str(), Some(begun.id.as_str()), "a finished import is not continued");
    assert_eq!((printed["resumed"].as_bool(), printed["skipped"].as_i64()), (Some(false), Some(PEOPLE as i64)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offstage_import_workspaces_killed_in_the_middle_continues_its_import_when_run_again_on_sqlite() {
    offstage_import_workspaces_killed_in_the_middle_continues_its_import_when_run_again(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offstage_import_workspaces_killed_in_the_middle_continues_its_import_when_run_again_on_postgres() {
    if !crate::helpers::postgres_configured() {
        return;
    }
    offstage_import_workspaces_killed_in_the_middle_continues_its_import_when_run_again(Backend::Postgres).await;
}
