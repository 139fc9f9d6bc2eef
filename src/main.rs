//! The `offstage` binary: parse the command line, set up logging, hand over to the library.

use clap::Parser;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("OFFSTAGE_LOG").unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("info,sqlx=warn,apalis=warn,sea_orm_migration=warn")
        }))
        .with_writer(std::io::stderr)
        .init();
    let cli = offstage::cli::Cli::parse();
    if let Err(err) = offstage::cli::run(cli).await {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}
