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
//! [`ProxyTrust::forwarded_https`](hub_runtime::http::client_ip::ProxyTrust::forwarded_https))
//! unless `WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP` allows it; otherwise
//! `wsse:UnsupportedSecurityToken`, before the password is looked at. The same
//! credentials and the same rule serve a door without an envelope (user-soap's JSON
//! registration) as HTTP Basic ([`Guard::check_basic`]). Passwords and digests are
//! compared in constant time. `Created` (the token's, and a `wsu:Timestamp`'s) must lie
//! within `WSSE_MAX_SKEW_SECS` of our clock and a Timestamp's `Expires` must not have
//! passed, else `wsse:MessageExpired`. A token with a `Nonce` is accepted once: the
//! `(username, nonce)` pair goes into the service's [`NonceStore`] (the SOAP services'
//! is the `wsse_nonce` table in PostgreSQL, `hub-soap-pg`, shared by every instance and
//! both services), whose answer says whether this is its first use. Refusals are the
//! standard faults (`wsse:FailedAuthentication`, `wsse:InvalidSecurity`,
//! `wsse:MessageExpired`, `wsse:UnsupportedSecurityToken`) in the request's SOAP
//! version, counted and logged as the client's faults.
//!
//! One job per module:
//! * [`settings`]: the variables (`Mode`, `Credentials`, `Settings`);
//! * [`guard`]: the policy: what a request must present in each mode, on each door;
//! * [`token`] and [`timestamp`]: a `Security` header's UsernameToken and Timestamp
//!   verified (pure: no I/O, the clock passed in);
//! * [`refusal`]: why credentials were refused, and the standard fault for each;
//! * [`ports`]: what the guard needs from outside and the service injects: the replay
//!   cache ([`NonceStore`]) and, where Bearer tokens are accepted, their check
//!   ([`BearerCheck`]). So this crate knows neither the database nor the JWTs.
//!
//! The guard travels as a request extension ([`install`]); the
//! [`Envelope`](crate::Envelope) extractor then understands the `Security` header and
//! checks it ([`Guard::check`]) before any handler runs.

pub mod guard;
pub mod ports;
pub mod refusal;
pub mod settings;
pub mod timestamp;
pub mod token;

use axum::{Extension, Router};

pub use guard::Guard;
pub use ports::{BearerCheck, BearerError, BoxFuture, NonceStore};
pub use refusal::Refusal;
pub use settings::{Credentials, Mode, Settings};
pub use token::password_digest;

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

/// Gives every request of `router` the guard, when there is one: the
/// [`Envelope`](crate::Envelope) extractor then checks its credentials. With `None`
/// (`WSSE_MODE=off`) the router is returned unchanged.
pub fn install(router: Router, guard: Option<Guard>) -> Router {
    match guard {
        Some(guard) => router.layer(Extension(guard)),
        None => router,
    }
}
