//! Reading a workspaces CSV (customers moved from another system):
//! `name,slug,owner_email,timezone,plan,stripe_customer_id`, name and owner_email required. A
//! slug left empty is derived from the name; the timezone defaults to UTC and the plan to
//! `free`. A slug or Stripe customer seen on an earlier line fails naming that line.

use serde_json::json;

use super::csv_file::{FirstSeen, Line, read_rows};
use crate::domain::{Email, Slug, Timezone, WorkspaceName};

pub const COLUMNS: [&str; 6] = ["name", "slug", "owner_email", "timezone", "plan", "stripe_customer_id"];

/// Reads `bytes` as a workspaces CSV. Err: why the whole file is refused.
pub fn parse_workspaces(bytes: &[u8]) -> Result<Vec<Line>, String> {
    let rows = read_rows(bytes, &COLUMNS, &["name", "owner_email"])?;
    let (mut slugs, mut customers) = (FirstSeen::default(), FirstSeen::default());
    Ok(rows
        .into_iter()
        .map(|(number, cells)| {
            let [name, slug, owner_email, timezone, plan, customer] =
                <[String; 6]>::try_from(cells).unwrap_or_default();
            let slug = match slug.is_empty() {
                true => Ok(Slug::from_name(&name)),
                false => Slug::parse(&slug),
            };
            let value = slug.as_ref().map(|s| s.to_string()).unwrap_or_else(|_| name.clone());
            let fields = (|| {
                let name = WorkspaceName::parse(&name)?;
                let slug = slug?;
                let owner = Email::parse(&owner_email)?;
                let timezone = Timezone::parse(&timezone)?;
                let plan = plan_of(&plan)?;
                let customer = customer_of(&customer)?;
                slugs.check("slug", slug.as_str(), number)?;
                if let Some(customer) = &customer {
                    customers.check("Stripe customer", customer, number)?;
                }
                Ok(json!({
                    "name": name.as_str(),
                    "slug": slug.to_string(),
                    "owner_email": owner.as_str(),
                    "timezone": timezone.name(),
                    "plan": plan,
                    "stripe_customer_id": customer,
                }))
            })();
            Line { number, value, fields }
        })
        .collect())
}

fn plan_of(plan: &str) -> Result<String, String> {
    let plan = if plan.is_empty() { "free".to_owned() } else { plan.to_lowercase() };
    let fine = plan.len() <= 40 && plan.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if fine { Ok(plan) } else { Err(format!("“{plan}” is not a plan name: use up to 40 letters, digits, - and _")) }
}

fn customer_of(customer: &str) -> Result<Option<String>, String> {
    if customer.is_empty() {
        return Ok(None);
    }
    let fine = customer.len() <= 255
        && customer
            .strip_prefix("cus_")
            .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric()));
    if fine {
        Ok(Some(customer.to_owned()))
    } else {
        Err(format!("“{customer}” is not a Stripe customer id (cus_ followed by letters and digits)"))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_workspaces;

    #[test]
    fn each_line_is_checked_and_defaults_fill_what_is_left_out() {
        let lines = parse_workspaces(
            "name,slug,owner_email,timezone,plan,stripe_customer_id\n\
             Acme Corp,,ada@example.com,,,\n\
             Globex,globex,bo@example.com,Europe/Berlin,Pro,cus_Globex1\n\
             Initech,globex,cy@example.com,,,\n\
             Umbrella,umbrella,not-an-email,,,\n\
             Hooli,hooli,di@example.com,Mars/Olympus,,\n\
             Wonka,wonka,ed@example.com,,,cus_Globex1\n\
             Stark,stark,fi@example.com,,,acct_1\n"
                .as_bytes(),
        )
        .unwrap();
        let acme = lines[0].fields.clone().unwrap();
        assert_eq!(
            (acme["slug"].as_str(), acme["timezone"].as_str(), acme["plan"].as_str()),
            (Some("acme-corp"), Some("UTC"), Some("free"))
        );
        assert!(acme["stripe_customer_id"].is_null());
        let globex = lines[1].fields.clone().unwrap();
        assert_eq!(
            (globex["plan"].as_str(), globex["stripe_customer_id"].as_str()),
            (Some("pro"), Some("cus_Globex1"))
        );
        assert_eq!(lines[2].fields, Err("The same slug as line 3".into()));
        assert!(lines[3].fields.as_ref().is_err_and(|e| e.contains("not-an-email")));
        assert!(lines[4].fields.as_ref().is_err_and(|e| e.contains("Mars/Olympus")));
        assert_eq!(lines[5].fields, Err("The same Stripe customer as line 3".into()));
        assert!(lines[6].fields.as_ref().is_err_and(|e| e.contains("not a Stripe customer id")));
        assert_eq!((lines[0].value.as_str(), lines[0].number), ("acme-corp", 2));
    }

    #[test]
    fn a_file_without_the_required_columns_is_refused_whole() {
        assert!(parse_workspaces(b"name,slug\nAcme,acme\n").unwrap_err().contains("owner_email must be there"));
        assert!(parse_workspaces(b"name,owner_email,seats\nAcme,a@b.co,3\n").unwrap_err().contains("“seats”"));
    }
}
