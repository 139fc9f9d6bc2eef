//! An export's chain step run twice at the same place (a worker killed after writing, the run
//! retried) writes the same part again, so the file has each row once; on disk, and on an
//! S3-compatible server (moto) when OFFSTAGE_TEST_S3=1.

use futures::StreamExt;
use offstage::db::entities::workspace;
use offstage::exports::step::{self, Position};
use offstage::exports::workflows::export_workspaces;
use offstage::exports::{Format, Source, record};
use offstage::storage::Storage;
use sea_orm::{EntityTrait, PaginatorTrait};

use super::{HEADER, bulk_workspaces};
use crate::helpers::TestApp;
use crate::on_both_databases;
use crate::storage::moto_storage;

async fn export_with_every_step_twice(app: &TestApp, storage: &Storage) {
    let workspaces = workspace::Entity::find().count(&app.db).await.unwrap();
    let made = record::create(&app.db, export_workspaces::new_export(Format::Csv, None)).await.unwrap();
    let source = Source::workspaces(made.created_at);
    let mut at = Position::default();
    let mut steps = 0;
    loop {
        let export = record::find(&app.db, &made.id).await.unwrap().unwrap();
        let first = step::step(&app.db, storage, &export, &source, at.clone(), 7).await.unwrap();
        let export = record::find(&app.db, &made.id).await.unwrap().unwrap();
        let again = step::step(&app.db, storage, &export, &source, at.clone(), 7).await.unwrap();
        assert_eq!(first.next, again.next, "the retry ends where the first attempt did");
        assert_eq!((again.processed, again.total), (first.processed, workspaces));
        steps += 1;
        match again.next {
            Some(next) => at = next,
            None => break,
        }
    }
    assert_eq!(steps, workspaces.div_ceil(1_000));
    let export = record::find(&app.db, &made.id).await.unwrap().unwrap();
    assert_eq!((export.status.as_str(), export.rows as u64), ("succeeded", workspaces));
    let key = export.file_key.unwrap();
    let mut body = Vec::new();
    let mut chunks = storage.read(&key).await.unwrap();
    while let Some(chunk) = chunks.next().await {
        body.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(body.len() as i64, export.bytes.unwrap());
    let text = String::from_utf8(body).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], HEADER);
    assert_eq!(lines.len() as u64, workspaces + 1, "each workspace once");
    let ids: std::collections::BTreeSet<&str> = lines[1..].iter().map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(ids.len() as u64, workspaces);
    assert!(lines.iter().any(|l| l.starts_with("ws_bulk001234,bulk-1234,Bulk 1234,")), "one row's values");
    for n in 0..3 {
        let part = offstage::exports::files::part_key(&made.id, 0, n);
        assert_eq!(storage.size(&part).await.unwrap(), None, "the parts are removed once the file is whole");
    }
}

on_both_databases! {
    async fn an_export_step_run_again_after_a_crash_leaves_each_row_once_on_disk_and_on_s3(app: TestApp) {
        bulk_workspaces(&app, 2_500).await;
        let disk = Storage::from_settings(None, &app.config.data_dir).unwrap();
        export_with_every_step_twice(&app, &disk).await;
        let Some((_moto, s3, _)) = moto_storage("exports-test", &app.config.data_dir).await else { return };
        export_with_every_step_twice(&app, &s3).await;
    }
}
