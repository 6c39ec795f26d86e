//! WS-Security UsernameToken (OASIS WSS 1.0/1.1 UsernameToken Profile), opt-in.
//!
//! `WSSE_MODE` switches it on (`off`, the default, changes nothing: no guard is
//! installed, and a mandatory `wsse:Security` header is still refused as not
//! understood). With `optional`, a `Security` header, when present, must authenticate;
//! with `required`, every SOAP request must carry one (or, where the service accepts
//! them, a Bearer JWT). The service credentials are the secret `WSSE_USERS`.
//!
//! A token carries its password as text (`#PasswordText`) or as a digest
//! (`#PasswordDigest`: Base64(SHA-1(nonce bytes + Created + password))). A password as
//! text is accepted only on a request that came over TLS (a trusted proxy says so:
//! [`ProxyTrust::forwarded_https`]) unless `WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP` allows
//! it; otherwise `wsse:UnsupportedSecurityToken`, before the password is looked at.
//! The same credentials and the same rule serve a door without an envelope (user-soap's
//! JSON registration) as HTTP Basic ([`Guard::check_basic`]). Passwords and
//! digests are compared in constant time. `Created` (the token's, and a `wsu:Timestamp`'s)
//! must lie within `WSSE_MAX_SKEW_SECS` of our clock and a Timestamp's `Expires` must
//! not have passed, else `wsse:MessageExpired`. A token with a `Nonce` is accepted once:
//! the `(username, nonce)` pair goes into the `wsse_nonce` table, which every instance
//! (and both SOAP services) shares, by one `INSERT ... ON CONFLICT DO NOTHING` whose row
//! count says whether this is its first use. Refusals are the standard faults
//! (`wsse:FailedAuthentication`, `wsse:InvalidSecurity`, `wsse:MessageExpired`,
//! `wsse:UnsupportedSecurityToken`) in the request's SOAP version, counted and logged as
//! the client's faults.
//!
//! The guard travels as a request extension ([`install`]); the
//! [`Envelope`](crate::Envelope) extractor then understands the `Security` header and
//! checks it ([`Guard::check`]) before any handler runs.

use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Extension, Router,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use hub_config::{ConfigError, Vars};
use hub_identity::verifier::Verifier;
use hub_runtime::{http::client_ip::ProxyTrust, service::Task};
use secrecy::{ExposeSecret as _, SecretString};
use sha1::{Digest as _, Sha1};
use sha2::Sha256;
use sqlx::{PgConnection, PgPool};
use subtle::{Choice, ConstantTimeEq as _};
use tokio_util::sync::CancellationToken;

use crate::{
    envelope::{SoapRequest, addressed_to_us},
    fault::{Fault, ServerError, Subcode},
    xml::Element,
};

/// The WS-Security extension namespace (`wsse`).
pub const WSSE_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// The WS-Security utility namespace (`wsu`: `Created`, `Expires`, `Timestamp`).
pub const WSU_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
/// `Password/@Type` of a password sent as text.
pub const PASSWORD_TEXT: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText";
/// `Password/@Type` of a password sent as a digest.
pub const PASSWORD_DIGEST: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";
/// `Nonce/@EncodingType` of a Base64 nonce (the default).
pub const BASE64_BINARY: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";

/// The header blocks a service with a guard understands.
pub const UNDERSTOOD: &[(&str, &str)] = &[(WSSE_NS, "Security")];

/// The longest nonce accepted, in bytes (clients send 16 or 20).
const MAX_NONCE_BYTES: usize = 128;

/// How often each instance deletes expired nonces.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// `WSSE_MODE`: whether requests must authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// No WS-Security processing at all: today's behaviour, byte for byte.
    #[default]
    Off,
    /// Credentials are checked when present; requests without any pass.
    Optional,
    /// Every SOAP request must authenticate.
    Required,
}

/// The service credentials: user name to password. Its `Debug` shows only how many.
#[derive(Clone, Default)]
pub struct Credentials(HashMap<String, SecretString>);

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({} users)", self.0.len())
    }
}

impl Credentials {
    /// Reads `user:password` entries separated by newlines or commas (so neither may
    /// appear in a password; a user name cannot hold `:`), each trimmed of surrounding
    /// whitespace. Errors name the entry by its position, never its content.
    pub fn parse(var: &str, raw: &str) -> Result<Self, ConfigError> {
        let mut users = HashMap::new();
        let entries = raw
            .split(['\n', ','])
            .map(str::trim)
            .filter(|e| !e.is_empty());
        for (i, entry) in entries.enumerate() {
            let n = i + 1;
            let (user, password) = entry.split_once(':').ok_or_else(|| {
                ConfigError::invalid(var, format!("entry {n} is not user:password"))
            })?;
            let (user, password) = (user.trim_end(), password.trim_start());
            if user.is_empty() || password.is_empty() {
                return Err(ConfigError::invalid(
                    var,
                    format!("entry {n} has an empty user or password"),
                ));
            }
            if users
                .insert(user.to_owned(), SecretString::from(password.to_owned()))
                .is_some()
            {
                return Err(ConfigError::invalid(
                    var,
                    format!("entry {n} repeats a user"),
                ));
            }
        }
        if users.is_empty() {
            return Err(ConfigError::invalid(var, "holds no user:password entry"));
        }
        Ok(Self(users))
    }

