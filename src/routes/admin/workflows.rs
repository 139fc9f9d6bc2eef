//! A workspace's workflows in the admin UI: what can run here, and "Run manually" with a form
//! generated from each workflow's parameter schema (the workspace is filled in).

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde_json::{Map, Value};

use super::WorkspaceNav;
use crate::engine::{AnyWorkflow, NewRun, runs};
use crate::error::AppError;
use crate::state::AppState;
use crate::tenancy::Scope;
use crate::web::page::unprocessable;
use crate::web::{CsrfForm, Flash, PageContext, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/workspaces/{slug}/workflows", web::get().to(index))
        .route("/workspaces/{slug}/workflows/{name}/run", web::get().to(form))
        .route("/workspaces/{slug}/workflows/{name}/run", web::post().to(run));
}

/// A workflow the person may start in this workspace (operator tools: platform admins only).
fn runnable(state: &AppState, scope: &Scope, name: &str) -> Result<&'static dyn AnyWorkflow, AppError> {
    state.workflows.startable_in_workspace(scope.is_operator()).find(|w| w.name() == name).ok_or(AppError::NotFound)
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/workflows/index.html")]
struct WorkflowsPage {
    ctx: PageContext,
    nav: WorkspaceNav,
    workflows: Vec<&'static dyn AnyWorkflow>,
}

async fn index(ctx: PageContext, scope: Scope, state: web::Data<AppState>) -> WorkflowsPage {
    let workflows = state.workflows.startable_in_workspace(scope.is_operator()).collect();
    WorkflowsPage { ctx, nav: WorkspaceNav::new(&scope, "workflows"), workflows }
}

/// One input of the generated form.
pub struct Field {
    pub name: String,
    /// `integer`, `number`, `boolean`, `string` or `json`.
    pub kind: &'static str,
    pub description: String,
    pub required: bool,
    pub value: String,
}

fn fields(workflow: &dyn AnyWorkflow, submitted: &Map<String, Value>) -> Vec<Field> {
    let schema = workflow.params_schema();
    let required: Vec<&str> =
        schema["required"].as_array().map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let Some(properties) = schema["properties"].as_object() else { return Vec::new() };
    properties
        .iter()
        .filter(|(name, _)| name.as_str() != "workspace_id")
        .map(|(name, property)| Field {
            name: name.clone(),
            kind: kind_of(property),
            description: property["description"].as_str().unwrap_or_default().to_owned(),
            required: required.contains(&name.as_str()),
            value: submitted.get(name).and_then(Value::as_str).unwrap_or_default().to_owned(),
        })
        .collect()
}

fn kind_of(property: &Value) -> &'static str {
    let types: Vec<&str> = match &property["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    match types.into_iter().find(|t| *t != "null") {
        Some("integer") => "integer",
        Some("number") => "number",
        Some("boolean") => "boolean",
        Some("string") => "string",
        _ => "json",
    }
}

/// Turns the submitted text fields into typed JSON parameters, naming the field that is wrong.
fn params_from(workflow: &dyn AnyWorkflow, scope: &Scope, submitted: &Map<String, Value>) -> Result<Value, String> {
    let mut params = Map::new();
    params.insert("workspace_id".into(), Value::String(scope.workspace_id().to_owned()));
    for field in fields(workflow, submitted) {
        let text = field.value.trim();
        let value = match field.kind {
            "boolean" => Value::Bool(matches!(text, "on" | "true")),
            _ if text.is_empty() => continue,
            "integer" => {
                text.parse::<i64>().map(Value::from).map_err(|_| format!("{}: enter a whole number", field.name))?
            }
            "number" => text.parse::<f64>().map(Value::from).map_err(|_| format!("{}: enter a number", field.name))?,
            "string" => Value::String(text.to_owned()),
            _ => serde_json::from_str(text).map_err(|err| format!("{}: not valid JSON ({err})", field.name))?,
        };
        params.insert(field.name, value);
    }
    Ok(Value::Object(params))
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/workflows/run.html")]
struct RunForm {
    ctx: PageContext,
    nav: WorkspaceNav,
    workflow: &'static dyn AnyWorkflow,
    fields: Vec<Field>,
    error: Option<String>,
}

async fn form(
    ctx: PageContext,
    scope: Scope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<RunForm, AppError> {
    let workflow = runnable(&state, &scope, &path.1)?;
    Ok(RunForm {
        ctx,
        nav: WorkspaceNav::new(&scope, "workflows"),
        workflow,
        fields: fields(workflow, &Map::new()),
        error: None,
    })
}

async fn run(
    ctx: PageContext,
    scope: Scope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    CsrfForm(submitted): CsrfForm<Map<String, Value>>,
) -> Result<HttpResponse, AppError> {
    scope.require_manager()?;
    let workflow = runnable(&state, &scope, &path.1)?;
    let started = match params_from(workflow, &scope, &submitted) {
        Ok(params) => {
            runs::start(&state.db, NewRun::for_workflow(workflow, params).trigger("ui")).await.map_err(AppError::from)
        }
        Err(msg) => Err(AppError::Unprocessable(msg)),
    };
    match started {
        Ok(run) => {
            Flash::success(&ctx.session, format!("Run of {} started.", workflow.name()));
            Ok(redirect(format!("/admin/workspaces/{}/runs/{}", scope.workspace().slug, run.id)))
        }
        Err(AppError::Unprocessable(msg)) => unprocessable(&RunForm {
            fields: fields(workflow, &submitted),
            ctx,
            nav: WorkspaceNav::new(&scope, "workflows"),
            workflow,
            error: Some(msg),
        }),
        Err(other) => Err(other),
    }
}
