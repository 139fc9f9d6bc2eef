//! Invitations: the one way into a workspace. Whether or not the invited address has an
//! account, the invitation is emailed to that address, and only that person can accept it: by
//! the emailed link, or from their own list of pending invitations once signed in. The inviter
//! never sees the link, and the answer is the same whether the address has an account (so an
//! invite cannot be used to claim an account, to join people to workspaces without their
//! consent, or to find out who has an account). A workspace may send a limited number a day.

use std::collections::HashSet;

use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

use crate::config::Config;
use crate::db::entities::{invitation, membership, user, workspace};
use crate::domain::{Email, PublicId, Role};
use crate::engine::{Priority, Workflow};
use crate::mail;
use crate::mail::templates::{Email as _, Invitation};
use crate::mail::workflows::send_email::SendEmail;
use crate::tenancy::insert_membership;
use crate::tenancy::{ActivityKind, Actor, Scope};
use crate::tokens;
use crate::workspaces::Error;
use crate::workspaces::invitation_tally;

const INVITATION_DAYS: i64 = 7;

/// Someone to invite, and as what.
#[derive(Debug, Clone)]
pub struct Invitee {
    pub email: Email,
    pub role: Role,
}

/// What became of one invitee of `Scope::invite_each`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invited {
    Sent,
    AlreadyMember,
    AlreadyInvited,
    /// The workspace has sent `limit` invitations in the last 24 hours.
    OverDailyLimit {
        limit: u32,
    },
}

impl Invited {
    /// Why `email` was not invited (for a refusal, or an import's report).
    pub fn reason(self, email: &Email) -> String {
        match self {
            Invited::Sent => format!("{email} was invited."),
            Invited::AlreadyMember => format!("{email} is already a member of this workspace."),
            Invited::AlreadyInvited => {
                format!("{email} has already been invited; revoke that invitation to send a new one.")
            }
            Invited::OverDailyLimit { limit } => format!(
                "This workspace has sent {limit} invitations in the last 24 hours, the most it may; try again later."
            ),
        }
    }
}

/// The invitation of `email` as `role` to `ws` by `inviter`, sent at `now`, and its email (the
/// link is in the email only; the row keeps its hash). The caller counts it
/// (`invitation_tally::add`) and writes both in its transaction.
pub(crate) fn new_invitation(
    ws: &workspace::Model,
    email: &Email,
    role: Role,
    inviter: &str,
    config: &Config,
    now: chrono::DateTime<Utc>,
) -> Result<(invitation::ActiveModel, Vec<mail::NewEmail>), Error> {
    let token = tokens::random_hex(24);
    let invitation_id = PublicId::generate("inv");
    let expires_at = now + Duration::days(INVITATION_DAYS);
    let row = invitation::ActiveModel {
        id: Set(invitation_id.clone()),
        workspace_id: Set(ws.id.clone()),
        email: Set(email.to_string()),
        role: Set(role.as_str().to_owned()),
        token_hash: Set(tokens::sha256_hex(&token)),
        invited_by: Set(Some(inviter.to_owned())),
        created_at: Set(now),
        expires_at: Set(expires_at),
        accepted_at: Set(None),
        revoked_at: Set(None),
    };
    let invitation = Invitation {
        workspace_name: ws.name.clone(),
        inviter: inviter.to_owned(),
        role: role.to_string(),
        accept_url: format!("{}/invitations/{token}", config.base_url),
        expires_at: ws.tz().format(expires_at),
    };
    let prefix = format!("invitation:{invitation_id}");
    let kind = (Invitation::KIND, Invitation::CATEGORY);
    let emails = mail::compose(config, ws, &[email.to_string()], &prefix, kind, |f| invitation.render(f))?;
    Ok((row, emails))
}

/// A pending invitation for the signed-in person, with the workspace it is for.
pub struct InvitationForYou {
    pub invitation: invitation::Model,
    pub workspace: workspace::Model,
}

