//! user-lookup configuration, read once from the environment at start-up.

use std::net::SocketAddr;

use hub_db::PoolSettings;
use hub_runtime::{
    config::{ConfigError, Vars},
    http::HttpConfig,
    service::{Service as _, ServiceConfig},
};
use secrecy::SecretString;

/// Everything the service needs; each field names its variable and default.
#[derive(Debug, Clone)]
pub struct Config {
    /// `HOST` (default `0.0.0.0`) and `PORT` (default 5016).
    pub addr: SocketAddr,
    /// `DATABASE_URL` (or the original's `POSTGRESQL_*`). Required.
    pub database_url: SecretString,
    /// `DB_MAX_CONNECTIONS`, `DB_ACQUIRE_TIMEOUT_MS`, `DB_STATEMENT_TIMEOUT_MS`,
    /// `DB_STARTUP_TIMEOUT_SECS`.
    pub pool: PoolSettings,
    /// `PUBLIC_BASE_URL`: the address written into the served WSDL (default: derived
    /// from each request's Host / X-Forwarded-* headers).
    pub public_base_url: Option<String>,
    /// HTTP stack settings (`CORS_ALLOWED_ORIGINS`, `MAX_BODY_BYTES` default 16 KiB, ...).
    pub http: HttpConfig,
}

impl ServiceConfig for Config {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn http(&self) -> &HttpConfig {
        &self.http
    }

    fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            addr: vars.listen_addr(crate::UserLookup::PORT)?,
            database_url: vars.postgres_url()?,
            pool: PoolSettings::from_vars(vars)?,
            public_base_url: hub_soap::wsdl::configured_base(vars)?,
            http: HttpConfig::from_vars(vars, 16 * 1024)?,
        })
    }
}
