//! What can go wrong starting, changing or reading runs and schedules, with the cause kept. The
//! HTTP layer turns it into a response (`src/error.rs`); a workflow sees it through `anyhow`.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such run, schedule or workflow (or not in the caller's reach).
    #[error("Not found")]
    NotFound,
    /// The change does not fit the run's or schedule's state; the message says why, for people.
    #[error("{0}")]
    Conflict(String),
    /// Input that does not fit (parameters, a cron expression, a timezone); the message names
    /// the field.
    #[error("{0}")]
    Invalid(String),
    #[error("the database failed")]
    Database(#[from] sea_orm::DbErr),
    #[error("a run could not be encoded for the queue")]
    Encode(#[from] serde_json::Error),
    /// Something stored no longer holds (a row gone right after its insert, a stored cron
    /// expression that does not parse).
    #[error("{0}")]
    Corrupt(String),
}
