//! A request to run a workflow (`NewRun`): which workflow, its parameters (typed from code or
//! JSON from outside, `Params`), when, under which keys, and in which class.

use chrono::{DateTime, Utc};

use crate::engine::{AnyWorkflow, Error, Priority, Registry, Workflow};

/// A request to run a workflow.
pub struct NewRun {
    pub(super) workflow: &'static dyn AnyWorkflow,
    pub(super) params: Params,
    /// Its workspace: the one its parameters name (`workspace_id`) if its workflow is scoped to
    /// one, read once, when the run is asked for.
    pub(super) workspace_id: Option<String>,
    pub(super) run_at: Option<DateTime<Utc>>,
    pub(super) idempotency_key: Option<String>,
    pub(super) business_key: Option<String>,
    pub(super) chain_id: Option<String>,
    pub(super) trigger: &'static str,
    /// Someone waits for this run's end (`"wait": true`): announce it to every process.
    pub(super) awaited: bool,
    /// Its class instead of its workflow's (`at_priority`).
    pub(super) priority: Option<Priority>,
    /// The request (or the run) that started it, for its log lines.
    pub(super) request_id: Option<String>,
}

impl NewRun {
    /// By name, with JSON parameters (schedules): unknown names are `NotFound`.
    pub fn named(registry: &Registry, name: &str, params: serde_json::Value) -> Result<NewRun, Error> {
        Ok(NewRun::for_workflow(registry.find(name).ok_or(Error::NotFound)?, params))
    }

    /// A workflow already found (the API and the UI), with JSON parameters.
    pub fn for_workflow(workflow: &'static dyn AnyWorkflow, params: serde_json::Value) -> NewRun {
        let workspace_id = workflow
            .workspace_scoped()
            .then(|| params.get("workspace_id").and_then(|v| v.as_str()).map(String::from))
            .flatten();
        NewRun::with_params(workflow, Params::Json(params), workspace_id)
    }

    /// From code, with typed parameters: the type carries what the run needs, so this cannot miss.
    /// They are serialized straight to text: building a JSON value first, and checking it
    /// against the type it came from, were a third of what a start of 1,000 runs did in Rust.
    pub fn of<W: Workflow>(params: &W::Params) -> NewRun {
        #[derive(serde::Deserialize)]
        struct Named {
            workspace_id: Option<String>,
        }
        let workflow = crate::engine::workflow::<W>();
        match serde_json::value::to_raw_value(params) {
            Ok(params) => {
                let workspace_id = workflow
                    .workspace_scoped()
                    .then(|| serde_json::from_str::<Named>(params.get()).ok().and_then(|named| named.workspace_id))
                    .flatten();
                NewRun::with_params(workflow, Params::Typed(params), workspace_id)
            }
            // A type that JSON cannot hold: the start's check refuses it.
            Err(_) => NewRun::for_workflow(workflow, serde_json::Value::Null),
        }
    }

    fn with_params(workflow: &'static dyn AnyWorkflow, params: Params, workspace_id: Option<String>) -> NewRun {
        NewRun {
            workflow,
            params,
            workspace_id,
            run_at: None,
            idempotency_key: None,
            business_key: None,
            chain_id: None,
            trigger: "code",
            awaited: false,
            priority: None,
            request_id: crate::telemetry::request_id::current(),
        }
    }

    /// Run at `at` instead of now.
    pub fn at(mut self, at: DateTime<Utc>) -> NewRun {
        self.run_at = Some(at);
        self
    }

    /// A second start with the same key (in the same workspace) returns the first run.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> NewRun {
        self.idempotency_key = Some(key.into());
        self
    }

    /// A key for cancelling related runs together, e.g. `trial_ending:ws_…`.
    pub fn business_key(mut self, key: impl Into<String>) -> NewRun {
        self.business_key = Some(key.into());
        self
    }

    /// Continues the chain `chain_id` (recursion in batches).
    pub fn continuing(mut self, chain_id: impl Into<String>) -> NewRun {
        self.chain_id = Some(chain_id.into());
        self.trigger = "continuation";
        self
    }

    pub fn trigger(mut self, trigger: &'static str) -> NewRun {
        self.trigger = trigger;
        self
    }

    /// Someone will wait for the run's end (`waiting::until_finished`) in another process too;
    /// the run is urgent whatever its workflow's priority.
    pub fn awaited(mut self) -> NewRun {
        self.awaited = true;
        self
    }

    /// Runs in `priority`'s class instead of its workflow's: the emails an import sends go with
    /// the bulk work that made them, not before every workspace's other runs.
    pub fn at_priority(mut self, priority: Priority) -> NewRun {
        self.priority = Some(priority);
        self
    }

    pub fn workflow(&self) -> &'static dyn AnyWorkflow {
        self.workflow
    }

    /// Where its idempotency key is unique: its workspace, or `global`.
    pub fn idempotency_scope(&self) -> String {
        scope_of(self.workspace_id.clone())
    }
}

/// The idempotency scope of a run of `workspace_id`: the workspace, or `global` for none.
pub(super) fn scope_of(workspace_id: Option<String>) -> String {
    workspace_id.unwrap_or_else(|| "global".into())
}

/// A run's parameters, by where they came from.
pub(super) enum Params {
    /// From code: serialized from the workflow's own type, so they fit it.
    Typed(Box<serde_json::value::RawValue>),
    /// From JSON (the API, the UI, schedules): checked against the type when the run starts.
    Json(serde_json::Value),
}

#[cfg(test)]
mod tests {
    use super::super::{check_all, prepare};
    use super::*;
    use crate::engine::probe;

    fn parsed(text: &[u8]) -> serde_json::Value {
        serde_json::from_slice(text).expect("JSON")
    }

    #[test]
    fn typed_and_json_parameters_name_the_same_workspace_and_are_written_alike() {
        let params = probe::Params::noop("ws_1");
        let typed = NewRun::of::<probe::Probe>(&params);
        let json = NewRun::for_workflow(typed.workflow(), serde_json::to_value(&params).expect("JSON"));
        assert_eq!(typed.workspace_id.as_deref(), Some("ws_1"));
        assert_eq!(json.workspace_id, typed.workspace_id);
        let written = prepare([&typed, &json], Utc::now()).expect("prepared");
        assert_eq!(parsed(written[0].fact.params.as_bytes()), parsed(written[1].fact.params.as_bytes()));
        assert_eq!(parsed(&written[0].job.payload), parsed(&written[1].job.payload));
        assert_eq!(parsed(&written[0].job.payload)["params"], parsed(written[0].fact.params.as_bytes()));
        assert_eq!((written[0].job.lane.as_str(), written[1].job.lane.as_str()), ("ws_1", "ws_1"));
    }

    #[test]
    fn json_parameters_that_do_not_fit_the_workflow_are_refused_and_typed_ones_pass() {
        let typed = NewRun::of::<probe::Probe>(&probe::Params::noop("ws_1"));
        let misfit = NewRun::for_workflow(typed.workflow(), serde_json::json!({ "workspace_id": 5 }));
        assert!(check_all([&typed]).is_ok());
        match check_all([&typed, &misfit]) {
            Err(Error::Invalid(message)) => assert!(message.starts_with("workspace_id"), "{message}"),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }
}
