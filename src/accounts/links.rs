//! Emailed single-use links about an account: a password reset (valid an hour) and the
//! verification of an email address (a day). The secret is in the link only; the database
//! keeps its SHA-256. A newer link of the same purpose replaces the older ones, and using one
//! uses it up.

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
};

use crate::db::entities::{account_link, user};
use crate::domain::PublicId;
use crate::error::AppError;
use crate::tokens;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    PasswordReset,
    EmailVerification,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::PasswordReset => "password_reset",
            Purpose::EmailVerification => "email_verification",
        }
    }

    fn valid_for(self) -> Duration {
        match self {
            Purpose::PasswordReset => Duration::hours(1),
            Purpose::EmailVerification => Duration::days(1),
        }
    }
}

/// A new link for `user` to `email`, replacing their older unused links of that purpose;
/// returns its secret.
pub async fn issue<C: ConnectionTrait>(
    db: &C,
    user: &user::Model,
    purpose: Purpose,
    email: &str,
) -> Result<String, AppError> {
    let now = Utc::now();
    account_link::Entity::update_many()
        .col_expr(account_link::Column::UsedAt, Expr::value(now))
        .filter(account_link::Column::UserId.eq(&user.id))
        .filter(account_link::Column::Purpose.eq(purpose.as_str()))
        .filter(account_link::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    let secret = tokens::random_hex(32);
    account_link::ActiveModel {
        id: Set(PublicId::generate("lnk")),
        user_id: Set(user.id.clone()),
        purpose: Set(purpose.as_str().to_owned()),
        email: Set(email.to_owned()),
        token_hash: Set(tokens::sha256_hex(&secret)),
        created_at: Set(now),
        expires_at: Set(now + purpose.valid_for()),
        used_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(secret)
}

/// The live link with this secret and its user, or `NotFound` (unknown, used, replaced, expired).
pub async fn find(
    db: &DatabaseConnection,
    purpose: Purpose,
    secret: &str,
) -> Result<(account_link::Model, user::Model), AppError> {
    let found = account_link::Entity::find()
        .filter(account_link::Column::TokenHash.eq(tokens::sha256_hex(secret)))
        .filter(account_link::Column::Purpose.eq(purpose.as_str()))
        .filter(account_link::Column::UsedAt.is_null())
        .filter(account_link::Column::ExpiresAt.gt(Utc::now()))
        .find_also_related(user::Entity)
        .one(db)
        .await?;
    match found {
        Some((link, Some(owner))) => Ok((link, owner)),
        _ => Err(AppError::NotFound),
    }
}

/// Uses the link up inside `txn`; false when another request used it first.
pub async fn use_up<C: ConnectionTrait>(txn: &C, link: &account_link::Model) -> Result<bool, AppError> {
    let result = account_link::Entity::update_many()
        .col_expr(account_link::Column::UsedAt, Expr::value(Utc::now()))
        .filter(account_link::Column::Id.eq(&link.id))
        .filter(account_link::Column::UsedAt.is_null())
        .exec(txn)
        .await?;
    Ok(result.rows_affected == 1)
}
