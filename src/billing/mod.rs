//! Stripe billing. `signature` checks a webhook delivery, `inbox` records it durably (one row per
//! Stripe event id, with the run that will process it; `intake` groups concurrent deliveries
//! into one commit), `apply` turns a recorded event into the
//! workspace's subscription state, and `workflows` hold billing's own workflows:
//! `process_stripe_event` (runs `apply`) and `send_trial_ending_email`.

pub mod apply;
pub mod envelope;
mod error;
pub mod inbox;
mod inbox_postgres;
pub mod intake;
pub mod invoices;
pub mod signature;
pub mod stripe_api;
pub mod workflows;

pub use envelope::Envelope;
pub use error::Error;
pub use inbox::{EventStatus, Received};
pub use intake::Intake;
pub use stripe_api::StripeApi;