    fn password(&self, user: &str) -> Option<&SecretString> {
        self.0.get(user)
    }
}

/// The WS-Security settings of a SOAP service.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `WSSE_MODE`: `off` (default), `optional` or `required`.
    pub mode: Mode,
    /// `WSSE_USERS` (a secret; also `WSSE_USERS_FILE`): `user:password` entries,
    /// separated by newlines or commas. Required unless the mode is `off`.
    pub users: Arc<Credentials>,
    /// `WSSE_MAX_SKEW_SECS` (default 300): how far a `Created` may lie from our clock;
    /// also how long a nonce is remembered.
    pub max_skew: Duration,
    /// `WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP` (default false): accept a password sent as
    /// text (`#PasswordText`, or HTTP Basic where a door takes it) on a request that did
    /// not come over TLS. Off, such a request is refused: the password crossed the
    /// network readable by anyone on the path.
    pub allow_text_over_http: bool,
}

impl Settings {
    /// Reads `WSSE_MODE`, `WSSE_USERS`, `WSSE_MAX_SKEW_SECS` and
    /// `WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP`.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let mode = match vars
            .string("WSSE_MODE")
            .map(|m| m.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("off") => Mode::Off,
            Some("optional") => Mode::Optional,
            Some("required") => Mode::Required,
            Some(_) => {
                return Err(ConfigError::invalid(
                    "WSSE_MODE",
                    "off, optional or required",
                ));
            }
        };
        let max_skew = vars.seconds_or("WSSE_MAX_SKEW_SECS", Duration::from_secs(300))?;
        if max_skew > Duration::from_secs(86_400) {
            return Err(ConfigError::invalid(
                "WSSE_MAX_SKEW_SECS",
                "must be at most 86400 (one day)",
            ));
        }
        let users = match (mode, vars.secret("WSSE_USERS")?) {
            (Mode::Off, _) => Credentials::default(),
            (_, None) => {
                return Err(ConfigError::Missing(
                    "WSSE_USERS (or WSSE_USERS_FILE), required when WSSE_MODE is not off".into(),
                ));
            }
            (_, Some(raw)) => Credentials::parse("WSSE_USERS", &raw)?,
        };
        Ok(Self {
            mode,
            users: Arc::new(users),
            max_skew,
            allow_text_over_http: vars.bool_or("WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP", false)?,
        })
    }

    /// The guard to [`install`], or `None` when the mode is `off`. `bearer`: the
    /// verifier (HS256 or auth's JWKS) of `Authorization: Bearer` JWTs accepted instead of
    /// a UsernameToken; `proxies`: the service's `TRUSTED_PROXIES`, the only ones
    /// believed when they say a request came over TLS.
    pub fn guard(
        &self,
        pool: PgPool,
        bearer: Option<Verifier>,
        proxies: Arc<ProxyTrust>,
    ) -> Option<Guard> {
        if self.mode == Mode::Off {
            return None;
        }
        Some(Guard(Arc::new(Inner {
            mode: self.mode,
            users: self.users.clone(),
            // At most a day (checked when read), which a TimeDelta holds.
            max_skew: TimeDelta::from_std(self.max_skew).unwrap_or(TimeDelta::MAX),
            max_skew_std: self.max_skew,
            allow_text_over_http: self.allow_text_over_http,
            proxies,
            pool,
            bearer,
        })))
    }
}

/// Checks the credentials of requests, when WS-Security is on. Cheap to clone.
#[derive(Clone)]
pub struct Guard(Arc<Inner>);

struct Inner {
    mode: Mode,
    users: Arc<Credentials>,
    max_skew: TimeDelta,
    max_skew_std: Duration,
    allow_text_over_http: bool,
    proxies: Arc<ProxyTrust>,
    pool: PgPool,
    bearer: Option<Verifier>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("mode", &self.0.mode)
            .field("users", &self.0.users)
            .field("max_skew", &self.0.max_skew_std)
            .field("allow_text_over_http", &self.0.allow_text_over_http)
            .field("bearer", &self.0.bearer.is_some())
            .finish_non_exhaustive()
    }
}

/// Gives every request of `router` the guard, when there is one: the
/// [`Envelope`](crate::Envelope) extractor then checks its credentials. With `None`
/// (`WSSE_MODE=off`) the router is returned unchanged.
pub fn install(router: Router, guard: Option<Guard>) -> Router {
    match guard {
        Some(guard) => router.layer(Extension(guard)),
        None => router,
    }
}

