//! Sign-up, when the operator opens it (`OFFSTAGE_SIGNUP=open`; by default only invitations and
//! operators make accounts). Anyone may sign up with an email and a password; the account starts
//! unverified and a link goes to the address, which must be confirmed before the person creates
//! their first workspace. An address that already has an account gets a note saying so instead,
//! and the answer on the page is the same, so sign-up does not tell who has an account. Limited
//! per client address (429) and per email (past it, quietly nothing is sent).

use sea_orm::DatabaseConnection;

use super::request_limits::{self, SIGN_UPS_PER_ADDRESS, SIGN_UPS_PER_EMAIL};
use super::{EmailProof, create_user, find_by_email, verification};
use crate::config::{Config, Signup};
use crate::domain::{Email, Password};
use crate::error::AppError;
use crate::mail;
use crate::mail::templates::AccountExists;

/// Signs `email` up from `ip`; `NotFound` while sign-up is by invitation only.
pub async fn sign_up(
    db: &DatabaseConnection,
    config: &Config,
    email: &Email,
    password: &Password,
    ip: &str,
) -> Result<(), AppError> {
    if config.signup != Signup::Open {
        return Err(AppError::NotFound);
    }
    if !request_limits::take(db, SIGN_UPS_PER_ADDRESS, ip).await? {
        return Err(request_limits::refused("sign-ups from your address", SIGN_UPS_PER_ADDRESS));
    }
    if !request_limits::take(db, SIGN_UPS_PER_EMAIL, email.as_str()).await? {
        return Ok(());
    }
    let created = match find_by_email(db, email).await? {
        Some(_) => None,
        None => match create_user(db, email, password, false, EmailProof::Unverified).await {
            Ok(created) => Some(created),
            // Signed up a moment ago by another request.
            Err(AppError::Conflict(_)) => None,
            Err(err) => return Err(err),
        },
    };
    let txn = crate::db::begin_write(db).await?;
    match created {
        Some(account) => verification::send_link_in(&txn, config, &account, &account.email, false).await?,
        None => {
            let note = AccountExists {
                login_url: format!("{}/login", config.base_url),
                reset_url: format!("{}/password/forgot", config.base_url),
            };
            let dedupe = format!("account_exists:{}:{}", email, chrono::Utc::now().timestamp_micros());
            mail::send_about_account_in(&txn, config, email.as_str(), dedupe, &note).await?;
        }
    }
    txn.commit().await?;
    Ok(())
}
