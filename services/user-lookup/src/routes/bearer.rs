//! Revocation of the Bearer tokens the lookups accept.
//!
//! The WS-Security guard (`hub_soap::wsse`) verifies a Bearer token's signature and
//! expiry. Once it has let a request through, a token that was sent must also still
//! stand: not revoked by a logout, a refresh-token reuse, a password change or an
//! operator, and its user still there. That is the one indexed read session and images
//! make on every request (`hub_identity::revocation::check`); a token that fails it gets
//! the guard's answer to an invalid token, and PostgreSQL unreachable is a 503 Server
//! fault, never an accepted token.

use axum::http::HeaderMap;
use hub_identity::{
    jwt::TokenError,
    revocation::{self, Check},
};

use crate::{error::Error, state::AppState};

/// Checks the Bearer token of `headers`, if one was sent and Bearer tokens are
/// accepted, against revocation. Call after the guard accepted the request.
pub async fn must_stand(state: &AppState, headers: &HeaderMap) -> Result<(), Error> {
    let (Some(verifier), Some(token)) = (&state.bearer, hub_runtime::http::bearer_token(headers))
    else {
        return Ok(());
    };
    // Verified again for its claims (the guard keeps them to itself): a cached key, no
    // network. Between the two checks it may have expired: answered as invalid.
    let token = match verifier.verify(token).await {
        Ok(token) => token,
        Err(TokenError::Expired | TokenError::Invalid) => return Err(Error::RevokedBearer),
        Err(TokenError::Unavailable) => return Err(Error::KeysUnavailable),
    };
    match revocation::check(&state.pool, &token).await? {
        Check::Admitted => Ok(()),
        Check::UnknownUser => {
            tracing::info!(user.id = %token.claims.user_id, "bearer token of a user that no longer exists refused");
            Err(Error::RevokedBearer)
        }
        Check::Revoked => {
            tracing::info!(user.id = %token.claims.user_id, "revoked bearer token refused");
            Err(Error::RevokedBearer)
        }
    }
}
