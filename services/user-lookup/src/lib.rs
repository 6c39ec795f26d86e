//! user-lookup service (port 5016): finds a user's id by username, a Rust port of the
//! Go `user-search-service` (docs/LEGACY.md, user-lookup).
//!
//! Endpoints:
//! * `GET /user/soap?username=`: the original's SOAP envelope, byte for byte (values
//!   now XML-escaped); 400 Fault without a username, 404 Fault for an unknown user.
//! * `POST /user/soap`: the same lookup as a SOAP 1.1/1.2 operation (`getUserByUsername`).
//! * `GET /user/lookup?username=`: the WSDL's HTTP GET binding (a bare element).
//! * `GET /user/soap?wsdl`: the contract (`wsdl/user-lookup.wsdl`) with the public address.
//! * `GET /user-search/health`, `GET /health`.
//!
//! Data: reads `id, username` from the shared `"user"` table, and, for a Bearer token,
//! whether it was revoked (`bearer`). No events.

pub mod bearer;
pub mod config;
pub mod error;
pub mod lookup;
pub mod routes;
pub mod state;
pub mod store;

use std::{net::SocketAddr, sync::Arc};

use axum::Router;
use hub_identity::verifier::Verifier;
use hub_runtime::{
    http::ErrorRenderer,
    service::{self, Entry, Task},
};
use hub_soap::wsse::BearerCheck;
use hub_soap_pg::PgNonces;
use tokio_util::sync::CancellationToken;

use crate::bearer::StandingBearer;
pub use crate::config::Config;
/// The user-lookup service, as the runtime's skeleton runs it: its state.
pub use crate::state::AppState as UserLookup;

impl service::Service for UserLookup {
    const ENTRY: Entry = Entry::soap("user-lookup", 5016, "/user-search/health", routes::HEALTH);
    type Config = Config;

    fn renderer() -> ErrorRenderer {
        hub_soap::fault::renderer()
    }

    /// Connects (waiting for PostgreSQL up to its start-up timeout) and migrates.
    async fn connect(config: &Config) -> anyhow::Result<Self> {
        config.proxies.warn_if_deprecated();
        let pool = config.db.connect(Self::NAME).await?;
        let bearer = match &config.bearer {
            Some(verifier) => Some(Arc::new(StandingBearer::new(
                Verifier::new(verifier)?,
                pool.clone(),
            )) as Arc<dyn BearerCheck>),
            None => None,
        };
        let proxies = Arc::new(config.proxies.clone());
        let nonces = Arc::new(PgNonces::new(pool.clone()));
        Ok(Self {
            wsse: config.wsse.guard(nonces, bearer, proxies),
            pool,
        })
    }

    fn router(self, config: &Config, local: SocketAddr) -> Router {
        let wsdl = hub_soap::wsdl::Address::new(config.public_base_url.as_deref(), local);
        let guard = self.wsse.clone();
        hub_soap::wsse::install(routes::router(self, wsdl), guard)
    }

    /// With WS-Security on, the pruning of old nonces.
    fn tasks(&self, _: &Config, shutdown: &CancellationToken) -> Vec<Task> {
        self.wsse
            .iter()
            .map(|g| g.prune_task(shutdown.clone()))
            .collect()
    }

    /// PostgreSQL answers (the driver's message is not repeated).
    async fn down(&self) -> Option<String> {
        service::unavailable(&[("PostgreSQL", hub_db::healthy(&self.pool).await)])
    }

    async fn close(self) {
        self.pool.close().await;
    }
}
