//! `GET /api/v1/openapi.json`: the API described as OpenAPI 3.1, with one path per workflow
//! whose request body embeds that workflow's parameter schema, generated from the registry so
//! nothing is written twice.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::workflows::offered;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi.json", web::get().to(document));
}

fn error_responses() -> Value {
    let error = json!({ "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    json!({
        "401": { "description": "Missing, unknown or revoked API key", "content": error["content"] },
        "404": { "description": "Not found (or not in the key's workspace)", "content": error["content"] },
        "422": { "description": "Well-formed but invalid input; the message names the field", "content": error["content"] },
    })
}

fn run_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Run" } } } })
}

pub fn build(base_url: &str) -> Value {
    let mut paths = serde_json::Map::new();
    paths.insert(
        "/workspace".into(),
        json!({ "get": { "summary": "The API key's workspace", "responses": { "200": { "description": "The workspace" } } } }),
    );
    paths.insert(
        "/workflows".into(),
        json!({ "get": { "summary": "Workflows this key may run, with their parameter schemas", "responses": { "200": { "description": "The workflows" } } } }),
    );
    for workflow in offered() {
        let mut params = workflow.params_schema();
        if let Some(map) = params.as_object_mut() {
            map.remove("$schema");
        }
        let mut responses = error_responses();
        responses["200"] =
            run_response("Finished run (with \"wait\": true), or the existing run for a repeated idempotency key");
        responses["202"] = run_response("Run accepted");
        paths.insert(
            format!("/workflows/{}/runs", workflow.name()),
            json!({ "post": {
                "summary": format!("Start {}", workflow.name()),
                "description": workflow.description(),
                "requestBody": { "required": false, "content": { "application/json": { "schema": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "params": params,
                        "run_at": { "type": "string", "format": "date-time", "description": "Run at this time instead of now" },
                        "idempotency_key": { "type": "string", "maxLength": 200, "description": "A repeat with the same key returns the first run" },
                        "wait": { "type": "boolean", "description": "Wait up to 30 s and answer with the finished run" }
                    }
                } } } },
                "responses": responses
            } }),
        );
    }
    paths.insert(
        "/runs".into(),
        json!({ "get": {
            "summary": "Runs of the key's workspace, newest first",
            "parameters": [
                { "name": "workflow", "in": "query", "schema": { "type": "string" } },
                { "name": "status", "in": "query", "schema": { "$ref": "#/components/schemas/RunStatus" } },
                { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 200, "default": 50 } }
            ],
            "responses": { "200": { "description": "{\"runs\": [Run]}" } }
        } }),
    );
    let id = json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }]);
    let mut cancel = error_responses();
    cancel["200"] = run_response("The cancelled run");
    cancel["409"] = json!({ "description": "The run has started or finished" });
    paths.insert(
        "/runs/{id}".into(),
        json!({
            "get": { "summary": "One run with its timeline", "parameters": id, "responses": { "200": run_response("The run") } },
            "delete": { "summary": "Cancel a run that has not started", "parameters": id, "responses": cancel }
        }),
    );
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Offstage API", "version": env!("CARGO_PKG_VERSION") },
        "servers": [{ "url": format!("{base_url}/api/v1") }],
        "security": [{ "apiKey": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": { "apiKey": { "type": "http", "scheme": "bearer", "description": "A workspace API key (osk_…)" } },
            "schemas": {
                "Error": { "type": "object", "properties": { "error": { "type": "object", "properties": {
                    "code": { "type": "string" }, "message": { "type": "string" } } } } },
                "RunStatus": { "type": "string", "enum": ["scheduled", "queued", "running", "succeeded", "skipped", "failed", "cancelled"] },
                "Run": { "type": "object", "properties": {
                    "id": { "type": "string" }, "workflow": { "type": "string" }, "workspace_id": { "type": ["string", "null"] },
                    "status": { "$ref": "#/components/schemas/RunStatus" }, "params": { "type": "object" },
                    "output": {}, "skipped": { "type": ["object", "null"] }, "error": { "type": ["string", "null"] },
                    "attempts": { "type": "integer" }, "max_attempts": { "type": "integer" },
                    "scheduled_for": { "type": ["string", "null"], "format": "date-time" },
                    "started_at": { "type": ["string", "null"], "format": "date-time" },
                    "finished_at": { "type": ["string", "null"], "format": "date-time" },
                    "created_at": { "type": "string", "format": "date-time" }
                } }
            }
        }
    })
}

async fn document(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(build(&state.config.base_url))
}
