//! Every email as a typed value: its subject, and HTML and plain-text bodies rendered from askama
//! templates under `templates/email/` that share one layout (footer, unsubscribe link).
//! `samples()` renders each with sample data for the preview page.

use askama::Template;

use super::outbox::Category;

/// An email ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// The layout's footer: why the recipient gets this, and the unsubscribe link (lifecycle mail).
pub struct Footer {
    pub reason: String,
    pub unsubscribe_url: Option<String>,
}

pub trait Email {
    /// The template's name, as the outbox's `kind`.
    const KIND: &'static str;
    const CATEGORY: Category;
    fn subject(&self) -> String;
    fn bodies(&self, subject: &str, footer: &Footer) -> askama::Result<(String, String)>;

    fn render(&self, footer: &Footer) -> askama::Result<Rendered> {
        let subject = self.subject();
        let (html, text) = self.bodies(&subject, footer)?;
        Ok(Rendered { subject, html, text })
    }
}

/// The HTML and text templates of an email type, by path.
macro_rules! bodies {
    ($ty:ty, $html:tt, $text:tt) => {
        fn bodies(&self, subject: &str, footer: &Footer) -> askama::Result<(String, String)> {
            #[derive(Template)]
            #[template(path = $html)]
            struct Html<'a> {
                e: &'a $ty,
                subject: &'a str,
                footer: &'a Footer,
            }
            #[derive(Template)]
            #[template(path = $text)]
            struct Text<'a> {
                e: &'a $ty,
                footer: &'a Footer,
            }
            Ok((Html { e: self, subject, footer }.render()?, Text { e: self, footer }.render()?))
        }
    };
}

mod account;

pub use account::{AccountExists, EmailChangeRequested, PasswordChanged, PasswordReset, VerifyEmail};

pub struct TrialEnding {
    pub workspace_name: String,
    /// The trial's end in the workspace's timezone.
    pub ends_at: String,
    pub days_left: i64,
    pub billing_url: String,
}

impl Email for TrialEnding {
    const KIND: &'static str = "trial_ending";
    const CATEGORY: Category = Category::Lifecycle;
    fn subject(&self) -> String {
        format!("Your {} trial ends in {} days", self.workspace_name, self.days_left)
    }
    bodies!(TrialEnding, "email/trial_ending.html", "email/trial_ending.txt");
}

pub struct Welcome {
    pub workspace_name: String,
    pub timezone: String,
    pub workspace_url: String,
}

impl Email for Welcome {
    const KIND: &'static str = "welcome";
    const CATEGORY: Category = Category::Lifecycle;
    fn subject(&self) -> String {
        format!("Welcome to {}", self.workspace_name)
    }
    bodies!(Welcome, "email/welcome.html", "email/welcome.txt");
}

pub struct InviteTeam {
    pub workspace_name: String,
    pub members_url: String,
}

impl Email for InviteTeam {
    const KIND: &'static str = "invite_team";
    const CATEGORY: Category = Category::Lifecycle;
    fn subject(&self) -> String {
        format!("Invite your team to {}", self.workspace_name)
    }
    bodies!(InviteTeam, "email/invite_team.html", "email/invite_team.txt");
}

pub struct ChoosePlan {
    pub workspace_name: String,
    pub billing_url: String,
}

impl Email for ChoosePlan {
    const KIND: &'static str = "choose_plan";
    const CATEGORY: Category = Category::Lifecycle;
    fn subject(&self) -> String {
        format!("Choose a plan for {}", self.workspace_name)
    }
    bodies!(ChoosePlan, "email/choose_plan.html", "email/choose_plan.txt");
}

/// A dunning email: `stage` 0 is the failure itself, 1 the reminder, 2 the last notice.
pub struct PaymentFailed {
    pub workspace_name: String,
    /// "49.00 EUR" (`Money`), or "your latest invoice" when the amount is unknown.
    pub amount: String,
    pub billing_url: String,
    pub stage: u8,
}

impl PaymentFailed {
    pub fn headline(&self) -> String {
        match self.stage {
            0 => format!("Payment for {} failed", self.workspace_name),
            1 => format!("Reminder: payment for {} is still due", self.workspace_name),
            _ => format!("Last notice: payment for {} is overdue", self.workspace_name),
        }
    }
    pub fn consequence(&self) -> &'static str {
        match self.stage {
            0 => "Stripe will try the card again over the next days.",
            1 => "Your workspace keeps running for now, but the subscription is past due.",
            _ => "If it stays unpaid, the subscription will be cancelled and scheduled workflows stop.",
        }
    }
}

impl Email for PaymentFailed {
    const KIND: &'static str = "payment_failed";
    const CATEGORY: Category = Category::Transactional;
    fn subject(&self) -> String {
        self.headline()
    }
    bodies!(PaymentFailed, "email/payment_failed.html", "email/payment_failed.txt");
}

pub struct Invitation {
    pub workspace_name: String,
    pub inviter: String,
    pub role: String,
    pub accept_url: String,
    pub expires_at: String,
}

impl Email for Invitation {
    const KIND: &'static str = "invitation";
    const CATEGORY: Category = Category::Transactional;
    fn subject(&self) -> String {
        format!("{} invited you to {} on Offstage", self.inviter, self.workspace_name)
    }
    bodies!(Invitation, "email/invitation.html", "email/invitation.txt");
}

