//! `"wait": true` holds a request open until its run ends; each API key may hold a few at once
//! in a web process (`OFFSTAGE_API_WAITS_PER_KEY`), so one tenant cannot tie up the web tier.
//! Beyond that the request is answered 429 with `Retry-After`, and nothing is started.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Open waits per API key id, in this process.
#[derive(Clone, Default)]
pub struct ApiWaits(Arc<Mutex<HashMap<String, u32>>>);

/// One open wait; the key's count goes down when it is dropped.
pub struct WaitSlot {
    waits: ApiWaits,
    key_id: String,
}

impl ApiWaits {
    /// A slot for `key_id`, unless it already holds `limit`.
    pub fn enter(&self, key_id: &str, limit: u32) -> Option<WaitSlot> {
        let mut open = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = open.entry(key_id.to_owned()).or_insert(0);
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(WaitSlot { waits: self.clone(), key_id: key_id.to_owned() })
    }
}

impl Drop for WaitSlot {
    fn drop(&mut self) {
        let mut open = self.waits.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = open.get_mut(&self.key_id) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ApiWaits;

    #[test]
    fn a_key_holds_at_most_its_limit_of_waits_and_gets_them_back() {
        let waits = ApiWaits::default();
        let first = waits.enter("key_a", 2).unwrap();
        let _second = waits.enter("key_a", 2).unwrap();
        assert!(waits.enter("key_a", 2).is_none());
        assert!(waits.enter("key_b", 2).is_some(), "another key has its own");
        drop(first);
        assert!(waits.enter("key_a", 2).is_some());
    }
}
