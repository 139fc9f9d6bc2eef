//! Members and invitations of a workspace: add an existing user at once, invite anyone else by
//! a one-time link, change roles, remove. Owners alone grant or take the owner role, and the
//! last owner can be neither removed nor demoted.

use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::{ActivityKind, Scope};
use crate::config::Config;
use crate::db::entities::{invitation, membership, user, workspace};
use crate::domain::{Email, PublicId, Role};
use crate::error::AppError;
use crate::mail;
use crate::mail::templates::{Email as _, Invitation};
use crate::tokens;

const INVITATION_DAYS: i64 = 7;

pub struct MemberRow {
    pub membership: membership::Model,
    pub user: user::Model,
}

pub enum AddMemberOutcome {
    Added {
        email: String,
    },
    /// The person has no account: they get a link (shown once) to join.
    Invited {
        email: String,
        link: String,
    },
}

impl Scope {
    pub async fn members(&self, db: &DatabaseConnection) -> Result<Vec<MemberRow>, AppError> {
        let rows = membership::Entity::find()
            .filter(membership::Column::WorkspaceId.eq(self.workspace_id()))
            .find_also_related(user::Entity)
            .order_by_asc(membership::Column::CreatedAt)
            .all(db)
            .await?;
        Ok(rows.into_iter().filter_map(|(m, u)| u.map(|user| MemberRow { membership: m, user })).collect())
    }

    pub async fn member_count(&self, db: &DatabaseConnection) -> Result<u64, AppError> {
        Ok(membership::Entity::find().filter(membership::Column::WorkspaceId.eq(self.workspace_id())).count(db).await?)
    }

    pub async fn pending_invitations(&self, db: &DatabaseConnection) -> Result<Vec<invitation::Model>, AppError> {
        Ok(invitation::Entity::find()
            .filter(invitation::Column::WorkspaceId.eq(self.workspace_id()))
            .filter(invitation::Column::AcceptedAt.is_null())
            .filter(invitation::Column::RevokedAt.is_null())
            .filter(invitation::Column::ExpiresAt.gt(Utc::now()))
            .order_by_asc(invitation::Column::CreatedAt)
            .all(db)
            .await?)
    }

    pub async fn add_member(
        &self,
        db: &DatabaseConnection,
        email: &Email,
        role: Role,
        config: &Config,
    ) -> Result<AddMemberOutcome, AppError> {
        self.require_manager()?;
        self.require_may_grant(role)?;
        let existing = user::Entity::find().filter(user::Column::Email.eq(email.as_str())).one(db).await?;
        if let Some(found) = existing {
            let already = membership::Entity::find()
                .filter(membership::Column::WorkspaceId.eq(self.workspace_id()))
                .filter(membership::Column::UserId.eq(&found.id))
                .count(db)
                .await?;
            if already > 0 {
                return Err(AppError::Conflict(format!("{email} is already a member of this workspace.")));
            }
            let txn = crate::db::begin_write(db).await?;
            insert_membership(&txn, self.workspace_id(), &found.id, role).await?;
            self.record_activity(&txn, ActivityKind::MemberAdded, format!("{email} joined as {role}")).await?;
            txn.commit().await?;
            return Ok(AddMemberOutcome::Added { email: email.to_string() });
        }
        let pending = self.pending_invitations(db).await?;
        if pending.iter().any(|i| i.email == email.as_str()) {
            return Err(AppError::Conflict(format!(
                "{email} has already been invited; revoke that invitation to send a new one."
            )));
        }
        let token = tokens::random_hex(24);
        let link = format!("{}/invitations/{token}", config.base_url);
        let now = Utc::now();
        let expires_at = now + Duration::days(INVITATION_DAYS);
        let invitation_id = PublicId::generate("inv");
        let txn = crate::db::begin_write(db).await?;
        invitation::ActiveModel {
            id: Set(invitation_id.clone()),
            workspace_id: Set(self.workspace_id().to_owned()),
            email: Set(email.to_string()),
            role: Set(role.as_str().to_owned()),
            token_hash: Set(tokens::sha256_hex(&token)),
            invited_by: Set(Some(self.actor().label())),
            created_at: Set(now),
            expires_at: Set(expires_at),
            accepted_at: Set(None),
            revoked_at: Set(None),
        }
        .insert(&txn)
        .await?;
        self.record_activity(&txn, ActivityKind::InvitationSent, format!("{email} was invited as {role}")).await?;
        let ws = self.workspace();
        let invitation = Invitation {
            workspace_name: ws.name.clone(),
            inviter: self.actor().label(),
            role: role.to_string(),
            accept_url: link.clone(),
            expires_at: ws.tz().format(expires_at),
        };
        let recipients = [email.to_string()];
        let prefix = format!("invitation:{invitation_id}");
        let emails = mail::compose(config, ws, &recipients, &prefix, (Invitation::KIND, Invitation::CATEGORY), |f| {
            invitation.render(f)
        })?;
        mail::outbox::enqueue_in(&txn, &emails, &mail::from_domain(config)).await?;
        txn.commit().await?;
        Ok(AddMemberOutcome::Invited { email: email.to_string(), link })
    }

