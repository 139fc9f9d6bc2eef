//! `offstage demo`: the seeded workspaces, schedules and runs.

use crate::on_both_databases;

on_both_databases! {
    async fn the_demo_seeds_workspaces_schedules_and_runs_once(app: TestApp) {
        use offstage::db::entities::{schedule, workflow_run, workspace};
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        assert_eq!(offstage::demo::seed(&app.db, &app.workflows, &app.admin).await.unwrap(), 3);
        assert_eq!(offstage::demo::seed(&app.db, &app.workflows, &app.admin).await.unwrap(), 0, "seeding twice changes nothing");
        assert_eq!(workspace::Entity::find().count(&app.db).await.unwrap(), 3);
        // Two demo schedules per workspace, plus each workspace's weekly digest.
        assert_eq!(schedule::Entity::find().filter(schedule::Column::WorkspaceId.is_not_null()).count(&app.db).await.unwrap(), 9);
        app.drain_jobs_due().await;
        let demo_runs = workflow_run::Entity::find().filter(workflow_run::Column::Trigger.eq("demo")).count(&app.db).await.unwrap();
        assert_eq!(demo_runs, 15);
        let (counts, _) = offstage::engine::runs::counts(&app.db, &offstage::tenancy::Platform::system()).await.unwrap();
        for (status, n) in counts {
            let expected = match status.as_str() {
                "succeeded" => 9,
                "skipped" => 3,
                "failed" => 3,
                "scheduled" => 3,
                _ => 0,
            };
            assert!(n >= expected, "{status:?}: {n}");
        }
    }
}
