//! Plotina's HTTP server: the JSON API, the web pages, authentication and jobs.

pub mod api;
pub mod auth;
pub mod automation_job;
pub mod classes_job;
pub mod config;
pub mod error;
pub mod i18n;
pub mod import_job;
pub mod limits;
pub mod mailer;
pub mod notebook_jobs;
pub mod problem;
pub mod reminders;
pub mod report_schedule_job;
pub mod state;
pub mod system;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::Router;
use plotina_store::{DbConfig, Store};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

pub use config::Config;
pub use state::AppState;

/// A built server bound to its port, ready to run (tests bind port 0).
pub struct Application {
    port: u16,
    listener: TcpListener,
    router: Router,
    pub state: AppState,
    /// Run background jobs (automation scheduler) while serving; off for test servers,
    /// which drive the scheduler with their own clock.
    pub jobs: bool,
}

pub fn router(state: AppState) -> Router {
    let trace = TraceLayer::new_for_http().make_span_with(|req: &Request| {
        // Spans are named by the route template, not the raw URI.
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map(|m| m.as_str().to_string())
            .unwrap_or_default();
        tracing::info_span!("request", method = %req.method(), route = %route)
    });
    Router::new()
        .merge(api::router(state.config.max_upload_bytes))
        .merge(system::router())
        .merge(web::router(state.config.max_upload_bytes))
        .layer(axum::middleware::from_fn(system::track))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(axum::middleware::from_fn(problem::layer))
        // The fastest gzip level: pages such as the kanban are 300 KB of repetitive HTML
        // that level 1 still shrinks thirteenfold (23 KB against 17 KB at the default
        // level), at a fraction of the default level's CPU time (~5 % of the server's
        // time on the page benchmarks).
        .layer(CompressionLayer::new().quality(tower_http::CompressionLevel::Fastest))
        .layer(trace)
        .layer(CatchPanicLayer::new())
        .with_state(state)
}

impl Application {
    /// Opens (and migrates) the database, seeds roles, and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let store = Store::open(&DbConfig {
            url: config.database_url(),
            max_connections: config.pool_size,
        })
        .await
        .context("cannot open the database")?;
        plotina_store::bootstrap::seed_roles(store.pool()).await?;
        let mut app = Application::with_store(config, Arc::new(store)).await?;
        app.jobs = true;
        Ok(app)
    }

    pub async fn with_store(config: Config, store: Arc<Store>) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let port = listener.local_addr()?.port();
        let state = AppState {
            store,
            config: Arc::new(config),
            metrics: system::prometheus(),
            login_limiter: Arc::new(limits::LoginLimiter::default()),
            live: api::reminders::Hub::default(),
        };
        let router = router(state.clone());
        Ok(Application {
            port,
            listener,
            router,
            state,
            jobs: false,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the process is told to stop (Ctrl-C / SIGTERM), then drains.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let sweeper = notebook_jobs::spawn(self.state.store.clone());
        let imports = import_job::spawn(self.state.store.clone());
        let _jobs = self.jobs.then(|| {
            automation_job::spawn(self.state.store.clone(), std::time::Duration::from_secs(15))
        });
        let _classes = if self.jobs {
            classes_job::spawn(self.state.store.clone(), &self.state.config.reports)?
        } else {
            None
        };
        let _schedules = self
            .jobs
            .then(|| report_schedule_job::spawn(self.state.clone()));
        mailer::spawn(self.state.store.pool().clone(), &self.state.config.mail)?;
        reminders::spawn(self.state.clone());
        let app = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        sweeper.abort();
        imports.abort();
        Ok(())
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
