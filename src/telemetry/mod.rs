//! What Offstage tells its operators about itself: Prometheus metrics, counted where things
//! happen (`metrics`) or read from the database at a scrape, a few seconds old at most
//! (`gauges`), and served at `GET /metrics`; and the request id that follows a request into its
//! log lines and the runs it starts (`request_id`).

pub mod dashboard;
pub mod gauges;
pub mod metrics;
pub mod request_id;
