//! Who is asking: the client's address and user agent. The address is the TCP peer's, unless
//! the peer is a proxy named in `OFFSTAGE_TRUSTED_PROXIES`; then `X-Forwarded-For` is read from
//! the right, hop by hop, while the hop is a trusted proxy. Anyone else's `X-Forwarded-For` is
//! ignored: a client can write anything there.

use std::future::{Ready, ready};
use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::http::header::USER_AGENT;
use actix_web::{FromRequest, HttpRequest, web};

use crate::accounts::sessions::ClientInfo;
use crate::error::AppError;
use crate::state::AppState;

/// The address a request came from, believing only trusted proxies.
pub fn client_address(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("X-Forwarded-For")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut current = peer;
    for hop in forwarded.iter().rev() {
        if !is_trusted(&current) {
            break;
        }
        match hop.parse::<IpAddr>() {
            Ok(ip) => current = ip,
            // A hop that is not an address: the nearest trusted proxy is all that is known.
            Err(_) => break,
        }
    }
    Some(current)
}

/// `ClientInfo` of the request, as an extractor.
pub struct Client(pub ClientInfo);

impl Client {
    pub fn of(req: &HttpRequest) -> ClientInfo {
        let trusted = req.app_data::<web::Data<AppState>>().map(|s| s.config.trusted_proxies.as_slice()).unwrap_or(&[]);
        let ip = client_address(req, trusted).map(|ip| ip.to_string()).unwrap_or_else(|| "unknown".into());
        let user_agent = req.headers().get(USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        ClientInfo { ip, user_agent }
    }
}

impl FromRequest for Client {
    type Error = AppError;
    type Future = Ready<Result<Client, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Client(Client::of(req))))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::client_address;

    fn nets(list: &str) -> Vec<ipnet::IpNet> {
        crate::config::parse_trusted_proxies(list).unwrap()
    }

    fn from(peer: &str, forwarded: &str, trusted: &str) -> String {
        let mut req = TestRequest::default().peer_addr(format!("{peer}:4000").parse().unwrap());
        if !forwarded.is_empty() {
            req = req.insert_header(("X-Forwarded-For", forwarded));
        }
        client_address(&req.to_http_request(), &nets(trusted)).unwrap().to_string()
    }

    #[test]
    fn an_untrusted_peers_forwarded_for_is_ignored() {
        assert_eq!(from("198.51.100.9", "203.0.113.7", ""), "198.51.100.9");
        assert_eq!(from("198.51.100.9", "203.0.113.7", "10.0.0.0/8"), "198.51.100.9");
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client() {
        assert_eq!(from("10.0.0.2", "203.0.113.7", "10.0.0.0/8"), "203.0.113.7");
        assert_eq!(from("10.0.0.2", "1.2.3.4, 203.0.113.7, 10.0.0.5", "10.0.0.0/8"), "203.0.113.7");
        assert_eq!(from("10.0.0.2", "10.0.0.9, 10.0.0.5", "10.0.0.0/8"), "10.0.0.9");
        assert_eq!(from("10.0.0.2", "203.0.113.7, garbage", "10.0.0.0/8"), "10.0.0.2");
        assert_eq!(from("10.0.0.2", "", "10.0.0.2"), "10.0.0.2");
    }
}
