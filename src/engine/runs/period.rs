//! How far back a run list reaches ("last 24 hours"), by when the runs were created.

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    LastHour,
    LastDay,
    LastWeek,
}

impl Period {
    pub const ALL: [Period; 3] = [Period::LastHour, Period::LastDay, Period::LastWeek];

    /// The word in a URL (`?within=24h`).
    pub fn as_str(self) -> &'static str {
        match self {
            Period::LastHour => "1h",
            Period::LastDay => "24h",
            Period::LastWeek => "7d",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Period::LastHour => "Last hour",
            Period::LastDay => "Last 24 hours",
            Period::LastWeek => "Last 7 days",
        }
    }

    pub fn parse(input: &str) -> Result<Period, String> {
        Period::ALL
            .into_iter()
            .find(|p| p.as_str() == input)
            .ok_or_else(|| format!("“{input}” is not a period; use one of 1h, 24h, 7d"))
    }

    /// The oldest creation time inside the period ending `now`.
    pub fn since(self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - match self {
            Period::LastHour => Duration::hours(1),
            Period::LastDay => Duration::days(1),
            Period::LastWeek => Duration::days(7),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Period;

    #[test]
    fn every_period_parses_from_its_own_word_and_nothing_else_does() {
        for period in Period::ALL {
            assert_eq!(Period::parse(period.as_str()), Ok(period));
        }
        assert!(Period::parse("2h").unwrap_err().contains("1h, 24h, 7d"));
    }
}
