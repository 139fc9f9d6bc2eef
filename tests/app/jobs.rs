//! The background runtime end to end: a job queued in the creating transaction is run by a worker.

use crate::helpers::*;
use crate::on_both_databases;
use offstage::db::entities::activity;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

on_both_databases! {
    async fn creating_a_workspace_queues_a_job_that_records_it_in_the_activity_log(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        app.drain_jobs().await;
        let entries = activity::Entity::find()
            .filter(activity::Column::WorkspaceId.eq(&ws.id))
            .filter(activity::Column::Kind.eq("workspace.created"))
            .all(&app.db)
            .await
            .unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].message, format!("Workspace “Acme” was created by {ADMIN_EMAIL}"));
        assert_eq!(entries[0].actor.as_deref(), Some("Offstage"));
        let visitor = app.sign_in(ADMIN_EMAIL).await;
        let (_, html) = visitor.get_html(&format!("/admin/workspaces/{}", ws.slug)).await;
        assert!(html.contains("Workspace “Acme” was created by"));
    }

    async fn running_the_creation_job_twice_records_it_once(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        app.drain_jobs().await;
        use offstage::workflows::record_workspace_created::{Params, RecordWorkspaceCreated};
        let params = Params { workspace_id: ws.id.clone(), created_by: ADMIN_EMAIL.into() };
        let run = offstage::workflows::runs::start(&app.db, offstage::workflows::NewRun::of::<RecordWorkspaceCreated>(&params)).await.unwrap();
        app.drain_jobs().await;
        let entries = activity::Entity::find()
            .filter(activity::Column::WorkspaceId.eq(&ws.id))
            .filter(activity::Column::Kind.eq("workspace.created"))
            .all(&app.db)
            .await
            .unwrap();
        assert_eq!(entries.len(), 1);
        let second = offstage::workflows::runs::get(&app.db, &run.id, None).await.unwrap().unwrap();
        assert_eq!(second.status, offstage::workflows::RunStatus::Skipped);
        assert_eq!(second.skipped.unwrap().condition, "the creation is not recorded yet");
    }
}
