//! Verified email addresses. An address is verified by a link emailed to it (valid a day, once).
//! Accounts made by operators or from an emailed invitation link count as verified (the link
//! reached the address). Changing one's email sends the link to the new address and a notice to
//! the old one; the change takes effect when the new address is confirmed. Whether an address
//! already belongs to someone is never said: no link goes to it, and the answer is the same.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection};

use super::links::{self, Purpose};
use super::request_limits::{self, VERIFICATION_EMAILS_PER_USER};
use crate::config::Config;
use crate::db::entities::user;
use crate::db::is_unique_violation;
use crate::domain::Email;
use crate::error::AppError;
use crate::mail;
use crate::mail::templates::{EmailChangeRequested, VerifyEmail};

/// Emails `account` a link to verify its own address. Limited per account (429).
pub async fn send_for_own_address(
    db: &DatabaseConnection,
    config: &Config,
    account: &user::Model,
) -> Result<(), AppError> {
    take_one(db, account).await?;
    let txn = crate::db::begin_write(db).await?;
    send_link_in(&txn, config, account, &account.email, false).await?;
    txn.commit().await?;
    Ok(())
}

/// Asks to change `account`'s email to `new_email`: a link to the new address (unless another
/// account has it: then nothing goes there, and the answer is the same) and a notice to the old.
pub async fn request_change(
    db: &DatabaseConnection,
    config: &Config,
    account: &user::Model,
    new_email: &Email,
) -> Result<(), AppError> {
    if new_email.as_str() == account.email {
        return Err(AppError::BadRequest("That is already your email address.".into()));
    }
    take_one(db, account).await?;
    let taken = super::find_by_email(db, new_email).await?.is_some();
    let txn = crate::db::begin_write(db).await?;
    if !taken {
        send_link_in(&txn, config, account, new_email.as_str(), true).await?;
    }
    let notice = EmailChangeRequested {
        new_email: new_email.to_string(),
        reset_url: format!("{}/password/forgot", config.base_url),
    };
    let dedupe = format!("email_change:{}:{}", account.id, Utc::now().timestamp_micros());
    mail::send_about_account_in(&txn, config, &account.email, dedupe, &notice).await?;
    txn.commit().await?;
    Ok(())
}

async fn take_one(db: &DatabaseConnection, account: &user::Model) -> Result<(), AppError> {
    if request_limits::take(db, VERIFICATION_EMAILS_PER_USER, &account.id).await? {
        Ok(())
    } else {
        Err(request_limits::refused("verification emails", VERIFICATION_EMAILS_PER_USER))
    }
}

/// Queues the link to verify `email` for `account` inside `txn`.
pub async fn send_link_in<C: sea_orm::ConnectionTrait>(
    txn: &C,
    config: &Config,
    account: &user::Model,
    email: &str,
    is_change: bool,
) -> Result<(), AppError> {
    let secret = links::issue(txn, account, Purpose::EmailVerification, email).await?;
    let message = VerifyEmail {
        email: email.to_owned(),
        verify_url: format!("{}/email/verify/{secret}", config.base_url),
        is_change,
    };
    let dedupe = format!("verify_email:{}", crate::tokens::sha256_hex(&secret));
    Ok(mail::send_about_account_in(txn, config, email, dedupe, &message).await?)
}

/// What a confirmed link did.
pub enum Confirmed {
    /// The account's own address is now verified.
    Verified(user::Model),
    /// The account's address is now the new one (verified).
    Changed { account: user::Model, old_email: String },
}

/// Confirms the link `secret`; `NotFound` when it is not live, `Conflict` when the new address
/// was taken meanwhile.
pub async fn confirm(db: &DatabaseConnection, secret: &str) -> Result<Confirmed, AppError> {
    let (link, account) = links::find(db, Purpose::EmailVerification, secret).await?;
    let txn = crate::db::begin_write(db).await?;
    if !links::use_up(&txn, &link).await? {
        return Err(AppError::NotFound);
    }
    let old_email = account.email.clone();
    let changing = link.email != account.email;
    let mut active: user::ActiveModel = account.into();
    active.email_verified_at = Set(Some(Utc::now()));
    if changing {
        active.email = Set(link.email.clone());
    }
    let updated = match active.update(&txn).await {
        Ok(updated) => updated,
        Err(err) if is_unique_violation(&err) => {
            return Err(AppError::Conflict(format!(
                "{} is now used by another account; your email address stays {old_email}.",
                link.email
            )));
        }
        Err(err) => return Err(err.into()),
    };
    txn.commit().await?;
    Ok(if changing { Confirmed::Changed { account: updated, old_email } } else { Confirmed::Verified(updated) })
}
