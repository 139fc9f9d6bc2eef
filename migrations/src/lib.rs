//! Database migrations for Offstage, one file per migration, applied in order on SQLite and
//! PostgreSQL alike. A migration that has shipped is never edited: add a new one instead.

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_create_users;
mod m20261127_000002_create_workspaces;
mod m20261127_000003_create_memberships;
mod m20261127_000004_create_api_keys;
mod m20261127_000005_create_invitations;
mod m20261127_000006_create_activities;
mod m20261127_000007_create_login_attempts;
mod m20261127_000008_create_workflow_runs;
mod m20261127_000009_create_run_events;
mod m20261127_000010_create_schedules;
mod m20261127_000011_create_health_scores;
mod m20261127_000012_create_stripe_events;
mod m20261127_000013_add_billing_state_to_workspaces;
mod m20261127_000014_create_invoices;
mod m20261127_000015_create_emails;
mod m20261127_000016_create_email_suppressions;
mod m20261127_000017_create_enrolments;
mod m20261127_000018_drop_run_events_read_off_job_rows;
mod m20261201_000019_create_sessions;
mod m20261201_000020_index_sign_ins_and_invitations;
mod m20261201_000021_accounts_people_run_themselves;
mod m20261202_000022_amount_due_on_enrolments;
mod m20261202_000023_partial_run_key_indexes;
mod m20261203_000024_revenue;
mod m20261203_000025_create_exports;
mod m20261203_000026_create_imports;
mod m20261203_000027_invitation_tallies;
mod m20261204_000028_chain_index_by_id;
mod m20261204_000029_run_tallies;
mod m20261204_000030_invitations_by_workspace_and_email;
mod m20261204_000031_import_file_digest;
mod m20261205_000032_partial_chain_index;
mod m20261205_000033_run_workspaces_checked_per_statement;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_create_users::Migration),
            Box::new(m20261127_000002_create_workspaces::Migration),
            Box::new(m20261127_000003_create_memberships::Migration),
            Box::new(m20261127_000004_create_api_keys::Migration),
            Box::new(m20261127_000005_create_invitations::Migration),
            Box::new(m20261127_000006_create_activities::Migration),
            Box::new(m20261127_000007_create_login_attempts::Migration),
            Box::new(m20261127_000008_create_workflow_runs::Migration),
            Box::new(m20261127_000009_create_run_events::Migration),
            Box::new(m20261127_000010_create_schedules::Migration),
            Box::new(m20261127_000011_create_health_scores::Migration),
            Box::new(m20261127_000012_create_stripe_events::Migration),
            Box::new(m20261127_000013_add_billing_state_to_workspaces::Migration),
            Box::new(m20261127_000014_create_invoices::Migration),
            Box::new(m20261127_000015_create_emails::Migration),
            Box::new(m20261127_000016_create_email_suppressions::Migration),
            Box::new(m20261127_000017_create_enrolments::Migration),
            Box::new(m20261127_000018_drop_run_events_read_off_job_rows::Migration),
            Box::new(m20261201_000019_create_sessions::Migration),
            Box::new(m20261201_000020_index_sign_ins_and_invitations::Migration),
            Box::new(m20261201_000021_accounts_people_run_themselves::Migration),
            Box::new(m20261202_000022_amount_due_on_enrolments::Migration),
            Box::new(m20261202_000023_partial_run_key_indexes::Migration),
            Box::new(m20261203_000024_revenue::Migration),
            Box::new(m20261203_000025_create_exports::Migration),
            Box::new(m20261203_000026_create_imports::Migration),
            Box::new(m20261203_000027_invitation_tallies::Migration),
            Box::new(m20261204_000028_chain_index_by_id::Migration),
            Box::new(m20261204_000029_run_tallies::Migration),
            Box::new(m20261204_000030_invitations_by_workspace_and_email::Migration),
            Box::new(m20261204_000031_import_file_digest::Migration),
            Box::new(m20261205_000032_partial_chain_index::Migration),
            Box::new(m20261205_000033_run_workspaces_checked_per_statement::Migration),
        ]
    }
}

/// Runs each statement in turn (migrations written as plain SQL that both databases accept).
pub(crate) async fn execute_all(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    for sql in statements {
        manager.get_connection().execute_unprepared(sql).await?;
    }
    Ok(())
}

/// Column helpers shared by every migration, so types are the same on both databases.
pub(crate) mod cols {
    use sea_orm_migration::prelude::*;

    pub fn id<T: IntoIden>(name: T) -> ColumnDef {
        ColumnDef::new(name).string_len(40).not_null().primary_key().take()
    }
    pub fn serial<T: IntoIden>(name: T) -> ColumnDef {
        ColumnDef::new(name).big_integer().not_null().auto_increment().primary_key().take()
    }
    pub fn reference<T: IntoIden>(name: T) -> ColumnDef {
        ColumnDef::new(name).string_len(40).not_null().take()
    }
    pub fn text<T: IntoIden>(name: T) -> ColumnDef {
        ColumnDef::new(name).string().not_null().take()
    }
    pub fn text_null<T: IntoIden>(name: T) -> ColumnDef {
        ColumnDef::new(name).string().null().take()
    }
    pub fn time<T: IntoIden>(name: T) -> ColumnDef {
        ColumnDef::new(name).timestamp_with_time_zone().not_null().take()
    }
    pub fn time_null<T: IntoIden>(name: T) -> ColumnDef {
        ColumnDef::new(name).timestamp_with_time_zone().null().take()
    }
    pub fn flag<T: IntoIden>(name: T) -> ColumnDef {
        ColumnDef::new(name).boolean().not_null().default(false).take()
    }

    /// A foreign key from `table.column` to `workspaces.id`; rows go when their workspace does.
    pub fn belongs_to_workspace<T: IntoIden + Copy, C: IntoIden>(table: T, column: C) -> ForeignKeyCreateStatement {
        ForeignKey::create()
            .from(table, column)
            .to(
                crate::m20261127_000002_create_workspaces::Workspaces::Table,
                crate::m20261127_000002_create_workspaces::Workspaces::Id,
            )
            .on_delete(ForeignKeyAction::Cascade)
            .to_owned()
    }

    /// A (non-unique) index over `columns`, in order.
    pub async fn index<T: IntoIden + Copy, C: IntoIden + Copy>(
        manager: &SchemaManager<'_>,
        name: &str,
        table: T,
        columns: &[C],
    ) -> Result<(), DbErr> {
        let mut index = Index::create().name(name).table(table).to_owned();
        for column in columns {
            index.col(*column);
        }
        manager.create_index(index).await
    }
}
