//! Billing's workflows: applying a recorded Stripe event, and the trial-ending reminder.

pub mod process_stripe_event;
pub mod send_trial_ending_email;
