//! The workspace's activity log: appended by actions and jobs, read by the overview page.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::Scope;
use crate::db::entities::activity;

#[derive(Debug, Clone, Copy)]
pub enum ActivityKind {
    WorkspaceCreated,
    WorkspaceUpdated,
    MemberAdded,
    MemberRemoved,
    RoleChanged,
    InvitationSent,
    InvitationRevoked,
    InvitationAccepted,
    ApiKeyCreated,
    ApiKeyRevoked,
    TrialEnding,
}

impl ActivityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityKind::WorkspaceCreated => "workspace.created",
            ActivityKind::WorkspaceUpdated => "workspace.updated",
            ActivityKind::MemberAdded => "member.added",
            ActivityKind::MemberRemoved => "member.removed",
            ActivityKind::RoleChanged => "member.role_changed",
            ActivityKind::InvitationSent => "invitation.sent",
            ActivityKind::InvitationRevoked => "invitation.revoked",
            ActivityKind::InvitationAccepted => "invitation.accepted",
            ActivityKind::ApiKeyCreated => "api_key.created",
            ActivityKind::ApiKeyRevoked => "api_key.revoked",
            ActivityKind::TrialEnding => "billing.trial_ending",
        }
    }
}

/// One activity entry of `workspace_id`, for callers that write many workspaces' entries in one
/// statement (an import of workspaces); a scope writes its own with `record_activities`.
pub fn entry(
    workspace_id: &str,
    kind: ActivityKind,
    message: String,
    actor: &str,
    at: chrono::DateTime<Utc>,
) -> activity::ActiveModel {
    activity::ActiveModel {
        workspace_id: Set(workspace_id.to_owned()),
        kind: Set(kind.as_str().to_owned()),
        message: Set(message),
        actor: Set(Some(actor.to_owned())),
        created_at: Set(at),
        ..Default::default()
    }
}

impl Scope {
    pub async fn record_activity<C: ConnectionTrait>(
        &self,
        db: &C,
        kind: ActivityKind,
        message: impl Into<String>,
    ) -> Result<(), sea_orm::DbErr> {
        self.record_activities(db, kind, vec![message.into()]).await
    }

    /// One entry of `kind` per message, in one statement (an import's invitations).
    pub async fn record_activities<C: ConnectionTrait>(
        &self,
        db: &C,
        kind: ActivityKind,
        messages: Vec<String>,
    ) -> Result<(), sea_orm::DbErr> {
        if messages.is_empty() {
            return Ok(());
        }
        let (now, actor) = (Utc::now(), self.actor().label());
        let rows = messages.into_iter().map(|message| entry(self.workspace_id(), kind, message, &actor, now));
        activity::Entity::insert_many(rows).exec(db).await.map(|_| ())
    }

    pub async fn has_activity<C: ConnectionTrait>(&self, db: &C, kind: ActivityKind) -> Result<bool, sea_orm::DbErr> {
        let found = activity::Entity::find()
            .filter(activity::Column::WorkspaceId.eq(self.workspace_id()))
            .filter(activity::Column::Kind.eq(kind.as_str()))
            .one(db)
            .await?;
        Ok(found.is_some())
    }

    /// Newest first.
    pub async fn recent_activity<C: ConnectionTrait>(
        &self,
        db: &C,
        limit: u64,
    ) -> Result<Vec<activity::Model>, sea_orm::DbErr> {
        activity::Entity::find()
            .filter(activity::Column::WorkspaceId.eq(self.workspace_id()))
            .order_by_desc(activity::Column::Id)
            .limit(limit)
            .all(db)
            .await
    }
}
