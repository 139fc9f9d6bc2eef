//! Signed-in sessions, one row per browser. The cookie carries only a random secret; its row
//! (found by the secret's SHA-256) says whose session it is, when it was last used and when it
//! ends. Deleting the row ends the session everywhere at once, whatever copies of the cookie
//! exist: signing out, a password change (every other session), or "sign out everywhere else".

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder,
};

use crate::config::SessionSettings;
use crate::db::entities::{session, user};
use crate::domain::PublicId;
use crate::error::AppError;
use crate::tokens;

/// `last_seen_at` is written at most this often, so reading pages stays read-only.
const SEEN_RESOLUTION_SECONDS: i64 = 60;
/// User agents are kept to this many characters.
const USER_AGENT_LIMIT: usize = 255;

/// Where a request came from, as the sessions page shows it.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
}

fn user_agent(client: &ClientInfo) -> String {
    client.user_agent.chars().take(USER_AGENT_LIMIT).collect()
}

fn chrono(duration: std::time::Duration) -> Duration {
    Duration::from_std(duration).unwrap_or(Duration::MAX)
}

/// Whether `found` has ended at `now`, by idleness or by age.
fn ended(found: &session::Model, settings: &SessionSettings, now: DateTime<Utc>) -> bool {
    now >= found.expires_at || now - found.last_seen_at >= chrono(settings.idle_timeout)
}

/// Starts a session for `user`; returns the cookie's secret (shown to nobody else, stored hashed).
pub async fn start(
    db: &DatabaseConnection,
    user: &user::Model,
    client: &ClientInfo,
    settings: &SessionSettings,
) -> Result<String, AppError> {
    let now = Utc::now();
    // The user's ended sessions go as a new one starts.
    session::Entity::delete_many()
        .filter(session::Column::UserId.eq(&user.id))
        .filter(
            Condition::any()
                .add(session::Column::ExpiresAt.lte(now))
                .add(session::Column::LastSeenAt.lte(now - chrono(settings.idle_timeout))),
        )
        .exec(db)
        .await?;
    let token = tokens::random_hex(32);
    session::ActiveModel {
        id: Set(PublicId::generate("ses")),
        user_id: Set(user.id.clone()),
        token_hash: Set(tokens::sha256_hex(&token)),
        created_at: Set(now),
        last_seen_at: Set(now),
        expires_at: Set(now + chrono(settings.lifetime)),
        ip: Set(client.ip.clone()),
        user_agent: Set(user_agent(client)),
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// The live session with this secret and its user; an ended one is deleted and is `None`.
pub async fn resume(
    db: &DatabaseConnection,
    token: &str,
    client: &ClientInfo,
    settings: &SessionSettings,
) -> Result<Option<(session::Model, user::Model)>, AppError> {
    let found = session::Entity::find()
        .filter(session::Column::TokenHash.eq(tokens::sha256_hex(token)))
        .find_also_related(user::Entity)
        .one(db)
        .await?;
    let Some((found, Some(owner))) = found else { return Ok(None) };
    let now = Utc::now();
    if ended(&found, settings, now) {
        session::Entity::delete_by_id(found.id).exec(db).await?;
        return Ok(None);
    }
    let moved = found.ip != client.ip;
    if moved || now - found.last_seen_at >= Duration::seconds(SEEN_RESOLUTION_SECONDS) {
        let mut active: session::ActiveModel = found.into();
        active.last_seen_at = Set(now);
        active.ip = Set(client.ip.clone());
        active.user_agent = Set(user_agent(client));
        return Ok(Some((active.update(db).await?, owner)));
    }
    Ok(Some((found, owner)))
}

/// Ends the session with this secret (signing out).
pub async fn end(db: &DatabaseConnection, token: &str) -> Result<(), AppError> {
    session::Entity::delete_many().filter(session::Column::TokenHash.eq(tokens::sha256_hex(token))).exec(db).await?;
    Ok(())
}

/// Ends one of `user_id`'s sessions; false when it is not theirs or already over.
pub async fn end_one(db: &DatabaseConnection, user_id: &str, session_id: &str) -> Result<bool, AppError> {
    let result = session::Entity::delete_many()
        .filter(session::Column::Id.eq(session_id))
        .filter(session::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Ends every session of `user_id` but `keep`; returns how many ended.
pub async fn end_others<C: ConnectionTrait>(db: &C, user_id: &str, keep: &str) -> Result<u64, AppError> {
    let result = session::Entity::delete_many()
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::Id.ne(keep))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// `user_id`'s live sessions, most recently used first.
pub async fn live(
    db: &DatabaseConnection,
    user_id: &str,
    settings: &SessionSettings,
) -> Result<Vec<session::Model>, AppError> {
    let now = Utc::now();
    let all = session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .order_by_desc(session::Column::LastSeenAt)
        .all(db)
        .await?;
    Ok(all.into_iter().filter(|found| !ended(found, settings, now)).collect())
}

/// "Firefox on Linux" from a user agent, for people reading the sessions list.
pub fn describe_browser(user_agent: &str) -> String {
    let browser =
        [("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari")]
            .into_iter()
            .find(|(marker, _)| user_agent.contains(marker))
            .map(|(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map(|(_, name)| name);
    match (browser, system) {
        (Some(browser), Some(system)) => format!("{browser} on {system}"),
        (Some(browser), None) => browser.to_owned(),
        (None, Some(system)) => format!("A browser on {system}"),
        (None, None) if user_agent.is_empty() => "Unknown browser".to_owned(),
        (None, None) => user_agent.chars().take(60).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::describe_browser;

    #[test]
    fn common_user_agents_read_as_browser_on_system() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        let chrome = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
        assert_eq!(describe_browser(firefox), "Firefox on Linux");
        assert_eq!(describe_browser(chrome), "Chrome on macOS");
        assert_eq!(describe_browser(safari), "Safari on iOS");
        assert_eq!(describe_browser("curl/8.5"), "curl/8.5");
        assert_eq!(describe_browser(""), "Unknown browser");
    }
}
