//! The `imports` and `import_rows` tables: an import is made with all its lines at once
//! (`preview` from the admin, `running` from the API or the command line), counts its lines as
//! they are done, and ends `succeeded` or `cancelled`. A members import belongs to its workspace
//! and is read only through it; a workspaces import belongs to the platform (no workspace).

use super::csv_file::Line;
use crate::db::begin_write;
use crate::db::entities::{import, import_row};
use crate::domain::PublicId;
use crate::tenancy::Scope;
use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

/// Lines written per INSERT (6 values each, well under either database's limit).
const ROWS_PER_INSERT: usize = 1_000;
/// Errors an import's API answer and page list; the CSV report has them all.
pub const ERRORS_SHOWN: u64 = 1_000;

/// Makes the import of `lines` into the scope's workspace, with status `status` (`preview` or
/// `running`); the lines that cannot be imported are failed from the start.
pub async fn create(
    db: &DatabaseConnection,
    scope: &Scope,
    lines: &[Line],
    status: &str,
) -> Result<import::Model, DbErr> {
    let owner = (Some(scope.workspace_id().to_owned()), scope.actor().label());
    insert(db, "members", owner, lines, status, None).await
}

/// Makes a platform import of `kind` (`workspaces`), asked for by `requested_by`.
pub async fn create_platform(
    db: &DatabaseConnection,
    kind: &str,
    requested_by: &str,
    lines: &[Line],
    status: &str,
) -> Result<import::Model, DbErr> {
    insert(db, kind, (None, requested_by.to_owned()), lines, status, None).await
}

/// Who asked for the imports `offstage import workspaces` makes.
pub const COMMAND_LINE: &str = "the command line";

/// The import of `lines` for `offstage import workspaces`, and whether it was there already:
/// the command's own unfinished import of the same lines (it was killed in the middle; no
/// workers' chain runs it) is continued rather than begun again beside it.
pub async fn command_line_import(
    db: &DatabaseConnection,
    kind: &str,
    lines: &[Line],
) -> Result<(import::Model, bool), DbErr> {
    let digest = digest_of(lines);
    let unfinished = import::Entity::find()
        .filter(import::Column::WorkspaceId.is_null())
        .filter(import::Column::Kind.eq(kind))
        .filter(import::Column::Status.eq("running"))
        .filter(import::Column::RunId.is_null())
        .filter(import::Column::RequestedBy.eq(COMMAND_LINE))
        .filter(import::Column::FileDigest.eq(&digest))
        .order_by_desc(import::Column::CreatedAt)
        .one(db)
        .await?;
    match unfinished {
        Some(interrupted) => Ok((interrupted, true)),
        None => Ok((insert(db, kind, (None, COMMAND_LINE.to_owned()), lines, "running", Some(digest)).await?, false)),
    }
}

async fn insert(
    db: &DatabaseConnection,
    kind: &str,
    (workspace_id, requested_by): (Option<String>, String),
    lines: &[Line],
    status: &str,
    file_digest: Option<String>,
) -> Result<import::Model, DbErr> {
    let id = PublicId::generate("imp");
    let failed = lines.iter().filter(|l| l.fields.is_err()).count() as i64;
    let made = import::Model {
        id: id.clone(),
        kind: kind.into(),
        workspace_id,
        status: status.into(),
        total_rows: lines.len() as i64,
        processed_rows: failed,
        created: 0,
        skipped: 0,
        failed_rows: failed,
        requested_by: Some(requested_by),
        run_id: None,
        created_at: Utc::now(),
        finished_at: None,
        file_digest,
    };
    let txn = begin_write(db).await?;
    import::Entity::insert(import::ActiveModel::from(made.clone())).exec(&txn).await?;
    for chunk in lines.chunks(ROWS_PER_INSERT) {
        let rows = chunk.iter().map(|line| {
            let (fields, outcome, message) = match &line.fields {
                Ok(fields) => (fields.to_string(), None, None),
                Err(reason) => ("{}".to_owned(), Some("failed".to_owned()), Some(reason.clone())),
            };
            import_row::ActiveModel {
                import_id: Set(id.clone()),
                row_number: Set(line.number),
                value: Set(line.value.clone()),
                fields: Set(fields),
                outcome: Set(outcome),
                message: Set(message),
            }
        });
        import_row::Entity::insert_many(rows).exec(&txn).await?;
    }
    txn.commit().await?;
    Ok(made)
}

/// A fingerprint of an import's lines: SHA-256 over each line's number, key and what was read
/// from it, so reading the same file again gives the same digest.
fn digest_of(lines: &[Line]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for line in lines {
        let read = match &line.fields {
            Ok(fields) => format!("ok {fields}"),
            Err(reason) => format!("error {reason}"),
        };
        for part in [line.number.to_string().as_str(), line.value.as_str(), read.as_str()] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part.as_bytes());
        }
    }
    hex::encode(hash.finalize())
}

