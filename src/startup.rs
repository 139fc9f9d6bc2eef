//! Start-up: connect and migrate, make sure a platform admin exists, bind the HTTP listener
//! (port 0 in tests, the real port is recorded), and run the web server and the job workers
//! side by side until a signal stops them.

use std::net::TcpListener;

use actix_session::SessionMiddleware;
use actix_session::config::PersistentSession;
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::Compress;
use actix_web::{App, HttpServer, web};
use anyhow::Context;

use crate::billing::Intake;
use crate::config::Config;
use crate::engine::Services;
use crate::engine::queue::{self, JobContext};
use crate::engine::runs::Starter;
use crate::mail::{DeliveryLoader, Mailer, OutboxWriter};
use crate::state::AppState;
use crate::storage::Storage;
use crate::workspaces::weekly_facts::WeeklyFactsReader;
use crate::{bootstrap, db, routes};

/// Which halves of Offstage this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// HTTP server and job workers in one process (the default).
    Serve,
    /// HTTP only; jobs are run by separate `worker` processes.
    Web,
    /// Job workers only.
    Worker,
}

impl Mode {
    fn runs_web(self) -> bool {
        matches!(self, Mode::Serve | Mode::Web)
    }
    fn runs_workers(self) -> bool {
        matches!(self, Mode::Serve | Mode::Worker)
    }
}

pub struct Application {
    state: AppState,
    mode: Mode,
    server: Option<Server>,
    port: Option<u16>,
    /// `/metrics` on `OFFSTAGE_METRICS_BIND`, in any mode (a worker process's counts too).
    metrics_server: Option<Server>,
}

/// Connects and brings the schema (ours and the queue's) up to date.
pub async fn prepare_database(config: &Config) -> anyhow::Result<sea_orm::DatabaseConnection> {
    let db = db::connect(&config.database_url, config.database_kind).await?;
    db::migrate(&db).await?;
    queue::setup_queue_tables(&db).await?;
    crate::engine::schedules::ensure_built_in(&db, crate::registry::BUILT_IN_SCHEDULES)
        .await
        .map_err(|err| anyhow::anyhow!("creating built-in schedules: {err}"))?;
    crate::workspaces::workflows::generate_weekly_digest::ensure_every_workspace_has_one(&db)
        .await
        .map_err(|err| anyhow::anyhow!("creating weekly digest schedules: {err}"))?;
    Ok(db)
}

/// What the workers hand every run besides the database and the settings: the mailer, and the
/// outbox's writer and delivery loader, and the weekly digests' reader, whose tasks start on the
/// current runtime.
pub fn worker_services(
    db: &sea_orm::DatabaseConnection,
    config: &Config,
    mailer: Mailer,
    storage: Storage,
) -> Services {
    // One pool of readers for both (on SQLite; on PostgreSQL the pool itself).
    let readers = crate::db::readers(db);
    Services::new()
        .with(mailer)
        .with(OutboxWriter::start(db.clone(), crate::mail::from_domain(config)))
        .with(DeliveryLoader::start(readers.clone()))
        .with(WeeklyFactsReader::start(readers))
        .with(storage)
}

impl Application {
    pub async fn build(config: Config, mode: Mode) -> anyhow::Result<Application> {
        crate::telemetry::metrics::handle();
        let db = prepare_database(&config).await?;
        let mailer = Mailer::from_settings(&config.mail)?;
        let storage = Storage::from_settings(config.storage_url.as_deref(), &config.data_dir)?;
        let workflows = crate::registry::workflows().map_err(|err| anyhow::anyhow!("the workflow list: {err}"))?;
        let (stripe_intake, starter) = (Intake::start(db.clone()), Starter::new(db.clone()));
        if mode.runs_workers() {
            let applied = crate::billing::catch_up::apply_ignored_events(&db, &config.stripe).await?;
            if applied > 0 {
                tracing::info!(applied, "applied Stripe events an earlier version ignored");
            }
        }
        let runs_workers = mode.runs_workers();
        let queue_depth = Default::default();
        let state =
            AppState { stripe_intake, starter, db, config, mailer, workflows, storage, runs_workers, queue_depth };
        let metrics_server = match state.config.metrics_bind {
            Some(bind) => Some(metrics_server(bind, state.clone())?),
            None => None,
        };
        if !mode.runs_web() {
            return Ok(Application { state, mode, server: None, port: None, metrics_server });
        }
        crate::engine::runs::waiting::listen_for_announcements(&state.db);
        bootstrap::ensure_platform_admin(&state.db, &state.config).await?;
        let listener = TcpListener::bind(state.config.bind)
            .with_context(|| format!("OFFSTAGE_BIND: cannot listen on {}", state.config.bind))?;
        let port = listener.local_addr()?.port();
        let server = http_server(listener, state.clone())?;
        Ok(Application { state, mode, server: Some(server), port: Some(port), metrics_server })
    }

