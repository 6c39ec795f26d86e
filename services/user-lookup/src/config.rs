//! user-lookup configuration, read once from the environment at start-up.

use std::{net::SocketAddr, time::Duration};

use hub_db::PoolSettings;
use hub_runtime::{
    config::{ConfigError, Env, Vars},
    http::HttpConfig,
};
use secrecy::SecretString;

/// Everything the service needs; each field names its variable and default.
#[derive(Debug, Clone)]
pub struct Config {
    /// `HOST` (default `0.0.0.0`) and `PORT` (default 5016).
    pub addr: SocketAddr,
    /// `DATABASE_URL` (or the original's `POSTGRESQL_*`). Required.
    pub database_url: SecretString,
    /// `DB_MAX_CONNECTIONS`, `DB_ACQUIRE_TIMEOUT_MS`, `DB_STATEMENT_TIMEOUT_MS`.
    pub pool: PoolSettings,
    /// `DB_STARTUP_TIMEOUT_SECS` (default 30).
    pub db_startup_timeout: Duration,
    /// `PUBLIC_BASE_URL`: the address written into the served WSDL (default: derived
    /// from each request's Host / X-Forwarded-* headers).
    pub public_base_url: Option<String>,
    /// HTTP stack settings (`CORS_ALLOWED_ORIGINS`, `MAX_BODY_BYTES` default 16 KiB, ...).
    pub http: HttpConfig,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&hub_runtime::config::ProcessEnv)
    }

    /// Reads from any variable source (tests pass a map).
    pub fn from_source(env: &dyn Env) -> Result<Self, ConfigError> {
        let vars = Vars::new(env);
        let host: std::net::IpAddr = vars.parse_or("HOST", std::net::IpAddr::from([0, 0, 0, 0]))?;
        let public_base_url = vars.string("PUBLIC_BASE_URL");
        if let Some(url) = &public_base_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::invalid(
                "PUBLIC_BASE_URL",
                "must start with http:// or https://",
            ));
        }
        Ok(Self {
            addr: SocketAddr::new(host, vars.port(5016)?),
            database_url: vars.postgres_url()?,
            pool: PoolSettings {
                max_connections: vars.parse_or("DB_MAX_CONNECTIONS", 10)?,
                acquire_timeout: vars.millis_or("DB_ACQUIRE_TIMEOUT_MS", Duration::from_secs(1))?,
                statement_timeout: vars
                    .millis_or("DB_STATEMENT_TIMEOUT_MS", Duration::from_secs(5))?,
            },
            db_startup_timeout: vars
                .seconds_or("DB_STARTUP_TIMEOUT_SECS", Duration::from_secs(30))?,
            public_base_url,
            http: HttpConfig::from_vars(&vars, 16 * 1024)?,
        })
    }
}
