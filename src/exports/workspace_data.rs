//! The files of a workspace's own data export (data portability): its members, invitations,
//! API keys (never their secrets), runs of the last 90 days, emails (never their bodies),
//! invoices and activity. Every read is scoped to the workspace.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::{Value, json};

use super::source::{Page, Section, maybe_time, time};
use crate::db::entities::{activity, api_key, email, invitation, invoice, membership, user};
use crate::domain::{Money, RunId};
use crate::engine::runs::{self, RunFilter};
use crate::tenancy::Scope;

pub const SECTIONS: &[Section] = &[
    Section { name: "members", header: &["email", "role", "joined_at"] },
    Section {
        name: "invitations",
        header: &["email", "role", "invited_at", "expires_at", "accepted_at", "revoked_at"],
    },
    Section { name: "api_keys", header: &["name", "prefix", "created_at", "last_used_at", "revoked_at"] },
    Section {
        name: "runs",
        header: &[
            "id",
            "workflow",
            "status",
            "trigger",
            "created_at",
            "scheduled_for",
            "started_at",
            "finished_at",
            "params",
            "error",
        ],
    },
    Section {
        name: "emails",
        header: &["id", "recipient", "kind", "category", "subject", "status", "attempts", "created_at", "sent_at"],
    },
    Section { name: "invoices", header: &["id", "amount_paid", "currency", "paid_at", "period_start", "period_end"] },
    Section { name: "activity", header: &["created_at", "kind", "message", "actor"] },
];

pub async fn count(db: &DatabaseConnection, scope: &Scope, runs_since: DateTime<Utc>) -> Result<u64, DbErr> {
    let ws = scope.workspace_id();
    let runs = crate::db::entities::workflow_run::Entity::find()
        .filter(crate::db::entities::workflow_run::Column::WorkspaceId.eq(ws))
        .filter(crate::db::entities::workflow_run::Column::CreatedAt.gte(runs_since))
        .count(db)
        .await?;
    Ok(membership::Entity::find().filter(membership::Column::WorkspaceId.eq(ws)).count(db).await?
        + invitation::Entity::find().filter(invitation::Column::WorkspaceId.eq(ws)).count(db).await?
        + api_key::Entity::find().filter(api_key::Column::WorkspaceId.eq(ws)).count(db).await?
        + runs
        + email::Entity::find().filter(email::Column::WorkspaceId.eq(ws)).count(db).await?
        + invoice::Entity::find().filter(invoice::Column::WorkspaceId.eq(ws)).count(db).await?
        + activity::Entity::find().filter(activity::Column::WorkspaceId.eq(ws)).count(db).await?)
}