    /// The bound port (the real one when the configured port was 0).
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Runs until SIGTERM/Ctrl-C: the server stops accepting and finishes open requests, the
    /// workers finish running jobs (up to 30 s) and return unstarted ones to the queue.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let workers = async {
            if self.mode.runs_workers() {
                let state = &self.state;
                let services = worker_services(&state.db, &state.config, state.mailer.clone(), state.storage.clone());
                let ctx = JobContext::new(state.db.clone(), state.config.clone(), state.workflows.clone(), services);
                queue::run_workers(ctx, shutdown_signal()).await
            } else {
                Ok(())
            }
        };
        let server = async {
            match self.server {
                Some(server) => server.await.context("HTTP server"),
                None => Ok(()),
            }
        };
        let metrics = async {
            match self.metrics_server {
                Some(server) => server.await.context("metrics server"),
                None => Ok(()),
            }
        };
        tokio::try_join!(server, workers, metrics)?;
        Ok(())
    }
}

fn http_server(listener: TcpListener, state: AppState) -> anyhow::Result<Server> {
    let key = Key::derive_from(state.config.secret_key.expose().as_bytes());
    let secure = state.config.cookies_secure();
    // The cookie lives as long as a session can; the session's row says when it really ends.
    let cookie_lifetime = actix_web::cookie::time::Duration::try_from(state.config.sessions.lifetime)
        .unwrap_or(actix_web::cookie::time::Duration::days(30));
    let state_rate = state.config.limits.api_rate_per_key;
    let data = web::Data::new(state);
    let gauges = web::Data::new(crate::telemetry::gauges::Gauges::default());
    // One count of open `"wait": true` requests for the whole process, not one per web worker.
    let api_waits = web::Data::new(routes::api::ApiWaits::default());
    let api_rate_limit = web::Data::new(routes::api::ApiRateLimit::new(state_rate));
    let server = HttpServer::new(move || {
        let sessions = SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
            .cookie_name("offstage_session".into())
            .cookie_secure(secure)
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Lax)
            .session_lifecycle(PersistentSession::default().session_ttl(cookie_lifetime))
            .build();
        App::new()
            .app_data(data.clone())
            .app_data(api_waits.clone())
            .app_data(api_rate_limit.clone())
            .app_data(gauges.clone())
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                crate::error::AppError::BadRequest(format!("The address has a parameter that can't be read: {err}"))
                    .into()
            }))
            .app_data(web::PathConfig::default().error_handler(|err, _| {
                crate::error::AppError::BadRequest(format!("The address can't be read: {err}")).into()
            }))
            .wrap(sessions)
            .wrap(crate::web::security_headers::middleware(secure))
            .wrap(Compress::default())
            .wrap(actix_web::middleware::from_fn(crate::web::request_id::middleware))
            .wrap(crate::web::access_log::middleware())
            .wrap(actix_web::middleware::from_fn(crate::web::request_metrics::middleware))
            .configure(routes::configure)
            .default_service(web::to(not_found))
    })
    .shutdown_timeout(30)
    .listen(listener)?
    .run();
    Ok(server)
}

/// `/metrics` alone, without a token, on `OFFSTAGE_METRICS_BIND`.
fn metrics_server(bind: std::net::SocketAddr, state: AppState) -> anyhow::Result<Server> {
    let listener =
        TcpListener::bind(bind).with_context(|| format!("OFFSTAGE_METRICS_BIND: cannot listen on {bind}"))?;
    let (data, gauges) = (web::Data::new(state), web::Data::new(crate::telemetry::gauges::Gauges::default()));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(gauges.clone())
            .route("/metrics", web::get().to(routes::metrics::scrape))
            .default_service(web::to(not_found))
    })
    .workers(1)
    .shutdown_timeout(5)
    .listen(listener)?
    .run();
    Ok(server)
}

async fn not_found() -> Result<actix_web::HttpResponse, crate::error::AppError> {
    Err(crate::error::AppError::NotFound)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
