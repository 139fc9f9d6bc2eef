//! Stripe's webhook signature: the `Stripe-Signature` header carries a timestamp `t` and one or
//! more `v1` values, each an HMAC-SHA256 of `"{t}.{raw body}"` under an endpoint secret. A
//! delivery is genuine when any `v1` matches any configured secret (several during a rotation)
//! and `t` is within the tolerance of now, in either direction.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Secret;

/// How far `t` may be from now: Stripe's own libraries use five minutes.
pub const TOLERANCE_SECONDS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    Missing,
    Malformed,
    Stale,
    FromTheFuture,
    NoMatch,
}

impl SignatureError {
    /// The short reason given in the 400 response.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Missing => "missing Stripe-Signature header",
            Self::Malformed => "malformed Stripe-Signature header (expected t=…,v1=…)",
            Self::Stale => "signature timestamp is older than 300 seconds",
            Self::FromTheFuture => "signature timestamp is more than 300 seconds in the future",
            Self::NoMatch => "no signature matches a configured webhook secret",
        }
    }
}

/// Checks `header` against the raw `body` with every secret, in constant time per comparison.
pub fn verify(header: Option<&str>, body: &[u8], secrets: &[Secret], now: DateTime<Utc>) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(hex::decode(value).map_err(|_| SignatureError::Malformed)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let age = now.timestamp() - timestamp;
    if age > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    if age < -TOLERANCE_SECONDS {
        return Err(SignatureError::FromTheFuture);
    }
    let matches = secrets
        .iter()
        .any(|secret| signatures.iter().any(|signature| mac(secret, timestamp, body).verify_slice(signature).is_ok()));
    if matches { Ok(()) } else { Err(SignatureError::NoMatch) }
}

/// The header Stripe would send for `body` at `timestamp`: what tests and the benchmark post.
pub fn sign(secret: &Secret, timestamp: i64, body: &[u8]) -> String {
    let signature = hex::encode(mac(secret, timestamp, body).finalize().into_bytes());
    format!("t={timestamp},v1={signature}")
}

fn mac(secret: &Secret, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = crate::tokens::hmac_sha256(secret);
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Secret {
        Secret::new(s)
    }

    #[test]
    fn a_signature_made_with_the_secret_verifies() {
        let now = Utc::now();
        let header = sign(&secret("whsec_a"), now.timestamp(), b"{}");
        assert_eq!(verify(Some(&header), b"{}", &[secret("whsec_a")], now), Ok(()));
    }

    #[test]
    fn a_changed_body_does_not_verify() {
        let now = Utc::now();
        let header = sign(&secret("whsec_a"), now.timestamp(), b"{}");
        assert_eq!(verify(Some(&header), b"{ }", &[secret("whsec_a")], now), Err(SignatureError::NoMatch));
    }

    #[test]
    fn any_of_several_secrets_and_several_v1_values_may_match() {
        let now = Utc::now();
        let t = now.timestamp();
        let old = sign(&secret("whsec_old"), t, b"x");
        let new = sign(&secret("whsec_new"), t, b"x");
        let both = format!("{old},v1={},v0=ignored", new.split("v1=").nth(1).unwrap());
        assert_eq!(verify(Some(&both), b"x", &[secret("whsec_new")], now), Ok(()));
        assert_eq!(verify(Some(&old), b"x", &[secret("whsec_new"), secret("whsec_old")], now), Ok(()));
    }

    #[test]
    fn timestamps_outside_five_minutes_are_refused_both_ways() {
        let now = Utc::now();
        let s = secret("whsec_a");
        let stale = sign(&s, now.timestamp() - 301, b"x");
        let future = sign(&s, now.timestamp() + 301, b"x");
        let edge = sign(&s, now.timestamp() - 300, b"x");
        assert_eq!(verify(Some(&stale), b"x", std::slice::from_ref(&s), now), Err(SignatureError::Stale));
        assert_eq!(verify(Some(&future), b"x", std::slice::from_ref(&s), now), Err(SignatureError::FromTheFuture));
        assert_eq!(verify(Some(&edge), b"x", std::slice::from_ref(&s), now), Ok(()));
    }

    #[test]
    fn missing_and_malformed_headers_are_named() {
        let now = Utc::now();
        let s = [secret("whsec_a")];
        assert_eq!(verify(None, b"x", &s, now), Err(SignatureError::Missing));
        assert_eq!(verify(Some("v1=abcd"), b"x", &s, now), Err(SignatureError::Malformed));
        assert_eq!(verify(Some("t=1"), b"x", &s, now), Err(SignatureError::Malformed));
        assert_eq!(verify(Some("t=1,v1=zz"), b"x", &s, now), Err(SignatureError::Malformed));
    }
}
