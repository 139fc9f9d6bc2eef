//! The admin web UI (server-rendered askama pages behind a session): workspaces, their members
//! and API keys, and the signed-in user's own account.

mod account;
mod api_keys;
mod billing;
mod emails;
mod export_list;
mod import_pages;
mod invitations;
mod mailbox;
mod member_imports;
mod members;
mod platform;
mod platform_exports;
mod platform_imports;
mod platform_queue;
mod platform_revenue;
mod platform_users;
mod platform_workflows;
mod runs;
mod schedules;
mod stripe_events;
mod workflows;
mod workspace_exports;
mod workspaces;

use actix_web::web;

use crate::db::entities::workspace;
use crate::domain::Role;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .route("", web::get().to(home))
            .route("/", web::get().to(home))
            .configure(workspaces::configure)
            .configure(members::configure)
            .configure(member_imports::configure)
            .configure(invitations::configure)
            .configure(api_keys::configure)
            .configure(workflows::configure)
            .configure(runs::configure)
            .configure(schedules::configure)
            .configure(platform::configure)
            .configure(platform_queue::configure)
            .configure(platform_workflows::configure)
            .configure(platform_revenue::configure)
            .configure(platform_exports::configure)
            .configure(platform_imports::configure)
            .configure(workspace_exports::configure)
            .configure(platform_users::configure)
            .configure(stripe_events::configure)
            .configure(billing::configure)
            .configure(emails::configure)
            .configure(mailbox::configure)
            .configure(account::configure),
    );
}

/// `/admin`: where sign-in lands; the workspace list is the admin's home.
async fn home() -> actix_web::HttpResponse {
    crate::web::redirect("/admin/workspaces")
}

/// The workspace header and tabs shared by every workspace page.
pub struct WorkspaceNav {
    pub workspace: workspace::Model,
    pub role: Role,
    /// Which tab is open: overview, workflows, runs, members, api-keys, settings.
    pub tab: &'static str,
}

impl WorkspaceNav {
    pub fn new(scope: &crate::tenancy::Scope, tab: &'static str) -> WorkspaceNav {
        WorkspaceNav { workspace: scope.workspace().clone(), role: scope.role(), tab }
    }

    /// A time in the workspace's own timezone.
    pub fn time(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        self.workspace.tz().format(*at)
    }

    /// A time to the second, for runs.
    pub fn precise(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        self.workspace.tz().format_seconds(*at)
    }

    /// An optional time to the second, or a dash.
    pub fn maybe_precise(&self, at: &Option<chrono::DateTime<chrono::Utc>>) -> String {
        at.map(|at| self.precise(&at)).unwrap_or_else(|| "—".into())
    }

    /// "ends in 4 days" / "ended 2 days ago", for the trial countdown.
    pub fn trial_countdown(&self) -> Option<String> {
        let remaining = self.workspace.trial_ends_at? - chrono::Utc::now();
        Some(match (remaining.num_days(), remaining.num_hours()) {
            (_, h) if h < 0 => format!("ended {} ago", plural(-(remaining.num_days()).max(0), "day")),
            (0, h) => format!("ends in {}", plural(h, "hour")),
            (d, _) => format!("ends in {}", plural(d, "day")),
        })
    }

    pub fn can_manage(&self) -> bool {
        self.role.can_manage()
    }
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") }
}
