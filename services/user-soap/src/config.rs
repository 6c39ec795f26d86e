//! user-soap configuration, read once from the environment at start-up.

use std::{str::FromStr, time::Duration};

use hub_db::PgSettings;
use hub_events::{catalogue::queues, relay::RelayConfig};
use hub_identity::pool::HashSettings;
use hub_runtime::{
    config::{ConfigError, Vars},
    http::client_ip::ProxyTrust,
    service::ServiceConfig,
};

use crate::store::throttle::Limit;

/// What the service reads besides the skeleton's HTTP settings
/// ([`Settings`](hub_runtime::service::Settings)); each field names its variable and default.
#[derive(Debug, Clone)]
pub struct Config {
    /// PostgreSQL ([`PgSettings`]): `DATABASE_URL` or the originals' parts, required; `DB_*`.
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
    /// `REGISTER_WINDOW_SECS` (default 60); more get a 429 Client fault with `Retry-After`
    /// (a SOAP toolkit, as for a duplicate: a `RateLimitFault`, also with `Retry-After`).
    pub register_limit: Limit,
    /// Whose forwarding headers name the client (`TRUSTED_PROXIES`, as auth).
    pub proxies: ProxyTrust,
    /// `REGISTER_DUPLICATE_REPLY` (default `auto`): how a taken username, dni or email
    /// is answered (see [`DuplicateReply`]).
    pub duplicate_reply: DuplicateReply,
    /// The email verification code mailed at registration: `EMAIL_CODE_TTL_SECS`
    /// (default a day), `RABBITMQ_ACCOUNT_QUEUE` (default `account-events`); see
    /// `hub_identity::confirmation`.
    pub confirmation: hub_identity::confirmation::Settings,
    /// WS-Security UsernameToken (`WSSE_MODE` default off, `WSSE_USERS`,
    /// `WSSE_MAX_SKEW_SECS`, `WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP`; see `hub_soap::wsse`):
    /// the policy of both doors, `/register` and, as HTTP Basic, `/api/users`.
    pub wsse: hub_soap::wsse::Settings,
    /// The password policy (`PASSWORD_MIN_LENGTH`, `PASSWORD_MAX_LENGTH`,
    /// `PASSWORD_BREACH_CHECK_*`; `hub_identity::policy`), the same as auth's.
    pub password_policy: hub_identity::policy::PasswordPolicy,
}

impl ServiceConfig for Config {
    fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            db: PgSettings::from_vars(vars)?,
            hashing: HashSettings::from_vars(vars)?,
            queue: vars.string_or("RABBITMQ_QUEUE", queues::USER_EVENTS),
            public_base_url: hub_soap::wsdl::configured_base(vars)?,
            relay: RelayConfig::from_vars(vars, "user-soap")?,
            register_limit: Limit {
                max: vars.positive_or("REGISTER_MAX_PER_ADDRESS", 10)?,
                window: vars.seconds_or("REGISTER_WINDOW_SECS", Duration::from_secs(60))?,
            },
            proxies: ProxyTrust::from_vars(vars)?,
            duplicate_reply: vars.parse_or("REGISTER_DUPLICATE_REPLY", DuplicateReply::Auto)?,
            confirmation: hub_identity::confirmation::Settings::from_vars(vars)?,
            wsse: hub_soap::wsse::Settings::from_vars(vars)?,
            password_policy: hub_identity::policy::PasswordPolicy::from_vars(vars)?,
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

impl FromStr for DuplicateReply {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "legacy" => Ok(Self::Legacy),
            "fault" => Ok(Self::Fault),
            _ => Err("auto, legacy or fault"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let base = [("DATABASE_URL", "postgres://u@h/db")];
        Config::from_source(&hub_testkit::config_source(&base, extra))
    }

    #[test]
    fn duplicate_replies_and_the_register_limit_are_checked() {
        let c = config(&[]).unwrap();
        assert_eq!(c.duplicate_reply, DuplicateReply::Auto);
        assert_eq!(c.register_limit.max, 10);
        let c = config(&[("REGISTER_DUPLICATE_REPLY", "legacy")]).unwrap();
        assert_eq!(c.duplicate_reply, DuplicateReply::Legacy);
        for (var, value, reason) in [
            (
                "REGISTER_DUPLICATE_REPLY",
                "Legacy",
                "auto, legacy or fault",
            ),
            ("REGISTER_MAX_PER_ADDRESS", "0", "must be at least 1"),
        ] {
            let err = config(&[(var, value)]).unwrap_err().to_string();
            assert_eq!(
                err,
                format!("invalid value for environment variable {var}: {reason}")
            );
        }
    }
}
