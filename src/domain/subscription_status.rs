//! A workspace's subscription state: Stripe's subscription statuses plus `none`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionStatus {
    None,
    Trialing,
    Active,
    PastDue,
    Canceled,
    Unpaid,
    Incomplete,
    IncompleteExpired,
    Paused,
}

impl SubscriptionStatus {
    pub fn parse(input: &str) -> Result<SubscriptionStatus, String> {
        Ok(match input {
            "none" => Self::None,
            "trialing" => Self::Trialing,
            "active" => Self::Active,
            "past_due" => Self::PastDue,
            "canceled" => Self::Canceled,
            "unpaid" => Self::Unpaid,
            "incomplete" => Self::Incomplete,
            "incomplete_expired" => Self::IncompleteExpired,
            "paused" => Self::Paused,
            other => return Err(format!("unknown subscription status “{other}”")),
        })
    }

    /// Converted to a paid plan: an active subscription on any plan but `free`. Onboarding stops
    /// there; its emails check the same rule.
    pub fn is_paid_conversion(self, plan: &str) -> bool {
        self == SubscriptionStatus::Active && plan != "free"
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Trialing => "trialing",
            Self::Active => "active",
            Self::PastDue => "past_due",
            Self::Canceled => "canceled",
            Self::Unpaid => "unpaid",
            Self::Incomplete => "incomplete",
            Self::IncompleteExpired => "incomplete_expired",
            Self::Paused => "paused",
        }
    }

    /// Human wording for the admin UI.
    pub fn label(self) -> &'static str {
        match self {
            Self::None => "No subscription",
            Self::Trialing => "Trialing",
            Self::Active => "Active",
            Self::PastDue => "Past due",
            Self::Canceled => "Canceled",
            Self::Unpaid => "Unpaid",
            Self::Incomplete => "Incomplete",
            Self::IncompleteExpired => "Incomplete (expired)",
            Self::Paused => "Paused",
        }
    }
}

impl fmt::Display for SubscriptionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
