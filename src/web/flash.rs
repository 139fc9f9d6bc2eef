//! Flash messages: one-shot notices stored in the session by an action and shown once on the
//! next page ("Member added", "API key revoked").

use actix_session::Session;
use serde::{Deserialize, Serialize};

const SESSION_KEY: &str = "flash";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flash {
    /// `success`, `info` or `error`: also the CSS class.
    pub level: String,
    pub message: String,
}

impl Flash {
    pub fn success(session: &Session, message: impl Into<String>) {
        push(session, "success", message.into());
    }
    pub fn info(session: &Session, message: impl Into<String>) {
        push(session, "info", message.into());
    }
    pub fn error(session: &Session, message: impl Into<String>) {
        push(session, "error", message.into());
    }

    /// Takes (and clears) the pending messages.
    pub fn take(session: &Session) -> Vec<Flash> {
        session.remove_as::<Vec<Flash>>(SESSION_KEY).and_then(Result::ok).unwrap_or_default()
    }
}

fn push(session: &Session, level: &str, message: String) {
    let mut all = session.get::<Vec<Flash>>(SESSION_KEY).ok().flatten().unwrap_or_default();
    all.push(Flash { level: level.into(), message });
    let _ = session.insert(SESSION_KEY, all);
}
