//! The `offstage` binary: parse the command line, set up logging, hand over to the library.

use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() {
    let filter = EnvFilter::try_from_env("OFFSTAGE_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,apalis=warn,sea_orm_migration=warn"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // One JSON object per line: the event's fields at the top level, and the fields of the span
    // it happened in (a request's id; a run's id, workflow, workspace and request id).
    match std::env::var("OFFSTAGE_LOG_FORMAT").ok().filter(|v| !v.trim().is_empty()).as_deref() {
        None | Some("text") => logs.init(),
        Some("json") => logs.json().flatten_event(true).with_current_span(true).with_span_list(false).init(),
        Some(other) => {
            eprintln!("error: OFFSTAGE_LOG_FORMAT must be text or json, got “{other}”");
            std::process::exit(1);
        }
    }
    let cli = offstage::cli::Cli::parse();
    if let Err(err) = offstage::cli::run(cli).await {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}
