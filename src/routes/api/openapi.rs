//! `GET /api/v1/openapi.json`: the API described as OpenAPI 3.1, with one path per workflow
//! whose request body embeds that workflow's parameter schema, generated from the registry so
//! nothing is written twice. Every status an operation can answer is listed, with the limits
//! the server enforces (a schemathesis run in the test suite holds the two together).

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use super::batch_starts::BATCH_MAX;
use super::workflows::{IDEMPOTENCY_KEY_MAX, offered};
use crate::engine::Registry;
use crate::imports::csv_file::{MAX_BYTES, MAX_ROWS};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/openapi.json").route(web::get().to(document)));
}

fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// What a status means, for every operation that answers it.
fn meaning(status: u16) -> &'static str {
    match status {
        400 => "The request could not be read (not JSON, or a query or path parameter of the wrong type)",
        401 => "Missing, unknown or revoked API key",
        403 => "The run is one of Offstage's own (billing, email): it can be read but not changed",
        404 => "Not found (or not in the key's workspace)",
        409 => "The run is not in a state that allows this",
        413 => "The body is larger than 256 KiB",
        422 => "Well-formed but invalid input; the message names the field",
        429 => "Too many requests of this kind at once; `Retry-After` says when to try again",
        _ => "",
    }
}

/// `statuses` as OpenAPI responses, with `successes` (status, description, schema) first. Every
/// operation needs a key, so every one may also be 429 (the key's rate limit).
fn responses(successes: &[(u16, &str, Value)], statuses: &[u16]) -> Value {
    let statuses = statuses.iter().copied().chain((!statuses.contains(&429)).then_some(429));
    let mut all = Map::new();
    for (status, description, body) in successes {
        all.insert(
            status.to_string(),
            json!({ "description": description, "content": { "application/json": { "schema": body } } }),
        );
    }
    for status in statuses {
        let mut response = json!({
            "description": meaning(status),
            "content": { "application/json": { "schema": schema("Error") } }
        });
        if status == 429 {
            response["headers"] = json!({
                "Retry-After": { "description": "Seconds to wait", "schema": { "type": "integer" } },
                "RateLimit": { "description": "What is left of the key's allowance: `\"per-key\";r=0;t=SECONDS`",
                    "schema": { "type": "string" } }
            });
        }
        all.insert(status.to_string(), response);
    }
    Value::Object(all)
}

/// Where a run answered by one operation can be taken next (schemathesis follows these).
fn run_links() -> Value {
    let id = json!({ "id": "$response.body#/id" });
    json!({
        "GetRun": { "operationId": "getRun", "parameters": id },
        "CancelRun": { "operationId": "cancelRun", "parameters": id },
        "RetryRun": { "operationId": "retryRun", "parameters": id }
    })
}

fn id_parameter() -> Value {
    json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }])
}

/// A workflow's parameters as the API takes them: `workspace_id` may be left out (it is the
/// key's workspace; any other is 404).
fn api_params(workflow: &dyn crate::engine::AnyWorkflow) -> Value {
    let mut params = workflow.params_schema();
    if let Some(map) = params.as_object_mut() {
        map.remove("$schema");
        if let Some(required) = map.get_mut("required").and_then(Value::as_array_mut) {
            required.retain(|name| name != "workspace_id");
        }
        if let Some(ws) = map.get_mut("properties").and_then(|p| p.get_mut("workspace_id")) {
            ws["description"] = json!("The key's workspace, filled in when left out; any other is 404");
        }
    }
    params
}

/// `POST /workflows/{name}/runs/batch`: up to 1,000 runs, all or none.
fn batch_start(workflow: &dyn crate::engine::AnyWorkflow) -> Value {
    let item = json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "params": { "anyOf": [api_params(workflow), { "type": "null" }] },
            "run_at": { "type": ["string", "null"], "format": "date-time", "description": "Run at this time instead of now" },
            "idempotency_key": { "type": ["string", "null"], "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX,
                "description": "A repeat with the same key (earlier, or in this batch) answers with the first run" }
        }
    });
    let body = json!({ "type": "object", "additionalProperties": false, "required": ["runs"],
        "properties": { "runs": { "type": "array", "minItems": 1, "maxItems": BATCH_MAX, "items": item } } });
    let started = json!({ "type": "object", "required": ["id", "status", "duplicate"], "properties": {
        "id": { "type": "string" }, "status": schema("RunStatus"),
        "duplicate": { "type": "boolean", "description": "True when an earlier run had this idempotency key" } } });
    let answer = json!({ "type": "object", "required": ["runs"],
        "properties": { "runs": { "type": "array", "items": started } } });
    json!({ "post": {
        "operationId": format!("start_batch_{}", workflow.name()),
        "summary": format!("Start up to {BATCH_MAX} runs of {} at once", workflow.name()),
        "description": "Every item is checked before any run starts: one bad item refuses the batch with 422 \
            naming its index and field. The runs start in one transaction; the answer lists them in the items' order.",
        "requestBody": { "required": true, "content": { "application/json": { "schema": body } } },
        "responses": responses(&[(202, "The runs, in the items' order", answer)], &[400, 401, 404, 413, 422, 429])
    } })
}

