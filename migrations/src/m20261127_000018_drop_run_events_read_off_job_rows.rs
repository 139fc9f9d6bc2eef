//! Run timelines now read a run's creation and its last attempt off the run's own rows; the
//! events earlier builds wrote for them would show twice. Removes them: every `created` event,
//! then each run's last event when it is an ending, then the `started` event that was written
//! with it. Attempts that failed and were retried, cancellations and retries stay.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const LAST_OF_ITS_RUN: &str =
    "id = (SELECT MAX(later.id) FROM run_events later WHERE later.run_id = run_events.run_id)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DELETE FROM run_events WHERE kind = 'created'").await?;
        db.execute_unprepared(&format!(
            "DELETE FROM run_events WHERE kind IN ('succeeded', 'skipped', 'failed') AND {LAST_OF_ITS_RUN}"
        ))
        .await?;
        db.execute_unprepared(&format!("DELETE FROM run_events WHERE kind = 'started' AND {LAST_OF_ITS_RUN}")).await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // The removed events are read off the rows again; nothing to restore.
        Ok(())
    }
}
