//! `generate_weekly_digest`: every Sunday at 09:00 in the workspace's own timezone (a schedule
//! per workspace, see `schedule_for`), a summary of the past seven days — runs, failures, members
//! who joined, billing changes, the health score's change — to the owners and admins. Only when
//! something happened; one digest per workspace, week and person.

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use sea_orm::{ConnectionTrait, EntityTrait, Statement};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::db::entities::workspace;
use crate::domain::Timezone;
use crate::engine::{Outcome, Priority, RunContext, Workflow, schedules};
use crate::mail::templates::{Email, WeeklyDigest};
use crate::mail::{self, Links, OutboxWriter};
use crate::workspaces::Error;
use crate::workspaces::weekly_facts::WeeklyFactsReader;

pub struct GenerateWeeklyDigest;

/// Sunday 09:00, in the workspace's timezone.
pub const CRON: &str = "0 9 * * Sun";

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Params {
    pub workspace_id: String,
}

/// The id of a workspace's digest schedule (one per workspace).
pub fn schedule_id(workspace_id: &str) -> String {
    format!("dig_{workspace_id}")
}

/// Creates the workspace's weekly digest schedule (following its timezone) inside the caller's
/// transaction; an existing one is kept as the operator left it.
pub async fn schedule_for<C: ConnectionTrait>(txn: &C, ws: &workspace::Model) -> Result<(), Error> {
    schedule_for_each(txn, std::slice::from_ref(ws)).await
}

/// The digest schedules of `workspaces`, in one statement (an import makes 100 at once).
pub async fn schedule_for_each<C: ConnectionTrait>(txn: &C, workspaces: &[workspace::Model]) -> Result<(), Error> {
    let each: Vec<(String, &workspace::Model)> = workspaces.iter().map(|ws| (schedule_id(&ws.id), ws)).collect();
    schedules::ensure_built_in_for_workspaces_in(txn, GenerateWeeklyDigest::NAME, CRON, &each).await?;
    Ok(())
}

/// Creates the digest schedule of every workspace that has none (workspaces made before digests
/// existed). Like every built-in schedule it can be paused, not deleted.
pub async fn ensure_every_workspace_has_one(db: &sea_orm::DatabaseConnection) -> Result<(), Error> {
    let missing = workspace::Entity::find()
        .from_raw_sql(Statement::from_string(
            db.get_database_backend(),
            "SELECT w.* FROM workspaces w WHERE NOT EXISTS (SELECT 1 FROM schedules s WHERE s.id = 'dig_' || w.id)",
        ))
        .all(db)
        .await?;
    for some in missing.chunks(500) {
        schedule_for_each(db, some).await?;
    }
    Ok(())
}

/// `customer.subscription.updated` → "Subscription updated".
fn describe(event_type: &str) -> String {
    let words = event_type.trim_start_matches("customer.").replace(['.', '_'], " ");
    let mut chars = words.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn week_label(tz: Timezone, since: DateTime<Utc>, until: DateTime<Utc>) -> String {
    let from = since.with_timezone(&tz.tz()).format("%-d %b");
    let to = until.with_timezone(&tz.tz()).format("%-d %b %Y");
    format!("{from} – {to}")
}

impl Workflow for GenerateWeeklyDigest {
    const NAME: &'static str = "generate_weekly_digest";
    const DESCRIPTION: &'static str =
        "Emails the owners and admins a summary of the workspace's week, when something happened.";
    const PRIORITY: Priority = Priority::Bulk;
    type Params = Params;

    async fn run(ctx: RunContext, _params: Params) -> anyhow::Result<Outcome> {
        let ws = ctx.scope().await?.workspace().clone();
        let until = ctx.now();
        let since = until - Duration::days(7);
        let facts = ctx.service::<WeeklyFactsReader>()?.read(&ws.id, since).await?;
        let (runs, failures) = facts.ended.counted(&ctx.registry);
        let links = Links::new(&ctx.config, &ws);
        let digest = WeeklyDigest {
            workspace_name: ws.name.clone(),
            week: week_label(ws.tz(), since, until),
            runs: runs as u64,
            failures: failures as u64,
            members_joined: facts.members_joined,
            billing_changes: facts.billing_events.iter().map(|event| describe(event)).collect(),
            health: facts.health,
            health_change: facts.health.zip(facts.health_then).map(|(now, then)| now - then),
            workspace_url: links.workspace,
        };
        if digest.is_quiet() {
            return Ok(Outcome::skipped(
                "something happened in the workspace this week",
                json!({ "runs": 0, "members_joined": 0, "billing_changes": 0, "health_change": digest.health_change }),
            ));
        }
        // One digest per workspace and local week (the Sunday it is about).
        let week = until.with_timezone(&ws.tz().tz()).format("%G-W%V");
        let prefix = format!("weekly_digest:{}:{week}", ws.id);
        let kind = (WeeklyDigest::KIND, WeeklyDigest::CATEGORY);
        let emails = mail::compose(&ctx.config, &ws, &facts.managers, &prefix, kind, |f| digest.render(f))?;
        // Delivered as bulk work, beside the other workspaces' digests: nobody waits for a digest.
        let queued = ctx.service::<OutboxWriter>()?.enqueue(emails, Self::PRIORITY).await?;
        Ok(Outcome::output(json!({ "emails": queued.len(), "runs": digest.runs, "failures": digest.failures })))
    }
}
