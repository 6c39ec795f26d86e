//! Auth configuration, read once from the environment at start-up.

use std::time::Duration;

use crate::{
    account::{export::ExportConfig, password::ResetConfig},
    store::throttle::Limit,
};

use hub_db::PgSettings;
use hub_events::{catalogue::queues, relay::RelayConfig};
use hub_identity::{issuer::Issuer, policy::PasswordPolicy, pool::HashSettings};
use hub_runtime::{
    config::{ConfigError, Vars},
    http::client_ip::ProxyTrust,
    service::ServiceConfig,
};

/// What the service reads besides the skeleton's HTTP settings
/// ([`Settings`](hub_runtime::service::Settings)); each field names its variable and default.
#[derive(Debug, Clone)]
pub struct Config {
    /// PostgreSQL ([`PgSettings`]): `DATABASE_URL` or the originals' parts, required; `DB_*`.
    pub db: PgSettings,
    /// Access tokens: `JWT_ALGORITHM` (`HS256` with `SECRET_KEY` or `JWT_SECRET`, the
    /// default while no signing key is set; or `EdDSA` with `JWT_SIGNING_KEY` and
    /// `JWT_ADDITIONAL_PUBLIC_KEYS`), `JWT_TTL_SECS` (default 3600, the original's hour).
    /// See `hub_identity::issuer`.
    pub jwt: Issuer,
    /// `REFRESH_TOKEN_TTL_SECS` (default 1 209 600, 14 days): how long after a login its
    /// refresh tokens keep working; then the user logs in again.
    pub refresh_ttl: Duration,
    /// `REFRESH_REUSE_GRACE_SECS` (default 30, at most 60, 0 turns it off): how long
    /// after a refresh token's rotation a copy of it presented again gets the same
    /// successor instead of revoking the login.
    pub refresh_grace: Duration,
    /// `PASSWORD_PBKDF2_ITERATIONS` (default 600 000), `HASHING_CONCURRENCY` (default: CPUs).
    pub hashing: HashSettings,
    /// `PASSWORD_REHASH_ON_LOGIN` (default true): replace a legacy or weaker hash after
    /// a successful login. Turn off while an original service that only knows the legacy
    /// format still reads the same table.
    pub rehash_on_login: bool,
    /// Brute-force throttle (`LOGIN_*`, `TRUSTED_PROXIES`).
    pub throttle: ThrottleConfig,
    /// `RABBITMQ_QUEUE` (default `auth-events`).
    pub queue: String,
    /// `IMAGES_QUEUE` (default `images-events`): where an account deletion's `UserDeleted`
    /// for the images service goes (the other copy goes to `RABBITMQ_QUEUE`, for session).
    pub images_queue: String,
    /// `AUTH_TEST_ENDPOINTS` (default true, as the original): serve `/test-db` and `/test-event`.
    pub test_endpoints: bool,
    /// Outbox relay settings (`AMQP_URL` or `RABBITMQ_HOST`/`RABBITMQ_PORT`, `OUTBOX_*`).
    pub relay: RelayConfig,
    /// `REQUIRE_VERIFIED_EMAIL` (default false, so accounts registered before email
    /// verification, and by the originals, keep logging in): refuse the login of an
    /// account whose email is not verified (403 `Email not verified`).
    pub require_verified_email: bool,
    /// The codes mailed to confirm an address (`EMAIL_CODE_TTL_SECS`,
    /// `EMAIL_CODE_RESEND_SECS`, `RABBITMQ_ACCOUNT_QUEUE`; see
    /// `hub_identity::confirmation`).
    pub confirmation: hub_identity::confirmation::Settings,
    /// `RABBITMQ_USER_QUEUE` (default `user-events`, where user-soap's `UserRegistered`
    /// goes): the queue of `UserUpdated`.
    pub user_queue: String,
    /// The password policy of change and reset (`PASSWORD_MIN_LENGTH`,
    /// `PASSWORD_MAX_LENGTH`, `PASSWORD_BREACH_CHECK_*`; `hub_identity::policy`).
    pub password_policy: PasswordPolicy,
    /// Password reset codes and their limits (`PASSWORD_RESET_*`).
    pub reset: ResetConfig,
    /// Where the export reads sessions and images: `SESSION_URL` (default
    /// `http://127.0.0.1:5004`), `IMAGES_URL` (default `http://127.0.0.1:5015`),
    /// `EXPORT_TIMEOUT_MS` (default 5000); see `account::export`.
    pub export: ExportConfig,
}

impl ServiceConfig for Config {
    fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            db: PgSettings::from_vars(vars)?,
            jwt: Issuer::from_vars(vars)?,
            refresh_ttl: vars.seconds_or(
                "REFRESH_TOKEN_TTL_SECS",
                Duration::from_secs(14 * 24 * 3600),
            )?,
            refresh_grace: refresh_grace(vars)?,
            hashing: HashSettings::from_vars(vars)?,
            rehash_on_login: vars.bool_or("PASSWORD_REHASH_ON_LOGIN", true)?,
            throttle: ThrottleConfig::from_vars(vars)?,
            queue: deletion_queues(vars).session,
            images_queue: deletion_queues(vars).images,
            test_endpoints: vars.bool_or("AUTH_TEST_ENDPOINTS", true)?,
            relay: RelayConfig::from_vars(vars, "auth")?,
            require_verified_email: vars.bool_or("REQUIRE_VERIFIED_EMAIL", false)?,
            confirmation: hub_identity::confirmation::Settings::from_vars(vars)?,
            user_queue: vars.string_or("RABBITMQ_USER_QUEUE", queues::USER_EVENTS),
            password_policy: PasswordPolicy::from_vars(vars)?,
            reset: ResetConfig::from_vars(vars)?,
            export: ExportConfig::from_vars(vars)?,
        })
    }
}

