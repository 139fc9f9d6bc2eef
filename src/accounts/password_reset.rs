//! Password reset, as GitHub and Stripe do it: anyone may ask for a link for an address, and
//! the answer is the same whether or not it has an account; the link goes to that address only,
//! works once, for an hour, and a newer one replaces it. Setting the new password ends every
//! session of the account and tells the address. Requests are limited per client address (a
//! 429, which says nothing about accounts) and per email (past the limit, quietly nothing is
//! sent, so the answer still does not tell).

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::links::{self, Purpose};
use super::passwords;
use super::request_limits::{self, RESET_REQUESTS_PER_ADDRESS, RESET_REQUESTS_PER_EMAIL};
use crate::config::Config;
use crate::db::entities::{session, user};
use crate::domain::{Email, Password};
use crate::error::AppError;
use crate::mail;
use crate::mail::templates::{PasswordChanged, PasswordReset};

/// Asks for a reset link for `email_text` from `ip`. `Ok` whatever the address, unless the
/// address asked too often.
pub async fn request(db: &DatabaseConnection, config: &Config, email_text: &str, ip: &str) -> Result<(), AppError> {
    if !request_limits::take(db, RESET_REQUESTS_PER_ADDRESS, ip).await? {
        return Err(request_limits::refused("password reset requests from your address", RESET_REQUESTS_PER_ADDRESS));
    }
    let Ok(email) = Email::parse(email_text) else { return Ok(()) };
    if !request_limits::take(db, RESET_REQUESTS_PER_EMAIL, email.as_str()).await? {
        return Ok(());
    }
    match super::find_by_email(db, &email).await? {
        Some(account) => send_link(db, config, &account).await,
        None => Ok(()),
    }
}

/// Emails `account` a fresh reset link (replacing older ones): a request, or a platform admin's.
pub async fn send_link(db: &DatabaseConnection, config: &Config, account: &user::Model) -> Result<(), AppError> {
    let txn = crate::db::begin_write(db).await?;
    let secret = links::issue(&txn, account, Purpose::PasswordReset, &account.email).await?;
    let email =
        PasswordReset { reset_url: format!("{}/password/reset/{secret}", config.base_url), valid_for: "1 hour".into() };
    let dedupe = format!("password_reset:{}", crate::tokens::sha256_hex(&secret));
    mail::send_about_account_in(&txn, config, &account.email, dedupe, &email).await?;
    txn.commit().await?;
    Ok(())
}

/// The account a live reset link belongs to (for the new-password form), or `NotFound`.
pub async fn account_of(db: &DatabaseConnection, secret: &str) -> Result<user::Model, AppError> {
    Ok(links::find(db, Purpose::PasswordReset, secret).await?.1)
}

/// Sets `new_password` through the link `secret`: uses the link up, ends every session of the
/// account, and emails the notice. `NotFound` when the link is not live.
pub async fn reset(
    db: &DatabaseConnection,
    config: &Config,
    secret: &str,
    new_password: &Password,
) -> Result<user::Model, AppError> {
    let (link, account) = links::find(db, Purpose::PasswordReset, secret).await?;
    let hash = passwords::hash(new_password).await?;
    let txn = crate::db::begin_write(db).await?;
    if !links::use_up(&txn, &link).await? {
        return Err(AppError::NotFound);
    }
    let mut active: user::ActiveModel = account.into();
    active.password_hash = Set(hash.0);
    // Whoever could reset the password could read the email: the address is the owner's.
    if active.email_verified_at.as_ref().is_none() {
        active.email_verified_at = Set(Some(Utc::now()));
    }
    let updated = active.update(&txn).await?;
    session::Entity::delete_many().filter(session::Column::UserId.eq(&updated.id)).exec(&txn).await?;
    password_changed_notice(&txn, config, &updated).await?;
    txn.commit().await?;
    Ok(updated)
}

/// "Your password was changed" to the account's address.
pub async fn password_changed_notice<C: sea_orm::ConnectionTrait>(
    txn: &C,
    config: &Config,
    account: &user::Model,
) -> Result<(), AppError> {
    let now = Utc::now();
    let notice = PasswordChanged {
        email: account.email.clone(),
        changed_at: now.format("%Y-%m-%d %H:%M UTC").to_string(),
        reset_url: format!("{}/password/forgot", config.base_url),
    };
    let dedupe = format!("password_changed:{}:{}", account.id, now.timestamp_micros());
    Ok(mail::send_about_account_in(txn, config, &account.email, dedupe, &notice).await?)
}
