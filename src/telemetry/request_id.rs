//! The request id: taken from the request's `X-Request-Id` when it is short and plain, made
//! otherwise, echoed back, written on the request's log lines, and carried into the runs the
//! request starts (and into the runs those start), so one id follows the work everywhere.

use std::future::Future;

tokio::task_local! {
    static CURRENT: String;
}

/// The longest id accepted from a client.
const MAX_LEN: usize = 64;

/// The request id of the work this task does, if it does any for a request.
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Runs `work` with `id` as its request id.
pub async fn within<F: Future>(id: String, work: F) -> F::Output {
    CURRENT.scope(id, work).await
}

/// The client's id when it is 1–64 letters, digits, `-`, `_`, `.` or `:`; a new one otherwise
/// (an id goes into logs: nothing else may ride along).
pub fn accept_or_make(sent: Option<&str>) -> String {
    match sent {
        Some(id)
            if (1..=MAX_LEN).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')) =>
        {
            id.to_owned()
        }
        _ => ulid::Ulid::new().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::accept_or_make;

    #[test]
    fn a_plain_id_is_kept_and_anything_else_is_replaced() {
        assert_eq!(accept_or_make(Some("req-42_a.b:c")), "req-42_a.b:c");
        for refused in [Some(""), Some("has space"), Some("new\nline"), Some(&"x".repeat(65)[..]), None] {
            let made = accept_or_make(refused);
            assert_eq!(made.len(), 26, "{refused:?} gives a fresh ULID");
        }
    }
}
