//! The login use case: user lookup, throttle reservation, password check, the
//! attempt's record (counters, event, hash upgrade, the login's token family) and the
//! tokens.
//!
//! No HTTP here: `routes::login` turns a request into [`Credentials`] and a
//! [`ClientAddr`], and [`Issued`] or [`LoginError`] into a response.

use std::{net::IpAddr, sync::Arc};

use hub_events::{
    catalogue::{UserLoggedIn, UserLoginFailed},
    outbox::{self, OutboxError},
};
use hub_identity::{password::Verification, pool::HashPoolError, revocation::new_refresh_token};
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;

use crate::{
    config::ThrottleConfig,
    state::AppState,
    store::{
        throttle::{self, Admission, OnSuccess, Reservation},
        tokens,
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

/// The client a login comes from: its address, and its `User-Agent` (kept with the login
/// for the logins lists, cut to `store::tokens::USER_AGENT_MAX_CHARS`).
#[derive(Debug, Clone)]
pub struct Client {
    /// The address, as [`ClientAddr`].
    pub addr: ClientAddr,
    /// The `User-Agent` header, if any.
    pub user_agent: Option<String>,
}

/// A successful login (or refresh).
pub struct Issued {
    /// The access token: a JWT with `user_id`, `username`, `exp`, `iat` and `sid`.
    pub token: String,
    /// The opaque refresh token that rotates it (`POST /token/refresh`).
    pub refresh_token: SecretString,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Issued { .. }")
    }
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
    /// The right password, but `REQUIRE_VERIFIED_EMAIL` is on and the account's email is
    /// not verified: nothing issued, the attempt given back (it is not a guess).
    #[error("email not verified")]
    EmailNotVerified,
    /// The right password, but an administrator deactivated the account; recorded as a
    /// failure. Only whoever knows the password learns it (a wrong one is
    /// [`LoginError::InvalidCredentials`] as for any account).
    #[error("account deactivated")]
    Deactivated,
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

impl From<hub_db::TxError> for LoginError {
    fn from(e: hub_db::TxError) -> Self {
        e.into_error()
    }
}

/// Checks `creds` and issues a token, recording the attempt either way (`UserLoggedIn`
/// or `UserLoginFailed` in the outbox, `correlation_id` on the event).
///
/// The attempt is charged, before any password work and atomically with the limit
/// check, to the account the login names (if any), to the login string under the
/// canonical form (whether or not it names an account), and to the client (its
/// address, or its IPv6 prefix); see [`throttle`]. The writes are transactions
/// ([`hub_db::transaction`]), so they run to completion even if the returned future is
/// dropped (a client that hangs up).
pub async fn login(
    state: &AppState,
    from: ClientAddr,
    creds: Credentials,
    correlation_id: String,
) -> Result<Issued, LoginError> {
    let client = Client {
        addr: from,
        user_agent: None,
    };
    login_from(state, client, creds, correlation_id).await
}

/// [`login`], keeping the client's `User-Agent` with the login.
pub async fn login_from(
    state: &AppState,
    client: Client,
    creds: Credentials,
    correlation_id: String,
) -> Result<Issued, LoginError> {
    let Credentials { login, password } = creds;
    let from = client.addr;
    let origin = tokens::Origin {
        address: Some(from.0),
        user_agent: client
            .user_agent
            .map(|ua| ua.chars().take(tokens::USER_AGENT_MAX_CHARS).collect()),
    };

    // A login with a NUL names no user, but still goes through the throttle and the
    // hashing work.
    let (user, canonical) = find_login(&state.pool, &login).await?;

    let keys = throttle_keys(&canonical, user.as_ref(), from, &state.throttle);
    let reservation = reserve_attempt(&state.pool, keys, "login")
        .await?
        .map_err(LoginError::Throttled)?;

    // From here on, an early return drops `reservation`, which gives it back.
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
        reservation,
    };
    match (verdict, user) {
        (Verification::Valid { needs_rehash }, Some(user)) => {
            let access = {
                let mut conn = state.pool.acquire().await?;
                users::access(&mut conn, user.id).await?.unwrap_or_default()
            };
            if access.deactivated {
                record.failure(login, "Account deactivated").await?;
                tracing::info!(user.id = %user.id, "login of a deactivated account refused");
                return Err(LoginError::Deactivated);
            }
            // Only after the right password: the refusal tells nothing to a guesser.
            if state.require_verified_email
                && !crate::account::email::is_verified(&mut *state.pool.acquire().await?, user.id)
                    .await?
            {
                tracing::info!(user.id = %user.id, "login refused: email not verified");
                return Err(LoginError::EmailNotVerified);
            }
            succeed(
                state,
                record,
                user,
                password,
                needs_rehash,
                access.roles,
                origin,
            )
            .await
        }
        _ => {
            record.failure(login, "Invalid credentials").await?;
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
    roles: Vec<String>,
    origin: tokens::Origin,
) -> Result<Issued, LoginError> {
    let upgrade = needs_rehash && state.rehash_on_login;
    let upgraded = if upgrade {
        Some(state.hashing.hash(password).await?)
    } else {
        None
    };
    // The login's family of tokens: its id is the access token's `sid`.
    let family = NewFamily {
        id: uuid::Uuid::new_v4(),
        refresh: new_refresh_token(),
        lifetime: state.refresh_ttl,
        origin,
    };
    let mut claims = state.jwt.claims_for(user.id, &user.username);
    claims.roles = roles;
    let token = state
        .jwt
        .sign(&claims, Some(family.id))
        .map_err(|e| LoginError::Token(e.into()))?;
    let id = user.id;
    let (family_id, refresh_token) = (family.id, family.refresh.0.clone());
    match record.success(user, upgraded, family).await {
        // The account was deleted after it was read (`account::deletion`): the family's
        // foreign key found no user. As for a user that never existed.
        Err(LoginError::Db(sqlx::Error::Database(e))) if e.is_foreign_key_violation() => {
            tracing::info!(user.id = %id, "login of an account deleted meanwhile");
            return Err(LoginError::InvalidCredentials);
        }
        done => done?,
    }
    tracing::info!(user.id = %id, token.sid = %family_id, password.upgraded = upgrade, "login succeeded");
    Ok(Issued {
        token,
        refresh_token: refresh_token.into(),
    })
}

/// The family a successful login opens, with its first refresh token (text, digest).
struct NewFamily {
    id: uuid::Uuid,
    refresh: (String, Vec<u8>),
    lifetime: std::time::Duration,
    origin: tokens::Origin,
}

/// The account `login` (username or email) names, if any, and the login's canonical
/// form. PostgreSQL text cannot hold NUL, so such a login names no account and its
/// canonical form is its lowercase: the queries (which would fail) are skipped.
pub(crate) async fn find_login(
    pool: &PgPool,
    login: &str,
) -> Result<(Option<User>, String), sqlx::Error> {
    if login.contains('\0') {
        return Ok((None, login.to_lowercase()));
    }
    let mut conn = pool.acquire().await?;
    let user = users::find_by_login(&mut conn, login).await?;
    Ok((user, users::canonical(&mut conn, login).await?))
}

/// Charges one attempt to `keys` ([`throttle::reserve`]): the reservation to settle when
/// the attempt ends (dropped unsettled, it is given back), or, with nothing reserved,
/// the seconds to wait, logged as "`what` throttled".
pub(crate) async fn reserve_attempt(
    pool: &PgPool,
    keys: Vec<throttle::Key>,
    what: &str,
) -> Result<Result<Reservation, u64>, hub_db::TxError> {
    Ok(match throttle::reserve(pool, keys).await? {
        Admission::Reserved(reservation) => Ok(reservation),
        Admission::Throttled { retry_after } => {
            tracing::info!(retry_after, "{what} throttled");
            Err(retry_after)
        }
    })
}

/// The counters one attempt is charged to: the account once the login names one (so a
/// username and its email, and every spelling of either, share the account's count);
/// the login string under the canonical form `canonical`, whether or not it names an
/// account (so every spelling of a name that matches none shares one count too, and
/// the throttle answers alike for names that exist and names that do not); and the
/// client, by [`ProxyTrust::client_key`](hub_runtime::http::client_ip::ProxyTrust::client_key)
/// (an IPv6 client by its prefix).
fn throttle_keys(
    canonical: &str,
    user: Option<&User>,
    from: ClientAddr,
    limits: &ThrottleConfig,
) -> Vec<throttle::Key> {
    let key = |name: String, limit, on_success| throttle::Key {
        name,
        limit,
        on_success,
    };
    let mut keys = vec![
        key(
            throttle_user_key(canonical),
            limits.per_user,
            OnSuccess::Clear,
        ),
        key(
            throttle_address_key(&limits.proxies.client_key_text(from.0)),
            limits.per_address,
            OnSuccess::Release,
        ),
    ];
    if let Some(user) = user {
        keys.push(key(
            format!("account:{}", user.id),
            limits.per_user,
            OnSuccess::Clear,
        ));
    }
    keys
}

/// Everything the writing half of an attempt needs, owned, so that its transaction
/// can run in a task of its own and outlive the request.
struct Record {
    pool: PgPool,
    queue: Arc<str>,
    correlation_id: String,
    reservation: Reservation,
}

impl Record {
    /// `UserLoggedIn` in the same transaction as the hash upgrade and the new token
    /// family, so the event exists iff they do; the account's failures are forgotten
    /// with them.
    async fn success(
        self,
        user: User,
        upgraded: Option<String>,
        family: NewFamily,
    ) -> Result<(), LoginError> {
        let Self {
            pool,
            queue,
            correlation_id,
            reservation,
        } = self;
        hub_db::transaction(&pool, move |mut tx| async move {
            tokens::open_family(
                &mut tx,
                family.id,
                user.id,
                family.lifetime,
                &family.refresh.1,
                &family.origin,
            )
            .await?;
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
            outbox::enqueue(&mut tx, &queue, &event, Some(&correlation_id)).await?;
            reservation.succeed(&mut tx).await?;
            tx.commit().await?;
            reservation.settled();
            Ok(())
        })
        .await
    }

    /// Counters and event commit together: a failure is counted iff it is recorded.
    async fn failure(self, login: String, reason: &'static str) -> Result<(), LoginError> {
        let Self {
            pool,
            queue,
            correlation_id,
            reservation,
        } = self;
        hub_db::transaction(&pool, move |mut tx| async move {
            reservation.fail(&mut tx).await?;
            let event = UserLoginFailed {
                username: login,
                reason,
            };
            outbox::enqueue(&mut tx, &queue, &event, Some(&correlation_id)).await?;
            tx.commit().await?;
            reservation.settled();
            Ok(())
        })
        .await
    }
}

/// The throttle key of a login string, given its canonical form (`users::canonical`,
/// the form logins are matched by): a digest, so any input (NUL, 60 KB of text) makes a
/// short valid key and the table holds no usernames. For ASCII the canonical form is
/// the lower-cased string, which is what the previous release digested: its counters
/// carry over.
pub fn throttle_user_key(canonical: &str) -> String {
    use sha2::Digest;
    format!(
        "user:{}",
        hex::encode(sha2::Sha256::digest(canonical.as_bytes()))
    )
}

/// The throttle key of a client, given its key text
/// ([`ProxyTrust::client_key_text`](hub_runtime::http::client_ip::ProxyTrust::client_key_text)).
pub fn throttle_address_key(client: &str) -> String {
    format!("addr:{client}")
}
