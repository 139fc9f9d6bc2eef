//! Security headers on every response: no framing, no sniffing, a strict content security
//! policy (every script and style is served from this origin), no referrer leaks, nothing
//! stored by browsers or proxies unless a response says otherwise (signed-in pages, a new API
//! key shown once), and, when the public URL is https, HSTS.

use actix_web::middleware::DefaultHeaders;

/// A year of https only, as GitHub and Stripe send (without `includeSubDomains`, which would
/// bind the operator's other sites too).
const HSTS: &str = "max-age=31536000";

pub fn middleware(https: bool) -> DefaultHeaders {
    let headers =
        if https { DefaultHeaders::new().add(("Strict-Transport-Security", HSTS)) } else { DefaultHeaders::new() };
    headers
        // Only where a response has not said itself (the static files are cached for an hour).
        .add(("Cache-Control", "no-store"))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add(("Permissions-Policy", "camera=(), microphone=(), geolocation=()"))
        .add((
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ))
}
