//! Revenue's workflow: `calculate_monthly_revenue`.

pub mod calculate_monthly_revenue;