/// Invitations that can still be answered at `now`: neither accepted nor revoked nor expired.
fn still_open(now: chrono::DateTime<Utc>) -> Condition {
    Condition::all()
        .add(invitation::Column::AcceptedAt.is_null())
        .add(invitation::Column::RevokedAt.is_null())
        .add(invitation::Column::ExpiresAt.gt(now))
}

impl Scope {
    pub async fn pending_invitations(&self, db: &DatabaseConnection) -> Result<Vec<invitation::Model>, Error> {
        Ok(invitation::Entity::find()
            .filter(invitation::Column::WorkspaceId.eq(self.workspace_id()))
            .filter(still_open(Utc::now()))
            .order_by_asc(invitation::Column::CreatedAt)
            .all(db)
            .await?)
    }

    /// How many more invitations the workspace may send now (`invitations_per_day` in any 24 hours).
    pub async fn invitations_left(&self, db: &DatabaseConnection, config: &Config) -> Result<u64, Error> {
        let sent_today = invitation_tally::sent_today(db, self.workspace_id(), Utc::now()).await?;
        Ok(u64::from(config.limits.invitations_per_day).saturating_sub(sent_today))
    }

    /// Invites `email` as `role`: an email with a link goes to that address, whether or not it
    /// has an account. Refused when it is already a member or invited, and when the workspace
    /// has sent `config.limits.invitations_per_day` invitations in the last 24 hours (429).
    pub async fn invite(
        &self,
        db: &DatabaseConnection,
        email: &Email,
        role: Role,
        config: &Config,
    ) -> Result<(), Error> {
        let txn = crate::db::begin_write(db).await?;
        let one = [Invitee { email: email.clone(), role }];
        let invited = self.invite_each(&txn, &one, config, SendEmail::PRIORITY).await?;
        match invited.into_iter().next() {
            Some(Invited::Sent) => {
                txn.commit().await?;
                Ok(())
            }
            Some(Invited::OverDailyLimit { limit }) => Err(Error::TooManyRequests {
                message: format!(
                    "This workspace has sent {limit} invitations in the last 24 hours, the most it may; try again later."
                ),
                retry_after: 3600,
            }),
            Some(other) => Err(Error::Conflict(other.reason(email))),
            None => Err(Error::NotFound),
        }
    }

