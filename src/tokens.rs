//! Random secrets and their hashes: API keys, invitation tokens, CSRF tokens. Secrets are shown
//! once and stored only as SHA-256 (they are long and random, so a slow hash adds nothing). Also
//! the HMAC-SHA256 that signs (Stripe webhooks, unsubscribe links).

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::Secret;

pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// An HMAC-SHA256 keyed with `key`, ready for `update`.
#[allow(clippy::expect_used, reason = "HMAC accepts a key of any length, so this cannot fail")]
pub fn hmac_sha256(key: &Secret) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()).expect("HMAC takes any key length")
}

/// Compares without leaking, through timing, how many leading characters matched.
pub fn constant_time_eq(a: impl AsRef<[u8]>, b: impl AsRef<[u8]>) -> bool {
    let (a, b) = (a.as_ref(), b.as_ref());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_compare_equal_and_others_do_not() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
