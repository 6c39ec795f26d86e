//! The login use case: throttle, user lookup, password check, the attempt's record
//! (counters, event, hash upgrade) and the token.
//!
//! No HTTP here: `routes::login` turns a request into [`Credentials`] and a
//! [`ClientAddr`], and [`Issued`] or [`LoginError`] into a response.

use std::{net::IpAddr, sync::Arc};

use hub_events::{
    catalogue::{UserLoggedIn, UserLoginFailed},
    outbox::{self, OutboxError},
};
use hub_identity::{password::Verification, pool::HashPoolError};
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;

use crate::{
    config::ThrottleConfig,
    state::AppState,
    store::{
        throttle,
        users::{self, User},
    },
};

/// What the caller presents.
#[derive(Debug)]
pub struct Credentials {
    /// Username or email.
    pub login: String,
    /// The password (redacted in `Debug`).
    pub password: SecretString,
}

/// The client's address as the deployment trusts it; failures count against it too.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

/// A successful login.
#[derive(Debug)]
pub struct Issued {
    /// HS256 JWT with `user_id`, `username`, `exp`, `iat`.
    pub token: String,
}

/// Why no token was issued.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Too many failures for the username or the address: retry after this many seconds.
    #[error("too many failed login attempts; retry after {0} s")]
    Throttled(u64),
    /// Wrong password or unknown user (indistinguishable on purpose); already recorded.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// A query failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// The event could not be written.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// Password hashing is saturated or failed.
    #[error(transparent)]
    Hashing(#[from] HashPoolError),
    /// The token could not be signed.
    #[error("token signing failed")]
    Token(#[source] anyhow::Error),
    /// The runtime shut down before the attempt's record was written.
    #[error(transparent)]
    Interrupted(#[from] hub_db::Interrupted),
}

/// Checks `creds` and issues a token, recording the attempt either way (`UserLoggedIn`
/// or `UserLoginFailed` in the outbox, `correlation_id` on the event).
///
/// The writes run to completion even if the returned future is dropped (a client that
/// hangs up): a `begin()` cut short would hand its connection back to the pool inside
/// a transaction.
pub async fn login(
    state: &AppState,
    from: ClientAddr,
    creds: Credentials,
    correlation_id: String,
) -> Result<Issued, LoginError> {
    let Credentials { login, password } = creds;
    let keys = Keys {
        user: throttle_user_key(&login),
        addr: format!("addr:{}", from.0),
    };

    // Throttle before any hashing: a blocked key costs one indexed read.
    {
        let mut conn = state.pool.acquire().await?;
        if let Some(secs) =
            throttle::blocked_for(&mut conn, &[keys.user.clone(), keys.addr.clone()]).await?
        {
            tracing::info!(retry_after = secs, "login throttled");
            return Err(LoginError::Throttled(secs));
        }
    }

    // PostgreSQL text cannot hold NUL, so such a login names no user; skip the query
    // (it would fail) but not the hashing work.
    let user = if login.contains('\0') {
        None
    } else {
        let mut conn = state.pool.acquire().await?;
        users::find_by_login(&mut conn, &login).await?
    };

    let stored = user.as_ref().map(|u| u.password.clone());
    let pw = password.clone();
    let verdict = state
        .hashing
        .run(move |h| h.verify(pw.expose_secret(), stored.as_deref()))
        .await?;

    let record = Record {
        pool: state.pool.clone(),
        queue: state.queue.clone(),
        correlation_id,
    };
    match (verdict, user) {
        (Verification::Valid { needs_rehash }, Some(user)) => {
            succeed(state, record, user, password, needs_rehash, keys.user).await
        }
        _ => {
            hub_db::to_completion(record.failure(login, keys, state.throttle)).await??;
            tracing::info!("login failed");
            Err(LoginError::InvalidCredentials)
        }
    }
}

/// The right password: upgrade the hash if due, sign, record.
async fn succeed(
    state: &AppState,
    record: Record,
    user: User,
    password: SecretString,
    needs_rehash: bool,
    user_key: String,
) -> Result<Issued, LoginError> {
    let upgrade = needs_rehash && state.rehash_on_login;
    let upgraded = if upgrade {
        Some(
            state
                .hashing
                .run(move |h| h.hash(password.expose_secret()))
                .await?,
        )
    } else {
        None
    };
    let token = state
        .jwt
        .sign(&state.jwt.claims_for(user.id, &user.username))
        .map_err(|e| LoginError::Token(e.into()))?;
    let id = user.id;
    hub_db::to_completion(record.success(user, upgraded, user_key)).await??;
    tracing::info!(user.id = %id, password.upgraded = upgrade, "login succeeded");
    Ok(Issued { token })
}

/// The throttle keys of one attempt.
struct Keys {
    /// Digest of the lower-cased login (see [`throttle_user_key`]).
    user: String,
    /// The client address.
    addr: String,
}

/// Everything the writing half of an attempt needs, owned, so that it can run in its
/// own task and outlive the request.
struct Record {
    pool: PgPool,
    queue: Arc<str>,
    correlation_id: String,
}

impl Record {
    /// `UserLoggedIn` in the same transaction as the hash upgrade, so the event exists
    /// iff the upgrade does; the username's failures are forgotten with them.
    async fn success(
        self,
        user: User,
        upgraded: Option<String>,
        user_key: String,
    ) -> Result<(), LoginError> {
        let mut tx = self.pool.begin().await?;
        if let Some(new_hash) = upgraded
            && !users::replace_password(&mut tx, user.id, &user.password, &new_hash).await?
        {
            tracing::debug!("password changed concurrently; upgrade skipped");
        }
        let event = UserLoggedIn {
            user_id: user.id,
            username: user.username,
            email: user.email,
        };
        outbox::enqueue(&mut tx, &self.queue, &event, Some(&self.correlation_id)).await?;
        throttle::clear(&mut tx, &user_key).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Counters and event commit together: a failure is counted iff it is recorded.
    async fn failure(
        self,
        login: String,
        keys: Keys,
        limits: ThrottleConfig,
    ) -> Result<(), LoginError> {
        let mut tx = self.pool.begin().await?;
        throttle::record_failure(&mut tx, &keys.user, limits.per_user).await?;
        throttle::record_failure(&mut tx, &keys.addr, limits.per_address).await?;
        let event = UserLoginFailed {
            username: login,
            reason: "Invalid credentials",
        };
        outbox::enqueue(&mut tx, &self.queue, &event, Some(&self.correlation_id)).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The throttle key of a login: a digest of the lower-cased name, so any input (NUL,
/// 60 KB of text) makes a short valid key and the table holds no usernames.
fn throttle_user_key(login: &str) -> String {
    use sha2::Digest;
    format!(
        "user:{}",
        hex::encode(sha2::Sha256::digest(login.to_lowercase().as_bytes()))
    )
}
