//! The registry type: the workflows one Offstage knows, seen through their names and JSON
//! parameters. The list itself is the composition root's (`src/registry.rs`); the engine is
//! handed it and checks it at start-up.

use std::any::TypeId;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;

use super::{Outcome, Priority, RunContext, Workflow};

/// A workflow seen through its name and JSON parameters, as the engine, API and UI need it.
pub trait AnyWorkflow: Send + Sync {
    fn name(&self) -> &'static str;
    fn description(&self) -> &'static str;
    fn max_attempts(&self) -> u32;
    fn timeout(&self) -> Duration;
    fn internal(&self) -> bool;
    fn operator_only(&self) -> bool;
    fn priority(&self) -> Priority;
    fn running_per_workspace(&self) -> Option<u32>;
    /// The JSON schema of the parameters.
    fn params_schema(&self) -> Value;
    /// True when the parameters carry a `workspace_id`.
    fn workspace_scoped(&self) -> bool;
    /// Checks parameters against the type; the error names the offending field.
    fn check_params(&self, params: &Value) -> Result<(), ParamsError>;
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
    fn priority(&self) -> Priority {
        W::PRIORITY
    }
    fn running_per_workspace(&self) -> Option<u32> {
        W::RUNNING_PER_WORKSPACE.map(|n| n.max(1))
    }
    fn params_schema(&self) -> Value {
        serde_json::to_value(schemars::schema_for!(W::Params)).unwrap_or(Value::Null)
    }
    fn workspace_scoped(&self) -> bool {
        // Asked for every run started; deriving the schema each time was most of a bulk start's
        // CPU. One cache for every workflow type (a static in a generic fn is shared by all).
        static SCOPED: OnceLock<RwLock<HashMap<TypeId, bool>>> = OnceLock::new();
        let cache = SCOPED.get_or_init(Default::default);
        if let Some(scoped) = cache.read().ok().and_then(|known| known.get(&TypeId::of::<W>()).copied()) {
            return scoped;
        }
        let scoped = self.params_schema()["properties"].get("workspace_id").is_some();
        if let Ok(mut known) = cache.write() {
            known.insert(TypeId::of::<W>(), scoped);
        }
        scoped
    }
    fn check_params(&self, params: &Value) -> Result<(), ParamsError> {
        parse::<W>(params).map(|_| ())
    }
    fn run(&self, ctx: RunContext, params: Value) -> BoxFuture<'static, anyhow::Result<Outcome>> {
        Box::pin(async move {
            let params = parse::<W>(params).map_err(|err| anyhow::Error::msg(err.to_string()))?;
            W::run(ctx, params).await
        })
    }
}

/// Parameters that do not fit: where (`""` for the whole, else a path such as `emails[2]`) and why.
#[derive(Debug, Clone)]
pub struct ParamsError {
    pub path: String,
    pub problem: String,
}

impl std::fmt::Display for ParamsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() { f.write_str(&self.problem) } else { write!(f, "{}: {}", self.path, self.problem) }
    }
}

fn parse<'de, W: Workflow>(params: impl serde::Deserializer<'de>) -> Result<W::Params, ParamsError> {
    serde_path_to_error::deserialize::<_, W::Params>(params).map_err(|err| {
        let path = err.path().to_string();
        let problem = err.into_inner().to_string();
        ParamsError { path: if path == "." { String::new() } else { path }, problem }
    })
}

impl<W: Workflow> Entry<W> {
    const DYN: &'static dyn AnyWorkflow = &Entry::<W>(PhantomData);
}

/// The workflow `W` seen through its name: what `NewRun::of` uses, so starting a run of a known
/// type needs no lookup and cannot miss.
pub fn workflow<W: Workflow>() -> &'static dyn AnyWorkflow {
    Entry::<W>::DYN
}

/// The workflows one Offstage runs, in the order the UI lists them. Cloning shares the list.
#[derive(Clone)]
pub struct Registry {
    all: std::sync::Arc<[&'static dyn AnyWorkflow]>,
}

impl Registry {
    /// Refuses a list with a name that is not snake_case or appears twice: checked once, when
    /// the process starts.
    pub fn new(all: Vec<&'static dyn AnyWorkflow>) -> Result<Registry, String> {
        let mut seen = std::collections::HashSet::new();
        for workflow in &all {
            let name = workflow.name();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                return Err(format!("the workflow name “{name}” is not snake_case"));
            }
            if !seen.insert(name) {
                return Err(format!("two workflows are named “{name}”"));
            }
        }
        Ok(Registry { all: all.into() })
    }

    pub fn all(&self) -> &[&'static dyn AnyWorkflow] {
        &self.all
    }

    pub fn find(&self, name: &str) -> Option<&'static dyn AnyWorkflow> {
        self.all.iter().copied().find(|w| w.name() == name)
    }

    /// The workflows a person or key may start in a workspace: workspace-scoped, not internal,
    /// and operator tools only for an operator (a platform admin).
    pub fn startable_in_workspace(&self, operator: bool) -> impl Iterator<Item = &'static dyn AnyWorkflow> + '_ {
        self.all
            .iter()
            .copied()
            .filter(move |w| !w.internal() && w.workspace_scoped() && (operator || !w.operator_only()))
    }

    /// Runs of Offstage's own workflows (billing, email), and of names no longer known, are
    /// read-only to tenants.
    pub fn is_internal(&self, name: &str) -> bool {
        self.find(name).is_none_or(|w| w.internal())
    }
}

#[cfg(test)]
mod tests {
    use super::{Registry, workflow};
    use crate::engine::probe::Probe;

    #[test]
    fn a_list_naming_one_workflow_twice_is_refused() {
        let refused = Registry::new(vec![workflow::<Probe>(), workflow::<Probe>()]).err();
        assert_eq!(refused.as_deref(), Some("two workflows are named “probe”"));
        assert!(Registry::new(vec![workflow::<Probe>()]).is_ok());
    }
}
