//! An export's chain step run twice at the same place (a worker killed after writing, the run
//! retried) writes the same part again, so the file has each row once; on disk, and on an
//! S3-compatible server (moto) when OFFSTAGE_TEST_S3=1. An export whose chain stopped for good
//! has its parts deleted by the daily clean-up.

use chrono::Utc;
use futures::StreamExt;
use offstage::db::entities::{export, workspace};
use offstage::engine::{NewRun, runs};
use offstage::exports::step::{self, Position};
use offstage::exports::workflows::expire_exports::{self, ExpireExports};
use offstage::exports::workflows::export_workspaces;
use offstage::exports::{Format, Source, record};
use offstage::storage::Storage;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::{HEADER, bulk_workspaces};
use crate::helpers::{ADMIN_EMAIL, TestApp};
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

    async fn the_daily_clean_up_deletes_the_parts_of_an_export_whose_chain_stopped_a_day_ago_and_marks_it_failed(app: TestApp) {
        bulk_workspaces(&app, 1_500).await;
        let storage = Storage::from_settings(None, &app.config.data_dir).unwrap();
        let cancelled = export_with_a_part(&app, &storage, 2, Some(true)).await;
        let without_chain = export_with_a_part(&app, &storage, 2, None).await;
        let going_on = export_with_a_part(&app, &storage, 2, Some(false)).await;
        let recent = export_with_a_part(&app, &storage, 0, Some(true)).await;
        let part = |id: &str| offstage::exports::files::part_key(id, 0, 0);
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let (_, html) = admin.get_html("/admin/platform/exports").await;
        assert_eq!(html.matches("export-failed").count(), 2, "stopped chains show as failed before the clean-up too");

        runs::start(&app.db, NewRun::of::<ExpireExports>(&expire_exports::Params::default())).await.unwrap();
        app.drain_jobs_due().await;
        for (id, status, kept) in
            [(&cancelled, "failed", false), (&without_chain, "failed", false), (&going_on, "running", true), (&recent, "running", true)]
        {
            let export = record::find(&app.db, id).await.unwrap().unwrap();
            assert_eq!(export.status, status, "{id}");
            assert_eq!(storage.size(&part(id)).await.unwrap().is_some(), kept, "{id}'s part");
        }
        let (_, html) = admin.get_html("/admin/platform/exports").await;
        assert_eq!(html.matches("export-failed").count(), 3, "the two recorded failed, and the recent stopped one");
    }
}

/// An export with its first part written, begun `days_ago`, its chain's first run `chain` (the
/// run started, then cancelled or left scheduled for later) or none.
async fn export_with_a_part(app: &TestApp, storage: &Storage, days_ago: i64, chain: Option<bool>) -> String {
    let made = record::create(&app.db, export_workspaces::new_export(Format::Csv, None)).await.unwrap();
    let source = Source::workspaces(made.created_at);
    let first = step::step(&app.db, storage, &made, &source, Position::default(), 7).await.unwrap();
    assert!(first.next.is_some(), "more to do after the first part");
    if let Some(cancelled) = chain {
        let params = export_workspaces::Params {
            export_id: Some(made.id.clone()),
            format: Format::Csv,
            at: first.next.unwrap(),
        };
        let later = Utc::now() + chrono::Duration::hours(1);
        let run =
            runs::start(&app.db, NewRun::of::<export_workspaces::ExportWorkspaces>(&params).at(later)).await.unwrap();
        record::attach_run(&app.db, &made.id, run.id.as_str()).await.unwrap();
        if cancelled {
            runs::cancel(&app.db, &run, "test").await.unwrap();
        }
    }
    export::Entity::update_many()
        .col_expr(export::Column::CreatedAt, Expr::value(Utc::now() - chrono::Duration::days(days_ago)))
        .filter(export::Column::Id.eq(&made.id))
        .exec(&app.db)
        .await
        .unwrap();
    made.id
}
