//! A request rate as an operator writes it in a setting: `20/s burst 100`, `600/m`, `5000/h`.
//! Without `burst`, a client may send one interval's worth at once.

use std::num::NonZeroU32;
use std::time::Duration;

/// So many requests per interval, with bursts of up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub requests: NonZeroU32,
    pub per: Duration,
    pub burst: NonZeroU32,
}

impl Rate {
    /// The time one request's share of the limit takes to come back.
    pub fn replenish_every(&self) -> Duration {
        self.per / self.requests.get()
    }
}

impl std::str::FromStr for Rate {
    type Err = String;

    fn from_str(input: &str) -> Result<Rate, String> {
        let text = input.trim();
        let hint =
            || format!("“{text}” is not a rate: write requests per second, minute or hour, such as 20/s burst 100");
        let mut words = text.split_whitespace();
        let (count, unit) = words.next().and_then(|first| first.split_once('/')).ok_or_else(hint)?;
        let requests = count.parse::<NonZeroU32>().map_err(|_| hint())?;
        let per = match unit {
            "s" => Duration::from_secs(1),
            "m" | "min" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(hint()),
        };
        let burst = match (words.next(), words.next(), words.next()) {
            (None, _, _) => requests,
            (Some("burst"), Some(burst), None) => burst.parse::<NonZeroU32>().map_err(|_| hint())?,
            _ => return Err(hint()),
        };
        if requests.get() > 1_000_000 || burst.get() > 1_000_000 {
            return Err(format!(
                "“{text}” is out of range: use at most 1000000 requests and a burst of at most 1000000"
            ));
        }
        Ok(Rate { requests, per, burst })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(text: &str) -> Result<Rate, String> {
        text.parse()
    }

    #[test]
    fn a_rate_is_requests_per_unit_with_an_optional_burst() {
        let twenty = rate("20/s burst 100").unwrap();
        assert_eq!((twenty.requests.get(), twenty.per, twenty.burst.get()), (20, Duration::from_secs(1), 100));
        assert_eq!(twenty.replenish_every(), Duration::from_millis(50));
        let hourly = rate(" 5000/h ").unwrap();
        assert_eq!((hourly.requests.get(), hourly.per, hourly.burst.get()), (5000, Duration::from_secs(3600), 5000));
        assert_eq!(rate("600/min").unwrap().per, Duration::from_secs(60));
    }

    #[test]
    fn anything_else_is_refused_with_an_example() {
        for bad in ["", "20", "0/s", "20/d", "20/s burst", "20/s burst 0", "20/s burst 5 more", "-1/s", "2000000/s"] {
            let err = rate(bad).unwrap_err();
            assert!(err.contains(bad.trim()), "{bad}: {err}");
        }
        assert!(rate("20/x").unwrap_err().contains("such as 20/s burst 100"));
    }
}
