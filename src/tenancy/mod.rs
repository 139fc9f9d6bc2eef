//! Tenancy by construction. Every workspace-owned row is reached through a `Scope`, and a
//! `Scope` can only be made by proving membership (a signed-in member or platform admin), by
//! holding an API key of the workspace, or by being the system acting for a workspace (inside a
//! job, or holding the `Platform` capability). Someone outside the workspace gets `NotFound`,
//! never `Forbidden`, so existence does not leak. Reads across workspaces need the `Platform`
//! capability (`platform`).

mod activity;
mod api_keys;
mod error;
mod members;
mod platform;

pub use activity::{ActivityKind, entry as activity_entry};
pub use api_keys::{ApiKeyCreated, authenticate_api_key};
pub use error::Error;
pub use members::MemberRow;
pub(crate) use members::insert_membership;
pub use platform::{Platform, Reach};

use std::collections::HashMap;

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::db::batcher::Batcher;
use crate::db::entities::{api_key, membership, user, workspace};
use crate::domain::Role;

/// Loads workspaces by id for runs, those asked for at the same moment with one query
/// (`db::batcher`): a worker starts many runs at once, each in its workspace's scope.
pub type WorkspaceLoader = Batcher<String, Option<workspace::Model>>;

/// Workspaces per query at most.
const WORKSPACES_PER_LOAD: usize = 128;
/// Queries at once on PostgreSQL.
const LOADERS: usize = 2;

/// Starts the loader's tasks on the current runtime.
pub(crate) fn workspace_loader(db: DatabaseConnection) -> WorkspaceLoader {
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
    User {
        id: String,
        email: String,
    },
    ApiKey {
        id: String,
        name: String,
    },
    System,
    /// Offstage doing later what someone asked for earlier (an import they uploaded): their label.
    OnBehalfOf(String),
}

impl Actor {
    pub fn label(&self) -> String {
        match self {
            Actor::User { email, .. } => email.clone(),
            Actor::ApiKey { name, .. } => format!("API key “{name}”"),
            Actor::System => "Offstage".into(),
            Actor::OnBehalfOf(label) => label.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Scope {
    workspace: workspace::Model,
    role: Role,
    actor: Actor,
    /// A platform admin or Offstage itself: may change Offstage's own runs too.
    operator: bool,
}

impl Scope {
    /// The signed-in user's view of the workspace `slug`: members get their role, platform
    /// admins act as owners, everyone else gets `NotFound`.
    pub async fn for_user(db: &DatabaseConnection, user: &user::Model, slug: &str) -> Result<Scope, Error> {
        let workspace =
            workspace::Entity::find().filter(workspace::Column::Slug.eq(slug)).one(db).await?.ok_or(Error::NotFound)?;
        let membership = membership::Entity::find()
            .filter(membership::Column::WorkspaceId.eq(&workspace.id))
            .filter(membership::Column::UserId.eq(&user.id))
            .one(db)
            .await?;
        let role = match membership {
            Some(m) => m.role(),
            None if user.is_platform_admin => Role::Owner,
            None => return Err(Error::NotFound),
        };
        let actor = Actor::User { id: user.id.clone(), email: user.email.clone() };
        Ok(Scope { workspace, role, actor, operator: user.is_platform_admin })
    }

    /// The workspace an API key belongs to; the key acts with admin rights inside it.
    pub(crate) fn for_api_key(workspace: workspace::Model, key: &api_key::Model) -> Scope {
        let actor = Actor::ApiKey { id: key.id.clone(), name: key.name.clone() };
        Scope { workspace, role: Role::Admin, actor, operator: false }
    }

    /// The system acting for a workspace inside a background job, loaded through the worker
    /// process's loader; `None` when the workspace does not exist.
    pub(crate) async fn system(loader: &WorkspaceLoader, workspace_id: &str) -> anyhow::Result<Option<Scope>> {
        let workspace = loader.submit(workspace_id.to_owned()).await.map_err(|err| anyhow::anyhow!(err))?;
        Ok(workspace.map(|workspace| Scope::acting_for(&Platform::system(), workspace)))
    }

    /// Offstage itself acting for `workspace` (the CLI, tests), with the platform capability as
    /// proof of the right to it.
    pub fn acting_for(_platform: &Platform, workspace: workspace::Model) -> Scope {
        Scope { workspace, role: Role::Owner, actor: Actor::System, operator: true }
    }

    /// This scope acting on behalf of `label` (who asked for the work it does now), as the
    /// activity log and the emails it sends name them.
    pub fn on_behalf_of(&self, label: &str) -> Scope {
        Scope { actor: Actor::OnBehalfOf(label.to_owned()), ..self.clone() }
    }

    /// `actor` acting in a workspace whose right to it was proved by other means (the invited
    /// person accepting an invitation).
    pub(crate) fn trusted(workspace: workspace::Model, actor: Actor) -> Scope {
        Scope { workspace, role: Role::Owner, actor, operator: false }
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

    /// A platform admin or Offstage itself, rather than one of the workspace's own people or keys.
    pub fn is_operator(&self) -> bool {
        self.operator
    }

    /// Whether this scope may cancel or retry a run of a workflow that is `internal` (Offstage's
    /// own: dunning steps, trial reminders, email deliveries). Tenants may only look at those.
    pub fn may_change_run(&self, internal: bool) -> bool {
        self.can_manage() && (!internal || self.operator)
    }

    /// `may_change_run`, as an error a person can read.
    pub fn require_may_change_run(&self, internal: bool) -> Result<(), Error> {
        self.require_manager()?;
        if self.may_change_run(internal) {
            Ok(())
        } else {
            Err(Error::Forbidden(
                "This run is one of Offstage's own (billing and email); it can be looked at but not changed.".into(),
            ))
        }
    }

    /// Members may look; changing members, invitations or keys needs owner or admin.
    pub fn require_manager(&self) -> Result<(), Error> {
        if self.can_manage() {
            Ok(())
        } else {
            Err(Error::Forbidden("Only owners and admins of this workspace can do that.".into()))
        }
    }
}
