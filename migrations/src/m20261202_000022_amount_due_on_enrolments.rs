//! The amount a dunning enrolment is about, handed over by billing when the payment failed, so
//! the emails never read Stripe payloads. Active enrolments made before get theirs from the
//! stored `invoice.payment_failed` event.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Enrolments {
    Table,
    AmountDue,
    Currency,
}

const BACKFILL_POSTGRES: &str = "UPDATE enrolments e SET amount_due = (s.payload::jsonb #>> '{data,object,amount_due}')::bigint, \
     currency = s.payload::jsonb #>> '{data,object,currency}' \
     FROM stripe_events s WHERE e.sequence = 'dunning' AND s.event_type = 'invoice.payment_failed' \
     AND s.workspace_id = e.workspace_id AND s.payload::jsonb #>> '{data,object,id}' = e.subject";

const BACKFILL_SQLITE: &str = "UPDATE enrolments SET \
     amount_due = (SELECT json_extract(s.payload, '$.data.object.amount_due') FROM stripe_events s \
        WHERE s.event_type = 'invoice.payment_failed' AND s.workspace_id = enrolments.workspace_id \
        AND json_extract(s.payload, '$.data.object.id') = enrolments.subject ORDER BY s.stripe_created_at DESC LIMIT 1), \
     currency = (SELECT json_extract(s.payload, '$.data.object.currency') FROM stripe_events s \
        WHERE s.event_type = 'invoice.payment_failed' AND s.workspace_id = enrolments.workspace_id \
        AND json_extract(s.payload, '$.data.object.id') = enrolments.subject ORDER BY s.stripe_created_at DESC LIMIT 1) \
     WHERE sequence = 'dunning'";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            ColumnDef::new(Enrolments::AmountDue).big_integer().null().take(),
            ColumnDef::new(Enrolments::Currency).text().null().take(),
        ] {
            manager.alter_table(Table::alter().table(Enrolments::Table).add_column(column).to_owned()).await?;
        }
        let backfill = match manager.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => BACKFILL_POSTGRES,
            _ => BACKFILL_SQLITE,
        };
        manager.get_connection().execute_unprepared(backfill).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Enrolments::AmountDue, Enrolments::Currency] {
            manager.alter_table(Table::alter().table(Enrolments::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
