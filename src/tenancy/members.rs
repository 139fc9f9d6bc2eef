//! Members of a workspace: list, change roles, remove (people join through `invitations`).
//! Owners alone grant or take the owner role, and the last owner can be neither removed nor
//! demoted.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::Error;
use super::{ActivityKind, Scope};
use crate::db::entities::{membership, user, workspace};
use crate::domain::{PublicId, Role};

pub struct MemberRow {
    pub membership: membership::Model,
    pub user: user::Model,
}

impl Scope {
    pub async fn members(&self, db: &DatabaseConnection) -> Result<Vec<MemberRow>, Error> {
        let rows = membership::Entity::find()
            .filter(membership::Column::WorkspaceId.eq(self.workspace_id()))
            .find_also_related(user::Entity)
            .order_by_asc(membership::Column::CreatedAt)
            .all(db)
            .await?;
        Ok(rows.into_iter().filter_map(|(m, u)| u.map(|user| MemberRow { membership: m, user })).collect())
    }

    pub async fn member_count(&self, db: &DatabaseConnection) -> Result<u64, Error> {
        Ok(membership::Entity::find().filter(membership::Column::WorkspaceId.eq(self.workspace_id())).count(db).await?)
    }

    pub async fn change_role(&self, db: &DatabaseConnection, membership_id: &str, role: Role) -> Result<String, Error> {
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

    pub async fn remove_member(&self, db: &DatabaseConnection, membership_id: &str) -> Result<String, Error> {
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

    pub(crate) fn require_may_grant(&self, role: Role) -> Result<(), Error> {
        if role == Role::Owner && self.role() != Role::Owner {
            return Err(Error::Forbidden("Only an owner can grant, change or remove the owner role.".into()));
        }
        Ok(())
    }

    /// Loads a membership of this workspace inside `txn`, locking the workspace row on
    /// PostgreSQL so two concurrent removals cannot both pass the last-owner check.
    async fn find_membership_locked(
        &self,
        txn: &DatabaseTransaction,
        membership_id: &str,
    ) -> Result<(membership::Model, String), Error> {
        if txn.get_database_backend() == DbBackend::Postgres {
            workspace::Entity::find_by_id(self.workspace_id()).lock_exclusive().one(txn).await?;
        }
        let (member, found_user) = membership::Entity::find_by_id(membership_id)
            .filter(membership::Column::WorkspaceId.eq(self.workspace_id()))
            .find_also_related(user::Entity)
            .one(txn)
            .await?
            .ok_or(Error::NotFound)?;
        let email = found_user.map(|u| u.email).unwrap_or_default();
        Ok((member, email))
    }

    async fn require_another_owner(&self, txn: &DatabaseTransaction) -> Result<(), Error> {
        let owners = membership::Entity::find()
            .filter(membership::Column::WorkspaceId.eq(self.workspace_id()))
            .filter(membership::Column::Role.eq(Role::Owner.as_str()))
            .count(txn)
            .await?;
        if owners <= 1 {
            return Err(Error::Conflict(
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
