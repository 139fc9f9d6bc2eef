//! Tenancy by construction. Every workspace-owned row is reached through a `Scope`, and a
//! `Scope` can only be made by proving membership (a signed-in member or platform admin), by
//! holding an API key of the workspace, or by being the system acting inside a job. Someone
//! outside the workspace gets `NotFound`, never `Forbidden`, so existence does not leak.

mod activity;
mod api_keys;
mod members;

pub use activity::ActivityKind;
pub use api_keys::{ApiKeyCreated, authenticate_api_key};
pub(crate) use members::insert_membership;
pub use members::{AddMemberOutcome, MemberRow, accept_invitation, find_pending_invitation};

use std::collections::HashMap;

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::db::batcher::Batcher;
use crate::db::entities::{api_key, membership, workspace};
use crate::domain::Role;
use crate::error::AppError;
use crate::web::CurrentUser;

/// Loads workspaces by id for runs, those asked for at the same moment with one query
/// (`db::batcher`): a worker starts many runs at once, each in its workspace's scope.
pub type WorkspaceLoader = Batcher<String, Option<workspace::Model>>;

/// Workspaces per query at most.
const WORKSPACES_PER_LOAD: usize = 128;
/// Queries at once on PostgreSQL.
const LOADERS: usize = 2;

/// Starts the loader's tasks on the current runtime.
pub fn workspace_loader(db: DatabaseConnection) -> WorkspaceLoader {
    Batcher::start(db, LOADERS, WORKSPACES_PER_LOAD, |db, ids: Vec<String>| async move {
        let found = workspace::Entity::find()
            .filter(workspace::Column::Id.is_in(ids.iter().cloned()))
            .all(&db)
            .await
            .map_err(|err| err.to_string())?;
        let by_id: HashMap<String, workspace::Model> = found.into_iter().map(|ws| (ws.id.clone(), ws)).collect();
        Ok(ids.iter().map(|id| by_id.get(id).cloned()).collect())
    })
}

/// Who is acting inside the scope; recorded in the activity log.
#[derive(Debug, Clone)]
pub enum Actor {
    User { id: String, email: String },
    ApiKey { id: String, name: String },
    System,
}

impl Actor {
    pub fn label(&self) -> String {
        match self {
            Actor::User { email, .. } => email.clone(),
            Actor::ApiKey { name, .. } => format!("API key “{name}”"),
            Actor::System => "Offstage".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Scope {
    workspace: workspace::Model,
    role: Role,
    actor: Actor,
}

impl Scope {
    /// The signed-in user's view of the workspace `slug`: members get their role, platform
    /// admins act as owners, everyone else gets `NotFound`.
    pub async fn for_user(db: &DatabaseConnection, user: &CurrentUser, slug: &str) -> Result<Scope, AppError> {
        let workspace = workspace::Entity::find()
            .filter(workspace::Column::Slug.eq(slug))
            .one(db)
            .await?
            .ok_or(AppError::NotFound)?;
        let membership = membership::Entity::find()
            .filter(membership::Column::WorkspaceId.eq(&workspace.id))
            .filter(membership::Column::UserId.eq(user.id()))
            .one(db)
            .await?;
        let role = match membership {
            Some(m) => m.role(),
            None if user.is_platform_admin() => Role::Owner,
            None => return Err(AppError::NotFound),
        };
        let actor = Actor::User { id: user.id().to_owned(), email: user.email().to_owned() };
        Ok(Scope { workspace, role, actor })
    }

    /// The workspace an API key belongs to; the key acts with admin rights inside it.
    pub(crate) fn for_api_key(workspace: workspace::Model, key: &api_key::Model) -> Scope {
        let actor = Actor::ApiKey { id: key.id.clone(), name: key.name.clone() };
        Scope { workspace, role: Role::Admin, actor }
    }

    /// The system acting for a workspace inside a background job, loaded through the worker
    /// process's loader.
    pub async fn system(loader: &WorkspaceLoader, workspace_id: &str) -> Result<Scope, AppError> {
        let workspace =
            loader.submit(workspace_id.to_owned()).await.map_err(|err| AppError::Internal(anyhow::anyhow!(err)))?;
        Ok(Scope { workspace: workspace.ok_or(AppError::NotFound)?, role: Role::Owner, actor: Actor::System })
    }

    /// A scope for a workspace the caller has just created or loaded through a global query
    /// that already proved the right to it (the CLI, the creator of a new workspace).
    pub fn trusted(workspace: workspace::Model, actor: Actor) -> Scope {
        Scope { workspace, role: Role::Owner, actor }
    }

    pub fn workspace(&self) -> &workspace::Model {
        &self.workspace
    }
    pub fn workspace_id(&self) -> &str {
        &self.workspace.id
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
    pub fn can_manage(&self) -> bool {
        self.role.can_manage()
    }

    /// Members may look; changing members, invitations or keys needs owner or admin.
    pub fn require_manager(&self) -> Result<(), AppError> {
        if self.can_manage() {
            Ok(())
        } else {
            Err(AppError::Forbidden("Only owners and admins of this workspace can do that.".into()))
        }
    }
}
