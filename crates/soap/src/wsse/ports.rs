//! What the guard needs from outside, injected by the service: the replay cache of
//! nonces and, where Bearer tokens are accepted, their check. The SOAP services'
//! replay cache is `hub_soap_pg::PgNonces` (the `wsse_nonce` table); user-lookup's
//! Bearer check verifies auth's JWTs and their revocation.
//!
//! Both are used as trait objects (the guard is one type, a request extension), and a
//! trait with an `async fn` cannot be one yet: the methods return a [`BoxFuture`].

use std::{future::Future, pin::Pin, time::Duration};

use chrono::{DateTime, Utc};
use hub_runtime::service::Task;
use tokio_util::sync::CancellationToken;

use crate::fault::ServerError;

/// A boxed future that may move between threads, as the ports return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The replay cache: each `(username, nonce)` pair accepted once, across every instance
/// sharing it.
pub trait NonceStore: Send + Sync + 'static {
    /// Records that `username` used `nonce`, to be remembered until `until`: `Ok(true)`
    /// when this is its first use. Of any number of simultaneous calls with the same pair,
    /// on any instance, exactly one may see `true`. An `Err` is our failure (a Server
    /// fault), never an accepted token.
    fn first_use<'a>(
        &'a self,
        username: &'a str,
        nonce: &'a [u8],
        until: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<bool, ServerError>>;

    /// The background task forgetting the pairs remembered until more than `margin` ago
    /// (the allowed clock skew, for clocks that differ between instances), until
    /// `shutdown`.
    fn prune_task(&self, margin: Duration, shutdown: CancellationToken) -> Task;
}

/// Why a Bearer token was not accepted.
#[derive(Debug)]
pub enum BearerError {
    /// Invalid, expired or no longer standing: `wsse:FailedAuthentication`, as any
    /// other bad credentials.
    Refused,
    /// It could not be decided (a backing server unavailable): a Server fault, never an
    /// accepted token.
    Failed(ServerError),
}

/// The check of an `Authorization: Bearer` token, accepted instead of a UsernameToken
/// where the service says so.
pub trait BearerCheck: Send + Sync + 'static {
    /// `Ok` when `token` (the header's credentials) stands.
    fn check<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<(), BearerError>>;
}
