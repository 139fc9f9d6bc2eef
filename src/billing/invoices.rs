//! A workspace's paid invoices, as its Billing tab lists them (they are stored by `apply`).

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::billing::Error;
use crate::db::entities::invoice;
use crate::tenancy::Scope;

/// The workspace's paid invoices, newest first.
pub async fn paid(db: &DatabaseConnection, scope: &Scope, limit: u64) -> Result<Vec<invoice::Model>, Error> {
    Ok(invoice::Entity::find()
        .filter(invoice::Column::WorkspaceId.eq(scope.workspace_id()))
        .order_by_desc(invoice::Column::PaidAt)
        .limit(limit)
        .all(db)
        .await?)
}
