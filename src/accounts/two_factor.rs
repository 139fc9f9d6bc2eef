//! Two-factor sign-in with TOTP (RFC 6238: 6 digits every 30 s, SHA-1, what every authenticator
//! app reads), computed by `totp-rs`. Enrolling shows a QR code (inline SVG, made here) of the
//! `otpauth://` URL and asks for a code before turning it on; then ten single-use recovery codes
//! are shown once and stored as SHA-256. A code is accepted once: the time step it belongs to is
//! recorded, and an older or equal one is refused (a code seen over a shoulder cannot be
//! replayed). The secret is stored encrypted (AES-256-GCM, keyed from `OFFSTAGE_SECRET_KEY`), so
//! a copy of the database alone does not yield it.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use chrono::Utc;
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter,
};
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, TOTP};

use crate::config::{Config, Secret};
use crate::db::entities::{recovery_code, session, user};
use crate::error::AppError;
use crate::tokens;

/// Seconds a code lives.
const STEP: u64 = 30;
/// Codes of the step before and after are accepted too (clocks drift).
const SKEW: u64 = 1;
/// Recovery codes made at enrolment.
pub const RECOVERY_CODES: usize = 10;

/// What the enrolment page shows.
pub struct Enrolment {
    /// The secret in base32, for typing in by hand.
    pub secret: String,
    pub otpauth_url: String,
    /// The URL's QR code as an `<svg>` element.
    pub qr_svg: String,
}

fn cipher(key: &Secret) -> Aes256Gcm {
    let key = Sha256::digest(format!("offstage two-factor secrets:{}", key.expose()).as_bytes());
    Aes256Gcm::new(&key)
}

fn encrypt(key: &Secret, secret: &[u8]) -> Result<String, AppError> {
    let mut nonce = [0u8; 12];
    rand::rng().fill_bytes(&mut nonce);
    let sealed = cipher(key)
        .encrypt(Nonce::from_slice(&nonce), secret)
        .map_err(|_| AppError::Internal(anyhow::anyhow!("encrypting a two-factor secret")))?;
    let mut stored = nonce.to_vec();
    stored.extend(sealed);
    Ok(base64::engine::general_purpose::STANDARD.encode(stored))
}

fn decrypt(key: &Secret, stored: &str) -> Result<Vec<u8>, AppError> {
    let unreadable =
        || AppError::Internal(anyhow::anyhow!("a two-factor secret cannot be read (was OFFSTAGE_SECRET_KEY changed?)"));
    let bytes = base64::engine::general_purpose::STANDARD.decode(stored).map_err(|_| unreadable())?;
    if bytes.len() < 12 {
        return Err(unreadable());
    }
    let (nonce, sealed) = bytes.split_at(12);
    cipher(key).decrypt(Nonce::from_slice(nonce), sealed).map_err(|_| unreadable())
}

fn totp(secret: Vec<u8>, email: &str) -> Result<TOTP, AppError> {
    TOTP::new(Algorithm::SHA1, 6, SKEW as u8, STEP, secret, Some("Offstage".into()), email.replace(':', ""))
        .map_err(|err| AppError::Internal(anyhow::anyhow!("a two-factor secret: {err}")))
}

fn enrolment(account: &user::Model, secret: Vec<u8>) -> Result<Enrolment, AppError> {
    let code = totp(secret, &account.email)?;
    let otpauth_url = code.get_url();
    let qr = qrcode::QrCode::new(otpauth_url.as_bytes())
        .map_err(|err| AppError::Internal(anyhow::anyhow!("a QR code: {err}")))?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    let qr_svg = qr.find("<svg").map(|start| qr[start..].to_owned()).unwrap_or(qr);
    Ok(Enrolment { secret: code.get_secret_base32(), otpauth_url, qr_svg })
}

/// Starts (or shows again) `account`'s enrolment: a secret kept, encrypted, until a code
/// confirms it. `Conflict` when two-factor sign-in is already on.
pub async fn begin(db: &DatabaseConnection, config: &Config, account: &user::Model) -> Result<Enrolment, AppError> {
    if account.two_factor_enabled() {
        return Err(AppError::Conflict("Two-factor sign-in is already on.".into()));
    }
    if let Some(stored) = &account.totp_secret {
        return enrolment(account, decrypt(&config.secret_key, stored)?);
    }
    let mut secret = vec![0u8; 20];
    rand::rng().fill_bytes(&mut secret);
    let mut active: user::ActiveModel = account.clone().into();
    active.totp_secret = Set(Some(encrypt(&config.secret_key, &secret)?));
    active.update(db).await?;
    enrolment(account, secret)
}

/// The time step `code` belongs to, when it is a current code of `secret`.
fn step_of(secret: Vec<u8>, email: &str, code: &str) -> Result<Option<i64>, AppError> {
    let code = code.trim().replace(' ', "");
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let checker = totp(secret, email)?;
    let now = u64::try_from(Utc::now().timestamp()).unwrap_or(0) / STEP;
    for step in now.saturating_sub(SKEW)..=now + SKEW {
        if tokens::constant_time_eq(checker.generate(step * STEP), &code) {
            return Ok(i64::try_from(step).ok());
        }
    }
    Ok(None)
}

