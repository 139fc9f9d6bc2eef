//! How a run ended, as the workflow reports it: succeeded (maybe with output) or skipped
//! because an "only when" condition was false at run time.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkipReason {
    /// The condition that was false, in words: "workspace is still trialing".
    pub condition: String,
    /// The values it saw: `{"subscription_status": "active"}`.
    pub observed: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Succeeded(Option<Value>),
    Skipped(SkipReason),
}

impl Outcome {
    pub fn done() -> Outcome {
        Outcome::Succeeded(None)
    }

    pub fn output(value: impl Serialize) -> Outcome {
        Outcome::Succeeded(Some(serde_json::to_value(value).unwrap_or(Value::Null)))
    }

    pub fn skipped(condition: impl Into<String>, observed: impl Serialize) -> Outcome {
        Outcome::Skipped(SkipReason {
            condition: condition.into(),
            observed: serde_json::to_value(observed).unwrap_or(Value::Null),
        })
    }
}