pub fn build(base_url: &str, registry: &Registry) -> Value {
    let mut paths = Map::new();
    paths.insert(
        "/workspace".into(),
        json!({ "get": { "operationId": "getWorkspace", "summary": "The API key's workspace",
            "responses": responses(&[(200, "The workspace", schema("Workspace"))], &[401]) } }),
    );
    let workflows = json!({ "type": "object", "required": ["workflows"],
        "properties": { "workflows": { "type": "array", "items": schema("Workflow") } } });
    paths.insert(
        "/workflows".into(),
        json!({ "get": { "operationId": "listWorkflows", "summary": "Workflows this key may run, with their parameter schemas",
            "responses": responses(&[(200, "The workflows", workflows)], &[401]) } }),
    );
    for workflow in offered(registry) {
        let finished = "The finished run (with \"wait\": true), or the first run of a repeated idempotency key";
        let body = json!({
            "type": "object",
            "additionalProperties": false,
            // "wait" only with a run that starts now.
            "anyOf": [
                { "properties": { "wait": { "const": false } } },
                { "properties": { "run_at": { "type": "null" } } }
            ],
            "properties": {
                "params": { "anyOf": [api_params(workflow), { "type": "null" }] },
                "run_at": { "type": ["string", "null"], "format": "date-time",
                    "description": "Run at this time instead of now (not with \"wait\")" },
                "idempotency_key": { "type": ["string", "null"], "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX,
                    "description": "A repeat with the same key returns the first run" },
                "wait": { "type": "boolean",
                    "description": "Wait up to 30 s for the run (which starts now) and answer with it finished" }
            }
        });
        let mut answers = responses(
            &[(200, finished, schema("Run")), (202, "The run, started (or not finished within 30 s)", schema("Run"))],
            &[400, 401, 404, 413, 422, 429],
        );
        answers["200"]["links"] = run_links();
        answers["202"]["links"] = run_links();
        paths.insert(
            format!("/workflows/{}/runs", workflow.name()),
            json!({ "post": {
                "operationId": format!("start_{}", workflow.name()),
                "summary": format!("Start {}", workflow.name()),
                "description": workflow.description(),
                "requestBody": { "required": false,
                    "description": "Optional: an empty body is `{}`; anything else, whitespace alone included, must be JSON (else 400)",
                    "content": { "application/json": { "schema": body } } },
                "responses": answers
            } }),
        );
        paths.insert(format!("/workflows/{}/runs/batch", workflow.name()), batch_start(workflow));
    }
    let listed = json!({ "type": "object", "required": ["runs"], "properties": { "runs": { "type": "array", "items": schema("Run") } } });
    paths.insert(
        "/runs".into(),
        json!({ "get": {
            "operationId": "listRuns",
            "summary": "Runs of the key's workspace, newest first",
            "parameters": [
                { "name": "workflow", "in": "query", "schema": { "type": "string" } },
                { "name": "status", "in": "query", "schema": schema("RunStatus") },
                { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 200, "default": 50 } }
            ],
            "responses": responses(&[(200, "The runs", listed)], &[400, 401, 422])
        } }),
    );
    paths.insert(
        "/runs/{id}".into(),
        json!({ "get": { "operationId": "getRun", "summary": "One run with its timeline", "parameters": id_parameter(),
            "responses": responses(&[(200, "The run", schema("Run"))], &[400, 401, 404]) } }),
    );
    paths.insert(
        "/runs/{id}/cancel".into(),
        json!({ "post": { "operationId": "cancelRun", "summary": "Cancel a run that has not started", "parameters": id_parameter(),
            "responses": responses(&[(200, "The cancelled run", schema("Run"))], &[400, 401, 403, 404, 409]) } }),
    );
    paths.insert(
        "/runs/{id}/retry".into(),
        json!({ "post": { "operationId": "retryRun", "summary": "Run a failed run again, with a fresh set of attempts", "parameters": id_parameter(),
            "responses": responses(&[(200, "The run, queued again", schema("Run"))], &[400, 401, 403, 404, 409]) } }),
    );
    imports(&mut paths);
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Offstage API", "version": env!("CARGO_PKG_VERSION") },
        "servers": [{ "url": format!("{base_url}/api/v1") }],
        "security": [{ "apiKey": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": { "apiKey": { "type": "http", "scheme": "bearer", "description": "A workspace API key (osk_…)" } },
            "schemas": components()
        }
    })
}