/// The platform's imports of `kind`, newest first.
pub async fn list_platform(db: &DatabaseConnection, kind: &str) -> Result<Vec<import::Model>, DbErr> {
    import::Entity::find()
        .filter(import::Column::WorkspaceId.is_null())
        .filter(import::Column::Kind.eq(kind))
        .order_by_desc(import::Column::CreatedAt)
        .limit(20)
        .all(db)
        .await
}

/// One of the platform's imports.
pub async fn find_platform(db: &DatabaseConnection, id: &str) -> Result<Option<import::Model>, DbErr> {
    let found = import::Entity::find_by_id(id).one(db).await?;
    Ok(found.filter(|i| i.workspace_id.is_none()))
}

/// One of the workspace's imports.
pub async fn find_in(db: &DatabaseConnection, scope: &Scope, id: &str) -> Result<Option<import::Model>, DbErr> {
    let found = import::Entity::find_by_id(id).one(db).await?;
    Ok(found.filter(|i| i.workspace_id.as_deref() == Some(scope.workspace_id())))
}

/// The workspace's newest imports.
pub async fn list_in(db: &DatabaseConnection, scope: &Scope) -> Result<Vec<import::Model>, DbErr> {
    import::Entity::find()
        .filter(import::Column::WorkspaceId.eq(scope.workspace_id()))
        .order_by_desc(import::Column::CreatedAt)
        .limit(20)
        .all(db)
        .await
}

/// The failed lines, in order: all of them, or the first `limit`.
pub async fn errors(
    db: &DatabaseConnection,
    import_id: &str,
    limit: Option<u64>,
) -> Result<Vec<import_row::Model>, DbErr> {
    import_row::Entity::find()
        .filter(import_row::Column::ImportId.eq(import_id))
        .filter(import_row::Column::Outcome.eq("failed"))
        .order_by_asc(import_row::Column::RowNumber)
        .limit(limit)
        .all(db)
        .await
}

/// The next `limit` lines still to do.
pub async fn pending<C: ConnectionTrait>(db: &C, import_id: &str, limit: u64) -> Result<Vec<import_row::Model>, DbErr> {
    pending_lines(import_id, limit).all(db).await
}

fn pending_lines(import_id: &str, limit: u64) -> sea_orm::Select<import_row::Entity> {
    import_row::Entity::find()
        .filter(import_row::Column::ImportId.eq(import_id))
        .filter(import_row::Column::Outcome.is_null())
        .order_by_asc(import_row::Column::RowNumber)
        .limit(limit)
}

/// How PostgreSQL reads the next lines of `import_id` (EXPLAIN ANALYZE's text), for the test
/// that a large import takes them in order from its index.
#[cfg(feature = "test-hooks")]
pub async fn explain_pending_postgres(db: &DatabaseConnection, import_id: &str) -> Result<String, DbErr> {
    use sea_orm::QueryTrait;
    let query = pending_lines(import_id, super::batch::BATCH).build(sea_orm::DbBackend::Postgres);
    crate::db::explain_analyze_postgres(db, query).await
}

/// A previewed import starts: `running`, its chain's first run recorded. False when it was
/// not waiting for that (started already, or cancelled).
pub async fn start(db: &DatabaseConnection, id: &str) -> Result<bool, DbErr> {
    set_status(db, id, &["preview"], "running", false).await
}

pub async fn attach_run(db: &DatabaseConnection, id: &str, run_id: &str) -> Result<(), DbErr> {
    import::Entity::update_many()
        .col_expr(import::Column::RunId, Expr::value(run_id))
        .filter(import::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Stops an import that has not ended: the lines not done stay undone. False when it had ended.
pub async fn cancel(db: &DatabaseConnection, id: &str) -> Result<bool, DbErr> {
    set_status(db, id, &["preview", "running"], "cancelled", true).await
}

async fn set_status<C: ConnectionTrait>(
    db: &C,
    id: &str,
    from: &[&str],
    to: &str,
    finished: bool,
) -> Result<bool, DbErr> {
    let mut update = import::Entity::update_many().col_expr(import::Column::Status, Expr::value(to));
    if finished {
        update = update.col_expr(import::Column::FinishedAt, Expr::value(Utc::now()));
    }
    let done = update
        .filter(import::Column::Id.eq(id))
        .filter(import::Column::Status.is_in(from.iter().copied()))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// The running import `id` has no line left to do.
pub async fn succeed<C: ConnectionTrait>(db: &C, id: &str) -> Result<(), DbErr> {
    set_status(db, id, &["running"], "succeeded", true).await.map(|_| ())
}

/// Adds a batch's outcomes to the import's counts.
pub async fn count<C: ConnectionTrait>(db: &C, id: &str, created: i64, skipped: i64, failed: i64) -> Result<(), DbErr> {
    import::Entity::update_many()
        .col_expr(
            import::Column::ProcessedRows,
            Expr::col(import::Column::ProcessedRows).add(created + skipped + failed),
        )
        .col_expr(import::Column::Created, Expr::col(import::Column::Created).add(created))
        .col_expr(import::Column::Skipped, Expr::col(import::Column::Skipped).add(skipped))
        .col_expr(import::Column::FailedRows, Expr::col(import::Column::FailedRows).add(failed))
        .filter(import::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
