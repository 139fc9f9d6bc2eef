//! A chain's runs indexed in order: the prune asks each old run for the latest run of its chain
//! (is the chain over?), which `(chain_id)` alone answered by reading and sorting every run of
//! the chain (1,000 for an import of 100,000 lines); `(chain_id, id)` answers from its last entry.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: [&str; 2] =
    ["DROP INDEX idx_workflow_runs_chain", "CREATE INDEX idx_workflow_runs_chain ON workflow_runs (chain_id, id)"];

const DOWN: [&str; 2] =
    ["DROP INDEX idx_workflow_runs_chain", "CREATE INDEX idx_workflow_runs_chain ON workflow_runs (chain_id)"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_all(manager, &UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_all(manager, &DOWN).await
    }
}
