//! user-soap configuration, read once from the environment at start-up.

use std::time::Duration;

use hub_db::PgSettings;
use hub_events::{catalogue::queues, relay::RelayConfig};
use hub_identity::pool::HashSettings;
use hub_runtime::{
    config::{ConfigError, Vars},
    http::{HttpConfig, client_ip::ProxyTrust},
    service::{Service as _, ServiceConfig},
};

use crate::store::throttle::Limit;

/// Everything the service needs; each field names its variable and default.
#[derive(Debug, Clone)]
pub struct Config {
    /// PostgreSQL: `DATABASE_URL` (or the originals' `POSTGRESQL_*` / `PG_*` parts),
    /// required; `DB_*` pool settings.
    pub db: PgSettings,
    /// `PASSWORD_PBKDF2_ITERATIONS` (default 600 000), `HASHING_CONCURRENCY` (default: CPUs).
    pub hashing: HashSettings,
    /// `RABBITMQ_QUEUE` (default `user-events`).
    pub queue: String,
    /// `PUBLIC_BASE_URL`: the address written into the served WSDL (default: derived
    /// from each request's Host / X-Forwarded-* headers).
    pub public_base_url: Option<String>,
    /// Outbox relay settings (`AMQP_URL` or `RABBITMQ_HOST`/`RABBITMQ_PORT`, `OUTBOX_*`).
    pub relay: RelayConfig,
    /// `REGISTER_MAX_PER_ADDRESS` (default 10) registrations per client address within
    /// `REGISTER_WINDOW_SECS` (default 60); more get a 429 Client fault with `Retry-After`.
    pub register_limit: Limit,
    /// Whose forwarding headers name the client (`TRUSTED_PROXIES`, as auth).
    pub proxies: ProxyTrust,
    /// `REGISTER_DUPLICATE_REPLY` (default `auto`): how a taken username, dni or email
    /// is answered (see [`DuplicateReply`]).
    pub duplicate_reply: DuplicateReply,
    /// WS-Security UsernameToken (`WSSE_MODE` default off, `WSSE_USERS`,
    /// `WSSE_MAX_SKEW_SECS`; see `hub_soap::wsse`).
    pub wsse: hub_soap::wsse::Settings,
    /// HTTP stack settings (`CORS_ALLOWED_ORIGINS`, `MAX_BODY_BYTES` default 64 KiB, ...).
    pub http: HttpConfig,
}

impl ServiceConfig for Config {
    fn http(&self) -> &HttpConfig {
        &self.http
    }

    fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            db: PgSettings::from_vars(vars)?,
            hashing: HashSettings::from_vars(vars)?,
            queue: vars.string_or("RABBITMQ_QUEUE", queues::USER_EVENTS),
            public_base_url: hub_soap::wsdl::configured_base(vars)?,
            relay: RelayConfig::from_vars(vars, "user-soap")?,
            register_limit: Limit {
                max: match vars.parse_or("REGISTER_MAX_PER_ADDRESS", 10)? {
                    n if n >= 1 => n,
                    _ => {
                        return Err(ConfigError::invalid(
                            "REGISTER_MAX_PER_ADDRESS",
                            "must be at least 1",
                        ));
                    }
                },
                window: vars.seconds_or("REGISTER_WINDOW_SECS", Duration::from_secs(60))?,
            },
            proxies: ProxyTrust::from_vars(vars)?,
            duplicate_reply: match vars.string("REGISTER_DUPLICATE_REPLY").as_deref() {
                None | Some("auto") => DuplicateReply::Auto,
                Some("legacy") => DuplicateReply::Legacy,
                Some("fault") => DuplicateReply::Fault,
                Some(_) => {
                    return Err(ConfigError::invalid(
                        "REGISTER_DUPLICATE_REPLY",
                        "auto, legacy or fault",
                    ));
                }
            },
            wsse: hub_soap::wsse::Settings::from_vars(vars)?,
            http: HttpConfig::from_vars(vars, crate::UserSoap::PORT, 64 * 1024)?,
        })
    }
}

/// How a duplicate registration is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DuplicateReply {
    /// The original's HTTP 409 reply to a SOAP 1.1 request without `SOAPAction` (the
    /// legacy browser front-end); a `RegistrationFault` to every SOAP toolkit (1.1 with
    /// `SOAPAction`, any 1.2).
    #[default]
    Auto,
    /// Always the original's 409 reply.
    Legacy,
    /// Always a `RegistrationFault`.
    Fault,
}
