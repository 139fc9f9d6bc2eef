//! Revenue per customer (a customer is a workspace): `calculate` adds up a month from the
//! invoices and refunds billing stored, `report` reads the computed months, and
//! `workflows::calculate_monthly_revenue` runs the calculation as a chain.

pub mod calculate;
pub mod report;
pub mod workflows;
