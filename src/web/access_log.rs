//! The access log: one line per request with the client's address (believing only trusted
//! proxies), the request line, status, size, time and request id. Secrets that travel in URLs never reach
//! it: the token of `/invitations/`, `/unsubscribe/`, `/password/reset/` and `/email/verify/`
//! links (also inside a
//! parameter, such as the sign-in page's `next`), and any `token` query parameter, are written
//! as `[redacted]`.

use actix_web::dev::ServiceRequest;
use actix_web::middleware::Logger;
use actix_web::web;

use super::client::client_address;
use crate::state::AppState;

/// Paths whose next segment is a secret.
const SECRET_SEGMENT_AFTER: [&str; 4] = ["/invitations/", "/unsubscribe/", "/password/reset/", "/email/verify/"];
/// Query parameters whose value is a secret.
const SECRET_PARAMETERS: [&str; 1] = ["token"];
const REDACTED: &str = "[redacted]";

pub fn middleware() -> Logger {
    Logger::new("%{client}xi \"%{request}xi\" %s %b %Dms %{X-Request-Id}o")
        .custom_request_replace("client", |req: &ServiceRequest| {
            let trusted = req.app_data::<web::Data<AppState>>().map(|s| s.config.trusted_proxies.as_slice());
            client_address(req.request(), trusted.unwrap_or(&[])).map(|ip| ip.to_string()).unwrap_or_else(|| "-".into())
        })
        .custom_request_replace("request", |req: &ServiceRequest| {
            let target = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
            format!("{} {} {:?}", req.method(), redacted(target), req.version())
        })
}

/// `target` (a path and query) with its secrets replaced.
pub fn redacted(target: &str) -> String {
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let mut out = redacted_path(path);
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if SECRET_PARAMETERS.contains(&name) => format!("{name}={REDACTED}"),
                Some((name, value)) => {
                    let decoded = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
                    if secret_prefix(&decoded).is_some() {
                        format!("{name}={}", redacted_path(&decoded))
                    } else {
                        pair.to_owned()
                    }
                }
                None => pair.to_owned(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

fn secret_prefix(path: &str) -> Option<&'static str> {
    SECRET_SEGMENT_AFTER.iter().copied().find(|prefix| path.starts_with(prefix))
}

/// `path` with the segment after a secret prefix replaced.
fn redacted_path(path: &str) -> String {
    match secret_prefix(path) {
        Some(prefix) => {
            let rest = &path[prefix.len()..];
            let after_secret = rest.find(['/', '?']).map(|i| &rest[i..]).unwrap_or("");
            format!("{prefix}{REDACTED}{after_secret}")
        }
        None => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn tokens_in_paths_and_queries_are_redacted_and_everything_else_is_kept() {
        assert_eq!(redacted("/invitations/0123abcd"), "/invitations/[redacted]");
        assert_eq!(redacted("/unsubscribe/ZW1haWw.c2ln?x=1"), "/unsubscribe/[redacted]?x=1");
        assert_eq!(redacted("/invitations/abc/extra"), "/invitations/[redacted]/extra");
        assert_eq!(redacted("/reset?token=s3cret&next=/admin"), "/reset?token=[redacted]&next=/admin");
        assert_eq!(redacted("/password/reset/abc"), "/password/reset/[redacted]");
        assert_eq!(redacted("/email/verify/abc"), "/email/verify/[redacted]");
        assert_eq!(redacted("/admin/workspaces?page=2"), "/admin/workspaces?page=2");
        assert_eq!(redacted("/login?next=%2Finvitations%2Fabc123"), "/login?next=/invitations/[redacted]");
        assert_eq!(redacted("/login?next=/admin/account"), "/login?next=/admin/account");
        assert_eq!(redacted("/"), "/");
    }
}
