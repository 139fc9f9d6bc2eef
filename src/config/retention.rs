//! How long Offstage keeps what only tells the past: `OFFSTAGE_RETENTION_RUNS`,
//! `OFFSTAGE_RETENTION_EVENTS`, `OFFSTAGE_RETENTION_EMAIL_BODIES`,
//! `OFFSTAGE_RETENTION_SIGN_INS` and `OFFSTAGE_RETENTION_HEALTH_SCORES`, durations such as
//! `30d`, `12h` or `10s`. Invoices and revenue are never pruned.

use std::time::Duration;

use super::duration_in;

const DAY: u64 = 86_400;

/// The ages after which the daily prune removes things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Finished runs (succeeded, skipped, cancelled): their facts, job rows and timelines.
    pub runs: Duration,
    /// The raw payloads of processed Stripe events (the event's row stays, so a redelivery is
    /// still recognised).
    pub event_payloads: Duration,
    /// The bodies of sent emails (the row stays: its dedupe key keeps it from being sent twice).
    pub email_bodies: Duration,
    /// Sign-in attempts and the request counts of the other throttles; never less than a day,
    /// the longest window a throttle reads.
    pub sign_ins: Duration,
    /// Health-score history; each workspace's latest score always stays.
    pub health_scores: Duration,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            runs: Duration::from_secs(30 * DAY),
            event_payloads: Duration::from_secs(90 * DAY),
            email_bodies: Duration::from_secs(90 * DAY),
            sign_ins: Duration::from_secs(30 * DAY),
            health_scores: Duration::from_secs(365 * DAY),
        }
    }
}

impl Retention {
    pub(super) fn from_env() -> anyhow::Result<Retention> {
        let defaults = Retention::default();
        Ok(Retention {
            runs: duration_in("OFFSTAGE_RETENTION_RUNS", defaults.runs)?,
            event_payloads: duration_in("OFFSTAGE_RETENTION_EVENTS", defaults.event_payloads)?,
            email_bodies: duration_in("OFFSTAGE_RETENTION_EMAIL_BODIES", defaults.email_bodies)?,
            sign_ins: duration_in("OFFSTAGE_RETENTION_SIGN_INS", defaults.sign_ins)?.max(Duration::from_secs(DAY)),
            health_scores: duration_in("OFFSTAGE_RETENTION_HEALTH_SCORES", defaults.health_scores)?,
        })
    }
}
