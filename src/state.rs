//! `AppState`: the one `web::Data` every handler shares.

use sea_orm::DatabaseConnection;

use crate::billing::Intake;
use crate::config::Config;
use crate::engine::Registry;
use crate::engine::runs::Starter;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Config,
    /// Records Stripe webhook deliveries, several per commit.
    pub stripe_intake: Intake,
    pub mailer: crate::mail::Mailer,
    /// Every workflow this process knows (`crate::registry`).
    pub workflows: Registry,
    /// Starts single runs, several per commit (`runs::Starter`).
    pub starter: Starter,
    /// Where files go (`crate::storage`).
    pub storage: crate::storage::Storage,
    /// Whether this process runs workers too (`serve`), which `/readyz` then checks.
    pub runs_workers: bool,
    /// Platform → Queue's depth, read in the background (`telemetry::dashboard`).
    pub queue_depth: crate::telemetry::dashboard::QueueDepth,
}
