//! user-soap service (port 5002): SOAP user registration, a Rust port of the Sinatra
//! `user-soap-service` (shared/originals.md §3.2).
//!
//! Endpoints:
//! * `POST /register`: SOAP 1.1 or 1.2. Accepts the legacy envelope (fields in
//!   `http://example.com/user` at any depth) and the WSDL's document/literal form
//!   (the same shape). Success: the original's reply, byte for byte; a taken username,
//!   dni or email: the original's 409 envelope; invalid input: a Client fault naming
//!   the field.
//! * `GET /register?wsdl`: the contract (`wsdl/user-soap.wsdl`) with the public address.
//! * `GET /user-soap/health`, `GET /health`.
//!
//! Data: inserts into the shared `"user"` table (password in the current PHC format,
//! so the user can log in through auth). Events: `UserRegistered` (same transaction
//! as the insert) and `UserRegistrationFailed` go through the outbox to the durable
//! queue `user-events`. Consumes nothing.

pub mod config;
pub mod registration;
pub mod routes;
pub mod state;
pub mod store;

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use hub_identity::pool::HashPool;
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
        let pool = hub_db::pool(&config.database_url, &config.pool, "user-soap")?;
        hub_db::migrate(&pool, config.pool.startup_timeout).await?;
        let listener = http::bind(config.addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.addr))?;
        let state = AppState {
            pool,
            hashing: HashPool::new(config.hashing),
            queue: config.queue.as_str().into(),
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

    /// Serves requests and relays the outbox until `shutdown` is cancelled, then
    /// drains requests, stops the relay after its batch in hand and closes the pool.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let relay = tokio::spawn(hub_events::relay::run(
            self.state.pool.clone(),
            self.config.relay.clone(),
            shutdown.clone(),
        ));
        let drain = self.config.http.drain_timeout;
        let served = service::serve(
            "user-soap",
            self.listener,
            self.router,
            shutdown,
            drain,
            vec![relay],
        )
        .await;
        self.state.pool.close().await;
        tracing::info!("shutdown complete");
        served
    }
}
