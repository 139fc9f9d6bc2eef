//! Mail's workflows: delivering one outbox email, and one step of a sequence.

pub mod send_email;
pub mod send_sequence_step;
