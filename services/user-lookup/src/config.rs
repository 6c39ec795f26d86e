//! user-lookup configuration, read once from the environment at start-up.

use hub_db::PgSettings;
use hub_identity::verifier::VerifierConfig;
use hub_runtime::{
    config::{ConfigError, Vars},
    http::client_ip::ProxyTrust,
    service::ServiceConfig,
};
use hub_soap::wsse;

/// What the service reads besides the skeleton's HTTP settings
/// ([`Settings`](hub_runtime::service::Settings)); each field names its variable and default.
#[derive(Debug, Clone)]
pub struct Config {
    /// PostgreSQL ([`PgSettings`]): `DATABASE_URL` or the originals' parts, required; `DB_*`.
    pub db: PgSettings,
    /// `PUBLIC_BASE_URL`: the address written into the served WSDL (default: derived
    /// from each request's Host / X-Forwarded-* headers).
    pub public_base_url: Option<String>,
    /// WS-Security UsernameToken (`WSSE_MODE` default off, `WSSE_USERS`,
    /// `WSSE_MAX_SKEW_SECS`; see `hub_soap::wsse`): with it on, also the HTTP GET
    /// lookups need credentials in `required` mode, and only a Bearer token can carry them.
    pub wsse: wsse::Settings,
    /// `LOOKUP_ACCEPT_BEARER` (default false; only with `WSSE_MODE` optional or
    /// required): an `Authorization: Bearer <jwt>` issued by auth is accepted instead of a
    /// UsernameToken, verified as session and images verify it: through auth's JWKS
    /// (`JWKS_URL`, EdDSA) or else with `SECRET_KEY` / `JWT_SECRET` (HS256).
    pub bearer: Option<VerifierConfig>,
    /// The proxies in front (`TRUSTED_PROXIES`, `CLIENT_ADDRESS_HEADER`, as auth): only
    /// theirs is the word that a request came over TLS (`X-Forwarded-Proto`), which a
    /// WS-Security password as text needs (`WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP`).
    pub proxies: ProxyTrust,
}

impl ServiceConfig for Config {
    fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let wsse = wsse::Settings::from_vars(vars)?;
        let bearer = match vars.bool_or("LOOKUP_ACCEPT_BEARER", false)? {
            false => None,
            true if wsse.mode == wsse::Mode::Off => {
                return Err(ConfigError::invalid(
                    "LOOKUP_ACCEPT_BEARER",
                    "needs WSSE_MODE optional or required",
                ));
            }
            true => Some(VerifierConfig::from_vars(vars)?),
        };
        Ok(Self {
            db: PgSettings::from_vars(vars)?,
            public_base_url: hub_soap::wsdl::configured_base(vars)?,
            wsse,
            bearer,
            proxies: ProxyTrust::from_vars(vars)?,
        })
    }

    /// `MAX_BODY_BYTES` default: 16 KiB (a SOAP lookup is a few hundred bytes).
    fn default_body_limit(&self) -> usize {
        16 * 1024
    }
}
