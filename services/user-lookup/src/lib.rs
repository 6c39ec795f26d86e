//! user-lookup service (port 5016): finds a user's id by username, a Rust port of the
//! Go `user-search-service` (shared/originals.md §3.5).
//!
//! Endpoints:
//! * `GET /user/soap?username=`: the original's SOAP envelope, byte for byte (values
//!   now XML-escaped); 400 Fault without a username, 404 Fault for an unknown user.
//! * `POST /user/soap`: the same lookup as a SOAP 1.1/1.2 operation (`getUserByUsername`).
//! * `GET /user/lookup?username=`: the WSDL's HTTP GET binding (a bare element).
//! * `GET /user/soap?wsdl`: the contract (`wsdl/user-lookup.wsdl`) with the public address.
//! * `GET /user-search/health`, `GET /health`.
//!
//! Data: reads `id, username` from the shared `"user"` table. No events.

pub mod config;
pub mod lookup;
pub mod routes;
pub mod state;
pub mod store;

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use hub_runtime::{http, service};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use crate::config::Config;
use crate::state::AppState;

/// A built service: database migrated, listener bound, not yet serving.
pub struct App {
    listener: TcpListener,
    router: Router,
    state: AppState,
    config: Config,
}

impl App {
    /// Connects (waiting for PostgreSQL up to its start-up timeout), migrates, binds.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = hub_db::pool(&config.database_url, &config.pool, "user-lookup")?;
        hub_db::migrate(&pool, config.pool.startup_timeout).await?;
        let listener = http::bind(config.addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.addr))?;
        let state = AppState {
            pool,
            public_base_url: config.public_base_url.as_deref().map(Into::into),
            local_host: listener.local_addr()?.to_string().into(),
        };
        let router = http::wrap(
            routes::router(state.clone()),
            &config.http,
            hub_soap::fault::renderer(),
        );
        Ok(Self {
            listener,
            router,
            state,
            config,
        })
    }

    /// The address actually bound (the real port when `PORT=0`).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` is cancelled, drains, closes the pool.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let drain = self.config.http.drain_timeout;
        let served = service::serve(
            "user-lookup",
            self.listener,
            self.router,
            shutdown,
            drain,
            Vec::new(),
        )
        .await;
        self.state.pool.close().await;
        tracing::info!("shutdown complete");
        served
    }
}
