//! A UTC calendar month, written `YYYY-MM`: the unit revenue is reported in.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    /// 1 to 12.
    month: u32,
}

impl Month {
    pub fn parse(input: &str) -> Result<Month, String> {
        let problem = || format!("“{input}” is not a month: write it as YYYY-MM, such as 2026-11");
        let (year, month) = input.trim().split_once('-').ok_or_else(problem)?;
        let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if year.len() != 4 || month.len() != 2 || !digits(year) || !digits(month) {
            return Err(problem());
        }
        let year: i32 = year.parse().map_err(|_| problem())?;
        let month: u32 = month.parse().map_err(|_| problem())?;
        if !(1..=12).contains(&month) || year < 1970 {
            return Err(problem());
        }
        Ok(Month { year, month })
    }

    /// The month `at` falls in.
    pub fn of(at: DateTime<Utc>) -> Month {
        Month { year: at.year(), month: at.month() }
    }

    /// The month before the one `now` falls in: what "last month" means.
    pub fn last(now: DateTime<Utc>) -> Month {
        Month::of(now).previous()
    }

    pub fn previous(self) -> Month {
        match self.month {
            1 => Month { year: self.year - 1, month: 12 },
            month => Month { year: self.year, month: month - 1 },
        }
    }

    pub fn next(self) -> Month {
        match self.month {
            12 => Month { year: self.year + 1, month: 1 },
            month => Month { year: self.year, month: month + 1 },
        }
    }

    /// The month's first instant.
    pub fn start(self) -> DateTime<Utc> {
        let day = NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or_default();
        Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
    }

    /// The next month's first instant (the month is `start()..end()`).
    pub fn end(self) -> DateTime<Utc> {
        self.next().start()
    }

    /// These `n` months, oldest first, ending with this one.
    pub fn last_n(self, n: usize) -> Vec<Month> {
        let mut months: Vec<Month> = std::iter::successors(Some(self), |m| Some(m.previous())).take(n).collect();
        months.reverse();
        months
    }

    /// "Nov 2026".
    pub fn label(self) -> String {
        self.start().format("%b %Y").to_string()
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::Month;

    #[test]
    fn a_month_parses_from_yyyy_mm_and_nothing_else() {
        assert_eq!(Month::parse("2026-02").map(|m| m.to_string()), Ok("2026-02".into()));
        for bad in
            ["2026-13", "2026-00", "2026-2", "26-02", "2026/02", "", "2026-02-01", "abcd-ef", "2026-+1", "+026-01"]
        {
            assert!(Month::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_month_runs_from_its_first_instant_to_the_next_months() {
        let december = Month::parse("2026-12").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(december.start(), Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap());
        assert_eq!(december.end(), Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap());
        assert_eq!(Month::last(Utc.with_ymd_and_hms(2027, 1, 1, 2, 0, 0).unwrap()), december);
        let names: Vec<String> = december.last_n(3).iter().map(|m| m.to_string()).collect();
        assert_eq!(names, ["2026-10", "2026-11", "2026-12"]);
        assert_eq!(december.label(), "Dec 2026");
    }
}
