//! Stripe billing. `signature` checks a webhook delivery, `inbox` records it durably (one row per
//! Stripe event id, with the run that will process it; `intake` groups concurrent deliveries
//! into one commit), `apply` turns a recorded event into the
//! workspace's subscription state (and what it paid and got back: `payments`, `invoice_lines`,
//! `catch_up` for what was stored before they were read), and `workflows` hold billing's own workflows:
//! `process_stripe_event` (runs `apply`) and `send_trial_ending_email`.

pub mod apply;
pub mod catch_up;
pub mod envelope;
mod error;
pub mod inbox;
mod inbox_postgres;
pub mod intake;
pub mod invoice_lines;
pub mod invoices;
mod payments;
pub mod signature;
pub mod stripe_api;
pub mod workflows;

pub use envelope::Envelope;
pub use error::Error;
pub use inbox::{EventStatus, Received};
pub use intake::Intake;
pub use stripe_api::StripeApi;