/// The members import: a CSV body in, the import's counts and first errors out.
fn imports(paths: &mut Map<String, Value>) {
    let started = json!({ "type": "object", "required": ["id", "status", "total_rows"], "properties": {
        "id": { "type": "string" }, "status": { "const": "running" }, "total_rows": { "type": "integer" } } });
    let mut answers = responses(&[(202, "The import, started", started)], &[400, 401, 403, 413, 422, 429]);
    answers["413"]["description"] = json!(format!("The file is larger than {} MB", MAX_BYTES / (1024 * 1024)));
    answers["403"]["description"] = json!("Only keys of owners and admins may invite (every key may)");
    answers["202"]["links"] = json!({
        "GetImport": { "operationId": "getImport", "parameters": { "id": "$response.body#/id" } },
        "CancelImport": { "operationId": "cancelImport", "parameters": { "id": "$response.body#/id" } }
    });
    paths.insert(
        "/imports/members".into(),
        json!({ "post": {
            "operationId": "importMembers",
            "summary": "Invite the people of a CSV file (email,role,name), 100 lines per run",
            "description": format!("At most {MAX_ROWS} rows. A file that is not UTF-8, has another header or too many rows, or asks for more invitations than the workspace may send today is refused whole (422) and nothing starts; a line with a bad email or role is a failed row of the import."),
            "requestBody": { "required": true, "content": { "text/csv": { "schema": { "type": "string",
                "description": "A header line naming the columns (email, and optionally role and name), then one person per line",
                "example": "email\nada@example.com\n" } } } },
            "responses": answers
        } }),
    );
    paths.insert(
        "/imports/{id}".into(),
        json!({
            "get": { "operationId": "getImport", "summary": "How far an import got, and its first 1,000 errors",
                "parameters": id_parameter(),
                "responses": responses(&[(200, "The import", schema("Import"))], &[400, 401, 404]) },
            "delete": { "operationId": "cancelImport", "summary": "Cancel an import; the rows already done stay done",
                "parameters": id_parameter(),
                "responses": responses(&[(200, "The cancelled import", schema("Import"))], &[400, 401, 403, 404, 409]) }
        }),
    );
}

fn components() -> Value {
    let time = json!({ "type": "string", "format": "date-time" });
    let maybe_time = json!({ "type": ["string", "null"], "format": "date-time" });
    json!({
        "Error": { "type": "object", "required": ["error"], "properties": { "error": { "type": "object",
            "required": ["code", "message"],
            "properties": { "code": { "type": "string" }, "message": { "type": "string" } } } } },
        "RunStatus": { "type": "string", "enum": ["scheduled", "queued", "running", "succeeded", "skipped", "failed", "cancelled"] },
        "Run": { "type": "object", "required": ["id", "workflow", "status", "params", "attempts", "max_attempts", "created_at"],
            "properties": {
                "id": { "type": "string" }, "workflow": { "type": "string" }, "workspace_id": { "type": ["string", "null"] },
                "status": schema("RunStatus"), "params": { "type": "object" },
                "output": {}, "skipped": { "type": ["object", "null"] }, "error": { "type": ["string", "null"] },
                "waiting": { "type": ["string", "null"], "description": "Why a queued run waits for a slot, e.g. \"1 running per workspace\"" },
                "attempts": { "type": "integer" }, "max_attempts": { "type": "integer" },
                "scheduled_for": maybe_time, "started_at": maybe_time, "finished_at": maybe_time, "created_at": time,
                "business_key": { "type": ["string", "null"] }, "chain_id": { "type": ["string", "null"] },
                "trigger": { "type": "string" },
                "events": { "type": "array", "description": "The timeline (one run, and the answer to \"wait\")",
                    "items": { "type": "object", "required": ["at", "kind", "message"],
                        "properties": { "at": time, "kind": { "type": "string" }, "message": { "type": "string" } } } }
            } },
        "Import": { "type": "object",
            "required": ["id", "status", "total_rows", "processed_rows", "created", "skipped", "failed_rows", "errors"],
            "properties": {
                "id": { "type": "string" },
                "status": { "type": "string", "enum": ["preview", "running", "succeeded", "failed", "cancelled"],
                    "description": "preview: uploaded in the admin and not confirmed yet" },
                "total_rows": { "type": "integer" }, "processed_rows": { "type": "integer" },
                "created": { "type": "integer" }, "skipped": { "type": "integer" }, "failed_rows": { "type": "integer" },
                "errors": { "type": "array", "items": { "type": "object", "required": ["row", "value", "message"],
                    "properties": { "row": { "type": "integer" }, "value": { "type": "string" }, "message": { "type": "string" } } } }
            } },
        "Workspace": { "type": "object", "required": ["id", "slug", "name", "timezone"],
            "properties": {
                "id": { "type": "string" }, "slug": { "type": "string" }, "name": { "type": "string" },
                "timezone": { "type": "string" }, "plan": { "type": "string" },
                "subscription_status": { "type": "string" }, "trial_ends_at": maybe_time,
                "members_count": { "type": "integer" }, "created_at": time
            } },
        "Workflow": { "type": "object", "required": ["name", "description", "params_schema"],
            "properties": {
                "name": { "type": "string" }, "description": { "type": "string" }, "params_schema": { "type": "object" },
                "max_attempts": { "type": "integer" }, "timeout_seconds": { "type": "integer" },
                "priority": { "type": "string", "enum": ["bulk", "normal", "urgent"],
                    "description": "Which runs the workers take first when more are due than they can start" },
                "running_per_workspace": { "type": ["integer", "null"],
                    "description": "At most this many runs at once per workspace; the others wait, queued (null: no limit)" }
            } }
    })
}

async fn document(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(build(&state.config.base_url, &state.workflows))
}
