//! The Bearer tokens the lookups accept (`LOOKUP_ACCEPT_BEARER`), checked once per
//! request for the WS-Security guard (`hub_soap::wsse`), which asks this
//! [`BearerCheck`] on both doors (a SOAP envelope, a GET).
//!
//! A token stands when its signature and expiry verify (auth's JWKS, or HS256) and it is
//! not revoked by a logout, a refresh-token reuse, a password change or an operator, its
//! user still there: the one indexed read session and images make on every request
//! (`hub_identity::revocation::check`). A token that fails either gets the guard's
//! answer to an invalid token, and PostgreSQL unreachable is a 503 Server fault, never
//! an accepted token.

use hub_identity::{
    revocation::{self, Check},
    verifier::Verifier,
};
use hub_soap::{
    ServerError,
    wsse::{BearerCheck, BearerError, BoxFuture},
};
use sqlx::PgPool;

/// auth's tokens, verified once and checked against revocation.
pub struct StandingBearer {
    verifier: Verifier,
    pool: PgPool,
}

impl StandingBearer {
    /// Tokens `verifier` verifies, whose standing is read from `pool`.
    pub fn new(verifier: Verifier, pool: PgPool) -> Self {
        Self { verifier, pool }
    }

    async fn stands(&self, token: &str) -> Result<(), BearerError> {
        // Any failure to verify, the keys unavailable included, is an invalid token.
        let token = self
            .verifier
            .verify(token)
            .await
            .map_err(|_| BearerError::Refused)?;
        let user = token.claims.user_id;
        match revocation::check(&self.pool, &token).await {
            Ok(Check::Admitted) => {
                tracing::debug!(user.id = %user, "bearer token accepted");
                Ok(())
            }
            Ok(Check::UnknownUser) => {
                tracing::info!(user.id = %user, "bearer token of a user that no longer exists refused");
                Err(BearerError::Refused)
            }
            Ok(Check::Revoked) => {
                tracing::info!(user.id = %user, "revoked bearer token refused");
                Err(BearerError::Refused)
            }
            Err(e) => Err(BearerError::Failed(ServerError::new(
                hub_db::is_unavailable(&e),
                e,
            ))),
        }
    }
}

impl BearerCheck for StandingBearer {
    fn check<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<(), BearerError>> {
        Box::pin(self.stands(token))
    }
}
