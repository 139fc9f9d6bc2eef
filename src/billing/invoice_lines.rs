//! What a paid invoice's lines say for revenue: the charge that paid it, and the monthly
//! recurring revenue (MRR) of its subscription lines — each line's amount after discounts,
//! normalised to a month by its price's interval (yearly ÷ 12, weekly × 52 ÷ 12, daily × 365
//! ÷ 12, divided by the interval count). Prorations are one-off and don't count.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::envelope::{id_of, timestamp};

/// Days in an average month (365.25 ÷ 12), for lines whose price is not in the payload.
const DAYS_PER_MONTH: f64 = 30.4375;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceLines {
    pub charge_id: Option<String>,
    /// In the invoice currency's smallest unit; None when no line is a subscription's.
    pub mrr: Option<i64>,
    /// From the earliest start to the latest end of the subscription lines MRR counts: the
    /// period the invoice pays the subscription for (its prorations and one-off lines, often
    /// listed first, may cover another).
    pub recurring_period: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// Reads the invoice object of an `invoice.paid` event.
pub fn read(invoice: &Value) -> InvoiceLines {
    let charge_id = id_of(&invoice["charge"]).or_else(|| id_of(&invoice["payments"]["data"][0]["payment"]["charge"]));
    let lines = invoice["lines"]["data"].as_array().map(Vec::as_slice).unwrap_or_default();
    let recurring: Vec<(&Value, f64)> =
        lines.iter().filter_map(|line| monthly_amount(line).map(|amount| (line, amount))).collect();
    let mrr = (!recurring.is_empty()).then(|| recurring.iter().map(|(_, amount)| amount).sum::<f64>().round() as i64);
    let start = recurring.iter().filter_map(|(line, _)| line["period"]["start"].as_i64()).min().and_then(timestamp);
    let end = recurring.iter().filter_map(|(line, _)| line["period"]["end"].as_i64()).max().and_then(timestamp);
    InvoiceLines { charge_id, mrr, recurring_period: start.zip(end) }
}

/// A subscription line's amount per month, or None for one-off lines and prorations.
fn monthly_amount(line: &Value) -> Option<f64> {
    let proration = line["proration"].as_bool() == Some(true)
        || line["parent"]["subscription_item_details"]["proration"].as_bool() == Some(true);
    if proration {
        return None;
    }
    let discounts: i64 = line["discount_amounts"]
        .as_array()
        .map(|discounts| discounts.iter().filter_map(|d| d["amount"].as_i64()).sum())
        .unwrap_or(0);
    let amount = (line["amount"].as_i64()? - discounts) as f64;
    let recurring = if line["price"]["recurring"].is_object() { &line["price"]["recurring"] } else { &line["plan"] };
    if let Some(interval) = recurring["interval"].as_str() {
        let count = recurring["interval_count"].as_f64().filter(|count| *count >= 1.0).unwrap_or(1.0);
        let per_interval = match interval {
            "day" => 365.0 / 12.0,
            "week" => 52.0 / 12.0,
            "month" => 1.0,
            "year" => 1.0 / 12.0,
            _ => return None,
        };
        return Some(amount * per_interval / count);
    }
    // Newer API versions name the price without its interval: a subscription's line is then
    // normalised by the length of the period it pays for, in whole months when a month or more.
    let is_subscription =
        line["type"].as_str() == Some("subscription") || line["parent"]["subscription_item_details"].is_object();
    if !is_subscription {
        return None;
    }
    let days = (line["period"]["end"].as_i64()? - line["period"]["start"].as_i64()?) as f64 / 86_400.0;
    if days <= 0.0 {
        return None;
    }
    let months = days / DAYS_PER_MONTH;
    let months = if months >= 0.9 { months.round() } else { months };
    Some(amount / months)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::read;

    fn line(amount: i64, interval: &str, count: u32) -> serde_json::Value {
        json!({ "amount": amount, "proration": false, "type": "subscription",
                "price": { "recurring": { "interval": interval, "interval_count": count } } })
    }

    #[test]
    fn yearly_weekly_and_quarterly_prices_are_normalised_to_a_month() {
        let mrr = |line| read(&json!({ "lines": { "data": [line] } })).mrr;
        assert_eq!(mrr(line(12_000, "year", 1)), Some(1_000));
        assert_eq!(mrr(line(1_200, "week", 1)), Some(5_200));
        assert_eq!(mrr(line(3_000, "month", 3)), Some(1_000));
        assert_eq!(mrr(line(100, "day", 1)), Some(3_042));
    }

    #[test]
    fn discounts_count_and_prorations_and_one_off_lines_do_not() {
        let mut discounted = line(2_000, "month", 1);
        discounted["discount_amounts"] = json!([{ "amount": 500 }]);
        let mut proration = line(700, "month", 1);
        proration["proration"] = json!(true);
        let one_off = json!({ "amount": 999, "type": "invoiceitem", "price": { "recurring": null } });
        proration["period"] = json!({ "start": 100, "end": 200 });
        discounted["period"] = json!({ "start": 200, "end": 300 });
        let invoice = json!({ "charge": "ch_1", "lines": { "data": [proration, one_off, discounted] } });
        let read = read(&invoice);
        assert_eq!(read.mrr, Some(1_500));
        let period = read.recurring_period.map(|(start, end)| (start.timestamp(), end.timestamp()));
        assert_eq!(period, Some((200, 300)), "the subscription line's period, not the proration listed first");
        assert_eq!(read.charge_id.as_deref(), Some("ch_1"));
        assert_eq!(super::read(&json!({ "lines": { "data": [one_off_only()] } })).mrr, None);
    }

    fn one_off_only() -> serde_json::Value {
        json!({ "amount": 999, "type": "invoiceitem" })
    }

    #[test]
    fn a_line_without_its_price_is_normalised_by_the_period_it_pays_for() {
        let year = json!({ "amount": 24_000, "parent": { "subscription_item_details": { "proration": false } },
                           "period": { "start": 1_700_000_000, "end": 1_700_000_000 + 365 * 86_400 } });
        let february = json!({ "amount": 2_000, "type": "subscription",
                               "period": { "start": 1_706_745_600, "end": 1_706_745_600 + 29 * 86_400 } });
        assert_eq!(read(&json!({ "lines": { "data": [year] } })).mrr, Some(2_000));
        assert_eq!(read(&json!({ "lines": { "data": [february] } })).mrr, Some(2_000));
    }
}