pub async fn page(
    db: &DatabaseConnection,
    scope: &Scope,
    runs_since: DateTime<Utc>,
    section: usize,
    after: Option<&str>,
    limit: u64,
) -> Result<Page, DbErr> {
    let ws = scope.workspace_id();
    let after_id = after.unwrap_or("");
    let page = match SECTIONS.get(section).map(|s| s.name) {
        Some("members") => {
            let found = membership::Entity::find()
                .filter(membership::Column::WorkspaceId.eq(ws))
                .filter(membership::Column::Id.gt(after_id))
                .order_by_asc(membership::Column::Id)
                .limit(limit)
                .find_also_related(user::Entity)
                .all(db)
                .await?;
            paged(
                found,
                |(m, _)| m.id.clone(),
                |(m, u)| vec![json!(u.map(|u| u.email)), json!(m.role), time(m.created_at)],
            )
        }
        Some("invitations") => {
            use invitation::{Column, Entity};
            let found = rows_after::<Entity>(db, (Column::WorkspaceId, Column::Id), ws, after_id, limit).await?;
            paged(found, |i| i.id.clone(), invitation_row)
        }
        Some("api_keys") => {
            use api_key::{Column, Entity};
            let found = rows_after::<Entity>(db, (Column::WorkspaceId, Column::Id), ws, after_id, limit).await?;
            paged(found, |k| k.id.clone(), api_key_row)
        }
        Some("runs") => {
            // Newest first: the cursor is the oldest run of the page before.
            let filter = RunFilter {
                created_since: Some(runs_since),
                before: after.map(RunId::from),
                limit,
                ..RunFilter::default()
            };
            let found = runs::list(db, scope, &filter).await.map_err(|err| DbErr::Custom(err.to_string()))?;
            paged(found, |r| r.id.to_string(), run_row)
        }
        Some("emails") => {
            use email::{Column, Entity};
            let found = rows_after::<Entity>(db, (Column::WorkspaceId, Column::Id), ws, after_id, limit).await?;
            paged(found, |e| e.id.clone(), email_row)
        }
        Some("invoices") => {
            use invoice::{Column, Entity};
            let found = rows_after::<Entity>(db, (Column::WorkspaceId, Column::Id), ws, after_id, limit).await?;
            paged(found, |i| i.id.clone(), invoice_row)
        }
        Some("activity") => {
            let after_serial = after.and_then(|a| a.parse::<i64>().ok()).unwrap_or(0);
            let found = activity::Entity::find()
                .filter(activity::Column::WorkspaceId.eq(ws))
                .filter(activity::Column::Id.gt(after_serial))
                .order_by_asc(activity::Column::Id)
                .limit(limit)
                .all(db)
                .await?;
            paged(
                found,
                |a| a.id.to_string(),
                |a| vec![time(a.created_at), json!(a.kind), json!(a.message), json!(a.actor)],
            )
        }
        _ => Page { rows: Vec::new(), last: None },
    };
    Ok(page)
}

fn invitation_row(i: invitation::Model) -> Vec<Value> {
    let (accepted, revoked) = (maybe_time(i.accepted_at), maybe_time(i.revoked_at));
    vec![json!(i.email), json!(i.role), time(i.created_at), time(i.expires_at), accepted, revoked]
}

fn api_key_row(k: api_key::Model) -> Vec<Value> {
    vec![json!(k.name), json!(k.prefix), time(k.created_at), maybe_time(k.last_used_at), maybe_time(k.revoked_at)]
}

fn run_row(r: runs::RunView) -> Vec<Value> {
    vec![
        json!(r.id.to_string()),
        json!(r.workflow),
        json!(r.status.as_str()),
        json!(r.trigger),
        time(r.created_at),
        maybe_time(r.scheduled_for),
        maybe_time(r.started_at),
        maybe_time(r.finished_at),
        json!(r.params.to_string()),
        json!(r.error),
    ]
}

fn email_row(e: email::Model) -> Vec<Value> {
    let (created, sent) = (time(e.created_at), maybe_time(e.sent_at));
    vec![
        json!(e.id),
        json!(e.recipient),
        json!(e.kind),
        json!(e.category),
        json!(e.subject),
        json!(e.status),
        json!(e.attempts),
        created,
        sent,
    ]
}

fn invoice_row(i: invoice::Model) -> Vec<Value> {
    let amount = Money::new(i.amount_paid, &i.currency).decimal();
    let (start, end) = (maybe_time(i.period_start), maybe_time(i.period_end));
    vec![json!(i.id), json!(amount), json!(i.currency.to_uppercase()), time(i.paid_at), start, end]
}

/// Up to `limit` of the workspace's rows of `E` after the id `after`, by id; `columns` are
/// `E`'s workspace and id columns.
async fn rows_after<E: EntityTrait>(
    db: &DatabaseConnection,
    (workspace_column, id_column): (E::Column, E::Column),
    workspace_id: &str,
    after: &str,
    limit: u64,
) -> Result<Vec<E::Model>, DbErr> {
    E::find()
        .filter(workspace_column.eq(workspace_id))
        .filter(id_column.gt(after))
        .order_by_asc(id_column)
        .limit(limit)
        .all(db)
        .await
}

/// `found` as a page: each as a row, and the last one's id as the cursor.
fn paged<M>(found: Vec<M>, id: impl Fn(&M) -> String, row: impl Fn(M) -> Vec<Value>) -> Page {
    let last = found.last().map(id);
    Page { rows: found.into_iter().map(row).collect(), last }
}
