//! An IANA timezone name such as `Europe/Berlin`, used to show times and run local schedules.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timezone(Tz);

impl Timezone {
    pub fn parse(input: &str) -> Result<Timezone, String> {
        let value = input.trim();
        if value.is_empty() {
            return Ok(Timezone(Tz::UTC));
        }
        value
            .parse::<Tz>()
            .map(Timezone)
            .map_err(|_| format!("“{value}” is not a known timezone; use an IANA name such as Europe/Berlin"))
    }

    /// Falls back to UTC for a stored value that no longer parses (a renamed zone).
    pub fn from_stored(value: &str) -> Timezone {
        Timezone::parse(value).unwrap_or(Timezone(Tz::UTC))
    }

    pub fn tz(&self) -> Tz {
        self.0
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// `2026-11-27 09:30 CET`: how every time is shown in the admin UI.
    pub fn format(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.0).format("%Y-%m-%d %H:%M %Z").to_string()
    }

    /// `2026-11-27 09:30:05 CET`: to the second, for run timelines.
    pub fn format_seconds(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.0).format("%Y-%m-%d %H:%M:%S %Z").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::Timezone;
    use chrono::TimeZone;

    #[test]
    fn times_are_shown_in_the_zone_with_its_abbreviation() {
        let berlin = Timezone::parse("Europe/Berlin").unwrap();
        let at = chrono::Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
        assert_eq!(berlin.format(at), "2026-07-01 14:00 CEST");
    }

    #[test]
    fn unknown_zones_are_rejected_and_blank_means_utc() {
        assert!(Timezone::parse("Mars/Olympus").is_err());
        assert_eq!(Timezone::parse("").unwrap().name(), "UTC");
    }
}