/// The longest `REFRESH_REUSE_GRACE_SECS`: a copy of a rotated token is worth more to a
/// thief the longer it keeps working.
pub const MAX_REFRESH_GRACE_SECS: u64 = 60;

/// `REFRESH_REUSE_GRACE_SECS`: 0 to 60 seconds, default 30 (WSO2 Identity Server's
/// default for the same mechanism).
fn refresh_grace(vars: &Vars<'_>) -> Result<Duration, ConfigError> {
    let secs: u64 = vars.parse_or("REFRESH_REUSE_GRACE_SECS", 30)?;
    if secs > MAX_REFRESH_GRACE_SECS {
        return Err(ConfigError::invalid(
            "REFRESH_REUSE_GRACE_SECS",
            format!("0 (off) to {MAX_REFRESH_GRACE_SECS} seconds"),
        ));
    }
    Ok(Duration::from_secs(secs))
}

/// Login brute-force throttling: attempts are counted per account (a username and its
/// email are one account), per login string and per client address in PostgreSQL, so
/// every instance agrees; each is reserved before the password check, atomically with
/// the limit (see `store::throttle`). A key at its limit gets 429 with `Retry-After`
/// until its lockout ends. Other users' logins are unaffected unless they share the
/// blocked address.
#[derive(Debug, Clone)]
pub struct ThrottleConfig {
    /// `LOGIN_MAX_FAILURES_PER_USER` (default 5) within the window, per account and per
    /// login string.
    pub per_user: Limit,
    /// `LOGIN_MAX_FAILURES_PER_ADDRESS` (default 50) within the window.
    pub per_address: Limit,
    /// Whose forwarding headers name the client (`TRUSTED_PROXIES`,
    /// `CLIENT_ADDRESS_HEADER`, deprecated `TRUST_FORWARDED_FOR`); by default none,
    /// and the peer address is the client.
    pub proxies: ProxyTrust,
}

impl ThrottleConfig {
    /// Reads `LOGIN_MAX_FAILURES_PER_USER`, `LOGIN_MAX_FAILURES_PER_ADDRESS`,
    /// `LOGIN_FAILURE_WINDOW_SECS` (default 900), `LOGIN_LOCKOUT_SECS` (default 900) and
    /// the proxy settings.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let window = vars.seconds_or("LOGIN_FAILURE_WINDOW_SECS", Duration::from_secs(900))?;
        let lockout = vars.seconds_or("LOGIN_LOCKOUT_SECS", Duration::from_secs(900))?;
        let limit = |name: &'static str, default: i32| -> Result<Limit, ConfigError> {
            Ok(Limit {
                max_failures: vars.positive_or(name, default)?,
                window,
                lockout,
            })
        };
        Ok(Self {
            per_user: limit("LOGIN_MAX_FAILURES_PER_USER", 5)?,
            per_address: limit("LOGIN_MAX_FAILURES_PER_ADDRESS", 50)?,
            proxies: ProxyTrust::from_vars(vars)?,
        })
    }
}

/// `RABBITMQ_QUEUE` (default `auth-events`) and `IMAGES_QUEUE` (default `images-events`):
/// where a deletion's `UserDeleted` go, read alike by the service and by the operator's
/// `auth users replay-deletions`.
pub fn deletion_queues(vars: &Vars<'_>) -> crate::account::deletion::Queues {
    crate::account::deletion::Queues {
        session: vars.string_or("RABBITMQ_QUEUE", queues::AUTH_EVENTS),
        images: vars.string_or("IMAGES_QUEUE", queues::IMAGES_EVENTS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grace(value: Option<&str>) -> Result<Duration, ConfigError> {
        let pairs: Vec<(&str, &str)> = value
            .map(|v| ("REFRESH_REUSE_GRACE_SECS", v))
            .into_iter()
            .collect();
        let env = hub_runtime::config::fixed(&pairs);
        refresh_grace(&Vars::new(&env))
    }

    #[test]
    fn the_refresh_grace_defaults_to_30_s_allows_0_to_60_and_names_itself_otherwise() {
        assert_eq!(grace(None).unwrap(), Duration::from_secs(30));
        assert_eq!(grace(Some("0")).unwrap(), Duration::ZERO);
        assert_eq!(grace(Some("60")).unwrap(), Duration::from_secs(60));
        for bad in ["61", "-1", "ten", "1.5"] {
            let err = grace(Some(bad)).unwrap_err().to_string();
            assert!(err.contains("REFRESH_REUSE_GRACE_SECS"), "{bad}: {err}");
        }
    }
}
