//! What can go wrong queueing email and running sequences, with the cause kept.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Not found")]
    NotFound,
    #[error("an email template failed to render")]
    Render(#[from] askama::Error),
    #[error("the database failed")]
    Database(#[from] sea_orm::DbErr),
    /// Starting or cancelling the runs that send the email.
    #[error(transparent)]
    Engine(#[from] crate::engine::Error),
    /// The outbox writer's batch failed, or its tasks stopped (`OutboxWriter`).
    #[error("the outbox writer: {0}")]
    Writer(String),
    /// The delivery loader's query failed, or its tasks stopped (`DeliveryLoader`).
    #[error("loading emails for delivery: {0}")]
    Loader(String),
}
