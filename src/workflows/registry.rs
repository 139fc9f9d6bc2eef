//! The registry: every workflow Offstage knows, in one list. Adding a workflow is one line here.

use std::marker::PhantomData;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;

use super::generate_weekly_digest::GenerateWeeklyDigest;
use super::probe::Probe;
use super::process_stripe_event::ProcessStripeEvent;
use super::record_workspace_created::RecordWorkspaceCreated;
use super::refresh_all_workspace_health::RefreshAllWorkspaceHealth;
use super::refresh_workspace_health::RefreshWorkspaceHealth;
use super::send_email::SendEmail;
use super::send_sequence_step::SendSequenceStep;
use super::send_trial_ending_email::SendTrialEndingEmail;
use super::{Outcome, RunContext, Workflow};

/// A workflow seen through its name and JSON parameters, as the engine, API and UI need it.
pub trait AnyWorkflow: Send + Sync {
    fn name(&self) -> &'static str;
    fn description(&self) -> &'static str;
    fn max_attempts(&self) -> u32;
    fn timeout(&self) -> Duration;
    fn internal(&self) -> bool;
    fn operator_only(&self) -> bool;
    /// The JSON schema of the parameters.
    fn params_schema(&self) -> Value;
    /// True when the parameters carry a `workspace_id`.
    fn workspace_scoped(&self) -> bool;
    /// Checks parameters against the type; the error names the offending field.
    fn check_params(&self, params: &Value) -> Result<(), String>;
    fn run(&self, ctx: RunContext, params: Value) -> BoxFuture<'static, anyhow::Result<Outcome>>;
}

struct Entry<W>(PhantomData<W>);

impl<W: Workflow> AnyWorkflow for Entry<W> {
    fn name(&self) -> &'static str {
        W::NAME
    }
    fn description(&self) -> &'static str {
        W::DESCRIPTION
    }
    fn max_attempts(&self) -> u32 {
        W::MAX_ATTEMPTS
    }
    fn timeout(&self) -> Duration {
        W::TIMEOUT
    }
    fn internal(&self) -> bool {
        W::INTERNAL
    }
    fn operator_only(&self) -> bool {
        W::OPERATOR_ONLY
    }
    fn params_schema(&self) -> Value {
        serde_json::to_value(schemars::schema_for!(W::Params)).unwrap_or(Value::Null)
    }
    fn workspace_scoped(&self) -> bool {
        self.params_schema()["properties"].get("workspace_id").is_some()
    }
    fn check_params(&self, params: &Value) -> Result<(), String> {
        parse::<W>(params.clone()).map(|_| ())
    }
    fn run(&self, ctx: RunContext, params: Value) -> BoxFuture<'static, anyhow::Result<Outcome>> {
        Box::pin(async move {
            let params = parse::<W>(params).map_err(anyhow::Error::msg)?;
            W::run(ctx, params).await
        })
    }
}

fn parse<W: Workflow>(params: Value) -> Result<W::Params, String> {
    serde_path_to_error::deserialize::<_, W::Params>(params).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if path == "." { inner.to_string() } else { format!("{path}: {inner}") }
    })
}

const fn entry<W: Workflow>() -> Entry<W> {
    Entry(PhantomData)
}

/// Every workflow, in the order the UI lists them. Adding a workflow is one line here.
pub fn registry() -> &'static [&'static dyn AnyWorkflow] {
    static ALL: &[&dyn AnyWorkflow] = &[
        &entry::<RefreshWorkspaceHealth>(),
        &entry::<RefreshAllWorkspaceHealth>(),
        &entry::<Probe>(),
        &entry::<RecordWorkspaceCreated>(),
        &entry::<ProcessStripeEvent>(),
        &entry::<GenerateWeeklyDigest>(),
        &entry::<SendTrialEndingEmail>(),
        &entry::<SendSequenceStep>(),
        &entry::<SendEmail>(),
    ];
    ALL
}

pub fn find(name: &str) -> Option<&'static dyn AnyWorkflow> {
    registry().iter().copied().find(|w| w.name() == name)
}

/// The workflows a person or key may start in a workspace: workspace-scoped, not internal, and
/// operator tools only for an operator (a platform admin).
pub fn startable_in_workspace(operator: bool) -> impl Iterator<Item = &'static dyn AnyWorkflow> {
    registry()
        .iter()
        .copied()
        .filter(move |w| !w.internal() && w.workspace_scoped() && (operator || !w.operator_only()))
}

#[cfg(test)]
mod tests {
    use super::registry;

    #[test]
    fn workflow_names_are_unique_and_snake_case() {
        let mut names: Vec<&str> = registry().iter().map(|w| w.name()).collect();
        assert!(names.iter().all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate workflow names");
    }

    #[test]
    fn every_built_in_schedule_parses_and_names_a_known_workflow() {
        for built_in in crate::workflows::schedules::BUILT_IN {
            crate::domain::CronExpr::parse(built_in.cron).unwrap_or_else(|e| panic!("{}: {e}", built_in.id));
            crate::domain::Timezone::parse(built_in.timezone).unwrap();
            assert!(super::find(built_in.workflow).is_some(), "{} names {}", built_in.id, built_in.workflow);
        }
    }
}
