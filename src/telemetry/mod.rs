//! What Offstage tells its operators about itself: Prometheus metrics, counted where things
//! happen (`metrics`) or read from the database, a few seconds old at most and off the scrape's
//! path (`gauges`, `refreshed`), served at `GET /metrics`; Platform → Queue's figures
//! (`dashboard`); and the request id that follows a request into its log lines and the runs it
//! starts (`request_id`).

pub mod dashboard;
pub mod gauges;
pub mod metrics;
pub mod refreshed;
pub mod request_id;