/// Why credentials were refused: what is logged (INFO) and which fault answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No credentials where they are required (the text says which are accepted).
    #[error("no credentials")]
    Missing(&'static str),
    /// An unknown user or a wrong password.
    #[error("unknown user or wrong password")]
    BadPassword,
    /// The `(username, nonce)` pair was used before.
    #[error("nonce replayed")]
    Replayed,
    /// An invalid or expired Bearer token.
    #[error("invalid or expired bearer token")]
    BadBearer,
    /// A `Security` header we cannot process (the text says why).
    #[error("invalid Security header: {0}")]
    Invalid(&'static str),
    /// A `Created` too far from our clock, or an `Expires` that has passed.
    #[error("message expired: {0}")]
    Expired(&'static str),
    /// A password sent as text on a request that did not come over TLS, while
    /// `WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP` is off.
    #[error("password sent as text over plain HTTP")]
    TextOverHttp,
}

/// The standard reason of `wsse:FailedAuthentication`.
const FAILED: &str = "The security token could not be authenticated or authorized";

impl Refusal {
    /// The standard WS-Security fault (SOAP 1.1; set the request's version). An
    /// authentication failure never says which part was wrong.
    pub fn fault(self) -> Fault {
        let (local, reason) = match self {
            Self::Missing(what) => ("FailedAuthentication", format!("{FAILED}: {what}")),
            Self::BadPassword | Self::Replayed | Self::BadBearer => {
                ("FailedAuthentication", FAILED.to_owned())
            }
            Self::Invalid(why) => (
                "InvalidSecurity",
                format!("An error was discovered processing the <wsse:Security> header: {why}"),
            ),
            Self::Expired(why) => ("MessageExpired", format!("The message has expired: {why}")),
            // WSS 1.1 SOAP Message Security §12: the "unsupported" class, a token
            // (here: a password as text, on this transport) the receiver does not take.
            Self::TextOverHttp => (
                "UnsupportedSecurityToken",
                "An unsupported token was provided: a PasswordText is accepted only over \
                 HTTPS; send a PasswordDigest"
                    .to_owned(),
            ),
        };
        Fault::client(reason).with_subcode(Subcode {
            ns: WSSE_NS,
            prefix: "wsse",
            local,
        })
    }
}

/// A refusal, or trouble with the replay cache on our side.
enum Rejection {
    Refused(Refusal),
    Failed(ServerError),
}

impl From<Refusal> for Rejection {
    fn from(r: Refusal) -> Self {
        Self::Refused(r)
    }
}

impl From<sqlx::Error> for Rejection {
    fn from(e: sqlx::Error) -> Self {
        Self::Failed(e.into())
    }
}

impl Rejection {
    /// The fault, the refusal logged at INFO (a client's mistake, never an error).
    fn into_fault(self) -> Fault {
        match self {
            Self::Refused(refusal) => {
                tracing::info!(reason = %refusal, "WS-Security credentials refused");
                refusal.fault()
            }
            Self::Failed(e) => e.into(),
        }
    }
}

impl Guard {
    /// Checks the credentials of a SOAP request that arrived from `peer` (`None`:
    /// unknown, taken as plain HTTP): its `Security` header addressed to us, if any, and,
    /// where Bearer tokens are accepted, its `Authorization: Bearer` JWT, if any.
    /// Whatever is presented must be valid; in `required` mode something must be. A
    /// refusal is the WS-Security fault in the request's version.
    pub async fn check(
        &self,
        request: &SoapRequest,
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
    ) -> Result<(), Fault> {
        self.authenticate(request, headers, peer)
            .await
            .map_err(|r| r.into_fault().with_version(request.version))
    }

    /// Whether a password may be taken as text on this request: it came over TLS (a
    /// trusted proxy says so), or `WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP` allows it.
    fn text_allowed(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> bool {
        self.0.allow_text_over_http
            || peer.is_some_and(|peer| self.0.proxies.forwarded_https(headers, peer))
    }

    async fn authenticate(
        &self,
        request: &SoapRequest,
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
    ) -> Result<(), Rejection> {
        let inner = &self.0;
        let blocks: Vec<&Element> = request
            .headers
            .iter()
            .filter(|b| b.is(WSSE_NS, "Security") && addressed_to_us(b, request.version))
            .collect();
        let mut authenticated = match blocks.as_slice() {
            [] => false,
            [security] => {
                let text_allowed = self.text_allowed(headers, peer);
                let token = verify_security(
                    &inner.users,
                    inner.max_skew,
                    security,
                    text_allowed,
                    Utc::now(),
                )?;
                if let Some(nonce) = &token.nonce
                    && !first_use(&inner.pool, token.username, nonce, token.remember_until).await?
                {
                    return Err(Refusal::Replayed.into());
                }
                tracing::debug!(
                    wsse.user = token.username,
                    "WS-Security UsernameToken accepted"
                );
                true
            }
            _ => {
                return Err(Refusal::Invalid(
                    "more than one Security header is addressed to this service",
                )
                .into());
            }
        };
        if self.verify_bearer(headers).await? {
            authenticated = true;
        }
        if !authenticated && inner.mode == Mode::Required {
            return Err(Refusal::Missing(if inner.bearer.is_some() {
                "send a WS-Security UsernameToken or an Authorization: Bearer token"
            } else {
                "send a WS-Security UsernameToken"
            })
            .into());
        }
        Ok(())
    }

    /// The Bearer token of `headers`, verified (`Ok(false)`: none was sent).
    async fn verify_bearer(&self, headers: &HeaderMap) -> Result<bool, Refusal> {
        let (Some(verifier), Some(token)) =
            (&self.0.bearer, hub_runtime::http::bearer_token(headers))
        else {
            return Ok(false);
        };
        let verified = verifier
            .verify(token)
            .await
            .map_err(|_| Refusal::BadBearer)?;
        tracing::debug!(user.id = %verified.claims.user_id, "bearer token accepted");
        Ok(true)
    }

    /// Checks a request that carries no envelope (an HTTP GET binding), which only a
    /// Bearer token can authenticate: one that is sent must be valid, and in `required`
    /// mode one must be sent (always refused when Bearer tokens are not accepted).
    /// `Some` refusal: a SOAP 1.1 `wsse:FailedAuthentication` fault with HTTP 401 and,
    /// when Bearer tokens are accepted, `WWW-Authenticate: Bearer`.
    pub async fn refuse_without_envelope(&self, headers: &HeaderMap) -> Option<Response> {
        let refusal = match self.verify_bearer(headers).await {
            Ok(true) => return None,
            Ok(false) if self.0.mode == Mode::Optional => return None,
            Ok(false) if self.0.bearer.is_some() => {
                Refusal::Missing("send an Authorization: Bearer token")
            }
            Ok(false) => Refusal::Missing("this request cannot carry a UsernameToken; use SOAP"),
            Err(refusal) => refusal,
        };
        let mut response = Rejection::Refused(refusal)
            .into_fault()
            .with_status(StatusCode::UNAUTHORIZED)
            .into_response();
        if self.0.bearer.is_some() {
            let challenge = match refusal {
                Refusal::BadBearer => r#"Bearer error="invalid_token""#,
                _ => "Bearer",
            };
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        Some(response)
    }

    /// Checks the HTTP Basic credentials of a request that carries no envelope (user-soap's
    /// JSON registration) against the same `WSSE_USERS`, under the same rules: Basic
    /// credentials that are sent must be valid and, being a password as text, must have
    /// come over TLS (or `WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP` allows them; checked before
    /// the password); in `required` mode they must be sent. Another `Authorization`
    /// scheme is not credentials of ours, as good as none. A refusal is logged at INFO
    /// (a client's mistake) and returned for the door to answer in its own protocol.
    pub fn check_basic(
        &self,
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
    ) -> Result<(), Refusal> {
        self.basic(headers, peer).inspect_err(|refusal| {
            tracing::info!(reason = %refusal, "HTTP Basic credentials refused");
        })
    }

    fn basic(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Result<(), Refusal> {
        let mut values = headers.get_all(header::AUTHORIZATION).iter();
        let value = match (values.next(), values.next()) {
            (None, _) => return self.anonymous("send HTTP Basic credentials"),
            (Some(_), Some(_)) => {
                return Err(Refusal::Invalid("more than one Authorization header"));
            }
            (Some(value), None) => value,
        };
        let Some(encoded) = value.to_str().ok().and_then(basic_credentials) else {
            return self.anonymous("send HTTP Basic credentials");
        };
        if !self.text_allowed(headers, peer) {
            return Err(Refusal::TextOverHttp);
        }
        let decoded = BASE64
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or(Refusal::Invalid(
                "Basic credentials are not Base64 of UTF-8 text",
            ))?;
        let (user, password) = decoded
            .split_once(':')
            .ok_or(Refusal::Invalid("Basic credentials are not user:password"))?;
        password_matches(&self.0.users, user, password, Sent::Text)
    }

    /// No credentials: fine unless they are required (`what` says which to send).
    fn anonymous(&self, what: &'static str) -> Result<(), Refusal> {
        match self.0.mode {
            Mode::Required => Err(Refusal::Missing(what)),
            Mode::Optional | Mode::Off => Ok(()),
        }
    }

    /// The background task deleting remembered nonces whose time has passed (with a
    /// margin of the allowed skew for clocks that differ between instances).
    pub fn prune_task(&self, shutdown: CancellationToken) -> Task {
        let margin = self.0.max_skew_std;
        hub_runtime::service::every(
            PRUNE_EVERY,
            shutdown,
            hub_db::chore_on(
                self.0.pool.clone(),
                "wsse nonce prune",
                move |pool: sqlx::PgPool| async move {
                    prune(&mut *pool.acquire().await?, margin).await
                },
            ),
        )
    }
}

/// The credentials of an `Authorization: Basic <credentials>` value (the scheme in any
/// case); `None` for another scheme.
fn basic_credentials(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("basic")
        .then(|| credentials.trim())
}

/// Records `(username, nonce)` until `until`; true when it was not there yet. One
/// statement: of any number of simultaneous requests on any instances, one wins.
async fn first_use(
    pool: &PgPool,
    username: &str,
    nonce: &[u8],
    until: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "INSERT INTO wsse_nonce (username, nonce, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        username,
        nonce,
        until
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes nonces remembered until more than `margin` ago.
pub async fn prune(conn: &mut PgConnection, margin: Duration) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM wsse_nonce WHERE expires_at < now() - make_interval(secs => $1)",
        margin.as_secs_f64()
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// `Base64(SHA-1(nonce + created + password))`, the UsernameToken Profile's digest
/// (`created` exactly as the token's text).
pub fn password_digest(nonce: &[u8], created: &str, password: &str) -> String {
    BASE64.encode(digest(nonce, created, password))
}

fn digest(nonce: &[u8], created: &str, password: &str) -> [u8; 20] {
    let mut sha = Sha1::new();
    sha.update(nonce);
    sha.update(created.as_bytes());
    sha.update(password.as_bytes());
    sha.finalize().into()
}

/// A UsernameToken that authenticated (the nonce is still to be recorded).
#[derive(Debug)]
struct Verified<'a> {
    username: &'a str,
    nonce: Option<Vec<u8>>,
    /// Until when the nonce must be remembered: its `Created` plus the allowed skew,
    /// after which the token is refused as expired anyway.
    remember_until: DateTime<Utc>,
}

/// Checks a `Security` header at `now`: an optional `wsu:Timestamp` and exactly one
/// `UsernameToken`, whose password matches the user's. A password as text is refused
/// unless `text_allowed` (see [`Guard::text_allowed`]), before it is compared.
fn verify_security<'a>(
    users: &Credentials,
    skew: TimeDelta,
    security: &'a Element,
    text_allowed: bool,
    now: DateTime<Utc>,
) -> Result<Verified<'a>, Refusal> {
    let [token, timestamp] = distinct_children(
        security,
        [(WSSE_NS, "UsernameToken"), (WSU_NS, "Timestamp")],
        "only a UsernameToken and a Timestamp are supported",
        "more than one UsernameToken or Timestamp",
    )?;
    if let Some(timestamp) = timestamp {
        check_timestamp(timestamp, skew, now)?;
    }
    let token = token.ok_or(Refusal::Invalid("no UsernameToken"))?;

    let [username, password, nonce, created] = distinct_children(
        token,
        [
            (WSSE_NS, "Username"),
            (WSSE_NS, "Password"),
            (WSSE_NS, "Nonce"),
            (WSU_NS, "Created"),
        ],
        "the UsernameToken holds an unsupported element",
        "an element of the UsernameToken is repeated",
    )?;
    let username: &Element =
        username.ok_or(Refusal::Invalid("the UsernameToken has no Username"))?;
    let password: &Element =
        password.ok_or(Refusal::Invalid("the UsernameToken has no Password"))?;
    let digest_sent = match password.attr(None, "Type") {
        None | Some(PASSWORD_TEXT) => false,
        Some(PASSWORD_DIGEST) => true,
        Some(_) => return Err(Refusal::Invalid("unsupported Password Type")),
    };
    let nonce = nonce.map(read_nonce).transpose()?;
    let created_at = created.map(|c| instant(&c.text)).transpose()?;
    if nonce.is_some() && created.is_none() {
        return Err(Refusal::Invalid("a Nonce needs a Created"));
    }
    let sent = if digest_sent {
        match (nonce.as_deref(), created) {
            (Some(nonce), Some(created)) => Sent::Digest(nonce, &created.text),
            _ => {
                return Err(Refusal::Invalid(
                    "a PasswordDigest needs a Nonce and a Created",
                ));
            }
        }
    } else if text_allowed {
        Sent::Text
    } else {
        return Err(Refusal::TextOverHttp);
    };
    if let Some(created_at) = created_at {
        fresh(
            created_at,
            skew,
            now,
            "the UsernameToken's Created is outside the allowed clock skew",
        )?;
    }
    password_matches(users, &username.text, &password.text, sent)?;
    Ok(Verified {
        username: &username.text,
        nonce,
        // A nonce always comes with a Created; without one nothing is remembered.
        remember_until: created_at.map_or(now, |c| c + skew),
    })
}

/// How the password was sent.
#[derive(Debug, Clone, Copy)]
enum Sent<'a> {
    /// As text.
    Text,
    /// As the digest of this nonce and this `Created` text.
    Digest(&'a [u8], &'a str),
}

/// Compares the `password` text as `sent` with the user's, in constant time; an
/// unknown user costs the same as a known one.
fn password_matches(
    users: &Credentials,
    username: &str,
    password: &str,
    sent: Sent<'_>,
) -> Result<(), Refusal> {
    // Stands in for an unknown user's password, so the comparison still happens.
    const NOBODY: &str = "\u{0}no such user\u{0}";
    let stored = users.password(username);
    let known = Choice::from(u8::from(stored.is_some()));
    let expected = stored.map_or(NOBODY, |p| p.expose_secret());
    let matches = match sent {
        Sent::Text => Sha256::digest(password.as_bytes())
            .as_slice()
            .ct_eq(Sha256::digest(expected.as_bytes()).as_slice()),
        Sent::Digest(nonce, created) => {
            let sent = BASE64
                .decode(strip_whitespace(password))
                .unwrap_or_default();
            sent.as_slice()
                .ct_eq(digest(nonce, created, expected).as_slice())
        }
    };
    if bool::from(matches & known) {
        Ok(())
    } else {
        Err(Refusal::BadPassword)
    }
}

/// The nonce's bytes: Base64 (the only encoding accepted), 1 to 128 bytes.
fn read_nonce(nonce: &Element) -> Result<Vec<u8>, Refusal> {
    match nonce.attr(None, "EncodingType") {
        None | Some(BASE64_BINARY) => {}
        Some(_) => return Err(Refusal::Invalid("unsupported Nonce EncodingType")),
    }
    match BASE64.decode(strip_whitespace(&nonce.text)) {
        Ok(bytes) if !bytes.is_empty() && bytes.len() <= MAX_NONCE_BYTES => Ok(bytes),
        _ => Err(Refusal::Invalid(
            "the Nonce must be 1 to 128 bytes in Base64",
        )),
    }
}

/// A `wsu:Timestamp`: its `Created` within the skew, its `Expires` not passed (with
/// the skew as leeway for clocks that differ).
fn check_timestamp(
    timestamp: &Element,
    skew: TimeDelta,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let [created, expires] = distinct_children(
        timestamp,
        [(WSU_NS, "Created"), (WSU_NS, "Expires")],
        "the Timestamp holds an unsupported element",
        "an element of the Timestamp is repeated",
    )?;
    if let Some(created) = created {
        fresh(
            instant(&created.text)?,
            skew,
            now,
            "the Timestamp's Created is outside the allowed clock skew",
        )?;
    }
    if let Some(expires) = expires
        && instant(&expires.text)? + skew < now
    {
        return Err(Refusal::Expired("the Timestamp's Expires has passed"));
    }
    Ok(())
}

/// The children of `parent`, which may only be the elements `names` (namespace, local
/// name), each at most once: `found[i]` is the one named `names[i]`. Any other child is
/// refused as `unsupported`, a second one of the same name as `repeated`.
fn distinct_children<'a, const N: usize>(
    parent: &'a Element,
    names: [(&str, &str); N],
    unsupported: &'static str,
    repeated: &'static str,
) -> Result<[Option<&'a Element>; N], Refusal> {
    let mut found = [None; N];
    for child in &parent.children {
        let i = names
            .iter()
            .position(|&(ns, local)| child.is(ns, local))
            .ok_or(Refusal::Invalid(unsupported))?;
        if found[i].replace(child).is_some() {
            return Err(Refusal::Invalid(repeated));
        }
    }
    Ok(found)
}

/// Refuses `at` further than `skew` from `now`, either way.
fn fresh(
    at: DateTime<Utc>,
    skew: TimeDelta,
    now: DateTime<Utc>,
    why: &'static str,
) -> Result<(), Refusal> {
    if (now - at).abs() > skew {
        Err(Refusal::Expired(why))
    } else {
        Ok(())
    }
}

/// An `xsd:dateTime`: with a zone (`Z` or an offset) as sent by every client, or
/// without one, read as UTC.
fn instant(text: &str) -> Result<DateTime<Utc>, Refusal> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").map(|t| t.and_utc())
        })
        .map_err(|_| Refusal::Invalid("a Created or Expires is not an xsd:dateTime"))
}

