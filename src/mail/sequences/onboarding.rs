//! Onboarding: welcome at once; on day 2 "invite your team" only while the workspace has a single
//! member; on day 5 "choose a plan" only while not converted. Converting or unsubscribing stops it.

use chrono::Duration;

use super::{Audience, Facts, Links, Sequence, Step};
use crate::mail::Category;
use crate::mail::templates::{ChoosePlan, Email, Footer, InviteTeam, Rendered, Welcome};

pub static ONBOARDING: Sequence = Sequence {
    name: "onboarding",
    title: "Onboarding",
    steps: &[
        Step {
            name: "welcome",
            after: Duration::zero(),
            only_when: "always",
            holds: |_| true,
            render: welcome,
            kind: Welcome::KIND,
        },
        Step {
            name: "invite_team",
            after: Duration::days(2),
            only_when: "the workspace still has a single member",
            holds: |f| f.member_count <= 1,
            render: invite_team,
            kind: InviteTeam::KIND,
        },
        Step {
            name: "choose_plan",
            after: Duration::days(5),
            only_when: "the workspace has not converted",
            holds: |f| !f.converted(),
            render: choose_plan,
            kind: ChoosePlan::KIND,
        },
    ],
    stop_when: |f| f.converted().then_some("the workspace converted to a paid plan"),
    audience: Audience::Subject,
    category: Category::Lifecycle,
};

/// The enrolment key of a workspace's onboarding.
pub fn key(workspace_id: &str) -> String {
    format!("onboarding:{workspace_id}")
}

fn welcome(f: &Facts, links: &Links, footer: &Footer) -> askama::Result<Rendered> {
    Welcome {
        workspace_name: f.workspace.name.clone(),
        timezone: f.workspace.timezone.clone(),
        workspace_url: links.workspace.clone(),
    }
    .render(footer)
}

fn invite_team(f: &Facts, links: &Links, footer: &Footer) -> askama::Result<Rendered> {
    InviteTeam { workspace_name: f.workspace.name.clone(), members_url: links.members.clone() }.render(footer)
}

fn choose_plan(f: &Facts, links: &Links, footer: &Footer) -> askama::Result<Rendered> {
    ChoosePlan { workspace_name: f.workspace.name.clone(), billing_url: links.billing.clone() }.render(footer)
}
