//! One-click unsubscribe: a link signed with the secret key carries the address, so no sign-in
//! is needed and nobody can unsubscribe someone else. An unsubscribed address gets no lifecycle
//! mail; transactional mail (invitations, billing failures) still reaches it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use hmac::Mac;
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, Statement};

use crate::config::{Config, Secret};
use crate::db::entities::email_suppression;
use crate::mail::Error;

fn signature(key: &Secret, email: &str) -> String {
    let mut mac = crate::tokens::hmac_sha256(key);
    mac.update(b"unsubscribe:");
    mac.update(email.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// The token of `email`'s unsubscribe link.
pub fn token(key: &Secret, email: &str) -> String {
    let email = email.to_lowercase();
    format!("{}.{}", URL_SAFE_NO_PAD.encode(email.as_bytes()), signature(key, &email))
}

pub fn link(config: &Config, email: &str) -> String {
    format!("{}/unsubscribe/{}", config.base_url, token(&config.secret_key, email))
}

/// The address a token was made for, if its signature is right.
pub fn verify(key: &Secret, token: &str) -> Option<String> {
    let (encoded, given) = token.split_once('.')?;
    let email = String::from_utf8(URL_SAFE_NO_PAD.decode(encoded).ok()?).ok()?;
    crate::tokens::constant_time_eq(signature(key, &email), given).then_some(email)
}

/// Records the unsubscribe (again is harmless) and stops the sequences mailing that address.
pub async fn unsubscribe(db: &DatabaseConnection, email: &str) -> Result<(), Error> {
    let txn = crate::db::begin_write(db).await?;
    txn.execute_raw(Statement::from_sql_and_values(
        txn.get_database_backend(),
        "INSERT INTO email_suppressions (email, reason, created_at) VALUES ($1, 'unsubscribed', $2) \
         ON CONFLICT (email) DO NOTHING",
        [email.to_lowercase().into(), Utc::now().into()],
    ))
    .await?;
    super::sequences::stop_for_recipient(&txn, email, "the recipient unsubscribed").await?;
    txn.commit().await?;
    Ok(())
}

pub async fn is_suppressed<C: ConnectionTrait>(db: &C, email: &str) -> Result<bool, Error> {
    Ok(email_suppression::Entity::find_by_id(email.to_lowercase()).one(db).await?.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_to_its_address_and_a_tampered_one_does_not() {
        let key = Secret::new("k".repeat(40));
        let token = token(&key, "Ada@Example.com");
        assert_eq!(verify(&key, &token).as_deref(), Some("ada@example.com"));
        let other = URL_SAFE_NO_PAD.encode("eve@example.com");
        let forged = format!("{other}.{}", token.split_once('.').unwrap().1);
        assert_eq!(verify(&key, &forged), None);
        assert_eq!(verify(&key, "garbage"), None);
        assert_eq!(verify(&Secret::new("another key of enough length 0123456789"), &token), None);
    }
}
