//! What one workspace, or one API key, may ask of the shared system: `OFFSTAGE_INVITATIONS_PER_DAY`,
//! `OFFSTAGE_SCHEDULES_PER_WORKSPACE`, `OFFSTAGE_API_WAITS_PER_KEY` and `OFFSTAGE_API_RATE_LIMIT`.

use std::num::NonZeroU32;
use std::time::Duration;

use anyhow::Context;

use super::var;
use crate::domain::Rate;

/// What one workspace may ask of the shared system.
#[derive(Debug, Clone, Copy)]
pub struct TenantLimits {
    /// Invitations a workspace may send in 24 hours.
    pub invitations_per_day: u32,
    /// Schedules a workspace may have (built-in ones aside).
    pub schedules_per_workspace: u32,
    /// `"wait": true` requests one API key may have open at once (per web process).
    pub api_waits_per_key: u32,
    /// API requests one key may make (per web process); `None` is unlimited.
    pub api_rate_per_key: Option<Rate>,
}

impl Default for TenantLimits {
    fn default() -> TenantLimits {
        TenantLimits {
            invitations_per_day: 50,
            schedules_per_workspace: 20,
            api_waits_per_key: 10,
            // Stripe's own API allows 100 requests a second per account.
            api_rate_per_key: Some(Rate {
                requests: NonZeroU32::new(100).unwrap_or(NonZeroU32::MIN),
                per: Duration::from_secs(1),
                burst: NonZeroU32::new(200).unwrap_or(NonZeroU32::MIN),
            }),
        }
    }
}

impl TenantLimits {
    pub(super) fn from_env() -> anyhow::Result<TenantLimits> {
        let defaults = TenantLimits::default();
        let limit = |name: &str, default: u32| match var(name) {
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=100_000).contains(n))
                .with_context(|| format!("{name} must be a number from 1 to 100000, got “{text}”")),
            None => Ok(default),
        };
        Ok(TenantLimits {
            invitations_per_day: limit("OFFSTAGE_INVITATIONS_PER_DAY", defaults.invitations_per_day)?,
            schedules_per_workspace: limit("OFFSTAGE_SCHEDULES_PER_WORKSPACE", defaults.schedules_per_workspace)?,
            api_waits_per_key: limit("OFFSTAGE_API_WAITS_PER_KEY", defaults.api_waits_per_key)?,
            api_rate_per_key: match var("OFFSTAGE_API_RATE_LIMIT") {
                Some(text) => parse_api_rate(&text)?,
                None => defaults.api_rate_per_key,
            },
        })
    }
}

/// `OFFSTAGE_API_RATE_LIMIT`: a `Rate`, or `off`.
fn parse_api_rate(text: &str) -> anyhow::Result<Option<Rate>> {
    match text.trim() {
        "off" => Ok(None),
        rate => rate.parse::<Rate>().map(Some).map_err(|msg| anyhow::anyhow!("OFFSTAGE_API_RATE_LIMIT: {msg}, or off")),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_api_rate;

    #[test]
    fn the_api_rate_limit_is_a_rate_or_off() {
        let rate = parse_api_rate("20/s burst 100").unwrap().unwrap();
        assert_eq!((rate.requests.get(), rate.burst.get()), (20, 100));
        assert_eq!(parse_api_rate(" off ").unwrap(), None);
        let err = parse_api_rate("fast").unwrap_err().to_string();
        assert!(err.starts_with("OFFSTAGE_API_RATE_LIMIT: “fast” is not a rate"), "{err}");
        assert!(err.ends_with(", or off"), "{err}");
    }
}
