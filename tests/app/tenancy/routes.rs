//! The tenancy tables: every workspace, platform and API route, held against the routes the
//! source registers (a route added without a row here fails), and no route handler acting as
//! Offstage itself.

use std::collections::BTreeSet;

/// Every route under `/admin/workspaces/{slug}`, as registered in `src/routes/admin`.
pub(super) const WORKSPACE_ROUTES: &[(&str, &str)] = &[
    ("GET", "/workspaces/{slug}"),
    ("GET", "/workspaces/{slug}/api-keys"),
    ("POST", "/workspaces/{slug}/api-keys"),
    ("POST", "/workspaces/{slug}/api-keys/{id}/revoke"),
    ("GET", "/workspaces/{slug}/billing"),
    ("POST", "/workspaces/{slug}/billing/{action}"),
    ("GET", "/workspaces/{slug}/emails"),
    ("GET", "/workspaces/{slug}/exports"),
    ("POST", "/workspaces/{slug}/exports"),
    ("GET", "/workspaces/{slug}/exports/{id}/download"),
    ("GET", "/workspaces/{slug}/imports/{id}"),
    ("POST", "/workspaces/{slug}/imports/{id}/cancel"),
    ("GET", "/workspaces/{slug}/imports/{id}/errors.csv"),
    ("POST", "/workspaces/{slug}/imports/{id}/start"),
    ("POST", "/workspaces/{slug}/invitations/{id}/revoke"),
    ("GET", "/workspaces/{slug}/members"),
    ("GET", "/workspaces/{slug}/members/import"),
    ("POST", "/workspaces/{slug}/members/import"),
    ("POST", "/workspaces/{slug}/members"),
    ("POST", "/workspaces/{slug}/members/{id}/remove"),
    ("POST", "/workspaces/{slug}/members/{id}/role"),
    ("GET", "/workspaces/{slug}/runs"),
    ("POST", "/workspaces/{slug}/runs/bulk"),
    ("GET", "/workspaces/{slug}/runs/{id}"),
    ("GET", "/workspaces/{slug}/runs/{id}/progress"),
    ("POST", "/workspaces/{slug}/runs/{id}/{action}"),
    ("GET", "/workspaces/{slug}/schedules"),
    ("POST", "/workspaces/{slug}/schedules"),
    ("POST", "/workspaces/{slug}/schedules/{id}/{action}"),
    ("GET", "/workspaces/{slug}/settings"),
    ("POST", "/workspaces/{slug}/settings"),
    ("GET", "/workspaces/{slug}/workflows"),
    ("GET", "/workspaces/{slug}/workflows/{name}/run"),
    ("POST", "/workspaces/{slug}/workflows/{name}/run"),
];

/// Every route under `/admin/platform`.
pub(super) const PLATFORM_ROUTES: &[(&str, &str)] = &[
    ("GET", "/platform/email-previews"),
    ("GET", "/platform/email-previews/{kind}/html"),
    ("GET", "/platform/exports"),
    ("POST", "/platform/exports"),
    ("GET", "/platform/exports/{id}/download"),
    ("GET", "/platform/imports"),
    ("POST", "/platform/imports"),
    ("GET", "/platform/imports/{id}"),
    ("POST", "/platform/imports/{id}/cancel"),
    ("GET", "/platform/imports/{id}/errors.csv"),
    ("POST", "/platform/imports/{id}/start"),
    ("GET", "/platform/mailbox"),
    ("GET", "/platform/mailbox/{id}"),
    ("GET", "/platform/mailbox/{id}/html"),
    ("GET", "/platform/queue"),
    ("GET", "/platform/queue.json"),
    ("GET", "/platform/queue/live"),
    ("GET", "/platform/runs"),
    ("POST", "/platform/runs/bulk"),
    ("GET", "/platform/revenue"),
    ("GET", "/platform/revenue/export"),
    ("POST", "/platform/revenue/recalculate"),
    ("GET", "/platform/runs/{id}"),
    ("GET", "/platform/runs/{id}/progress"),
    ("POST", "/platform/runs/{id}/{action}"),
    ("GET", "/platform/schedules"),
    ("POST", "/platform/schedules/{id}/{action}"),
    ("GET", "/platform/stripe-events"),
    ("POST", "/platform/stripe-events/replay"),
    ("GET", "/platform/stripe-events/{id}"),
    ("POST", "/platform/stripe-events/{id}/replay"),
    ("GET", "/platform/users"),
    ("POST", "/platform/users/{id}/send-reset"),
    ("GET", "/platform/workflows"),
];

