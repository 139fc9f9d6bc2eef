//! A run that begins no chain stores no chain id (a chain's first run stored its own), and the
//! chain index holds only runs that continue a chain: it was one of the eight index entries every
//! start wrote on PostgreSQL. Every lookup by chain states `chain_id = …`, which implies
//! `chain_id IS NOT NULL` on both databases, so each can still use it. Runs started before keep
//! their own id as chain id and their entry; the lookups find them either way.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: [&str; 2] = [
    "DROP INDEX idx_workflow_runs_chain",
    "CREATE INDEX idx_workflow_runs_chain ON workflow_runs (chain_id, id) WHERE chain_id IS NOT NULL",
];

const DOWN: [&str; 2] =
    ["DROP INDEX idx_workflow_runs_chain", "CREATE INDEX idx_workflow_runs_chain ON workflow_runs (chain_id, id)"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_all(manager, &UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_all(manager, &DOWN).await
    }
}
