//! Stripe's webhook signature: the `Stripe-Signature` header carries a timestamp `t` and one or
//! more `v1` values, each an HMAC-SHA256 of `"{t}.{raw body}"` under an endpoint secret. A
//! delivery is genuine when any `v1` matches any configured secret (several during a rotation)
//! and `t` is within the tolerance of now, in either direction.
//!
//! The header comes from anyone on the internet, so it is judged before any HMAC is computed: at
//! most `HEADER_LIMIT` bytes, one `t`, at most `MAX_SIGNATURES` `v1` values of exactly 64 hex
//! digits. Then the HMAC is computed once per configured secret (never once per candidate) and
//! compared with each candidate in constant time, so a forged delivery costs at most a few
//! HMACs of its body, whatever its header says.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Secret;

/// How far `t` may be from now: Stripe's own libraries use five minutes.
pub const TOLERANCE_SECONDS: i64 = 300;
/// Stripe's header is under 300 bytes even with two secrets during a rotation.
pub const HEADER_LIMIT: usize = 4096;
/// `v1` values accepted in one header: Stripe sends one per active endpoint secret.
pub const MAX_SIGNATURES: usize = 8;
/// An HMAC-SHA256 in hex.
const SIGNATURE_HEX_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    Missing,
    TooLong,
    Malformed,
    TooManySignatures,
    Stale,
    FromTheFuture,
    NoMatch,
}

impl SignatureError {
    /// The short reason given in the 400 response.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Missing => "missing Stripe-Signature header",
            Self::TooLong => "Stripe-Signature header is longer than 4096 bytes",
            Self::Malformed => "malformed Stripe-Signature header (expected t=…,v1=<64 hex digits>)",
            Self::TooManySignatures => "Stripe-Signature header has more than 8 v1 signatures",
            Self::Stale => "signature timestamp is older than 300 seconds",
            Self::FromTheFuture => "signature timestamp is more than 300 seconds in the future",
            Self::NoMatch => "no signature matches a configured webhook secret",
        }
    }
}

/// The parts of a well-formed header.
struct Header {
    timestamp: i64,
    signatures: Vec<[u8; 32]>,
}

fn parse(header: &str) -> Result<Header, SignatureError> {
    if header.len() > HEADER_LIMIT {
        return Err(SignatureError::TooLong);
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => {
                if timestamp.is_some() {
                    return Err(SignatureError::Malformed);
                }
                timestamp = Some(value.parse::<i64>().map_err(|_| SignatureError::Malformed)?);
            }
            Some(("v1", value)) => {
                if signatures.len() == MAX_SIGNATURES {
                    return Err(SignatureError::TooManySignatures);
                }
                let mut decoded = [0u8; 32];
                if value.len() != SIGNATURE_HEX_LEN || hex::decode_to_slice(value, &mut decoded).is_err() {
                    return Err(SignatureError::Malformed);
                }
                signatures.push(decoded);
            }
            // Other schemes (`v0`, test mode) are Stripe's to add; they are ignored.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    Ok(Header { timestamp, signatures })
}

/// Checks `header` against the raw `body`: one HMAC per secret, each compared with every
/// candidate in constant time.
pub fn verify(header: Option<&str>, body: &[u8], secrets: &[Secret], now: DateTime<Utc>) -> Result<(), SignatureError> {
    let header = parse(header.ok_or(SignatureError::Missing)?)?;
    let age = now.timestamp().saturating_sub(header.timestamp);
    if age > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    if age < -TOLERANCE_SECONDS {
        return Err(SignatureError::FromTheFuture);
    }
    let mut matched = false;
    for secret in secrets {
        let expected = mac(secret, header.timestamp, body).finalize().into_bytes();
        for candidate in &header.signatures {
            matched |= crate::tokens::constant_time_eq(expected, candidate);
        }
    }
    if matched { Ok(()) } else { Err(SignatureError::NoMatch) }
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

    #[test]
    fn a_header_of_thousands_of_empty_v1_values_is_refused_before_any_hmac() {
        let now = Utc::now();
        let flood = format!("t={}{}", now.timestamp(), ",v1=".repeat(25_000));
        assert_eq!(verify(Some(&flood), b"x", &[secret("whsec_a")], now), Err(SignatureError::TooLong));
        let empty = format!("t={},v1=", now.timestamp());
        assert_eq!(verify(Some(&empty), b"x", &[secret("whsec_a")], now), Err(SignatureError::Malformed));
    }

    #[test]
    fn at_most_eight_signatures_of_exactly_64_hex_digits_are_read() {
        let now = Utc::now();
        let s = secret("whsec_a");
        let genuine = sign(&s, now.timestamp(), b"x");
        let v1 = genuine.split("v1=").nth(1).unwrap().to_owned();
        let decoys = format!(",v1={}", "0".repeat(64)).repeat(7);
        let eight = format!("{genuine}{decoys}");
        assert_eq!(verify(Some(&eight), b"x", std::slice::from_ref(&s), now), Ok(()));
        let nine = format!("{eight},v1={v1}");
        assert_eq!(verify(Some(&nine), b"x", std::slice::from_ref(&s), now), Err(SignatureError::TooManySignatures));
        for wrong in [&v1[..63], &format!("{v1}0"), &format!("{}g", &v1[..63])] {
            let header = format!("t={},v1={wrong}", now.timestamp());
            assert_eq!(verify(Some(&header), b"x", std::slice::from_ref(&s), now), Err(SignatureError::Malformed));
        }
        let two_timestamps = format!("t=1,{genuine}");
        assert_eq!(verify(Some(&two_timestamps), b"x", &[s], now), Err(SignatureError::Malformed));
    }
}
