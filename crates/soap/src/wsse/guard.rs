//! The guard: what a request must present in each mode, on each door (a SOAP envelope,
//! a GET without one, HTTP Basic on a JSON door), and the answer when it does not.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use chrono::{TimeDelta, Utc};
use hub_runtime::{http::client_ip::ProxyTrust, service::Task};
use tokio_util::sync::CancellationToken;

use super::{
    WSSE_NS,
    ports::{BearerCheck, BearerError, NonceStore},
    refusal::{Refusal, Rejection},
    settings::{Credentials, Mode, Settings},
    token::{Sent, password_matches, verify_security},
};
use crate::{
    envelope::{SoapRequest, addressed_to_us},
    fault::Fault,
    xml::Element,
};

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
    nonces: Arc<dyn NonceStore>,
    bearer: Option<Arc<dyn BearerCheck>>,
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

impl Guard {
    /// The guard of `settings` (see [`Settings::guard`]).
    pub(super) fn new(
        settings: &Settings,
        nonces: Arc<dyn NonceStore>,
        bearer: Option<Arc<dyn BearerCheck>>,
        proxies: Arc<ProxyTrust>,
    ) -> Self {
        Self(Arc::new(Inner {
            mode: settings.mode,
            users: settings.users.clone(),
            // At most a day (checked when read), which a TimeDelta holds.
            max_skew: TimeDelta::from_std(settings.max_skew).unwrap_or(TimeDelta::MAX),
            max_skew_std: settings.max_skew,
            allow_text_over_http: settings.allow_text_over_http,
            proxies,
            nonces,
            bearer,
        }))
    }

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
                    && !inner
                        .nonces
                        .first_use(token.username, nonce, token.remember_until)
                        .await?
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

    /// The Bearer token of `headers`, checked by the service's [`BearerCheck`], once
    /// (`Ok(false)`: none was sent, or Bearer tokens are not accepted).
    async fn verify_bearer(&self, headers: &HeaderMap) -> Result<bool, Rejection> {
        let (Some(bearer), Some(token)) =
            (&self.0.bearer, hub_runtime::http::bearer_token(headers))
        else {
            return Ok(false);
        };
        match bearer.check(token).await {
            Ok(()) => Ok(true),
            Err(BearerError::Refused) => Err(Refusal::BadBearer.into()),
            Err(BearerError::Failed(e)) => Err(e.into()),
        }
    }

    /// Checks a request that carries no envelope (an HTTP GET binding), which only a
    /// Bearer token can authenticate: one that is sent must be valid, and in `required`
    /// mode one must be sent (always refused when Bearer tokens are not accepted).
    /// `Some` refusal: a SOAP 1.1 `wsse:FailedAuthentication` fault with HTTP 401 and,
    /// when Bearer tokens are accepted, `WWW-Authenticate: Bearer`; or, when the check
    /// could not decide, its SOAP 1.1 Server fault (503 or 500).
    pub async fn refuse_without_envelope(&self, headers: &HeaderMap) -> Option<Response> {
        let refusal = match self.verify_bearer(headers).await {
            Ok(true) => return None,
            Ok(false) if self.0.mode == Mode::Optional => return None,
            Ok(false) if self.0.bearer.is_some() => {
                Refusal::Missing("send an Authorization: Bearer token")
            }
            Ok(false) => Refusal::Missing("this request cannot carry a UsernameToken; use SOAP"),
            Err(Rejection::Refused(refusal)) => refusal,
            Err(failed @ Rejection::Failed(_)) => {
                return Some(failed.into_fault().into_response());
            }
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

    /// The replay cache's background task forgetting remembered nonces whose time has
    /// passed (with a margin of the allowed skew for clocks that differ between
    /// instances).
    pub fn prune_task(&self, shutdown: CancellationToken) -> Task {
        self.0.nonces.prune_task(self.0.max_skew_std, shutdown)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_read_in_any_case_of_the_scheme() {
        assert_eq!(basic_credentials("Basic dTpw"), Some("dTpw"));
        assert_eq!(basic_credentials(" bAsIc  dTpw "), Some("dTpw"));
        assert_eq!(basic_credentials("Bearer x.y.z"), None);
        assert_eq!(basic_credentials("Basic"), None);
    }
}
