//! The composition root's lists: every workflow Offstage runs and the schedules it ships with.
//! Adding a workflow is one line here; the engine is handed the list at start-up and refuses
//! it there when a name is wrong or taken twice.

use crate::billing::workflows::process_stripe_event::ProcessStripeEvent;
use crate::billing::workflows::send_trial_ending_email::SendTrialEndingEmail;
use crate::engine::probe::{Probe, ProbeOneAtATime};
use crate::engine::schedules::BuiltIn;
use crate::engine::{Registry, workflow};
use crate::exports::workflows::expire_exports::ExpireExports;
use crate::exports::workflows::export_workspace_data::ExportWorkspaceData;
use crate::exports::workflows::export_workspaces::ExportWorkspaces;
use crate::imports::workflows::import_members::ImportMembers;
use crate::imports::workflows::import_workspaces::ImportWorkspaces;
use crate::mail::workflows::send_email::SendEmail;
use crate::mail::workflows::send_sequence_step::SendSequenceStep;
use crate::retention::workflows::prune_expired_data::PruneExpiredData;
use crate::revenue::workflows::calculate_monthly_revenue::CalculateMonthlyRevenue;
use crate::workspaces::workflows::generate_weekly_digest::GenerateWeeklyDigest;
use crate::workspaces::workflows::record_workspace_created::RecordWorkspaceCreated;
use crate::workspaces::workflows::refresh_all_workspace_health::RefreshAllWorkspaceHealth;
use crate::workspaces::workflows::refresh_workspace_health::RefreshWorkspaceHealth;

/// Every workflow, in the order the UI lists them.
pub fn workflows() -> Result<Registry, String> {
    Registry::new(vec![
        workflow::<RefreshWorkspaceHealth>(),
        workflow::<RefreshAllWorkspaceHealth>(),
        workflow::<Probe>(),
        workflow::<ProbeOneAtATime>(),
        workflow::<RecordWorkspaceCreated>(),
        workflow::<ProcessStripeEvent>(),
        workflow::<GenerateWeeklyDigest>(),
        workflow::<SendTrialEndingEmail>(),
        workflow::<SendSequenceStep>(),
        workflow::<SendEmail>(),
        workflow::<CalculateMonthlyRevenue>(),
        workflow::<ExportWorkspaces>(),
        workflow::<ExportWorkspaceData>(),
        workflow::<ExpireExports>(),
        workflow::<ImportMembers>(),
        workflow::<ImportWorkspaces>(),
        workflow::<PruneExpiredData>(),
    ])
}

/// Global schedules created (once, then left to the operator) at start-up.
pub const BUILT_IN_SCHEDULES: &[BuiltIn] = &[
    BuiltIn {
        id: "sch_builtin_daily_health",
        workflow: "refresh_all_workspace_health",
        cron: "0 3 * * *",
        timezone: "UTC",
    },
    // Last month's revenue, once its last day has ended everywhere that matters for UTC months.
    BuiltIn {
        id: "sch_builtin_monthly_revenue",
        workflow: "calculate_monthly_revenue",
        cron: "0 2 1 * *",
        timezone: "UTC",
    },
    // Export files past their expiry (`OFFSTAGE_EXPORT_EXPIRY_DAYS`).
    BuiltIn { id: "sch_builtin_expire_exports", workflow: "expire_exports", cron: "30 3 * * *", timezone: "UTC" },
    // What has outlived its retention (`OFFSTAGE_RETENTION_*`), at the quietest hour.
    BuiltIn {
        id: "sch_builtin_prune_expired_data",
        workflow: "prune_expired_data",
        cron: "0 4 * * *",
        timezone: "UTC",
    },
];

#[cfg(test)]
mod tests {
    use super::{BUILT_IN_SCHEDULES, workflows};
    use crate::domain::{CronExpr, Timezone};

    #[test]
    fn the_workflow_list_is_accepted_by_the_engine() {
        let registry = workflows();
        assert!(registry.is_ok(), "{:?}", registry.err());
    }

    #[test]
    fn every_built_in_schedule_parses_and_names_a_known_workflow() {
        let Ok(registry) = workflows() else { panic!("the workflow list is refused") };
        for built_in in BUILT_IN_SCHEDULES {
            assert!(CronExpr::parse(built_in.cron).is_ok(), "{}", built_in.id);
            assert!(Timezone::parse(built_in.timezone).is_ok(), "{}", built_in.id);
            assert!(registry.find(built_in.workflow).is_some(), "{} names {}", built_in.id, built_in.workflow);
        }
    }
}
