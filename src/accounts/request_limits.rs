//! Limits on requests that are not sign-ins (those have `throttle`): password reset requests,
//! sign-ups, verification emails, two-factor codes. A request is written down first and then
//! counted with those before it in the window, so requests sent in parallel are all counted.

use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
};

use crate::db::entities::request_count;
use crate::error::AppError;

/// What is counted, by what, and how many are allowed in how long.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub kind: &'static str,
    pub allowed: u64,
    pub window: Duration,
}

pub const RESET_REQUESTS_PER_ADDRESS: Limit = Limit { kind: "reset:address", allowed: 10, window: Duration::hours(1) };
pub const RESET_REQUESTS_PER_EMAIL: Limit = Limit { kind: "reset:email", allowed: 3, window: Duration::hours(1) };
pub const SIGN_UPS_PER_ADDRESS: Limit = Limit { kind: "signup:address", allowed: 5, window: Duration::hours(1) };
pub const SIGN_UPS_PER_EMAIL: Limit = Limit { kind: "signup:email", allowed: 3, window: Duration::hours(1) };
pub const VERIFICATION_EMAILS_PER_USER: Limit =
    Limit { kind: "verification:user", allowed: 3, window: Duration::hours(1) };
pub const WRONG_CODES_PER_USER: Limit = Limit { kind: "two_factor:user", allowed: 5, window: Duration::minutes(15) };

/// Counts one more request for `key` and says whether it is within `limit`.
pub async fn take(db: &DatabaseConnection, limit: Limit, key: &str) -> Result<bool, AppError> {
    let now = Utc::now();
    request_count::ActiveModel {
        kind: Set(limit.kind.to_owned()),
        key: Set(key.to_owned()),
        at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(count(db, limit, key).await? <= limit.allowed)
}

/// Whether `key` has used up `limit` (without counting this look).
pub async fn used_up(db: &DatabaseConnection, limit: Limit, key: &str) -> Result<bool, AppError> {
    Ok(count(db, limit, key).await? >= limit.allowed)
}

async fn count(db: &DatabaseConnection, limit: Limit, key: &str) -> Result<u64, AppError> {
    Ok(request_count::Entity::find()
        .filter(request_count::Column::Kind.eq(limit.kind))
        .filter(request_count::Column::Key.eq(key))
        .filter(request_count::Column::At.gt(Utc::now() - limit.window))
        .count(db)
        .await?)
}

/// Forgets `key`'s requests of `limit`'s kind (a right two-factor code clears the wrong ones).
pub async fn forget(db: &DatabaseConnection, limit: Limit, key: &str) -> Result<(), AppError> {
    request_count::Entity::delete_many()
        .filter(request_count::Column::Kind.eq(limit.kind))
        .filter(request_count::Column::Key.eq(key))
        .exec(db)
        .await?;
    Ok(())
}

/// The 429 a person reads when a limit is used up.
pub fn refused(what: &str, limit: Limit) -> AppError {
    AppError::TooManyRequests {
        message: format!("Too many {what}; wait a while and try again."),
        retry_after: u64::try_from(limit.window.num_seconds()).unwrap_or(3600),
    }
}
