//! Passwords: a length policy on the way in, argon2id hashes at rest.

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use argon2::{Argon2, PasswordHash as Argon2Hash};

/// A password that satisfies the policy (8..=128 characters). Never logged, never displayed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn parse(input: &str) -> Result<Password, String> {
        let chars = input.chars().count();
        if chars < 8 {
            return Err("Use a password of at least 8 characters".into());
        }
        if chars > 128 {
            return Err("Use a password of at most 128 characters".into());
        }
        Ok(Password(input.to_owned()))
    }

    pub fn hash(&self) -> Result<PasswordHash, argon2::password_hash::Error> {
        let salt = SaltString::generate(&mut OsRng);
        let hash = Argon2::default().hash_password(self.0.as_bytes(), &salt)?;
        Ok(PasswordHash(hash.to_string()))
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

/// An argon2id hash in PHC string form, as stored in `users.password_hash`.
#[derive(Debug, Clone)]
pub struct PasswordHash(pub String);

impl PasswordHash {
    /// Constant-time verification; a malformed stored hash simply fails to verify.
    pub fn verify(&self, candidate: &str) -> bool {
        match Argon2Hash::new(&self.0) {
            Ok(parsed) => Argon2::default().verify_password(candidate.as_bytes(), &parsed).is_ok(),
            Err(_) => false,
        }
    }

    /// A hash of a random password, verified against when the email is unknown so that
    /// the response time does not reveal which accounts exist.
    pub fn decoy() -> &'static PasswordHash {
        static DECOY: std::sync::OnceLock<PasswordHash> = std::sync::OnceLock::new();
        DECOY.get_or_init(|| {
            let random = uuid::Uuid::new_v4().to_string();
            Password(random).hash().unwrap_or(PasswordHash(String::new()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Password;

    #[test]
    fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let hash = Password::parse("correct horse").unwrap().hash().unwrap();
        assert!(hash.0.starts_with("$argon2id$"));
        assert!(hash.verify("correct horse"));
        assert!(!hash.verify("wrong horse"));
    }

    #[test]
    fn short_passwords_are_rejected() {
        assert!(Password::parse("short").is_err());
    }
}
