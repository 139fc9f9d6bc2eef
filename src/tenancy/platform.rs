//! The platform-wide capability. Reads across every workspace (Platform → Runs, the Stripe
//! inbox, the Mailbox, global schedules) take a `Platform`, and only two holders exist: a
//! signed-in platform admin (`Platform::for_user`) and Offstage itself (`Platform::system`: the
//! job runtime, the CLI, benchmarks and tests; a test keeps route handlers from calling it). A
//! read that may go either way takes a `Reach`: one workspace's `Scope`, or the `Platform`.

use super::Error;
use super::Scope;
use crate::db::entities::user;

/// Proof that the holder may see every workspace's rows.
#[derive(Debug, Clone, Copy)]
pub struct Platform {
    _proof: (),
}

impl Platform {
    /// A platform admin's; anyone else gets `NotFound`, as for any page they may not see.
    pub fn for_user(user: &user::Model) -> Result<Platform, Error> {
        if user.is_platform_admin { Ok(Platform { _proof: () }) } else { Err(Error::NotFound) }
    }

    /// Offstage acting for itself (workers, the CLI, benchmarks, tests): never a route handler's.
    pub fn system() -> Platform {
        Platform { _proof: () }
    }
}

/// Whose rows a read may return: one workspace's, or every workspace's.
#[derive(Debug, Clone, Copy)]
pub enum Reach<'a> {
    Workspace(&'a Scope),
    Everywhere(&'a Platform),
}

impl Reach<'_> {
    /// The workspace the read is limited to; `None` only for the platform.
    pub fn workspace_id(&self) -> Option<&str> {
        match self {
            Reach::Workspace(scope) => Some(scope.workspace_id()),
            Reach::Everywhere(_) => None,
        }
    }
}

impl<'a> From<&'a Scope> for Reach<'a> {
    fn from(scope: &'a Scope) -> Reach<'a> {
        Reach::Workspace(scope)
    }
}

impl<'a> From<&'a Platform> for Reach<'a> {
    fn from(platform: &'a Platform) -> Reach<'a> {
        Reach::Everywhere(platform)
    }
}
