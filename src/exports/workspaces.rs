//! The rows of "export all workspaces": one per workspace, with its plan and subscription, its
//! members and owners, its newest health score, last month's net revenue, and its runs and
//! emails of the last 30 days. A page is one query for the workspaces and one per figure over
//! the page's range of ids (never a query per workspace).

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement, Value as DbValue,
};
use serde_json::{Value, json};

use super::source::{Page, Section, maybe_time, time};
use crate::db::entities::workspace;
use crate::domain::{Money, Month};

pub const SECTIONS: &[Section] = &[Section {
    name: "workspaces",
    header: &[
        "id",
        "slug",
        "name",
        "created_at",
        "timezone",
        "plan",
        "subscription_status",
        "trial_ends_at",
        "members",
        "owner_emails",
        "health_score",
        "last_month_net",
        "last_month_currency",
        "runs_last_30_days",
        "emails_last_30_days",
    ],
}];

/// `$1`..`$2`: the page's ids (after `$1`, up to and including `$2`).
const MEMBERS_SQL: &str = "SELECT workspace_id, COUNT(*) AS n FROM memberships \
     WHERE workspace_id > $1 AND workspace_id <= $2 GROUP BY workspace_id";
const OWNERS_SQL: &str = "SELECT m.workspace_id, u.email FROM memberships m JOIN users u ON u.id = m.user_id \
     WHERE m.workspace_id > $1 AND m.workspace_id <= $2 AND m.role = 'owner' ORDER BY m.workspace_id, u.email";
const HEALTH_SQL: &str = "SELECT workspace_id, score FROM (SELECT workspace_id, score, ROW_NUMBER() OVER \
     (PARTITION BY workspace_id ORDER BY computed_at DESC, id DESC) AS newest FROM health_scores \
     WHERE workspace_id > $1 AND workspace_id <= $2) scores WHERE newest = 1";
/// `$3`: the month.
const REVENUE_SQL: &str = "SELECT workspace_id, currency, net FROM monthly_revenue \
     WHERE workspace_id > $1 AND workspace_id <= $2 AND month = $3 ORDER BY workspace_id, net DESC, currency";
/// `$3`: 30 days before the export was asked for.
const RUNS_SQL: &str = "SELECT workspace_id, COUNT(*) AS n FROM workflow_runs \
     WHERE workspace_id > $1 AND workspace_id <= $2 AND created_at >= $3 GROUP BY workspace_id";
const EMAILS_SQL: &str = "SELECT workspace_id, COUNT(*) AS n FROM emails \
     WHERE workspace_id > $1 AND workspace_id <= $2 AND created_at >= $3 GROUP BY workspace_id";

pub async fn count(db: &DatabaseConnection) -> Result<u64, DbErr> {
    workspace::Entity::find().count(db).await
}

pub async fn page(db: &DatabaseConnection, at: DateTime<Utc>, after: Option<&str>, limit: u64) -> Result<Page, DbErr> {
    let after = after.unwrap_or("");
    let workspaces = workspace::Entity::find()
        .filter(workspace::Column::Id.gt(after))
        .order_by_asc(workspace::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    let Some(last) = workspaces.last().map(|w| w.id.clone()) else {
        return Ok(Page { rows: Vec::new(), last: None });
    };
    let range = || vec![DbValue::from(after), DbValue::from(last.clone())];
    let with = |extra: DbValue| {
        let mut values = range();
        values.push(extra);
        values
    };
    let since = at - Duration::days(30);
    let members = numbers(db, MEMBERS_SQL, range(), "n").await?;
    let health = numbers(db, HEALTH_SQL, range(), "score").await?;
    let runs = numbers(db, RUNS_SQL, with(since.into()), "n").await?;
    let emails = numbers(db, EMAILS_SQL, with(since.into()), "n").await?;
    let mut owners: HashMap<String, Vec<String>> = HashMap::new();
    for row in query(db, OWNERS_SQL, range()).await? {
        owners.entry(row.try_get("", "workspace_id")?).or_default().push(row.try_get("", "email")?);
    }
    // A workspace paid in several currencies shows the one it earned most in.
    let mut revenue: HashMap<String, Money> = HashMap::new();
    for row in query(db, REVENUE_SQL, with(Month::last(at).to_string().into())).await? {
        let (id, currency, net): (String, String, i64) =
            (row.try_get("", "workspace_id")?, row.try_get("", "currency")?, row.try_get("", "net")?);
        revenue.entry(id).or_insert_with(|| Money::new(net, &currency));
    }
    let rows = workspaces
        .into_iter()
        .map(|w| {
            let net = revenue.get(&w.id);
            vec![
                json!(w.id),
                json!(w.slug),
                json!(w.name),
                time(w.created_at),
                json!(w.timezone),
                json!(w.plan),
                json!(w.subscription_status),
                maybe_time(w.trial_ends_at),
                json!(members.get(&w.id).copied().unwrap_or(0)),
                json!(owners.remove(&w.id).unwrap_or_default()),
                health.get(&w.id).map_or(Value::Null, |score| json!(score)),
                net.map_or(Value::Null, |money| json!(money.decimal())),
                net.map_or(Value::Null, |money| json!(money.currency().to_uppercase())),
                json!(runs.get(&w.id).copied().unwrap_or(0)),
                json!(emails.get(&w.id).copied().unwrap_or(0)),
            ]
        })
        .collect();
    Ok(Page { rows, last: Some(last) })
}

async fn query(db: &DatabaseConnection, sql: &str, values: Vec<DbValue>) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
    db.query_all_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, values)).await
}

/// `workspace_id` → the whole number in `column`, from a query of one row per workspace.
async fn numbers(
    db: &DatabaseConnection,
    sql: &str,
    values: Vec<DbValue>,
    column: &str,
) -> Result<HashMap<String, i64>, DbErr> {
    let mut found = HashMap::new();
    for row in query(db, sql, values).await? {
        let number: i64 = match row.try_get::<i64>("", column) {
            Ok(n) => n,
            Err(_) => i64::from(row.try_get::<i32>("", column)?),
        };
        found.insert(row.try_get("", "workspace_id")?, number);
    }
    Ok(found)
}
