//! The refresh and logout use cases, and the operator's "revoke all".
//!
//! No HTTP here: `routes::tokens` turns requests into calls and results into responses.

use hub_identity::{
    jwt::Verified,
    revocation::{new_refresh_token, refresh_digest},
};
use secrecy::{ExposeSecret, SecretString};

use crate::{
    login::Issued,
    state::AppState,
    store::tokens::{self, Rotation},
};

/// Why no tokens were issued.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, already used (its family is now revoked), revoked or expired.
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

/// Rotates `presented`: a new access token (same `sid`) and a new refresh token, the
/// presented one used up. A refresh token presented after it was rotated revokes its
/// whole family (reuse detection): whoever holds the current one (the user or a thief)
/// must log in again.
pub async fn refresh(state: &AppState, presented: &SecretString) -> Result<Issued, RefreshError> {
    let old = refresh_digest(presented.expose_secret());
    let (refresh_token, new) = new_refresh_token();
    let rotation = hub_db::to_completion(tokens::rotate(state.pool.clone(), old, new)).await??;
    match rotation {
        Rotation::Rotated {
            family_id,
            user_id,
            username,
        } => {
            let token = state
                .jwt
                .sign(&state.jwt.claims_for(user_id, &username), Some(family_id))
                .map_err(|e| RefreshError::Token(e.into()))?;
            tracing::info!(user.id = %user_id, token.sid = %family_id, "tokens refreshed");
            Ok(Issued {
                token,
                refresh_token: refresh_token.into(),
            })
        }
        Rotation::Reused { family_id, user_id } => {
            tracing::warn!(
                user.id = %user_id,
                token.sid = %family_id,
                "a rotated refresh token was presented again; its family is revoked"
            );
            Err(RefreshError::Refused)
        }
        Rotation::Refused => {
            tracing::info!("refresh token refused");
            Err(RefreshError::Refused)
        }
    }
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
