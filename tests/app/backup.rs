//! `offstage backup` while Offstage works, and `offstage restore`: every run started and every
//! Stripe event acknowledged before the backup began is in it, and it restores into a database
//! Offstage starts on; a restore over a database in use is refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use offstage::db::entities::{stripe_event, workflow_run};
use reqwest::{Method, StatusCode};
use sea_orm::{Database, EntityTrait};
use tokio::sync::Mutex;

use crate::helpers::{Backend, TestApp};
use crate::stripe_webhooks::{event, object, unique_id};

/// What the load was told had been recorded, and when.
#[derive(Default)]
struct Acknowledged {
    runs: Vec<(String, Instant)>,
    events: Vec<(String, Instant)>,
}

fn command(url: &str, dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_offstage"))
        .args(args)
        .env("OFFSTAGE_DATABASE_URL", url)
        .env("OFFSTAGE_DATA_DIR", dir)
        .env("OFFSTAGE_SECRET_KEY", "backup-test-secret-key-backup-test-secret-key-0123")
        .env("OFFSTAGE_LOG", "warn")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_holds_everything_acknowledged_before_it_and_restores() {
    let app = Arc::new(TestApp::spawn(Backend::Sqlite).await);
    let ws = app.create_workspace("Acme", &app.admin).await;
    let key = app.api_key(&ws).await;
    let (stop, acknowledged) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Acknowledged::default())));
    let load = {
        let (app, stop, acknowledged) = (app.clone(), stop.clone(), acknowledged.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let path = "/api/v1/workflows/refresh_workspace_health/runs";
                let (status, run) = app.api(Method::POST, &key, path, Some(serde_json::json!({}))).await;
                assert_eq!(status, StatusCode::ACCEPTED, "{run}");
                acknowledged.lock().await.runs.push((run["id"].as_str().unwrap().to_owned(), Instant::now()));
                let id = unique_id("evt_backup");
                let (status, body) =
                    app.deliver(&event(&id, "customer.updated", 1_700_000_000, object("customer"))).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                acknowledged.lock().await.events.push((id, Instant::now()));
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.db");
    let began = Instant::now();
    let output = command(&app.database_url, &app.config.data_dir, &["backup", "--to", file.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    let line: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(line["integrity"], "ok", "{line}");

    let acknowledged = acknowledged.lock().await;
    let before = |acks: &[(String, Instant)]| -> Vec<String> {
        acks.iter().filter(|(_, at)| *at < began).map(|(id, _)| id.clone()).collect()
    };
    let (runs, events) = (before(&acknowledged.runs), before(&acknowledged.events));
    assert!(
        runs.len() >= 5 && events.len() >= 5,
        "load before the backup: {} runs, {} events",
        runs.len(),
        events.len()
    );
    assert!(acknowledged.runs.len() > runs.len(), "the load went on during the backup");
    let copy = Database::connect(format!("sqlite://{}?mode=ro", file.display())).await.unwrap();
    for id in &runs {
        assert!(workflow_run::Entity::find_by_id(id.as_str()).one(&copy).await.unwrap().is_some(), "run {id}");
    }
    for id in &events {
        assert!(stripe_event::Entity::find_by_id(id.as_str()).one(&copy).await.unwrap().is_some(), "event {id}");
    }
    copy.close().await.unwrap();

    let again = command(&app.database_url, &app.config.data_dir, &["backup", "--to", file.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"), "a backup never overwrites one");
    let in_use = command(&app.database_url, &app.config.data_dir, &["restore", "--from", file.to_str().unwrap()]);
    assert!(!in_use.status.success());
    assert!(String::from_utf8_lossy(&in_use.stderr).contains("stop every Offstage process first"));

    // Restored elsewhere, over a database of its own, which is kept beside it.
    let target_dir = tempfile::tempdir().unwrap();
    let target = format!("sqlite://{}?mode=rwc", target_dir.path().join("offstage.db").display());
    assert!(command(&target, target_dir.path(), &["migrate"]).status.success());
    let restored = command(&target, target_dir.path(), &["restore", "--from", file.to_str().unwrap()]);
    assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));
    let line: serde_json::Value = serde_json::from_slice(&restored.stdout).unwrap();
    assert!(line["replaced_kept_at"].as_str().unwrap().contains("offstage.db.before-restore-"), "{line}");
    assert!(command(&target, target_dir.path(), &["migrate"]).status.success(), "Offstage starts on it");
    let db = Database::connect(&target).await.unwrap();
    for id in &runs {
        assert!(workflow_run::Entity::find_by_id(id.as_str()).one(&db).await.unwrap().is_some(), "run {id}");
    }
    for id in &events {
        assert!(stripe_event::Entity::find_by_id(id.as_str()).one(&db).await.unwrap().is_some(), "event {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_restore_name_pg_dump_on_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let output = command("postgres://nobody@127.0.0.1:1/none", dir.path(), &["backup", "--to", "x.db"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("pg_dump"));
}
