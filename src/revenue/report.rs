//! Reading computed revenue: a month's rows with their workspaces (ranked by net revenue within
//! each currency), totals per currency, the last months as a series, and the rows as CSV or
//! JSON. Platform-wide reads take the `Platform` capability; a workspace reads only its own.

use std::collections::BTreeMap;

use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder};
use serde::Serialize;

use crate::db::entities::{monthly_revenue, revenue_month};
use crate::domain::{Money, Month};
use crate::tenancy::{Platform, Scope};

/// One workspace's revenue in one month and currency (amounts in the smallest unit).
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct Row {
    pub workspace_id: String,
    pub workspace_slug: String,
    pub workspace_name: String,
    pub currency: String,
    pub gross: i64,
    pub refunded: i64,
    pub net: i64,
    pub invoices: i64,
    pub mrr: i64,
}

impl Row {
    /// An amount of the row in its currency (askama hands fields over by reference).
    pub fn money(&self, minor: &i64) -> Money {
        Money::new(*minor, &self.currency)
    }
}

/// A month's rows: by currency, then by net revenue, largest first.
pub async fn month_rows(db: &DatabaseConnection, _platform: &Platform, month: Month) -> Result<Vec<Row>, DbErr> {
    Row::find_by_statement(sea_orm::Statement::from_sql_and_values(
        db.get_database_backend(),
        "SELECT r.workspace_id, w.slug AS workspace_slug, w.name AS workspace_name, r.currency, r.gross, r.refunded, \
         r.net, r.invoices, r.mrr FROM monthly_revenue r JOIN workspaces w ON w.id = r.workspace_id \
         WHERE r.month = $1 ORDER BY r.currency, r.net DESC, w.slug",
        [month.to_string().into()],
    ))
    .all(db)
    .await
}

/// When `month` was computed, or None if it never was.
pub async fn computed(db: &DatabaseConnection, month: Month) -> Result<Option<revenue_month::Model>, DbErr> {
    revenue_month::Entity::find_by_id(month.to_string()).one(db).await
}

/// One currency's figures summed over workspaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Total {
    pub currency: String,
    pub gross: Money,
    pub refunded: Money,
    pub net: Money,
    pub invoices: i64,
    pub mrr: Money,
    pub workspaces: usize,
}

/// Totals per currency, in currency order.
pub fn totals(rows: &[Row]) -> Vec<Total> {
    let mut sums: BTreeMap<&str, [i64; 6]> = BTreeMap::new();
    for row in rows {
        let sum = sums.entry(&row.currency).or_default();
        for (into, add) in sum.iter_mut().zip([row.gross, row.refunded, row.net, row.invoices, row.mrr, 1]) {
            *into += add;
        }
    }
    sums.into_iter()
        .map(|(currency, [gross, refunded, net, invoices, mrr, workspaces])| Total {
            currency: currency.to_owned(),
            gross: Money::new(gross, currency),
            refunded: Money::new(refunded, currency),
            net: Money::new(net, currency),
            invoices,
            mrr: Money::new(mrr, currency),
            workspaces: workspaces as usize,
        })
        .collect()
}

/// Net revenue per month for one currency, oldest month first (0 where nothing was computed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub currency: String,
    pub points: Vec<(Month, i64)>,
}

/// Every workspace's net revenue summed, per currency, over `months`.
pub async fn platform_series(
    db: &DatabaseConnection,
    _platform: &Platform,
    months: &[Month],
) -> Result<Vec<Series>, DbErr> {
    // Summed in the database: a year of 10,000 workspaces is 120,000 rows, the chart needs 12
    // per currency.
    let names: Vec<String> = months.iter().map(Month::to_string).collect();
    let marks: Vec<String> = crate::db::placeholders(db.get_database_backend(), 1, names.len()).collect();
    let sums = MonthNet::find_by_statement(sea_orm::Statement::from_sql_and_values(
        db.get_database_backend(),
        format!(
            "SELECT month, currency, CAST(SUM(net) AS BIGINT) AS net FROM monthly_revenue \
             WHERE month IN ({}) GROUP BY month, currency",
            marks.join(", ")
        ),
        names.into_iter().map(sea_orm::Value::from),
    ))
    .all(db)
    .await?;
    let rows: Vec<monthly_revenue::Model> = sums
        .into_iter()
        .map(|sum| monthly_revenue::Model {
            workspace_id: String::new(),
            month: sum.month,
            currency: sum.currency,
            gross: 0,
            refunded: 0,
            net: sum.net,
            invoices: 0,
            mrr: 0,
        })
        .collect();
    Ok(series(&rows, months))
}

#[derive(FromQueryResult)]
struct MonthNet {
    month: String,
    currency: String,
    net: i64,
}

