//! Runs finished, counted per minute by workflow and outcome (`run_tallies`) and per hour by
//! workspace (`workspace_run_tallies`): what Platform → Queue charts and a workspace's overview
//! read, a few hundred rows however many runs the job table holds. Hours and minutes are counted
//! since 1970, as the application counts them. No foreign key to workspaces: a workspace deleted
//! before its last runs were counted must not make the counts fail; its rows age out.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: [&str; 3] = [
    "CREATE TABLE run_tallies (minute BIGINT NOT NULL, workflow VARCHAR(100) NOT NULL, outcome VARCHAR(20) NOT NULL, \
     runs BIGINT NOT NULL, millis BIGINT NOT NULL, PRIMARY KEY (minute, workflow, outcome))",
    "CREATE TABLE workspace_run_tallies (workspace_id VARCHAR(40) NOT NULL, hour BIGINT NOT NULL, \
     runs BIGINT NOT NULL, failed BIGINT NOT NULL, PRIMARY KEY (workspace_id, hour))",
    "CREATE INDEX idx_workspace_run_tallies_hour ON workspace_run_tallies (hour)",
];

const DOWN: [&str; 2] = ["DROP TABLE workspace_run_tallies", "DROP TABLE run_tallies"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_all(manager, &UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_all(manager, &DOWN).await
    }
}