/// Turns two-factor sign-in on when `code` is current for the pending secret; returns the
/// recovery codes, to be shown once. `Unprocessable` for a wrong code.
pub async fn confirm(
    db: &DatabaseConnection,
    config: &Config,
    account: &user::Model,
    code: &str,
) -> Result<Vec<String>, AppError> {
    let stored = match (&account.totp_secret, account.two_factor_enabled()) {
        (_, true) => return Err(AppError::Conflict("Two-factor sign-in is already on.".into())),
        (None, false) => {
            return Err(AppError::Unprocessable("Start the set-up again: there is no code to check.".into()));
        }
        (Some(stored), false) => stored,
    };
    let Some(step) = step_of(decrypt(&config.secret_key, stored)?, &account.email, code)? else {
        return Err(AppError::Unprocessable(
            "That code is not right: enter the 6 digits your app shows now (check the phone's clock).".into(),
        ));
    };
    let txn = crate::db::begin_write(db).await?;
    let mut active: user::ActiveModel = account.clone().into();
    active.totp_enabled_at = Set(Some(Utc::now()));
    active.totp_last_step = Set(Some(step));
    active.update(&txn).await?;
    let codes = new_recovery_codes(&txn, &account.id).await?;
    txn.commit().await?;
    Ok(codes)
}

/// Replaces `user_id`'s recovery codes with ten new ones, returned in clear once.
pub async fn new_recovery_codes<C: ConnectionTrait>(db: &C, user_id: &str) -> Result<Vec<String>, AppError> {
    recovery_code::Entity::delete_many().filter(recovery_code::Column::UserId.eq(user_id)).exec(db).await?;
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let hex = tokens::random_hex(5);
            format!("{}-{}", &hex[..5], &hex[5..])
        })
        .collect();
    let rows = codes.iter().map(|code| recovery_code::ActiveModel {
        user_id: Set(user_id.to_owned()),
        code_hash: Set(tokens::sha256_hex(code)),
        used_at: Set(None),
        ..Default::default()
    });
    recovery_code::Entity::insert_many(rows).exec(db).await?;
    Ok(codes)
}

/// Whether `code` is a current TOTP code (not used before) or an unused recovery code of
/// `account`, using it up.
pub async fn check(
    db: &DatabaseConnection,
    config: &Config,
    account: &user::Model,
    code: &str,
) -> Result<bool, AppError> {
    let Some(stored) = account.totp_secret.as_ref().filter(|_| account.two_factor_enabled()) else {
        return Ok(false);
    };
    if let Some(step) = step_of(decrypt(&config.secret_key, stored)?, &account.email, code)? {
        // One conditional write: the same code sent twice at once is accepted once.
        let accepted = user::Entity::update_many()
            .col_expr(user::Column::TotpLastStep, Expr::value(step))
            .filter(user::Column::Id.eq(&account.id))
            .filter(Condition::any().add(user::Column::TotpLastStep.is_null()).add(user::Column::TotpLastStep.lt(step)))
            .exec(db)
            .await?;
        return Ok(accepted.rows_affected == 1);
    }
    let recovery = code.trim().to_lowercase();
    let used = recovery_code::Entity::update_many()
        .col_expr(recovery_code::Column::UsedAt, Expr::value(Utc::now()))
        .filter(recovery_code::Column::UserId.eq(&account.id))
        .filter(recovery_code::Column::CodeHash.eq(tokens::sha256_hex(&recovery)))
        .filter(recovery_code::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(used.rows_affected == 1)
}

/// Recovery codes `user_id` has left.
pub async fn recovery_codes_left(db: &DatabaseConnection, user_id: &str) -> Result<u64, AppError> {
    Ok(recovery_code::Entity::find()
        .filter(recovery_code::Column::UserId.eq(user_id))
        .filter(recovery_code::Column::UsedAt.is_null())
        .count(db)
        .await?)
}

/// Turns two-factor sign-in off (after the caller checked a code), or forgets a pending set-up.
pub async fn turn_off<C: ConnectionTrait>(db: &C, account: &user::Model) -> Result<(), AppError> {
    let mut active: user::ActiveModel = account.clone().into();
    active.totp_secret = Set(None);
    active.totp_enabled_at = Set(None);
    active.totp_last_step = Set(None);
    active.update(db).await?;
    recovery_code::Entity::delete_many().filter(recovery_code::Column::UserId.eq(&account.id)).exec(db).await?;
    Ok(())
}

/// The operator's recovery (`offstage user reset-2fa`): two-factor sign-in off and every session
/// of the account ended.
pub async fn reset(db: &DatabaseConnection, account: &user::Model) -> Result<(), AppError> {
    let txn = crate::db::begin_write(db).await?;
    turn_off(&txn, account).await?;
    session::Entity::delete_many().filter(session::Column::UserId.eq(&account.id)).exec(&txn).await?;
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_stored_encrypted_and_read_back_only_with_the_same_key() {
        let key = Secret::new("unit-test-secret-unit-test-secret-unit-test");
        let secret = b"twenty bytes secret!".to_vec();
        let stored = encrypt(&key, &secret).unwrap();
        assert!(!stored.contains("twenty"));
        assert_eq!(decrypt(&key, &stored).unwrap(), secret);
        let other = Secret::new("another-secret-another-secret-another-secret");
        assert!(decrypt(&other, &stored).is_err());
        assert_ne!(encrypt(&key, &secret).unwrap(), stored, "a fresh nonce each time");
    }

    #[test]
    fn a_current_code_belongs_to_a_step_and_anything_else_to_none() {
        let secret = b"twenty bytes secret!".to_vec();
        let now = u64::try_from(Utc::now().timestamp()).unwrap();
        let code = totp(secret.clone(), "a@b.test").unwrap().generate(now);
        assert_eq!(step_of(secret.clone(), "a@b.test", &code).unwrap(), Some((now / STEP) as i64));
        let old = totp(secret.clone(), "a@b.test").unwrap().generate(now - 10 * STEP);
        assert_eq!(step_of(secret.clone(), "a@b.test", &old).unwrap(), None);
        for wrong in ["", "12345", "1234567", "abcdef"] {
            assert_eq!(step_of(secret.clone(), "a@b.test", wrong).unwrap(), None, "{wrong}");
        }
    }
}
