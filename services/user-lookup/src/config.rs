//! user-lookup configuration, read once from the environment at start-up.

use hub_db::PgSettings;
use hub_runtime::{
    config::{ConfigError, Vars},
    http::HttpConfig,
    service::{Service as _, ServiceConfig},
};

/// Everything the service needs; each field names its variable and default.
#[derive(Debug, Clone)]
pub struct Config {
    /// PostgreSQL: `DATABASE_URL` (or the originals' `POSTGRESQL_*` / `PG_*` parts),
    /// required; `DB_*` pool settings.
    pub db: PgSettings,
    /// `PUBLIC_BASE_URL`: the address written into the served WSDL (default: derived
    /// from each request's Host / X-Forwarded-* headers).
    pub public_base_url: Option<String>,
    /// HTTP stack settings (`CORS_ALLOWED_ORIGINS`, `MAX_BODY_BYTES` default 16 KiB, ...).
    pub http: HttpConfig,
}

impl ServiceConfig for Config {
    fn http(&self) -> &HttpConfig {
        &self.http
    }

    fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            db: PgSettings::from_vars(vars)?,
            public_base_url: hub_soap::wsdl::configured_base(vars)?,
            http: HttpConfig::from_vars(vars, crate::UserLookup::PORT, 16 * 1024)?,
        })
    }
}
