//! What can go wrong creating, configuring and joining workspaces, with the cause kept.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Not found")]
    NotFound,
    /// The change clashes with what exists (a slug taken, a member already in); the message
    /// says what to do.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    /// Refused for now (invitations sent too often); `retry_after` is in seconds.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    #[error("the database failed")]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Tenancy(#[from] crate::tenancy::Error),
    #[error(transparent)]
    Engine(#[from] crate::engine::Error),
    #[error(transparent)]
    Mail(#[from] crate::mail::Error),
    #[error(transparent)]
    Billing(#[from] crate::billing::Error),
}
