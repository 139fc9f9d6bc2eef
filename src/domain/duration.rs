//! A duration as an operator writes it in a setting: a whole number and a unit, `45s`, `15m`,
//! `12h` or `30d`.

use std::time::Duration;

/// Parses `30d`, `12h`, `15m` or `10s` (at least one second, at most ten years).
pub fn parse_duration(input: &str) -> Result<Duration, String> {
    let text = input.trim();
    let hint = || format!("“{text}” is not a duration: write a number and a unit, such as 30d, 12h, 15m or 45s");
    let split = text.len().checked_sub(1).filter(|&i| text.is_char_boundary(i)).ok_or_else(hint)?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| hint())?;
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(hint()),
    };
    let seconds = number.checked_mul(seconds_per_unit).ok_or_else(hint)?;
    if !(1..=10 * 365 * 86_400).contains(&seconds) {
        return Err(format!("“{text}” is out of range: use at least one second and at most ten years"));
    }
    Ok(Duration::from_secs(seconds))
}

/// "7 days", "12 hours", "15 minutes", "45 seconds": the largest whole unit.
pub fn describe_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (n, unit) = match seconds {
        s if s >= 86_400 && s % 86_400 == 0 => (s / 86_400, "day"),
        s if s >= 3600 && s % 3600 == 0 => (s / 3600, "hour"),
        s if s >= 60 && s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_and_a_unit_make_a_duration() {
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(parse_duration(" 15m "), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
    }

    #[test]
    fn durations_read_in_their_largest_whole_unit() {
        assert_eq!(describe_duration(Duration::from_secs(7 * 86_400)), "7 days");
        assert_eq!(describe_duration(Duration::from_secs(36 * 3600)), "36 hours");
        assert_eq!(describe_duration(Duration::from_secs(60)), "1 minute");
        assert_eq!(describe_duration(Duration::from_secs(90)), "90 seconds");
    }

    #[test]
    fn anything_else_is_refused_with_a_hint() {
        for bad in ["", "d", "30", "30 days", "-1d", "1.5h", "0s", "99999999999999999999d", "3é", "40000d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
