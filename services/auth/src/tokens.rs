//! The refresh and logout use cases, and the operator's "revoke all".
//!
//! No HTTP here: `routes::tokens` turns requests into calls and results into responses.

use hub_identity::{jwt::Verified, revocation::refresh_digest};
use secrecy::{ExposeSecret, SecretString};

use crate::{
    login::Issued,
    state::AppState,
    store::tokens::{self, Rotation},
};

/// Why no tokens were issued.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, already used (its family is now revoked, or, within the grace, it was
    /// rotated to another successor), revoked or expired.
    #[error("invalid refresh token")]
    Refused,
    /// A query failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// The access token could not be signed.
    #[error("token signing failed")]
    Token(#[source] anyhow::Error),
    /// The runtime shut down before the rotation was written.
    #[error(transparent)]
    Interrupted(#[from] hub_db::Interrupted),
}

impl From<hub_db::TxError> for RefreshError {
    fn from(e: hub_db::TxError) -> Self {
        e.into_error()
    }
}

/// Rotates `presented`: a new access token (same `sid`) and a new refresh token, the
/// presented one used up. The new refresh token is derived from `presented` with the
/// issuer's [`SuccessorKey`](hub_identity::revocation::SuccessorKey), so a copy of
/// `presented` shown again within `REFRESH_REUSE_GRACE_SECS` of its rotation (two tabs,
/// a retry after a lost answer), on any instance, gets that same refresh token (and an
/// access token of the same login) instead of a second one. Shown again after the
/// grace, it revokes its whole family (reuse detection): whoever holds the current one
/// (the user or a thief) must log in again.
pub async fn refresh(state: &AppState, presented: &SecretString) -> Result<Issued, RefreshError> {
    let old = refresh_digest(presented.expose_secret());
    let (refresh_token, new) = state
        .jwt
        .successor_key()
        .successor(presented.expose_secret());
    let rotation = tokens::rotate(&state.pool, old, new, state.refresh_grace).await?;
    let (family_id, user_id, username, roles, repeated) = match rotation {
        Rotation::Rotated {
            family_id,
            user_id,
            username,
            roles,
        } => (family_id, user_id, username, roles, false),
        Rotation::Repeated {
            family_id,
            user_id,
            username,
            roles,
        } => (family_id, user_id, username, roles, true),
        Rotation::Reused { family_id, user_id } => {
            tracing::warn!(
                user.id = %user_id,
                token.sid = %family_id,
                "a rotated refresh token was presented again after the grace; its family is revoked"
            );
            return Err(RefreshError::Refused);
        }
        Rotation::Refused => {
            tracing::info!("refresh token refused");
            return Err(RefreshError::Refused);
        }
    };
    // The roles as stored now: a role granted or revoked since the login shows in the
    // next access token.
    let mut claims = state.jwt.claims_for(user_id, &username);
    claims.roles = roles;
    let token = state
        .jwt
        .sign(&claims, Some(family_id))
        .map_err(|e| RefreshError::Token(e.into()))?;
    if repeated {
        tracing::info!(
            user.id = %user_id,
            token.sid = %family_id,
            "a just-rotated refresh token was presented again within the grace; same successor answered"
        );
    } else {
        tracing::info!(user.id = %user_id, token.sid = %family_id, "tokens refreshed");
    }
    Ok(Issued {
        token,
        refresh_token: refresh_token.into(),
    })
}

/// Revokes the caller's token family: the access token presented and every token the
/// same login issued or will issue. A token without `sid` (minted by the original auth)
/// belongs to no family; it can only be revoked with everything else its user holds.
pub async fn logout(state: &AppState, token: &Verified) -> Result<(), sqlx::Error> {
    let mut conn = state.pool.acquire().await?;
    let user_id = token.claims.user_id;
    match token.sid {
        Some(sid) => {
            tokens::revoke_family(&mut conn, sid, user_id).await?;
            tracing::info!(user.id = %user_id, token.sid = %sid, "logged out");
        }
        None => {
            tokens::revoke_all(&mut conn, user_id).await?;
            tracing::info!(user.id = %user_id, "logged out a token without sid: all of the user's tokens revoked");
        }
    }
    Ok(())
}
