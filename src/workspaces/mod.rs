//! Workspaces as a whole: creating one (with its first owner and its creation job, in one
//! transaction), listing those a user may see, and changing a workspace's settings; invitations
//! to join one; its trends (health scores, runs per day); and the workspace's own workflows
//! (health scores, the weekly digest).

mod error;
pub mod invitation_tally;
mod invitations;
pub mod trends;
pub mod weekly_facts;
pub mod workflows;

pub use error::Error;
pub(crate) use invitations::new_invitation;
pub use invitations::{
    InvitationForYou, Invited, Invitee, accept_invitation, accept_invitation_by_id, decline_invitation,
    find_pending_invitation, invitations_for,
};

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

use sea_orm::sea_query::{Expr, ExprTrait, Func};

use crate::billing::workflows::send_trial_ending_email;
use crate::db::entities::{membership, user, workspace};
use crate::db::is_unique_violation;
use crate::domain::{PublicId, Role, Slug, SubscriptionStatus, Timezone, WorkspaceName};
use crate::engine::{NewRun, runs};
use crate::mail::sequences::{self, Enrolment, onboarding};
use crate::tenancy::{ActivityKind, Scope};
use crate::workspaces::workflows::generate_weekly_digest;
use crate::workspaces::workflows::record_workspace_created::{self, RecordWorkspaceCreated};

pub const PAGE_SIZE: u64 = 50;
/// The last page number a list accepts: 5,000,000 workspaces, far past any real list, and far
/// below where an offset stops fitting the database's integers.
pub const MAX_PAGE: u64 = 100_000;

pub struct NewWorkspace {
    pub name: WorkspaceName,
    /// None: derived from the name, with a number appended while taken.
    pub slug: Option<Slug>,
    pub timezone: Timezone,
    /// Days of trial the workspace starts with (`Config::trial_days`); None: no trial.
    pub trial_days: Option<u32>,
}

pub async fn create(
    db: &DatabaseConnection,
    new: NewWorkspace,
    owner: &user::Model,
) -> Result<workspace::Model, Error> {
    let explicit = new.slug.is_some();
    let base = new.slug.clone().unwrap_or_else(|| Slug::from_name(new.name.as_str()));
    for attempt in 0..20u32 {
        let slug = if attempt == 0 { base.clone() } else { base.with_suffix(attempt + 1) };
        match try_create(db, &new, &slug, owner).await {
            Err(Error::Conflict(_)) if !explicit => continue,
            other => return other,
        }
    }
    Err(Error::Conflict(format!("Too many workspaces are named like “{base}”; choose a slug yourself.")))
}

async fn try_create(
    db: &DatabaseConnection,
    new: &NewWorkspace,
    slug: &Slug,
    owner: &user::Model,
) -> Result<workspace::Model, Error> {
    let now = Utc::now();
    let trial_ends_at = new.trial_days.map(|days| now + chrono::Duration::days(i64::from(days)));
    let txn = crate::db::begin_write(db).await?;
    let inserted = workspace::ActiveModel {
        id: Set(PublicId::generate("ws")),
        name: Set(new.name.as_str().to_owned()),
        slug: Set(slug.to_string()),
        timezone: Set(new.timezone.name().to_owned()),
        plan: Set("free".into()),
        subscription_status: Set(if trial_ends_at.is_some() {
            SubscriptionStatus::Trialing
        } else {
            SubscriptionStatus::None
        }
        .as_str()
        .into()),
        trial_ends_at: Set(trial_ends_at),
        stripe_customer_id: Set(None),
        stripe_subscription_id: Set(None),
        created_at: Set(Utc::now()),
        current_period_end: Set(None),
        cancel_at_period_end: Set(false),
        billing_event_key: Set(None),
    }
    .insert(&txn)
    .await;
    let created = match inserted {
        Ok(ws) => ws,
        Err(err) if is_unique_violation(&err) => {
            return Err(Error::Conflict(format!("The slug “{slug}” is taken; choose another.")));
        }
        Err(err) => return Err(err.into()),
    };
    crate::tenancy::insert_membership(&txn, &created.id, &owner.id, Role::Owner).await?;
    let params = record_workspace_created::Params { workspace_id: created.id.clone(), created_by: owner.email.clone() };
    runs::start_in(&txn, &NewRun::of::<RecordWorkspaceCreated>(&params)).await?;
    send_trial_ending_email::schedule_for(&txn, &created.id, created.trial_ends_at).await?;
    generate_weekly_digest::schedule_for(&txn, &created).await?;
    let enrolment =
        Enrolment { key: onboarding::key(&created.id), subject: Some(owner.email.to_lowercase()), amount_due: None };
    sequences::enrol_in(&txn, &onboarding::ONBOARDING, &created.id, enrolment, now).await?;
    txn.commit().await?;
    Ok(created)
}

/// One page of the workspaces `viewer` may open (all of them for a platform admin), by name,
/// optionally filtered by a search on name or slug.
pub async fn list_visible(
    db: &DatabaseConnection,
    viewer: &user::Model,
    search: &str,
    page: u64,
) -> Result<(Vec<workspace::Model>, u64), Error> {
    let mut query = workspace::Entity::find();
    if !viewer.is_platform_admin {
        let mine = membership::Entity::find()
            .select_only()
            .column(membership::Column::WorkspaceId)
            .filter(membership::Column::UserId.eq(&viewer.id))
            .into_query();
        query = query.filter(workspace::Column::Id.in_subquery(mine));
    }
    let search = search.trim();
    if !search.is_empty() {
        let pattern = format!("%{}%", search.to_lowercase().replace(['%', '_'], ""));
        query = query.filter(
            Condition::any()
                .add(Expr::expr(Func::lower(Expr::col(workspace::Column::Name))).like(&pattern))
                .add(workspace::Column::Slug.like(&pattern)),
        );
    }
    let paginator =
        query.order_by_asc(workspace::Column::Name).order_by_asc(workspace::Column::Id).paginate(db, PAGE_SIZE);
    let total = paginator.num_items().await?;
    let rows = paginator.fetch_page(page).await?;
    Ok((rows, total))
}

/// Renames the workspace or changes its timezone.
pub async fn update_settings(
    db: &DatabaseConnection,
    scope: &Scope,
    name: WorkspaceName,
    timezone: Timezone,
) -> Result<workspace::Model, Error> {
    scope.require_manager()?;
    let txn = crate::db::begin_write(db).await?;
    let mut active: workspace::ActiveModel = scope.workspace().clone().into();
    active.name = Set(name.as_str().to_owned());
    active.timezone = Set(timezone.name().to_owned());
    let updated = active.update(&txn).await?;
    if updated.timezone != scope.workspace().timezone {
        crate::engine::schedules::follow_timezone(&txn, &updated).await?;
    }
    scope
        .record_activity(
            &txn,
            ActivityKind::WorkspaceUpdated,
            format!("Settings changed: name “{}”, timezone {}", updated.name, updated.timezone),
        )
        .await?;
    txn.commit().await?;
    Ok(updated)
}

pub async fn find_by_slug(db: &DatabaseConnection, slug: &str) -> Result<Option<workspace::Model>, Error> {
    Ok(workspace::Entity::find().filter(workspace::Column::Slug.eq(slug)).one(db).await?)
}
