//! A Stripe event read as loosely as possible: the envelope fields every API version has (id,
//! type, created, data.object) and typed reads of the few object fields billing needs. The raw
//! payload is always kept, so an event whose object has an unexpected shape is never lost.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Envelope {
    pub id: String,
    pub event_type: String,
    pub created: DateTime<Utc>,
    pub api_version: Option<String>,
    /// `data.object`: the resource the event is about, as Stripe sent it.
    pub object: Value,
}

impl Envelope {
    /// Reads the envelope; the error says which part is missing.
    pub fn parse(body: &[u8]) -> Result<Envelope, String> {
        let value: Value = serde_json::from_slice(body).map_err(|err| format!("body is not JSON: {err}"))?;
        let id = value["id"].as_str().filter(|id| !id.is_empty()).ok_or("event has no id")?;
        let event_type = value["type"].as_str().filter(|t| !t.is_empty()).ok_or("event has no type")?;
        let created = value["created"].as_i64().and_then(timestamp).ok_or("event has no created time")?;
        let object = &value["data"]["object"];
        if !object.is_object() {
            return Err("event has no data.object".into());
        }
        Ok(Envelope {
            id: id.to_owned(),
            event_type: event_type.to_owned(),
            created,
            api_version: value["api_version"].as_str().map(str::to_owned),
            object: object.clone(),
        })
    }

    /// A string field of the object (`"customer"`), or the `id` of an expanded object there.
    pub fn id_at(&self, field: &str) -> Option<String> {
        id_of(&self.object[field])
    }

    /// `metadata.workspace_id` of the object.
    pub fn metadata_workspace_id(&self) -> Option<String> {
        self.object["metadata"]["workspace_id"].as_str().filter(|s| !s.is_empty()).map(str::to_owned)
    }
}

/// A string id, or the `id` of an expanded object.
pub fn id_of(value: &Value) -> Option<String> {
    match value {
        Value::String(id) if !id.is_empty() => Some(id.clone()),
        Value::Object(map) => map.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

pub fn timestamp(seconds: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(seconds, 0).single()
}
