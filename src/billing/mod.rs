//! Stripe billing. `signature` checks a webhook delivery, `inbox` records it durably (one row per
//! Stripe event id, with the run that will process it), `apply` turns a recorded event into the
//! workspace's subscription state, and `process_stripe_event` (a workflow) runs `apply`.

pub mod apply;
pub mod envelope;
pub mod inbox;
pub mod signature;
pub mod stripe_api;

pub use envelope::Envelope;
pub use inbox::{EventStatus, Received};
pub use stripe_api::StripeApi;
