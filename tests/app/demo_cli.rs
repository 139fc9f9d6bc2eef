//! `offstage demo` as an operator runs it: it seeds a fresh database, says so, serves like
//! `serve`, and stops cleanly on SIGTERM.

use std::time::Duration;

use offstage::db::entities::{schedule, workflow_run, workspace};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use crate::helpers::process::{KillOnDrop, free_port, offstage, read_all, stop_with_sigterm, wait_until_serving};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offstage_demo_seeds_a_fresh_database_then_serves_until_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}?mode=rwc", dir.path().join("demo.db").display());
    let port = free_port();
    let mut child = KillOnDrop(
        offstage("demo", dir.path(), port, "warn")
            .env("OFFSTAGE_DATABASE_URL", &database_url)
            .spawn()
            .expect("run offstage demo"),
    );
    wait_until_serving(&mut child.0, port, Duration::from_secs(60)).await;

    // The seeded data, read from the database file the demo wrote.
    let db = offstage::db::connect(&database_url, offstage::config::DatabaseKind::Sqlite).await.unwrap();
    let seeded = workspace::Entity::find().order_by_asc(workspace::Column::Slug).all(&db).await.unwrap();
    let slugs: Vec<&str> = seeded.iter().map(|w| w.slug.as_str()).collect();
    assert_eq!(slugs, ["acme-corp", "globex", "initech"]);
    let zones: Vec<&str> = seeded.iter().map(|w| w.timezone.as_str()).collect();
    assert_eq!(zones, ["Europe/Berlin", "America/New_York", "Asia/Tokyo"]);
    // Two demo schedules per workspace, plus each workspace's weekly digest.
    let schedules =
        schedule::Entity::find().filter(schedule::Column::WorkspaceId.is_not_null()).count(&db).await.unwrap();
    assert_eq!(schedules, 9);
    let demo_runs =
        workflow_run::Entity::find().filter(workflow_run::Column::Trigger.eq("demo")).count(&db).await.unwrap();
    assert_eq!(demo_runs, 15, "five runs per workspace");
    db.close().await.unwrap();

    let status = stop_with_sigterm(&mut child.0).await;
    let out = read_all(child.0.stdout.take());
    assert!(status.success(), "clean exit after SIGTERM: {status:?}; stderr: {}", read_all(child.0.stderr.take()));
    assert!(
        out.contains("Demo: 3 workspaces seeded (acme-corp, globex, initech), owned by owner@example.com."),
        "{out}"
    );
    assert!(out.contains("Email:    owner@example.com"), "the first platform admin is announced: {out}");
}
