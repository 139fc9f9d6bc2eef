//! On PostgreSQL, a run's workspace is checked once per statement instead of once per run: the
//! foreign key from `workflow_runs.workspace_id` looked up and locked the workspace for every
//! row, though the runs of one start name a few workspaces (3.4 of 15.5 ms in a statement that
//! starts 1,000 runs of one workspace). Two statement triggers do what the key did:
//!
//! - After an INSERT, each workspace the new runs name is locked `FOR KEY SHARE` (as the key's
//!   own check locks it) and a missing one fails the statement with the key's error
//!   (`foreign_key_violation`), so a start for a workspace that does not exist, or is being
//!   deleted, changes nothing.
//! - After a DELETE of workspaces, their runs go too (the key's `ON DELETE CASCADE`). At READ
//!   COMMITTED, Offstage's level, the trigger's DELETE reads with a snapshot of its own: a start
//!   that held the workspace's lock first has committed by then, and its runs go with the others.
//!   (A deletion at REPEATABLE READ would not see them, where the key's cascade would have failed
//!   with a serialization error; Offstage deletes at READ COMMITTED.)
//!
//! A run never changes workspace: an UPDATE that would is refused (the key allowed a move to
//! another workspace). What the key did and these do not: refuse `TRUNCATE workspaces` without
//! `CASCADE`, and refuse changing a workspace's id while runs name it; Offstage does neither.
//! The functions keep the `search_path` they were created with, so a restore that loads data
//! with another one still finds the tables. SQLite keeps the foreign key: its check costs little
//! there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: [&str; 7] = [
    "ALTER TABLE workflow_runs DROP CONSTRAINT workflow_runs_workspace_id_fkey",
    r#"CREATE FUNCTION offstage_runs_need_their_workspaces() RETURNS trigger AS $$
DECLARE
    missing text;
BEGIN
    SELECT named.workspace_id INTO missing
    FROM (SELECT DISTINCT workspace_id FROM inserted_runs WHERE workspace_id IS NOT NULL) named
    LEFT JOIN LATERAL (SELECT w.id FROM workspaces w WHERE w.id = named.workspace_id FOR KEY SHARE) found ON true
    WHERE found.id IS NULL
    LIMIT 1;
    IF FOUND THEN
        RAISE foreign_key_violation USING MESSAGE = format('workflow_runs: no workspace has the id %s', missing);
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql SET search_path FROM CURRENT"#,
    "CREATE TRIGGER offstage_runs_need_their_workspaces AFTER INSERT ON workflow_runs \
     REFERENCING NEW TABLE AS inserted_runs FOR EACH STATEMENT EXECUTE FUNCTION offstage_runs_need_their_workspaces()",
    r#"CREATE FUNCTION offstage_workspaces_take_their_runs() RETURNS trigger AS $$
BEGIN
    DELETE FROM workflow_runs WHERE workspace_id IN (SELECT id FROM deleted_workspaces);
    RETURN NULL;
END $$ LANGUAGE plpgsql SET search_path FROM CURRENT"#,
    "CREATE TRIGGER offstage_workspaces_take_their_runs AFTER DELETE ON workspaces \
     REFERENCING OLD TABLE AS deleted_workspaces FOR EACH STATEMENT EXECUTE FUNCTION offstage_workspaces_take_their_runs()",
    r#"CREATE FUNCTION offstage_runs_stay_in_their_workspace() RETURNS trigger AS $$
BEGIN
    RAISE foreign_key_violation USING MESSAGE = format('workflow_runs: run %s stays in its workspace', OLD.id);
END $$ LANGUAGE plpgsql SET search_path FROM CURRENT"#,
    "CREATE TRIGGER offstage_runs_stay_in_their_workspace BEFORE UPDATE OF workspace_id ON workflow_runs \
     FOR EACH ROW WHEN (OLD.workspace_id IS DISTINCT FROM NEW.workspace_id) \
     EXECUTE FUNCTION offstage_runs_stay_in_their_workspace()",
];

const DOWN: [&str; 7] = [
    "DROP TRIGGER offstage_runs_stay_in_their_workspace ON workflow_runs",
    "DROP FUNCTION offstage_runs_stay_in_their_workspace()",
    "DROP TRIGGER offstage_workspaces_take_their_runs ON workspaces",
    "DROP FUNCTION offstage_workspaces_take_their_runs()",
    "DROP TRIGGER offstage_runs_need_their_workspaces ON workflow_runs",
    "DROP FUNCTION offstage_runs_need_their_workspaces()",
    "ALTER TABLE workflow_runs ADD CONSTRAINT workflow_runs_workspace_id_fkey FOREIGN KEY (workspace_id) \
     REFERENCES workspaces (id) ON DELETE CASCADE",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        crate::execute_all(manager, &UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        crate::execute_all(manager, &DOWN).await
    }
}
