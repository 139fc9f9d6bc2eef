//! An amount in a currency's smallest unit, as Stripe sends it (2000 and "usd"), shown as people
//! read it: "20.00 USD", "500 JPY" (zero-decimal currencies), "1.500 KWD" (three-decimal ones),
//! "-0.50 USD".

use std::fmt;

/// Stripe's zero-decimal currencies: the amount is already in whole units.
const ZERO_DECIMAL: &[&str] =
    &["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"];
/// Stripe's three-decimal currencies.
const THREE_DECIMAL: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    minor: i64,
    currency: String,
}

impl Money {
    /// `minor`: in the currency's smallest unit (cents for USD, yen for JPY, fils for KWD).
    pub fn new(minor: i64, currency: &str) -> Money {
        Money { minor, currency: currency.trim().to_ascii_lowercase() }
    }

    pub fn minor(&self) -> i64 {
        self.minor
    }

    /// Lowercase, as Stripe writes it.
    pub fn currency(&self) -> &str {
        &self.currency
    }

    fn decimals(&self) -> u32 {
        if ZERO_DECIMAL.contains(&self.currency.as_str()) {
            0
        } else if THREE_DECIMAL.contains(&self.currency.as_str()) {
            3
        } else {
            2
        }
    }
}

impl Money {
    /// The amount in whole units with the currency's decimals and no code: "20.00", "500",
    /// "-1.500" (what CSV exports write beside a currency column).
    pub fn decimal(&self) -> String {
        let sign = if self.minor < 0 { "-" } else { "" };
        let amount = self.minor.unsigned_abs();
        match self.decimals() {
            0 => format!("{sign}{amount}"),
            decimals => {
                let unit = 10u64.pow(decimals);
                let width = decimals as usize;
                format!("{sign}{}.{:0width$}", amount / unit, amount % unit)
            }
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.decimal(), self.currency.to_ascii_uppercase())
    }
}

#[cfg(test)]
mod tests {
    use super::Money;

    fn shown(minor: i64, currency: &str) -> String {
        Money::new(minor, currency).to_string()
    }

    #[test]
    fn two_decimal_currencies_show_cents() {
        assert_eq!(shown(2000, "usd"), "20.00 USD");
        assert_eq!(shown(4905, "eur"), "49.05 EUR");
        assert_eq!(shown(0, "usd"), "0.00 USD");
    }

    #[test]
    fn negative_amounts_keep_their_sign_even_under_one_unit() {
        assert_eq!(shown(-50, "usd"), "-0.50 USD");
        assert_eq!(shown(-1, "usd"), "-0.01 USD");
        assert_eq!(shown(-99, "usd"), "-0.99 USD");
        assert_eq!(shown(-2050, "usd"), "-20.50 USD");
        assert_eq!(shown(-500, "jpy"), "-500 JPY");
        assert_eq!(shown(i64::MIN, "usd"), "-92233720368547758.08 USD");
    }

    #[test]
    fn zero_decimal_currencies_are_whole_units() {
        assert_eq!(shown(500, "jpy"), "500 JPY");
        assert_eq!(shown(12000, "KRW"), "12000 KRW");
    }

    #[test]
    fn a_decimal_keeps_the_currencys_places_without_its_code() {
        assert_eq!(Money::new(2000, "usd").decimal(), "20.00");
        assert_eq!(Money::new(500, "jpy").decimal(), "500");
        assert_eq!(Money::new(-1500, "kwd").decimal(), "-1.500");
    }

    #[test]
    fn three_decimal_currencies_show_three_places() {
        assert_eq!(shown(1500, "kwd"), "1.500 KWD");
        assert_eq!(shown(5, "bhd"), "0.005 BHD");
        assert_eq!(shown(-1, "jod"), "-0.001 JOD");
    }
}
