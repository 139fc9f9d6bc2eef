//! `import_rows`: each line of an import, and what became of it (`created`, `skipped`, `failed`;
//! None while it waits).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "import_rows")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub import_id: String,
    /// The line's number in the file, the header being line 1.
    #[sea_orm(primary_key, auto_increment = false)]
    pub row_number: i64,
    /// What the error report shows of the line (its email).
    pub value: String,
    /// The line's fields, as JSON.
    pub fields: String,
    pub outcome: Option<String>,
    pub message: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
