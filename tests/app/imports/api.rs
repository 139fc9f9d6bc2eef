//! The members import through the API: 202 and the counts once done; a file that cannot be an
//! import, or one beyond the day's invitations, is refused whole and starts nothing; cancel.

use offstage::db::entities::{import, invitation};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::Value;

use super::{members_csv, newest_import};
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

async fn post_csv(app: &TestApp, key: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let response = app
        .anonymous()
        .post(app.url("/api/v1/imports/members"))
        .bearer_auth(key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(app: &TestApp, key: &str, id: &str) -> (StatusCode, Value) {
    let response =
        app.anonymous().get(app.url(&format!("/api/v1/imports/{id}"))).bearer_auth(key).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

on_both_databases! {
    async fn the_api_imports_a_csv_and_answers_its_counts_and_first_errors(app: TestApp) {
        let acme = app.create_workspace("Acme", &app.admin).await;
        let key = app.api_key(&acme).await;
        let (status, started) = post_csv(&app, &key, "text/csv; charset=utf-8", members_csv(30, &["bad-email,member,", "y@example.com,owner,"])).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{started}");
        assert_eq!((started["status"].as_str(), started["total_rows"].as_i64()), (Some("running"), Some(32)));
        let id = started["id"].as_str().unwrap().to_owned();
        app.drain_jobs_due().await;
        let (status, done) = get(&app, &key, &id).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(done["status"], "succeeded", "{done}");
        assert_eq!((done["processed_rows"].as_i64(), done["created"].as_i64(), done["skipped"].as_i64(), done["failed_rows"].as_i64()), (Some(32), Some(30), Some(0), Some(2)));
        assert_eq!(done["errors"][0]["row"], 32);
        assert_eq!(done["errors"][0]["value"], "bad-email");
        assert_eq!(done["errors"][1]["message"], "Only an owner can invite owners", "a key acts as an admin");
        let response = app.anonymous().delete(app.url(&format!("/api/v1/imports/{id}"))).bearer_auth(&key).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::CONFLICT, "a finished import cannot be cancelled");

        let other = app.create_workspace("Other", &app.admin).await;
        let other_key = app.api_key(&other).await;
        assert_eq!(get(&app, &other_key, &id).await.0, StatusCode::NOT_FOUND, "another workspace's key");
    }

    async fn a_file_that_cannot_be_an_import_is_refused_with_422_or_413_and_starts_nothing(app: TestApp) {
        let acme = app.create_workspace("Acme", &app.admin).await;
        let key = app.api_key(&acme).await;
        let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
            ("text/csv", b"mail,role\na@example.com,member\n".to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "a column “mail”"),
            ("text/csv", b"email\n\xff\xfe@example.com\n".to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "not UTF-8"),
            ("text/csv", b"email\n".to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "no rows"),
            ("text/csv", members_csv(100_001, &[]), StatusCode::UNPROCESSABLE_ENTITY, "100001 rows"),
            ("application/json", b"{\"email\": \"a@example.com\"}".to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "Content-Type: text/csv"),
            ("text/csv", vec![b'a'; offstage::imports::csv_file::MAX_BYTES + 10], StatusCode::PAYLOAD_TOO_LARGE, "larger than the 16 MB"),
            // The test default allows 50 invitations a day.
            ("text/csv", members_csv(51, &[]), StatusCode::UNPROCESSABLE_ENTITY, "may send 50 more invitations today"),
        ];
        for (content_type, body, expected, says) in cases {
            let (status, answer) = post_csv(&app, &key, content_type, body).await;
            assert_eq!(status, expected, "{answer}");
            let message = answer["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains(says), "{message} should say {says}");
        }
        assert_eq!(import::Entity::find().count(&app.db).await.unwrap(), 0, "nothing started");
        assert_eq!(invitation::Entity::find().filter(invitation::Column::WorkspaceId.eq(&acme.id)).count(&app.db).await.unwrap(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_import_invites_no_one_more() {
    // Web only: the import waits for a worker that never comes, and is cancelled meanwhile.
    let app = TestApp::spawn_web_only_with(Backend::Sqlite, |c| c.limits.invitations_per_day = 1_000).await;
    let acme = app.create_workspace("Acme", &app.admin).await;
    let key = app.api_key(&acme).await;
    let (status, started) = post_csv(&app, &key, "text/csv", members_csv(300, &[])).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let id = started["id"].as_str().unwrap();
    let scope = app.scope(&acme);
    let first = offstage::imports::members::next_batch(&app.db, &scope, id, &app.config).await.unwrap();
    assert_eq!((first.processed, first.total, first.more), (100, 300, true), "one batch done");
    let response =
        app.anonymous().delete(app.url(&format!("/api/v1/imports/{id}"))).bearer_auth(&key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cancelled: Value = response.json().await.unwrap();
    assert_eq!((cancelled["status"].as_str(), cancelled["processed_rows"].as_i64()), (Some("cancelled"), Some(100)));
    let (status, read) = get(&app, &key, id).await;
    assert_eq!(
        (status, read["status"].as_str()),
        (StatusCode::OK, Some("cancelled")),
        "a cancelled import stays readable"
    );
    let next = offstage::imports::members::next_batch(&app.db, &scope, id, &app.config).await.unwrap();
    assert!(!next.more, "the chain stops");
    let invited =
        invitation::Entity::find().filter(invitation::Column::WorkspaceId.eq(&acme.id)).count(&app.db).await.unwrap();
    assert_eq!(invited, 100, "the rows done stay done, no more are sent");
    assert_eq!(newest_import(&app).await.status, "cancelled");
}