    /// Invites each of `invitees` inside `txn`, by the rules of `invite`: one that is a member
    /// already, invited already (or earlier in the list), or beyond the daily limit is not
    /// invited, and the answer says which. Used one at a time and by imports, 100 at a time;
    /// the emails go at `sending`'s priority (an import's with its bulk work).
    pub async fn invite_each(
        &self,
        txn: &DatabaseTransaction,
        invitees: &[Invitee],
        config: &Config,
        sending: Priority,
    ) -> Result<Vec<Invited>, Error> {
        self.require_manager()?;
        for invitee in invitees {
            self.require_may_grant(invitee.role)?;
        }
        if txn.get_database_backend() == DbBackend::Postgres {
            // Invitations sent at once must not together pass the daily limit.
            workspace::Entity::find_by_id(self.workspace_id()).lock_exclusive().one(txn).await?;
        }
        let addresses: Vec<String> = invitees.iter().map(|i| i.email.to_string()).collect();
        // The people by their emails first, then their memberships here: asked the other way
        // round, SQLite read every membership of the workspace for each batch of an import.
        let people = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .filter(user::Column::Email.is_in(addresses.clone()));
        let members: HashSet<String> = membership::Entity::find()
            .filter(membership::Column::WorkspaceId.eq(self.workspace_id()))
            .filter(membership::Column::UserId.in_subquery(people.into_query()))
            .inner_join(user::Entity)
            .select_only()
            .column(user::Column::Email)
            .into_tuple()
            .all(txn)
            .await?
            .into_iter()
            .collect();
        let now = Utc::now();
        let mut invited: HashSet<String> = invitation::Entity::find()
            .filter(invitation::Column::WorkspaceId.eq(self.workspace_id()))
            .filter(invitation::Column::Email.is_in(addresses))
            .filter(still_open(now))
            .select_only()
            .column(invitation::Column::Email)
            .into_tuple()
            .all(txn)
            .await?
            .into_iter()
            .collect();
        let limit = config.limits.invitations_per_day;
        let sent_today = invitation_tally::sent_today(txn, self.workspace_id(), now).await?;
        let mut room = u64::from(limit).saturating_sub(sent_today);
        let (mut answers, mut rows, mut activities, mut emails) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let ws = self.workspace();
        for Invitee { email, role } in invitees {
            let address = email.to_string();
            let answer = if members.contains(&address) {
                Invited::AlreadyMember
            } else if invited.contains(&address) {
                Invited::AlreadyInvited
            } else if room == 0 {
                Invited::OverDailyLimit { limit }
            } else {
                room -= 1;
                invited.insert(address);
                let (row, email_out) = new_invitation(ws, email, *role, &self.actor().label(), config, now)?;
                rows.push(row);
                emails.extend(email_out);
                activities.push(format!("{email} was invited as {role}"));
                Invited::Sent
            };
            answers.push(answer);
        }
        if !rows.is_empty() {
            invitation_tally::add(txn, &[(self.workspace_id(), rows.len() as u64)], now).await?;
            invitation::Entity::insert_many(rows).exec(txn).await?;
        }
        self.record_activities(txn, ActivityKind::InvitationSent, activities).await?;
        mail::outbox::enqueue_at_in(txn, &emails, &mail::from_domain(config), sending).await?;
        Ok(answers)
    }

    pub async fn revoke_invitation(&self, db: &DatabaseConnection, invitation_id: &str) -> Result<String, Error> {
        self.require_manager()?;
        let found = invitation::Entity::find_by_id(invitation_id)
            .filter(invitation::Column::WorkspaceId.eq(self.workspace_id()))
            .one(db)
            .await?
            .filter(|i| i.is_pending(Utc::now()))
            .ok_or(Error::NotFound)?;
        let email = found.email.clone();
        let txn = crate::db::begin_write(db).await?;
        let mut active: invitation::ActiveModel = found.into();
        active.revoked_at = Set(Some(Utc::now()));
        active.update(&txn).await?;
        self.record_activity(&txn, ActivityKind::InvitationRevoked, format!("The invitation for {email} was revoked"))
            .await?;
        txn.commit().await?;
        Ok(email)
    }
}

/// An invitation that can still be accepted, with its workspace, found by its secret token.
pub async fn find_pending_invitation(
    db: &DatabaseConnection,
    token: &str,
) -> Result<(invitation::Model, workspace::Model), Error> {
    let found =
        invitation::Entity::find().filter(invitation::Column::TokenHash.eq(tokens::sha256_hex(token))).one(db).await?;
    pending_with_workspace(db, found).await
}

/// `found` with its workspace, if it can still be answered; `NotFound` otherwise.
async fn pending_with_workspace(
    db: &DatabaseConnection,
    found: Option<invitation::Model>,
) -> Result<(invitation::Model, workspace::Model), Error> {
    let found = found.filter(|i| i.is_pending(Utc::now())).ok_or(Error::NotFound)?;
    let ws = workspace::Entity::find_by_id(&found.workspace_id).one(db).await?.ok_or(Error::NotFound)?;
    Ok((found, ws))
}

/// The pending invitations addressed to `user`'s email, newest first.
pub async fn invitations_for(db: &DatabaseConnection, user: &user::Model) -> Result<Vec<InvitationForYou>, Error> {
    let found = invitation::Entity::find()
        .filter(invitation::Column::Email.eq(&user.email))
        .filter(still_open(Utc::now()))
        .order_by_desc(invitation::Column::CreatedAt)
        .limit(50)
        .all(db)
        .await?;
    let mut pending = Vec::with_capacity(found.len());
    for invitation in found {
        if let Some(workspace) = workspace::Entity::find_by_id(&invitation.workspace_id).one(db).await? {
            pending.push(InvitationForYou { invitation, workspace });
        }
    }
    Ok(pending)
}

