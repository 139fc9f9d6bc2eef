//! A cron expression: the usual five fields (`minute hour day-of-month month day-of-week`) or six
//! with seconds first. Day names (`Sun`, `Mon-Fri`) are clearer than numbers; in numbers, 1 is
//! Sunday. Next times are computed in a timezone, so "09:00 every Sunday" follows DST.

use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::Timezone;

#[derive(Debug, Clone)]
pub struct CronExpr {
    text: String,
    schedule: cron::Schedule,
}

impl CronExpr {
    pub fn parse(input: &str) -> Result<CronExpr, String> {
        let text = input.split_whitespace().collect::<Vec<_>>().join(" ");
        let full = match text.split(' ').count() {
            5 => format!("0 {text}"),
            6 | 7 => text.clone(),
            _ => {
                return Err(format!(
                    "“{text}” is not a cron expression: use five fields, minute hour day month weekday, such as 0 9 * * Sun"
                ));
            }
        };
        let schedule =
            cron::Schedule::from_str(&full).map_err(|err| format!("“{text}” is not a valid cron expression: {err}"))?;
        if schedule.upcoming(Utc).next().is_none() {
            return Err(format!("“{text}” never fires"));
        }
        Ok(CronExpr { text, schedule })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True for five fields, or six or seven whose seconds field is one number: such an
    /// expression fires at most once a minute.
    pub fn at_most_once_a_minute(&self) -> bool {
        let fields: Vec<&str> = self.text.split(' ').collect();
        fields.len() == 5 || fields[0].parse::<u8>().is_ok_and(|second| second < 60)
    }

    /// The first time strictly after `after`, as wall-clock times in `tz` say.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Timezone) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&tz.tz());
        self.schedule.after(&local).next().map(|at| at.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn five_fields_mean_minute_hour_day_month_weekday() {
        let cron = CronExpr::parse("30 9 * * Sun").unwrap();
        let after = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
        let next = cron.next_after(after, Timezone::parse("UTC").unwrap()).unwrap();
        assert_eq!(next, Utc.with_ymd_and_hms(2026, 11, 29, 9, 30, 0).unwrap());
    }

    #[test]
    fn local_times_follow_daylight_saving() {
        let cron = CronExpr::parse("0 9 * * *").unwrap();
        let berlin = Timezone::parse("Europe/Berlin").unwrap();
        let winter = cron.next_after(Utc.with_ymd_and_hms(2026, 3, 28, 12, 0, 0).unwrap(), berlin).unwrap();
        let summer = cron.next_after(winter, berlin).unwrap();
        assert_eq!(winter, Utc.with_ymd_and_hms(2026, 3, 29, 7, 0, 0).unwrap(), "09:00 CEST after the switch");
        assert_eq!(summer, Utc.with_ymd_and_hms(2026, 3, 30, 7, 0, 0).unwrap());
        let before = cron.next_after(Utc.with_ymd_and_hms(2026, 3, 27, 12, 0, 0).unwrap(), berlin).unwrap();
        assert_eq!(before, Utc.with_ymd_and_hms(2026, 3, 28, 8, 0, 0).unwrap(), "09:00 CET before it");
    }

    #[test]
    fn only_a_single_second_keeps_an_expression_to_once_a_minute() {
        for ok in ["* * * * *", "*/5 * * * *", "0 * * * * *", "30 0 9 * * Mon", "15 * * * * * 2027"] {
            assert!(CronExpr::parse(ok).unwrap().at_most_once_a_minute(), "{ok}");
        }
        for busy in ["* * * * * *", "*/1 * * * * *", "0,30 * * * * *", "0-10 * * * * *", "*/30 * * * * *"] {
            assert!(!CronExpr::parse(busy).unwrap().at_most_once_a_minute(), "{busy}");
        }
    }

    #[test]
    fn malformed_expressions_are_refused_with_a_hint() {
        for bad in ["", "every day", "61 * * * *", "* * *"] {
            let err = CronExpr::parse(bad).unwrap_err();
            assert!(err.contains("cron expression"), "{bad}: {err}");
        }
    }
}