fn strip_whitespace(text: &str) -> String {
    text.chars().filter(|c| !c.is_ascii_whitespace()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        SoapVersion,
        xml::{Limits, parse},
    };

    fn users() -> Credentials {
        Credentials::parse("WSSE_USERS", "svc:s3cret wörd\nother:x").unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        instant(text).unwrap()
    }

    const SKEW: TimeDelta = TimeDelta::seconds(300);

    fn security(inner: &str) -> Element {
        parse(
            &format!(r#"<wsse:Security xmlns:wsse="{WSSE_NS}" xmlns:wsu="{WSU_NS}">{inner}</wsse:Security>"#),
            &Limits::default(),
        )
        .unwrap()
    }

    fn token(password: &str, extra: &str) -> String {
        format!(
            "<wsse:UsernameToken><wsse:Username>svc</wsse:Username>{password}{extra}</wsse:UsernameToken>"
        )
    }

    fn digest_token(digest: &str, nonce: &str, created: &str) -> Element {
        security(&token(
            &format!(r#"<wsse:Password Type="{PASSWORD_DIGEST}">{digest}</wsse:Password>"#),
            &format!(
                r#"<wsse:Nonce EncodingType="{BASE64_BINARY}">{nonce}</wsse:Nonce><wsu:Created>{created}</wsu:Created>"#
            ),
        ))
    }

    fn check(sec: &Element, now: &str) -> Result<Option<Vec<u8>>, Refusal> {
        verify_security(&users(), SKEW, sec, true, at(now)).map(|v| v.nonce)
    }

    /// Produced by the clients themselves: zeep 4.3 (`UsernameToken(use_digest=True,
    /// nonce="0123456789abcdef", created=2026-12-01 10:00 UTC)`) and node-soap 1.13
    /// (`passwordDigest`, which writes `Created` with a `Z`), password `s3cret wörd`.
    #[test]
    fn digests_match_the_clients_vectors() {
        let nonce = b"0123456789abcdef";
        assert_eq!(
            password_digest(nonce, "2026-12-01T10:00:00+00:00", "s3cret wörd"),
            "k5mTTI1vbWVY65kjKp31i8qAmSo="
        );
        assert_eq!(
            password_digest(nonce, "2026-12-01T10:00:00Z", "s3cret wörd"),
            "johFoJCWPkBHR0QJkCn12ddV9iY="
        );
    }

    #[test]
    fn a_zeep_digest_token_authenticates_within_the_skew_only() {
        let sec = digest_token(
            "k5mTTI1vbWVY65kjKp31i8qAmSo=",
            "MDEyMzQ1Njc4OWFiY2RlZg==",
            "2026-12-01T10:00:00+00:00",
        );
        let nonce = check(&sec, "2026-12-01T10:04:59Z").unwrap();
        assert_eq!(nonce.as_deref(), Some(&b"0123456789abcdef"[..]));
        assert!(matches!(
            check(&sec, "2026-12-01T10:05:01Z"),
            Err(Refusal::Expired(_))
        ));
        assert!(matches!(
            check(&sec, "2026-12-01T09:54:59Z"),
            Err(Refusal::Expired(_))
        ));
        let wrong = digest_token(
            "k5mTTI1vbWVY65kjKp31i8qAmSo=",
            "MDEyMzQ1Njc4OWFiY2RlZA==",
            "2026-12-01T10:00:00+00:00",
        );
        assert_eq!(
            check(&wrong, "2026-12-01T10:00:00Z"),
            Err(Refusal::BadPassword)
        );
    }

    #[test]
    fn text_passwords_compare_exactly_and_unknown_users_fail_alike() {
        let text = |pw: &str| {
            security(&token(
                &format!(r#"<wsse:Password Type="{PASSWORD_TEXT}">{pw}</wsse:Password>"#),
                "",
            ))
        };
        assert_eq!(
            check(&text("s3cret wörd"), "2026-12-01T10:00:00Z"),
            Ok(None)
        );
        assert_eq!(
            check(&text("s3cret wörd "), "2026-12-01T10:00:00Z"),
            Err(Refusal::BadPassword)
        );
        assert_eq!(
            check(&text("x"), "2026-12-01T10:00:00Z"),
            Err(Refusal::BadPassword),
            "other's password"
        );
        let untyped = security(&token("<wsse:Password>s3cret wörd</wsse:Password>", ""));
        assert_eq!(
            check(&untyped, "2026-12-01T10:00:00Z"),
            Ok(None),
            "Type defaults to text"
        );
        let ghost = security(
            "<wsse:UsernameToken><wsse:Username>ghost</wsse:Username><wsse:Password></wsse:Password></wsse:UsernameToken>",
        );
        assert_eq!(
            check(&ghost, "2026-12-01T10:00:00Z"),
            Err(Refusal::BadPassword)
        );
    }

    #[test]
    fn a_text_password_is_refused_unless_allowed_before_it_is_compared() {
        let now = at("2026-12-01T10:00:00Z");
        let text = |pw: &str| {
            security(&token(
                &format!(r#"<wsse:Password Type="{PASSWORD_TEXT}">{pw}</wsse:Password>"#),
                "",
            ))
        };
        for pw in ["s3cret wörd", "wrong"] {
            assert_eq!(
                verify_security(&users(), SKEW, &text(pw), false, now).map(|v| v.nonce),
                Err(Refusal::TextOverHttp),
                "{pw}"
            );
        }
        let untyped = security(&token("<wsse:Password>s3cret wörd</wsse:Password>", ""));
        assert_eq!(
            verify_security(&users(), SKEW, &untyped, false, now).map(|v| v.nonce),
            Err(Refusal::TextOverHttp),
            "an untyped password is text"
        );
        // A digest needs no TLS.
        let digest = digest_token(
            "k5mTTI1vbWVY65kjKp31i8qAmSo=",
            "MDEyMzQ1Njc4OWFiY2RlZg==",
            "2026-12-01T10:00:00+00:00",
        );
        assert!(verify_security(&users(), SKEW, &digest, false, now).is_ok());
        // A malformed token is still said to be malformed.
        assert!(matches!(
            verify_security(&users(), SKEW, &security(""), false, now),
            Err(Refusal::Invalid(_))
        ));
        let fault = Refusal::TextOverHttp.fault().with_version(SoapVersion::V12);
        assert_eq!(fault.status(), StatusCode::BAD_REQUEST);
        assert!(
            fault.to_xml().contains(
                "<env:Subcode><env:Value>wsse:UnsupportedSecurityToken</env:Value></env:Subcode>"
            ),
            "{}",
            fault.to_xml()
        );
    }

    #[test]
    fn basic_credentials_are_read_in_any_case_of_the_scheme() {
        assert_eq!(basic_credentials("Basic dTpw"), Some("dTpw"));
        assert_eq!(basic_credentials(" bAsIc  dTpw "), Some("dTpw"));
        assert_eq!(basic_credentials("Bearer x.y.z"), None);
        assert_eq!(basic_credentials("Basic"), None);
    }

    #[test]
    fn malformed_tokens_are_invalid_security() {
        let now = "2026-12-01T10:00:00Z";
        for (inner, what) in [
            ("", "no UsernameToken"),
            ("<wsse:UsernameToken/><wsse:UsernameToken/>", "two tokens"),
            ("<wsse:BinarySecurityToken/>", "another token type"),
            (&token("", "") as &str, "no password"),
            (
                &token(r#"<wsse:Password Type="urn:x">p</wsse:Password>"#, ""),
                "unknown type",
            ),
            (
                &token(
                    &format!(r#"<wsse:Password Type="{PASSWORD_DIGEST}">x</wsse:Password>"#),
                    "",
                ),
                "digest without nonce",
            ),
            (
                &token(
                    "<wsse:Password>p</wsse:Password>",
                    "<wsse:Nonce>AAAA</wsse:Nonce>",
                ),
                "nonce without created",
            ),
            (
                &token(
                    "<wsse:Password>p</wsse:Password>",
                    "<wsse:Nonce>not base64!</wsse:Nonce><wsu:Created>2026-12-01T10:00:00Z</wsu:Created>",
                ),
                "bad nonce",
            ),
            (
                &token(
                    "<wsse:Password>p</wsse:Password>",
                    "<wsu:Created>yesterday</wsu:Created>",
                ),
                "bad created",
            ),
        ] {
            assert!(
                matches!(check(&security(inner), now), Err(Refusal::Invalid(_))),
                "{what}"
            );
        }
    }

    #[test]
    fn a_timestamp_is_honoured() {
        let ts = |inner: &str| {
            security(&format!(
                "<wsu:Timestamp>{inner}</wsu:Timestamp>{}",
                token("<wsse:Password>s3cret wörd</wsse:Password>", "")
            ))
        };
        let sec = ts("<wsu:Expires>2026-12-01T10:01:00Z</wsu:Expires>");
        assert!(
            check(&sec, "2026-12-01T10:05:59Z").is_ok(),
            "expires plus leeway"
        );
        assert!(matches!(
            check(&sec, "2026-12-01T10:06:01Z"),
            Err(Refusal::Expired(_))
        ));
        let old = ts("<wsu:Created>2026-12-01T10:00:00Z</wsu:Created>");
        assert!(check(&old, "2026-12-01T10:05:00Z").is_ok());
        assert!(matches!(
            check(&old, "2026-12-01T10:05:01Z"),
            Err(Refusal::Expired(_))
        ));
        let ts = |created: &str, expires: &str| {
            ts(&format!(
                "<wsu:Created>{created}</wsu:Created><wsu:Expires>{expires}</wsu:Expires>"
            ))
        };
        let future = ts("2026-12-01T11:00:00Z", "2026-12-01T11:10:00Z");
        assert!(matches!(
            check(&future, "2026-12-01T10:00:00Z"),
            Err(Refusal::Expired(_))
        ));
    }

    #[test]
    fn faults_carry_the_wsse_code_in_both_versions() {
        let v11 = Refusal::Replayed.fault().to_xml();
        assert!(v11.contains(&format!(r#"xmlns:wsse="{WSSE_NS}""#)), "{v11}");
        assert!(
            v11.contains("<faultcode>wsse:FailedAuthentication</faultcode>"),
            "{v11}"
        );
        let f = Refusal::Expired("late")
            .fault()
            .with_version(SoapVersion::V12);
        assert_eq!(f.status(), StatusCode::BAD_REQUEST);
        let v12 = f.to_xml();
        assert!(
            v12.contains("<env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>wsse:MessageExpired</env:Value></env:Subcode></env:Code>"),
            "{v12}"
        );
        assert_eq!(
            Refusal::BadPassword.fault().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        // Which part failed is never said.
        assert_eq!(
            Refusal::BadPassword.fault().reason,
            Refusal::Replayed.fault().reason
        );
    }

    #[test]
    fn credentials_are_read_without_echoing_them() {
        let c = Credentials::parse("WSSE_USERS", "a:p:with:colons, b:q\n").unwrap();
        assert_eq!(c.password("a").unwrap().expose_secret(), "p:with:colons");
        assert_eq!(c.password("b").unwrap().expose_secret(), "q");
        assert_eq!(format!("{c:?}"), "Credentials(2 users)");
        for bad in ["nopassword-secret", "a:", ":p", "a:x,a:y", " , "] {
            let e = Credentials::parse("WSSE_USERS", bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains("WSSE_USERS") && !e.contains("secret"), "{e}");
        }
    }

    #[test]
    fn settings_default_off_and_need_users_when_on() {
        let none = |_: &str| None;
        assert_eq!(
            Settings::from_vars(&Vars::new(&none)).unwrap().mode,
            Mode::Off
        );
        let on = |k: &str| (k == "WSSE_MODE").then(|| "Required".to_owned());
        assert!(
            Settings::from_vars(&Vars::new(&on))
                .unwrap_err()
                .to_string()
                .contains("WSSE_USERS")
        );
        let bad = |k: &str| (k == "WSSE_MODE").then(|| "on".to_owned());
        assert!(Settings::from_vars(&Vars::new(&bad)).is_err());
        assert!(
            !Settings::from_vars(&Vars::new(&none))
                .unwrap()
                .allow_text_over_http
        );
        let allow =
            |k: &str| (k == "WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP").then(|| "true".to_owned());
        assert!(
            Settings::from_vars(&Vars::new(&allow))
                .unwrap()
                .allow_text_over_http
        );
        let typo =
            |k: &str| (k == "WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP").then(|| "yes please".to_owned());
        assert!(
            Settings::from_vars(&Vars::new(&typo))
                .unwrap_err()
                .to_string()
                .contains("WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP")
        );
    }
}
