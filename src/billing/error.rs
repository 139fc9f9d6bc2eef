//! What can go wrong recording, applying and asking Stripe about billing, with the cause kept.

/// A cause of any kind, kept for the log.
type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Not found")]
    NotFound,
    /// A call to the Stripe API failed or answered something unusable.
    #[error("Stripe: {what} failed")]
    Stripe { what: String, source: Cause },
    /// Recording webhook deliveries failed (the intake's writer, or its statement).
    #[error("recording Stripe events failed")]
    Record(#[source] Cause),
    #[error("the database failed")]
    Database(#[from] sea_orm::DbErr),
    /// Starting the runs that process events.
    #[error(transparent)]
    Engine(#[from] crate::engine::Error),
    /// Enrolling in or stopping email sequences, scheduling reminders.
    #[error(transparent)]
    Mail(#[from] crate::mail::Error),
}