/// `user`'s own pending invitation with this id; anyone else's is `NotFound`.
async fn addressed_to(
    db: &DatabaseConnection,
    user: &user::Model,
    invitation_id: &str,
) -> Result<(invitation::Model, workspace::Model), Error> {
    let found =
        invitation::Entity::find_by_id(invitation_id).filter(invitation::Column::Email.eq(&user.email)).one(db).await?;
    pending_with_workspace(db, found).await
}

/// Accepts `user`'s pending invitation `invitation_id` (from their list); returns the workspace.
/// An unconfirmed email address is refused: nothing yet says the invitation reached its owner.
pub async fn accept_invitation_by_id(
    db: &DatabaseConnection,
    user: &user::Model,
    invitation_id: &str,
) -> Result<workspace::Model, Error> {
    let (found, ws) = addressed_to(db, user, invitation_id).await?;
    if !user.email_verified() {
        return Err(Error::Forbidden(
            "Confirm your email address first (the link we sent you), or open the invitation's own link.".into(),
        ));
    }
    accept_invitation(db, found, ws.clone(), user).await?;
    Ok(ws)
}

/// Declines `user`'s pending invitation `invitation_id`; returns the workspace's name.
pub async fn decline_invitation(
    db: &DatabaseConnection,
    user: &user::Model,
    invitation_id: &str,
) -> Result<String, Error> {
    let (found, ws) = addressed_to(db, user, invitation_id).await?;
    let name = ws.name.clone();
    let txn = crate::db::begin_write(db).await?;
    let mut active: invitation::ActiveModel = found.into();
    active.revoked_at = Set(Some(Utc::now()));
    active.update(&txn).await?;
    let scope = Scope::trusted(ws, Actor::User { id: user.id.clone(), email: user.email.clone() });
    scope
        .record_activity(&txn, ActivityKind::InvitationRevoked, format!("{} declined the invitation", user.email))
        .await?;
    txn.commit().await?;
    Ok(name)
}

/// Turns a pending invitation into a membership for `user` (whose email must match). The
/// invitation went to that address, so whoever accepts it through its link owns the address:
/// it counts as confirmed.
pub async fn accept_invitation(
    db: &DatabaseConnection,
    invitation: invitation::Model,
    ws: workspace::Model,
    user: &user::Model,
) -> Result<(), Error> {
    if invitation.email != user.email {
        return Err(Error::Forbidden(format!(
            "This invitation is for {}; sign in with that address to accept it.",
            invitation.email
        )));
    }
    let txn = crate::db::begin_write(db).await?;
    let already = membership::Entity::find()
        .filter(membership::Column::WorkspaceId.eq(&ws.id))
        .filter(membership::Column::UserId.eq(&user.id))
        .count(&txn)
        .await?;
    if already == 0 {
        insert_membership(&txn, &ws.id, &user.id, invitation.role()).await?;
    }
    let role = invitation.role();
    let mut active: invitation::ActiveModel = invitation.into();
    active.accepted_at = Set(Some(Utc::now()));
    active.update(&txn).await?;
    if !user.email_verified() {
        let mut confirmed: user::ActiveModel = user.clone().into();
        confirmed.email_verified_at = Set(Some(Utc::now()));
        confirmed.update(&txn).await?;
    }
    let scope = Scope::trusted(ws, Actor::User { id: user.id.clone(), email: user.email.clone() });
    scope
        .record_activity(
            &txn,
            ActivityKind::InvitationAccepted,
            format!("{} accepted the invitation and joined as {role}", user.email),
        )
        .await?;
    txn.commit().await?;
    Ok(())
}
