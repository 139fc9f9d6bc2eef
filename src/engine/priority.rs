//! Which runs the workers take first when more are due than they can start: every workflow
//! declares a class, and a class is served only while no run of a higher one is due. Processing
//! Stripe events and sending email are `Urgent`; fan-outs over every workspace are `Bulk`.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Work nobody waits for: health scores of every workspace, digests, imports, and the
    /// emails digests and imports send.
    Bulk,
    Normal,
    /// Work someone is waiting for right now: a Stripe event, an email.
    Urgent,
}

impl Priority {
    /// The value of the job row's `priority` column (the workers fetch the highest first; apalis
    /// reads it as unsigned, and its own jobs have 0).
    pub fn queue_value(self) -> i32 {
        match self {
            Priority::Bulk => 0,
            Priority::Normal => 10,
            Priority::Urgent => 20,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Bulk => "bulk",
            Priority::Normal => "normal",
            Priority::Urgent => "urgent",
        }
    }
}