pub struct WeeklyDigest {
    pub workspace_name: String,
    /// "23 – 29 November 2026".
    pub week: String,
    pub runs: u64,
    pub failures: u64,
    pub members_joined: Vec<String>,
    pub billing_changes: Vec<String>,
    pub health: Option<i32>,
    /// The score's change since the week before, when there was a score then.
    pub health_change: Option<i32>,
    pub workspace_url: String,
}

impl WeeklyDigest {
    /// True when the week had nothing worth a digest.
    pub fn is_quiet(&self) -> bool {
        self.runs == 0
            && self.members_joined.is_empty()
            && self.billing_changes.is_empty()
            && self.health_change.unwrap_or(0) == 0
    }

    pub fn health_change_text(&self) -> Option<String> {
        self.health_change.filter(|c| *c != 0).map(|c| format!("{c:+} this week"))
    }
}

impl Email for WeeklyDigest {
    const KIND: &'static str = "weekly_digest";
    const CATEGORY: Category = Category::Lifecycle;
    fn subject(&self) -> String {
        format!("Your week in {}: {} runs, {} failed", self.workspace_name, self.runs, self.failures)
    }
    bodies!(WeeklyDigest, "email/weekly_digest.html", "email/weekly_digest.txt");
}

/// Every email rendered with sample data, for the preview page: (kind, rendered).
pub fn samples(base_url: &str) -> Vec<(&'static str, Rendered)> {
    let ws = "Acme Robotics".to_owned();
    let url = format!("{base_url}/admin/workspaces/acme-robotics");
    let lifecycle = Footer {
        reason: "You receive this because you are an owner of Acme Robotics on Offstage.".into(),
        unsubscribe_url: Some(format!("{base_url}/unsubscribe/sample")),
    };
    let transactional = Footer {
        reason: "This email is about your account, so it is sent even if you unsubscribed from updates.".into(),
        unsubscribe_url: None,
    };
    let mut all = Vec::new();
    let mut add = |kind: &'static str, rendered: askama::Result<Rendered>| {
        all.push((
            kind,
            rendered.unwrap_or_else(|e| Rendered { subject: kind.into(), html: e.to_string(), text: e.to_string() }),
        ));
    };
    add(
        TrialEnding::KIND,
        TrialEnding {
            workspace_name: ws.clone(),
            ends_at: "Mon 30 Nov 2026, 09:00 CET".into(),
            days_left: 3,
            billing_url: format!("{url}/billing"),
        }
        .render(&lifecycle),
    );
    add(
        Welcome::KIND,
        Welcome { workspace_name: ws.clone(), timezone: "Europe/Berlin".into(), workspace_url: url.clone() }
            .render(&lifecycle),
    );
    add(
        InviteTeam::KIND,
        InviteTeam { workspace_name: ws.clone(), members_url: format!("{url}/members") }.render(&lifecycle),
    );
    add(
        ChoosePlan::KIND,
        ChoosePlan { workspace_name: ws.clone(), billing_url: format!("{url}/billing") }.render(&lifecycle),
    );
    add(
        WeeklyDigest::KIND,
        WeeklyDigest {
            workspace_name: ws.clone(),
            week: "23 – 29 Nov 2026".into(),
            runs: 1_284,
            failures: 3,
            members_joined: vec!["grace@acme.test".into()],
            billing_changes: vec!["Subscription became active on pro".into()],
            health: Some(82),
            health_change: Some(6),
            workspace_url: url.clone(),
        }
        .render(&lifecycle),
    );
    add(
        PaymentFailed::KIND,
        PaymentFailed {
            workspace_name: ws.clone(),
            amount: crate::domain::Money::new(4900, "eur").to_string(),
            billing_url: format!("{url}/billing"),
            stage: 0,
        }
        .render(&transactional),
    );
    add(
        Invitation::KIND,
        Invitation {
            workspace_name: ws,
            inviter: "ada@acme.test".into(),
            role: "admin".into(),
            accept_url: format!("{base_url}/invitations/sample"),
            expires_at: "Fri 4 Dec 2026, 12:00 CET".into(),
        }
        .render(&transactional),
    );
    for (kind, rendered) in account::samples(base_url, &transactional) {
        add(kind, rendered);
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_email_renders_both_bodies_with_the_footer() {
        for (kind, rendered) in samples("https://offstage.test") {
            assert!(rendered.html.contains("</html>"), "{kind}: {}", rendered.html);
            assert!(!rendered.text.contains('<'), "{kind} text has markup: {}", rendered.text);
            assert!(rendered.text.contains("--\n"), "{kind} text lacks the footer");
        }
    }

    #[test]
    fn html_bodies_escape_what_people_typed_and_text_bodies_keep_it() {
        let footer = Footer { reason: "r".into(), unsubscribe_url: None };
        let email =
            Welcome { workspace_name: "Tom & <Jerry>".into(), timezone: "UTC".into(), workspace_url: "u".into() };
        let rendered = email.render(&footer).unwrap();
        assert!(
            rendered.html.contains("Tom &#38; &#60;Jerry&#62;") || rendered.html.contains("Tom &amp; &lt;Jerry&gt;")
        );
        assert!(rendered.text.contains("Welcome to Tom & <Jerry>"));
        assert_eq!(rendered.subject, "Welcome to Tom & <Jerry>");
    }
}