/// Every route of the API, under `/api/v1`.
pub(super) const API_ROUTES: &[(&str, &str)] = &[
    ("POST", "/imports/members"),
    ("GET", "/imports/{id}"),
    ("DELETE", "/imports/{id}"),
    ("GET", "/openapi.json"),
    ("GET", "/runs"),
    ("GET", "/runs/{id}"),
    ("POST", "/runs/{id}/cancel"),
    ("POST", "/runs/{id}/retry"),
    ("GET", "/workflows"),
    ("POST", "/workflows/{name}/runs"),
    ("POST", "/workflows/{name}/runs/batch"),
    ("GET", "/workspace"),
];

/// Every file under `dirs` (relative to the crate), with its text.
fn sources(dirs: &[&str]) -> Vec<(std::path::PathBuf, String)> {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut found = Vec::new();
    let mut pending: Vec<std::path::PathBuf> = dirs.iter().map(|dir| format!("{root}/{dir}").into()).collect();
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            pending.extend(std::fs::read_dir(&path).unwrap().map(|entry| entry.unwrap().path()));
        } else {
            let text = std::fs::read_to_string(&path).unwrap();
            found.push((path, text));
        }
    }
    found
}

/// `(method, path)` of every `.route("…", web::method()…)` and `web::resource("…")` route in
/// the files under `dir`.
fn routes_in_source(dir: &str) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (_, text) in sources(&[dir]) {
        for (i, _) in text.match_indices(".route(\"") {
            let rest = &text[i + ".route(\"".len()..];
            let path = &rest[..rest.find('"').unwrap()];
            let method = rest.split("web::").nth(1).and_then(|m| m.split("()").next()).unwrap_or_default();
            found.insert((method.to_uppercase(), path.to_owned()));
        }
        for (i, _) in text.match_indices("web::resource(\"") {
            let rest = &text[i + "web::resource(\"".len()..];
            let path = &rest[..rest.find('"').unwrap()];
            let until_next = rest.find("web::resource(").unwrap_or(rest.len());
            for method in ["get", "post", "delete", "put", "patch"] {
                if rest[..until_next].contains(&format!("web::{method}()")) {
                    found.insert((method.to_uppercase(), path.to_owned()));
                }
            }
        }
    }
    found
}

fn table(routes: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    routes.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect()
}

#[test]
fn every_workspace_platform_and_api_route_in_the_source_is_in_a_tenancy_table() {
    let admin = routes_in_source("src/routes/admin");
    let workspace_routes: BTreeSet<_> =
        admin.iter().filter(|(_, p)| p.starts_with("/workspaces/{slug}")).cloned().collect();
    assert_eq!(
        workspace_routes,
        table(WORKSPACE_ROUTES),
        "a workspace route is missing from WORKSPACE_ROUTES (or gone)"
    );
    let platform_routes: BTreeSet<_> = admin.iter().filter(|(_, p)| p.starts_with("/platform")).cloned().collect();
    assert_eq!(platform_routes, table(PLATFORM_ROUTES), "a platform route is missing from PLATFORM_ROUTES (or gone)");
    let api_routes = routes_in_source("src/routes/api");
    assert_eq!(api_routes, table(API_ROUTES), "an API route is missing from API_ROUTES (or gone)");
}

#[test]
fn no_route_handler_acts_as_offstage_itself() {
    let forbidden = ["Platform::system", "Scope::acting_for", "Scope::trusted", "Scope::system", "workspace_loader"];
    let mut offenders = Vec::new();
    for (path, text) in sources(&["src/routes", "src/web"]) {
        for word in forbidden.iter().filter(|word| text.contains(**word)) {
            offenders.push(format!("{} uses {word}", path.display()));
        }
    }
    assert!(
        offenders.is_empty(),
        "route handlers must reach workspaces through a Scope or Platform::for_user: {offenders:?}"
    );
}