    pub async fn change_role(
        &self,
        db: &DatabaseConnection,
        membership_id: &str,
        role: Role,
    ) -> Result<String, AppError> {
        self.require_manager()?;
        let txn = crate::db::begin_write(db).await?;
        let (member, email) = self.find_membership_locked(&txn, membership_id).await?;
        if member.role() == role {
            return Ok(email);
        }
        self.require_may_grant(member.role())?;
        self.require_may_grant(role)?;
        if member.role() == Role::Owner {
            self.require_another_owner(&txn).await?;
        }
        let old = member.role();
        let mut active: membership::ActiveModel = member.into();
        active.role = Set(role.as_str().to_owned());
        active.update(&txn).await?;
        self.record_activity(&txn, ActivityKind::RoleChanged, format!("{email} is now {role} (was {old})")).await?;
        txn.commit().await?;
        Ok(email)
    }

    pub async fn remove_member(&self, db: &DatabaseConnection, membership_id: &str) -> Result<String, AppError> {
        self.require_manager()?;
        let txn = crate::db::begin_write(db).await?;
        let (member, email) = self.find_membership_locked(&txn, membership_id).await?;
        if member.role() == Role::Owner {
            self.require_may_grant(Role::Owner)?;
            self.require_another_owner(&txn).await?;
        }
        membership::Entity::delete_by_id(member.id).exec(&txn).await?;
        self.record_activity(&txn, ActivityKind::MemberRemoved, format!("{email} was removed")).await?;
        txn.commit().await?;
        Ok(email)
    }

    pub async fn revoke_invitation(&self, db: &DatabaseConnection, invitation_id: &str) -> Result<String, AppError> {
        self.require_manager()?;
        let found = invitation::Entity::find_by_id(invitation_id)
            .filter(invitation::Column::WorkspaceId.eq(self.workspace_id()))
            .one(db)
            .await?
            .filter(|i| i.is_pending(Utc::now()))
            .ok_or(AppError::NotFound)?;
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

    fn require_may_grant(&self, role: Role) -> Result<(), AppError> {
        if role == Role::Owner && self.role() != Role::Owner {
            return Err(AppError::Forbidden("Only an owner can grant, change or remove the owner role.".into()));
        }
        Ok(())
    }

    /// Loads a membership of this workspace inside `txn`, locking the workspace row on
    /// PostgreSQL so two concurrent removals cannot both pass the last-owner check.
    async fn find_membership_locked(
        &self,
        txn: &DatabaseTransaction,
        membership_id: &str,
    ) -> Result<(membership::Model, String), AppError> {
        if txn.get_database_backend() == DbBackend::Postgres {
            workspace::Entity::find_by_id(self.workspace_id()).lock_exclusive().one(txn).await?;
        }
        let (member, found_user) = membership::Entity::find_by_id(membership_id)
            .filter(membership::Column::WorkspaceId.eq(self.workspace_id()))
            .find_also_related(user::Entity)
            .one(txn)
            .await?
            .ok_or(AppError::NotFound)?;
        let email = found_user.map(|u| u.email).unwrap_or_default();
        Ok((member, email))
    }

    async fn require_another_owner(&self, txn: &DatabaseTransaction) -> Result<(), AppError> {
        let owners = membership::Entity::find()
            .filter(membership::Column::WorkspaceId.eq(self.workspace_id()))
            .filter(membership::Column::Role.eq(Role::Owner.as_str()))
            .count(txn)
            .await?;
        if owners <= 1 {
            return Err(AppError::Conflict(
                "A workspace needs at least one owner: make someone else an owner first.".into(),
            ));
        }
        Ok(())
    }
}

pub(crate) async fn insert_membership(
    db: &impl sea_orm::ConnectionTrait,
    workspace_id: &str,
    user_id: &str,
    role: Role,
) -> Result<membership::Model, sea_orm::DbErr> {
    membership::ActiveModel {
        id: Set(PublicId::generate("mem")),
        workspace_id: Set(workspace_id.to_owned()),
        user_id: Set(user_id.to_owned()),
        role: Set(role.as_str().to_owned()),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await
}

/// An invitation that can still be accepted, with its workspace, found by its secret token.
pub async fn find_pending_invitation(
    db: &DatabaseConnection,
    token: &str,
) -> Result<(invitation::Model, workspace::Model), AppError> {
    let found = invitation::Entity::find()
        .filter(invitation::Column::TokenHash.eq(tokens::sha256_hex(token)))
        .one(db)
        .await?
        .filter(|i| i.is_pending(Utc::now()))
        .ok_or(AppError::NotFound)?;
    let ws = workspace::Entity::find_by_id(&found.workspace_id).one(db).await?.ok_or(AppError::NotFound)?;
    Ok((found, ws))
}

/// Turns a pending invitation into a membership for `user` (whose email must match).
pub async fn accept_invitation(
    db: &DatabaseConnection,
    invitation: invitation::Model,
    ws: workspace::Model,
    user: &user::Model,
) -> Result<(), AppError> {
    if invitation.email != user.email {
        return Err(AppError::Forbidden(format!(
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
    let scope = Scope::trusted(ws, super::Actor::User { id: user.id.clone(), email: user.email.clone() });
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
