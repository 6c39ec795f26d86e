//! Auth configuration, read once from the environment at start-up.

use std::{net::SocketAddr, time::Duration};

use hub_db::PoolSettings;
use hub_events::{catalogue::queues, relay::RelayConfig};
use hub_identity::password;
use hub_runtime::{
    config::{ConfigError, Env, Vars},
    http::HttpConfig,
};
use secrecy::SecretString;

/// Everything the service needs; each field names its variable and default.
#[derive(Debug, Clone)]
pub struct Config {
    /// `HOST` (default `0.0.0.0`) and `PORT` (default 5001). Port 0 picks a free port.
    pub addr: SocketAddr,
    /// `DATABASE_URL` (or `POSTGRESQL_*` / `PG_*` parts). Required.
    pub database_url: SecretString,
    /// `DB_MAX_CONNECTIONS`, `DB_ACQUIRE_TIMEOUT_MS`, `DB_STATEMENT_TIMEOUT_MS`.
    pub pool: PoolSettings,
    /// `DB_STARTUP_TIMEOUT_SECS` (default 30): how long start-up waits for PostgreSQL.
    pub db_startup_timeout: Duration,
    /// `SECRET_KEY` or `JWT_SECRET`. Required; no default.
    pub jwt_secret: SecretString,
    /// `JWT_TTL_SECS` (default 3600, as the original's one hour).
    pub token_ttl: Duration,
    /// `PASSWORD_PBKDF2_ITERATIONS` (default 600 000, OWASP's figure for PBKDF2-HMAC-SHA256).
    pub pbkdf2_iterations: u32,
    /// `PASSWORD_REHASH_ON_LOGIN` (default true): replace a legacy or weaker hash after
    /// a successful login. Turn off while an original service that only knows the legacy
    /// format still reads the same table.
    pub rehash_on_login: bool,
    /// `HASHING_CONCURRENCY` (default: the number of CPUs): password hashes computed at
    /// once; more logins wait their turn instead of oversubscribing the CPU.
    pub hashing_concurrency: usize,
    /// `RABBITMQ_QUEUE` (default `auth-events`).
    pub queue: String,
    /// `AUTH_TEST_ENDPOINTS` (default true, as the original): serve `/test-db` and `/test-event`.
    pub test_endpoints: bool,
    /// Outbox relay settings (`AMQP_URL` or `RABBITMQ_HOST`/`RABBITMQ_PORT`, `OUTBOX_*`).
    pub relay: RelayConfig,
    /// HTTP stack settings (`CORS_ALLOWED_ORIGINS`, `MAX_BODY_BYTES` default 64 KiB, ...).
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
        let pbkdf2_iterations =
            vars.parse_or("PASSWORD_PBKDF2_ITERATIONS", password::DEFAULT_ITERATIONS)?;
        password::Hasher::new(pbkdf2_iterations)
            .map_err(|e| ConfigError::invalid("PASSWORD_PBKDF2_ITERATIONS", e.to_string()))?;
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        let hashing_concurrency = vars.parse_or("HASHING_CONCURRENCY", cpus)?;
        if hashing_concurrency == 0 {
            return Err(ConfigError::invalid(
                "HASHING_CONCURRENCY",
                "must be at least 1",
            ));
        }
        Ok(Self {
            addr: SocketAddr::new(host, vars.port(5001)?),
            database_url: vars.postgres_url()?,
            pool: PoolSettings {
                max_connections: vars.parse_or("DB_MAX_CONNECTIONS", 10)?,
                acquire_timeout: vars.millis_or("DB_ACQUIRE_TIMEOUT_MS", Duration::from_secs(1))?,
                statement_timeout: vars
                    .millis_or("DB_STATEMENT_TIMEOUT_MS", Duration::from_secs(5))?,
            },
            db_startup_timeout: vars
                .seconds_or("DB_STARTUP_TIMEOUT_SECS", Duration::from_secs(30))?,
            jwt_secret: hub_identity::jwt::secret_from_env(&vars)?,
            token_ttl: vars.seconds_or("JWT_TTL_SECS", Duration::from_secs(3600))?,
            pbkdf2_iterations,
            rehash_on_login: vars.bool_or("PASSWORD_REHASH_ON_LOGIN", true)?,
            hashing_concurrency,
            queue: vars.string_or("RABBITMQ_QUEUE", queues::AUTH_EVENTS),
            test_endpoints: vars.bool_or("AUTH_TEST_ENDPOINTS", true)?,
            relay: RelayConfig::from_vars(&vars, "auth")?,
            http: HttpConfig::from_vars(&vars, 64 * 1024)?,
        })
    }
}
