//! The sign-in throttle. Every attempt is written down before its password is checked, so
//! guesses sent in parallel are counted as they arrive and a refused one never reaches argon2.
//! Three limits over the last 15 minutes:
//!
//! - per client address, whatever the email: 30 failures (one machine guessing many accounts);
//! - per email from one address: 5 failures (one machine guessing one account);
//! - per email from anywhere, for browsers that never signed in as that email: after 10
//!   failures, each attempt waits twice as long as the one before, up to a minute (many machines
//!   guessing one account).
//!
//! None of them locks the owner out: the first two don't reach another address, and the browser
//! the owner signed in with before carries a signed device cookie (OWASP's "device cookies")
//! that the third does not apply to.

use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};

use crate::db::entities::login_attempt;
use crate::error::AppError;

pub const WINDOW_MINUTES: i64 = 15;
const WINDOW_SECONDS: u64 = 15 * 60;
/// Failed sign-ins allowed per client address within the window, whatever the emails.
pub const MAX_FAILURES_PER_ADDRESS: u64 = 30;
/// Failed sign-ins allowed per email from one address within the window.
pub const MAX_FAILURES_PER_EMAIL_AND_ADDRESS: u64 = 5;
/// Failed sign-ins for one email, from anywhere, before unknown browsers are slowed down.
pub const FAILURES_BEFORE_SLOWING: u64 = 10;
/// The longest wait between two attempts on one email from unknown browsers.
pub const MAX_WAIT_SECONDS: i64 = 60;

/// An attempt written down and allowed to go on to the password check.
pub struct Attempt {
    id: i64,
    email: String,
    ip: String,
}

/// Writes the attempt down, then refuses it (and forgets it) when a limit is reached.
/// `known_device`: the browser has signed in as this email before.
pub async fn begin(db: &DatabaseConnection, email: &str, ip: &str, known_device: bool) -> Result<Attempt, AppError> {
    let now = Utc::now();
    let written = login_attempt::ActiveModel {
        email: Set(email.to_owned()),
        ip: Set(ip.to_owned()),
        attempted_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let attempt = Attempt { id: written.id, email: email.to_owned(), ip: ip.to_owned() };
    match refusal(db, &attempt, known_device).await {
        Ok(None) => Ok(attempt),
        Ok(Some((message, retry_after))) => {
            login_attempt::Entity::delete_by_id(attempt.id).exec(db).await?;
            Err(AppError::TooManyRequests { message, retry_after })
        }
        Err(err) => Err(err),
    }
}

/// Why the attempt must not go on, and in how many seconds another may, counting it and every
/// attempt written before it (in flight or failed) in the window.
async fn refusal(
    db: &DatabaseConnection,
    attempt: &Attempt,
    known_device: bool,
) -> Result<Option<(String, u64)>, AppError> {
    let now = Utc::now();
    let recent = || login_attempt::Entity::find().filter(login_attempt::Column::AttemptedAt.gt(now - window()));
    let by_address = recent().filter(login_attempt::Column::Ip.eq(&attempt.ip)).count(db).await?;
    if by_address > MAX_FAILURES_PER_ADDRESS {
        return Ok(Some((
            format!("Too many failed sign-in attempts from your address. Wait {WINDOW_MINUTES} minutes and try again."),
            WINDOW_SECONDS,
        )));
    }
    let by_email = || recent().filter(login_attempt::Column::Email.eq(&attempt.email));
    let by_pair = by_email().filter(login_attempt::Column::Ip.eq(&attempt.ip)).count(db).await?;
    if by_pair > MAX_FAILURES_PER_EMAIL_AND_ADDRESS {
        return Ok(Some((
            format!("Too many failed sign-in attempts for this email. Wait {WINDOW_MINUTES} minutes and try again."),
            WINDOW_SECONDS,
        )));
    }
    if known_device {
        return Ok(None);
    }
    let failures = by_email().count(db).await?;
    if failures <= FAILURES_BEFORE_SLOWING {
        return Ok(None);
    }
    let previous = by_email()
        .filter(login_attempt::Column::Id.ne(attempt.id))
        .order_by_desc(login_attempt::Column::AttemptedAt)
        .one(db)
        .await?;
    let wait = wait_after(failures);
    match previous {
        Some(last) if now < last.attempted_at + wait => {
            let seconds = (last.attempted_at + wait - now).num_seconds().max(1);
            let message = format!(
                "This account has had many failed sign-ins; wait {seconds} seconds and try again, from a browser \
                 you have signed in with before if you can."
            );
            Ok(Some((message, u64::try_from(seconds).unwrap_or(1))))
        }
        _ => Ok(None),
    }
}

fn window() -> Duration {
    Duration::minutes(WINDOW_MINUTES)
}

/// 1 s after the 11th failure, doubling, at most `MAX_WAIT_SECONDS`.
fn wait_after(failures: u64) -> Duration {
    let doublings = u32::try_from(failures.saturating_sub(FAILURES_BEFORE_SLOWING + 1)).unwrap_or(u32::MAX).min(6);
    Duration::seconds((1i64 << doublings).min(MAX_WAIT_SECONDS))
}

/// The password was right: this attempt and the earlier failures from the same address for the
/// same email no longer count.
pub async fn succeeded(db: &DatabaseConnection, attempt: Attempt) -> Result<(), AppError> {
    login_attempt::Entity::delete_many()
        .filter(login_attempt::Column::Email.eq(&attempt.email))
        .filter(login_attempt::Column::Ip.eq(&attempt.ip))
        .exec(db)
        .await?;
    Ok(())
}

/// The password was wrong: the attempt stays counted. Attempts older than a day count for
/// nothing and are dropped as new ones arrive.
pub async fn failed(db: &DatabaseConnection, _attempt: Attempt) -> Result<(), AppError> {
    login_attempt::Entity::delete_many()
        .filter(login_attempt::Column::AttemptedAt.lt(Utc::now() - Duration::days(1)))
        .exec(db)
        .await?;
    Ok(())
}

/// The attempt could not be judged (the hashing pool was busy): it does not count.
pub async fn abandoned(db: &DatabaseConnection, attempt: Attempt) -> Result<(), AppError> {
    login_attempt::Entity::delete_by_id(attempt.id).exec(db).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_browsers_wait_longer_after_each_failure_up_to_a_minute() {
        let waits: Vec<i64> = (11..=18).map(|n| wait_after(n).num_seconds()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(wait_after(u64::MAX).num_seconds(), 60);
    }
}