/// The workspace's own revenue rows over `months`, oldest first, and its net per currency.
pub async fn workspace_months(
    db: &DatabaseConnection,
    scope: &Scope,
    months: &[Month],
) -> Result<(Vec<monthly_revenue::Model>, Vec<Series>), DbErr> {
    let rows = monthly_revenue::Entity::find()
        .filter(monthly_revenue::Column::WorkspaceId.eq(scope.workspace_id()))
        .filter(monthly_revenue::Column::Month.is_in(months.iter().map(Month::to_string)))
        .order_by_asc(monthly_revenue::Column::Month)
        .order_by_asc(monthly_revenue::Column::Currency)
        .all(db)
        .await?;
    let series = series(&rows, months);
    Ok((rows, series))
}

fn series(rows: &[monthly_revenue::Model], months: &[Month]) -> Vec<Series> {
    let mut by_currency: BTreeMap<&str, BTreeMap<String, i64>> = BTreeMap::new();
    for row in rows {
        *by_currency.entry(&row.currency).or_default().entry(row.month.clone()).or_default() += row.net;
    }
    by_currency
        .into_iter()
        .map(|(currency, nets)| Series {
            currency: currency.to_owned(),
            points: months.iter().map(|m| (*m, nets.get(&m.to_string()).copied().unwrap_or(0))).collect(),
        })
        .collect()
}

pub const CSV_HEADER: [&str; 9] =
    ["workspace_id", "workspace_slug", "workspace_name", "currency", "gross", "refunded", "net", "invoices", "mrr"];

/// A row as CSV or JSON write it: amounts with the currency's decimals ("20.00", JPY "500").
#[derive(Debug, Serialize)]
pub struct Written<'a> {
    workspace_id: &'a str,
    workspace_slug: &'a str,
    workspace_name: String,
    currency: &'a str,
    gross: String,
    refunded: String,
    net: String,
    invoices: i64,
    mrr: String,
}

impl Row {
    /// `spreadsheet_safe`: a name a spreadsheet would run as a formula (`=`, `+`, `-`, `@`) is
    /// written with a leading `'`, as OWASP advises for CSV a person opens.
    pub fn written(&self, spreadsheet_safe: bool) -> Written<'_> {
        let formula = self.workspace_name.starts_with(['=', '+', '-', '@', '\t', '\r']);
        Written {
            workspace_id: &self.workspace_id,
            workspace_slug: &self.workspace_slug,
            workspace_name: if spreadsheet_safe && formula {
                format!("'{}", self.workspace_name)
            } else {
                self.workspace_name.clone()
            },
            currency: &self.currency,
            gross: self.money(&self.gross).decimal(),
            refunded: self.money(&self.refunded).decimal(),
            net: self.money(&self.net).decimal(),
            invoices: self.invoices,
            mrr: self.money(&self.mrr).decimal(),
        }
    }
}

/// The rows as CSV, with a header line.
pub fn csv(rows: &[Row]) -> Result<String, csv::Error> {
    // The header is written even for no rows, so serialising must not write its own.
    let mut out = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    out.write_record(CSV_HEADER)?;
    for row in rows {
        out.serialize(row.written(true))?;
    }
    let bytes = out.into_inner().map_err(|err| csv::Error::from(err.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::{Row, csv};

    fn row(name: &str, currency: &str, gross: i64, refunded: i64) -> Row {
        Row {
            workspace_id: "ws_1".into(),
            workspace_slug: "acme".into(),
            workspace_name: name.into(),
            currency: currency.into(),
            gross,
            refunded,
            net: gross - refunded,
            invoices: 2,
            mrr: 1_000,
        }
    }

    #[test]
    fn csv_keeps_each_currencys_decimals_and_quotes_what_needs_it() {
        let text = csv(&[row("Acme, Inc.", "usd", 4_000, 500), row("Kaisha", "jpy", 12_000, 0)]).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "workspace_id,workspace_slug,workspace_name,currency,gross,refunded,net,invoices,mrr");
        assert_eq!(lines[1], "ws_1,acme,\"Acme, Inc.\",usd,40.00,5.00,35.00,2,10.00");
        assert_eq!(lines[2], "ws_1,acme,Kaisha,jpy,12000,0,12000,2,1000");
    }

    #[test]
    fn csv_defuses_a_workspace_name_a_spreadsheet_would_run_as_a_formula() {
        let text = csv(&[row("=HYPERLINK(\"http://evil\")", "usd", 100, 0)]).unwrap();
        assert!(text.lines().nth(1).unwrap().contains("\"'=HYPERLINK(\"\"http://evil\"\")\""), "{text}");
    }
}
