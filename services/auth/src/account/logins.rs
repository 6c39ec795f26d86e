//! A user's logins (token families): list them, revoke one, revoke all the others. The
//! same for an administrator acting on any user (`routes::admin_users`).
//!
//! Revoking a login revokes its family: its refresh tokens stop rotating at once, and
//! its access tokens (their `sid`) are refused by every service that checks revocation
//! (auth, session, images, user-lookup), as after a logout.

use sqlx::PgPool;
use uuid::Uuid;

use crate::store::tokens;
pub use crate::store::tokens::Login;

/// `user_id`'s live logins, most recently used first.
pub async fn list(pool: &PgPool, user_id: Uuid) -> Result<Vec<Login>, sqlx::Error> {
    tokens::logins(&mut *pool.acquire().await?, user_id).await
}

/// Revokes `user_id`'s login `login_id`. Returns whether it was one of the user's and
/// still open (else nothing changed).
pub async fn revoke(pool: &PgPool, user_id: Uuid, login_id: Uuid) -> Result<bool, sqlx::Error> {
    let done = tokens::revoke_family(&mut *pool.acquire().await?, login_id, user_id).await?;
    if done {
        tracing::info!(user.id = %user_id, login.id = %login_id, "login revoked");
    }
    Ok(done)
}

/// What revoking the other logins did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Others {
    /// This many other logins were revoked; `keep` stays.
    Revoked(u64),
    /// `keep` itself was revoked first (by a concurrent revocation from another login,
    /// say): nothing changed.
    KeepGone,
}

/// Revokes every login of `user_id` but `keep` (the caller's; `None`, a token without
/// `sid`, keeps none). Of two logins revoking each other's at once, on any instances,
/// exactly one survives ([`tokens::revoke_others`]).
pub async fn revoke_others(
    pool: &PgPool,
    user_id: Uuid,
    keep: Option<Uuid>,
) -> Result<Others, hub_db::TxError> {
    Ok(match tokens::revoke_others(pool, user_id, keep).await? {
        Some(n) => {
            tracing::info!(user.id = %user_id, revoked = n, "other logins revoked");
            Others::Revoked(n)
        }
        None => Others::KeepGone,
    })
}
