//! Emails about a person's account rather than a workspace: a password reset link, the notice
//! that the password changed, a link to verify an address, the notice to an old address that the
//! email is changing, and the answer to a sign-up with an address that already has an account.
//! All are transactional: unsubscribing does not stop them.

use askama::Template;

use super::{Email, Footer, Rendered};
use crate::mail::outbox::Category;

pub struct PasswordReset {
    pub reset_url: String,
    /// "1 hour".
    pub valid_for: String,
}

impl Email for PasswordReset {
    const KIND: &'static str = "password_reset";
    const CATEGORY: Category = Category::Transactional;
    fn subject(&self) -> String {
        "Reset your Offstage password".into()
    }
    bodies!(PasswordReset, "email/password_reset.html", "email/password_reset.txt");
}

pub struct PasswordChanged {
    pub email: String,
    /// "2026-12-01 21:30 UTC".
    pub changed_at: String,
    pub reset_url: String,
}

impl Email for PasswordChanged {
    const KIND: &'static str = "password_changed";
    const CATEGORY: Category = Category::Transactional;
    fn subject(&self) -> String {
        "Your Offstage password was changed".into()
    }
    bodies!(PasswordChanged, "email/password_changed.html", "email/password_changed.txt");
}

pub struct VerifyEmail {
    pub email: String,
    pub verify_url: String,
    /// The address replaces another one on the account (rather than being its first).
    pub is_change: bool,
}

impl Email for VerifyEmail {
    const KIND: &'static str = "verify_email";
    const CATEGORY: Category = Category::Transactional;
    fn subject(&self) -> String {
        "Confirm your email address for Offstage".into()
    }
    bodies!(VerifyEmail, "email/verify_email.html", "email/verify_email.txt");
}

pub struct EmailChangeRequested {
    pub new_email: String,
    pub reset_url: String,
}

impl Email for EmailChangeRequested {
    const KIND: &'static str = "email_change_requested";
    const CATEGORY: Category = Category::Transactional;
    fn subject(&self) -> String {
        "Your Offstage email address is being changed".into()
    }
    bodies!(EmailChangeRequested, "email/email_change_requested.html", "email/email_change_requested.txt");
}

pub struct AccountExists {
    pub login_url: String,
    pub reset_url: String,
}

impl Email for AccountExists {
    const KIND: &'static str = "account_exists";
    const CATEGORY: Category = Category::Transactional;
    fn subject(&self) -> String {
        "You already have an Offstage account".into()
    }
    bodies!(AccountExists, "email/account_exists.html", "email/account_exists.txt");
}

/// Each of them with sample data, for the preview page.
pub(super) fn samples(base_url: &str, footer: &Footer) -> Vec<(&'static str, askama::Result<Rendered>)> {
    let reset_url = format!("{base_url}/password/reset/sample");
    vec![
        (
            PasswordReset::KIND,
            PasswordReset { reset_url: reset_url.clone(), valid_for: "1 hour".into() }.render(footer),
        ),
        (
            PasswordChanged::KIND,
            PasswordChanged {
                email: "ada@acme.test".into(),
                changed_at: "2026-12-01 21:30 UTC".into(),
                reset_url: format!("{base_url}/password/forgot"),
            }
            .render(footer),
        ),
        (
            VerifyEmail::KIND,
            VerifyEmail {
                email: "ada@acme.test".into(),
                verify_url: format!("{base_url}/email/verify/sample"),
                is_change: false,
            }
            .render(footer),
        ),
        (
            EmailChangeRequested::KIND,
            EmailChangeRequested { new_email: "ada@new.test".into(), reset_url: format!("{base_url}/password/forgot") }
                .render(footer),
        ),
        (
            AccountExists::KIND,
            AccountExists { login_url: format!("{base_url}/login"), reset_url: format!("{base_url}/password/forgot") }
                .render(footer),
        ),
    ]
}
