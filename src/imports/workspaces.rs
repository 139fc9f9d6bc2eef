//! One batch of a workspaces import: the next 100 lines made into workspaces in one transaction
//! with their outcomes. Each new workspace gets an owner invitation emailed to its owner (the one
//! way into a workspace, so nobody is made an owner without accepting; at bulk priority), its
//! weekly digest schedule, and "imported" in its activity log; imported customers are not new
//! sign-ups, so they get no trial and no onboarding emails. A slug that exists already is
//! skipped when it is the same customer (same Stripe customer, or same name when the file gives
//! none), so importing a file again makes nothing twice; a slug or a Stripe customer that
//! belongs to another workspace fails the line.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde::Deserialize;

use super::batch::{self, LineOutcome, Progress};
use crate::config::Config;
use crate::db::begin_write;
use crate::db::entities::{activity, import_row, invitation, workspace};
use crate::domain::{Email, PublicId, Role, SubscriptionStatus, Timezone};
use crate::engine::Priority;
use crate::mail;
use crate::tenancy::{ActivityKind, activity_entry};
use crate::workspaces::workflows::generate_weekly_digest;
use crate::workspaces::{invitation_tally, new_invitation};

/// A line as `workspaces_file` wrote it.
#[derive(Debug, Deserialize)]
struct Wanted {
    name: String,
    slug: String,
    owner_email: String,
    timezone: String,
    plan: String,
    stripe_customer_id: Option<String>,
}

/// Does the next batch of the platform's import `import_id`.
pub async fn next_batch(db: &DatabaseConnection, import_id: &str, config: &Config) -> anyhow::Result<Progress> {
    let txn = begin_write(db).await?;
    let (import, lines) = batch::take(&txn, import_id, None, &["workspaces"]).await?;
    if import.status != "running" {
        return Ok(batch::idle(&import));
    }
    let inviter = import.requested_by.clone().unwrap_or_else(|| "the platform".into());
    let wanted: Vec<(i64, Option<Wanted>)> = lines.iter().map(|l| (l.row_number, wanted_of(l))).collect();
    let slugs: Vec<&str> = wanted.iter().filter_map(|(_, w)| w.as_ref().map(|w| w.slug.as_str())).collect();
    let customers: Vec<&str> =
        wanted.iter().filter_map(|(_, w)| w.as_ref().and_then(|w| w.stripe_customer_id.as_deref())).collect();
    let by_slug: HashMap<String, workspace::Model> = workspace::Entity::find()
        .filter(workspace::Column::Slug.is_in(slugs))
        .all(&txn)
        .await?
        .into_iter()
        .map(|ws| (ws.slug.clone(), ws))
        .collect();
    let by_customer: HashMap<String, String> = match customers.is_empty() {
        true => HashMap::new(),
        false => workspace::Entity::find()
            .filter(workspace::Column::StripeCustomerId.is_in(customers))
            .all(&txn)
            .await?
            .into_iter()
            .filter_map(|ws| ws.stripe_customer_id.map(|customer| (customer, ws.slug)))
            .collect(),
    };
    let now = Utc::now();
    let (mut outcomes, mut made, mut owners) = (Vec::new(), Vec::new(), Vec::new());
    for (number, wanted) in wanted {
        let outcome = match wanted {
            None => LineOutcome::Failed("the line could not be read back".into()),
            Some(w) => match (by_slug.get(&w.slug), &w.stripe_customer_id) {
                (Some(found), Some(customer)) if found.stripe_customer_id.as_ref() == Some(customer) => {
                    LineOutcome::Skipped("already imported".into())
                }
                (Some(found), None) if found.name == w.name => LineOutcome::Skipped("already imported".into()),
                (Some(_), _) => LineOutcome::Failed(format!("the slug “{}” belongs to another workspace", w.slug)),
                (None, Some(customer)) if by_customer.contains_key(customer) => LineOutcome::Failed(format!(
                    "the Stripe customer {customer} belongs to the workspace “{}”",
                    by_customer[customer]
                )),
                (None, _) => match Email::parse(&w.owner_email) {
                    Ok(owner) => {
                        made.push(workspace_of(&w, now));
                        owners.push(owner);
                        LineOutcome::Created
                    }
                    Err(why) => LineOutcome::Failed(why),
                },
            },
        };
        outcomes.push((number, outcome));
    }
    if !made.is_empty() {
        workspace::Entity::insert_many(made.iter().cloned().map(workspace::ActiveModel::from)).exec(&txn).await?;
        let (mut invitations, mut emails, mut activities) = (Vec::new(), Vec::new(), Vec::new());
        for (ws, owner) in made.iter().zip(&owners) {
            let (row, email) = new_invitation(ws, owner, Role::Owner, &inviter, config, now)?;
            invitations.push(row);
            emails.extend(email);
            let imported = format!("Workspace “{}” was imported by {inviter}", ws.name);
            activities.push(activity_entry(&ws.id, ActivityKind::WorkspaceCreated, imported, &inviter, now));
            let invited = format!("{owner} was invited as owner");
            activities.push(activity_entry(&ws.id, ActivityKind::InvitationSent, invited, &inviter, now));
        }
        let tallies: Vec<(&str, u64)> = made.iter().map(|ws| (ws.id.as_str(), 1)).collect();
        invitation_tally::add(&txn, &tallies, now).await?;
        invitation::Entity::insert_many(invitations).exec(&txn).await?;
        activity::Entity::insert_many(activities).exec(&txn).await?;
        mail::outbox::enqueue_at_in(&txn, &emails, &mail::from_domain(config), Priority::Bulk).await?;
        generate_weekly_digest::schedule_for_each(&txn, &made).await?;
    }
    let progress = batch::settle(&txn, &import, lines.len(), outcomes).await?;
    txn.commit().await?;
    Ok(progress)
}

fn wanted_of(line: &import_row::Model) -> Option<Wanted> {
    serde_json::from_str(&line.fields).ok()
}

fn workspace_of(w: &Wanted, now: chrono::DateTime<Utc>) -> workspace::Model {
    workspace::Model {
        id: PublicId::generate("ws"),
        name: w.name.clone(),
        slug: w.slug.clone(),
        timezone: Timezone::from_stored(&w.timezone).name().to_owned(),
        plan: w.plan.clone(),
        subscription_status: SubscriptionStatus::None.as_str().into(),
        trial_ends_at: None,
        stripe_customer_id: w.stripe_customer_id.clone(),
        stripe_subscription_id: None,
        created_at: now,
        current_period_end: None,
        cancel_at_period_end: false,
        billing_event_key: None,
    }
}
