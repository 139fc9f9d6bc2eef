//! What tenancy refuses, and why: someone outside the workspace (not found, never forbidden, so
//! existence does not leak), a member without the right role, a bad key, or the database.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Not found")]
    NotFound,
    /// A member whose role does not allow this; the message says who may.
    #[error("{0}")]
    Forbidden(String),
    /// No valid credential (an API key missing, unknown or revoked).
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the database failed")]
    Database(#[from] sea_orm::DbErr),
}
