//! Password change, forgotten password and reset: the use cases behind
//! `POST /api/account/password`, `POST /api/account/password/forgot` and
//! `POST /api/account/password/reset` (services/auth/README.md, "Passwords").
//!
//! * **Change** needs the current password (its failures count against the account's
//!   login throttle, as logins do) and the policy ([`hub_identity::policy`]). The
//!   password is replaced only if it is still the one checked (a compare-and-set), so of
//!   two changes at once one wins and the other gets [`ChangeError::Conflict`]. The
//!   trigger on a password change revokes every token the user holds, the caller's too;
//!   the caller gets a new login (a new token family, opened after the cut-off in the
//!   same transaction) in the answer, so it stays signed in and every login from before
//!   is gone. `PasswordChanged` (a notice mail) commits with the change.
//! * **Forgot** answers the same whether or not the login names an account, and does
//!   the same work: the same lookup, the same counters, the same code-insert statement
//!   (which inserts nothing without an account) and one outbox row either way
//!   (`PasswordResetRequested`, or `PasswordResetUnmatched`, which mails nobody). The
//!   code is stored only as its keyed digest and lives `PASSWORD_RESET_TTL_SECS`.
//!   Requests are counted per client address and per login string (429 past either
//!   limit: the same for accounts that exist and those that do not) and per account
//!   (past it, silently no mail: a 429 there would tell that the account exists).
//! * **Reset** uses the code once (an atomic `UPDATE ... WHERE used_at IS NULL`, so two
//!   uses at once on any instances succeed once), with every other code of the user;
//!   sets the password (policy applied first, so a refused password leaves the code
//!   usable), which revokes every token; `PasswordChanged` commits with it.

use std::{sync::Arc, time::Duration};

use hub_events::{
    catalogue::{PasswordChanged, PasswordResetRequested, PasswordResetUnmatched},
    outbox::{self, OutboxError},
};
use hub_identity::{
    password::Verification,
    policy::{PolicyError, Refusal},
    pool::HashPoolError,
    revocation::{new_one_time_code, new_refresh_token},
};
use hub_runtime::config::{ConfigError, Vars};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::{
    login::{
        ClientAddr, Issued, find_login, reserve_attempt, throttle_address_key, throttle_user_key,
    },
    state::AppState,
    store::{
        password::{self as store, Count},
        throttle::{self, OnSuccess},
        tokens,
        users::User,
    },
};

/// The longest `PASSWORD_RESET_TTL_SECS`: 30 minutes (issue 23: 15 to 30).
pub const MAX_RESET_TTL_SECS: u64 = 1800;

/// Password reset settings.
#[derive(Debug, Clone)]
pub struct ResetConfig {
    /// `PASSWORD_RESET_TTL_SECS` (default 1800, 60 to 1800): how long a code works.
    pub ttl: Duration,
    /// `PASSWORD_RESET_WINDOW_SECS` (default 3600): the counters' window.
    pub window: Duration,
    /// `PASSWORD_RESET_MAX_PER_ACCOUNT` (default 3): codes mailed per account per
    /// window; past it the answer is the same and nothing is mailed. Also the limit per
    /// login string (429 past it).
    pub per_account: i32,
    /// `PASSWORD_RESET_MAX_PER_ADDRESS` (default 20): requests per client address (or
    /// IPv6 prefix) per window; 429 past it.
    pub per_address: i32,
    /// `PASSWORD_RESET_LINK` (optional): the front-end's reset page with `{code}` where
    /// the code goes, e.g. `https://app.example.com/reset?code={code}`; the mail then
    /// carries the link too.
    pub link: Option<String>,
}

impl ResetConfig {
    /// Reads the `PASSWORD_RESET_*` settings.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let ttl = vars.seconds_or("PASSWORD_RESET_TTL_SECS", Duration::from_secs(1800))?;
        if !(60..=MAX_RESET_TTL_SECS).contains(&ttl.as_secs()) {
            return Err(ConfigError::invalid(
                "PASSWORD_RESET_TTL_SECS",
                format!("60 to {MAX_RESET_TTL_SECS} seconds"),
            ));
        }
        let link = vars.string("PASSWORD_RESET_LINK");
        if link.as_deref().is_some_and(|l| !l.contains("{code}")) {
            return Err(ConfigError::invalid(
                "PASSWORD_RESET_LINK",
                "must contain {code}, where the code goes",
            ));
        }
        Ok(Self {
            ttl,
            window: vars.seconds_or("PASSWORD_RESET_WINDOW_SECS", Duration::from_secs(3600))?,
            per_account: vars.positive_or("PASSWORD_RESET_MAX_PER_ACCOUNT", 3)?,
            per_address: vars.positive_or("PASSWORD_RESET_MAX_PER_ADDRESS", 20)?,
            link,
        })
    }
}

/// Why a password was not changed or reset.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The current password is wrong (counted against the account's login throttle).
    #[error("current password is wrong")]
    WrongPassword,
    /// Too many attempts or requests: retry after this many seconds.
    #[error("too many attempts; retry after {0} s")]
    Throttled(u64),
    /// The new password breaks the policy.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The password changed meanwhile (another change won): nothing was written.
    #[error("the password was changed concurrently")]
    Conflict,
    /// The reset code is unknown, used or expired.
    #[error("invalid or expired code")]
    InvalidCode,
    /// The breached-password check is unreachable and set to refuse.
    #[error("breached-password check unavailable: {0}")]
    CheckUnavailable(String),
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
    /// The runtime shut down before the write.
    #[error(transparent)]
    Interrupted(#[from] hub_db::Interrupted),
}

impl From<hub_db::TxError> for PasswordError {
    fn from(e: hub_db::TxError) -> Self {
        e.into_error()
    }
}

impl From<PolicyError> for PasswordError {
    fn from(e: PolicyError) -> Self {
        match e {
            PolicyError::Refused(r) => Self::Refused(r),
            PolicyError::Unavailable(why) => Self::CheckUnavailable(why),
        }
    }
}

/// The caller's user changes their password from `current` to `new`; answers the
/// caller's new login (see the module docs).
pub async fn change(
    state: &AppState,
    user: User,
    current: SecretString,
    new: SecretString,
    origin: tokens::Origin,
    correlation_id: String,
) -> Result<Issued, PasswordError> {
    let key = throttle::Key {
        name: format!("account:{}", user.id),
        limit: state.throttle.per_user,
        on_success: OnSuccess::Clear,
    };
    let reservation = reserve_attempt(&state.pool, vec![key], "password change")
        .await?
        .map_err(PasswordError::Throttled)?;
    let stored = user.password.clone();
    let verdict = state
        .hashing
        .run(move |h| h.verify(current.expose_secret(), Some(&stored)))
        .await?;
    if !matches!(verdict, Verification::Valid { .. }) {
        hub_db::transaction(&state.pool, move |mut tx| async move {
            reservation.fail(&mut tx).await?;
            tx.commit().await?;
            reservation.settled();
            Ok::<_, PasswordError>(())
        })
        .await?;
        tracing::info!(user.id = %user.id, "password change refused: wrong current password");
        return Err(PasswordError::WrongPassword);
    }
    // A refusal from here on drops the reservation, which gives it back.
    state.password_policy.check(new.expose_secret()).await?;
    let hash = state.hashing.hash(new).await?;

    let family_id = Uuid::new_v4();
    let (refresh, digest) = new_refresh_token();
    let (queue, lifetime) = (state.account_queue.clone(), state.refresh_ttl);
    let (user_id, old) = (user.id, user.password);
    let changed = hub_db::transaction(&state.pool, move |mut tx| async move {
        let Some(changed) = store::set_password(&mut tx, user_id, Some(&old), &hash).await? else {
            tx.rollback().await?;
            return Ok::<_, PasswordError>(None);
        };
        // After the trigger's cut-off, in the same transaction: the one live login.
        tokens::open_family(&mut tx, family_id, user_id, lifetime, &digest, &origin).await?;
        notice(&mut tx, &queue, user_id, &changed, &correlation_id).await?;
        reservation.succeed(&mut tx).await?;
        tx.commit().await?;
        reservation.settled();
        Ok(Some(changed))
    })
    .await?;
    let Some(changed) = changed else {
        tracing::info!(user.id = %user_id, "password change lost to a concurrent change");
        return Err(PasswordError::Conflict);
    };
    let token = state
        .jwt
        .sign(
            &state.jwt.claims_for(user_id, &changed.username),
            Some(family_id),
        )
        .map_err(|e| PasswordError::Token(e.into()))?;
    tracing::info!(user.id = %user_id, token.sid = %family_id, "password changed; every other login revoked");
    Ok(Issued {
        token,
        refresh_token: refresh.into(),
    })
}

/// `PasswordChanged` in the outbox of the transaction that set the password.
async fn notice(
    conn: &mut sqlx::PgConnection,
    queue: &str,
    user_id: Uuid,
    changed: &store::Changed,
    correlation_id: &str,
) -> Result<(), OutboxError> {
    let event = PasswordChanged {
        user_id,
        username: changed.username.clone(),
        email: changed.email.clone(),
    };
    outbox::enqueue(&mut *conn, queue, &event, Some(correlation_id))
        .await
        .map(drop)
}

/// Someone forgot the password of the account `login` (username or email) names, if
/// any: mails it a code. Answers the same, after the same work, whether or not it
/// exists (see the module docs); only the address's and the login string's limits are
/// told ([`PasswordError::Throttled`]).
pub async fn forgot(
    state: &AppState,
    from: ClientAddr,
    login: String,
    correlation_id: String,
) -> Result<(), PasswordError> {
    // A login with a NUL names no account (as in login).
    let (user, canonical) = find_login(&state.pool, &login).await?;
    let code = new_one_time_code();
    let digest = state.jwt.successor_key().code_digest(&code);
    let login_key = throttle_user_key(&canonical).replacen("user:", "login:", 1);
    let address_key = throttle_address_key(&state.throttle.proxies.client_key_text(from.0));
    let account_key = user.as_ref().map(|u| format!("account:{}", u.id));
    let mut keys = vec![login_key, address_key.clone()];
    keys.extend(account_key.clone());

    let config = state.reset.clone();
    let queue = Arc::clone(&state.account_queue);
    let outcome = hub_db::transaction(&state.pool, move |mut tx| async move {
        let counts = store::count_request(&mut tx, &keys, config.window).await?;
        let over = |c: &Count| {
            let limit = if c.key == address_key {
                config.per_address
            } else {
                config.per_account
            };
            c.requests > limit
        };
        // The address and the login string: told (the same for any login).
        if let Some(retry_after) = counts
            .iter()
            .filter(|c| Some(&c.key) != account_key.as_ref() && over(c))
            .map(|c| c.retry_after)
            .max()
        {
            tx.commit().await?;
            return Ok(Err(retry_after));
        }
        // The account: past its limit, the same answer and no mail.
        let account_over = counts
            .iter()
            .any(|c| Some(&c.key) == account_key.as_ref() && over(c));
        let recipient = user.filter(|_| !account_over);
        store::store_code(
            &mut tx,
            &digest,
            recipient.as_ref().map(|u| u.id),
            config.ttl,
        )
        .await?;
        let correlation_id = Some(correlation_id.as_str());
        match &recipient {
            Some(user) => {
                let event = PasswordResetRequested {
                    user_id: user.id,
                    username: user.username.clone(),
                    email: user.email.clone(),
                    link: config.link.as_ref().map(|l| l.replace("{code}", &code)),
                    code,
                    expires_in_minutes: u32::try_from(config.ttl.as_secs() / 60).unwrap_or(30),
                };
                outbox::enqueue(&mut tx, &queue, &event, correlation_id).await?;
            }
            None => {
                outbox::enqueue(&mut tx, &queue, &PasswordResetUnmatched {}, correlation_id)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok::<_, PasswordError>(Ok(recipient.map(|u| u.id)))
    })
    .await?;
    match outcome {
        Err(retry_after) => {
            tracing::info!(retry_after, "password reset request throttled");
            Err(PasswordError::Throttled(retry_after))
        }
        Ok(Some(user_id)) => {
            tracing::info!(user.id = %user_id, "password reset code issued");
            Ok(())
        }
        Ok(None) => {
            tracing::info!(
                "password reset asked for no account, or past the account's limit: nothing mailed"
            );
            Ok(())
        }
    }
}

/// Sets a new password with a reset code: once per code (see the module docs); every
/// token of the user is revoked.
pub async fn reset(
    state: &AppState,
    code: SecretString,
    new: SecretString,
    correlation_id: String,
) -> Result<(), PasswordError> {
    let digest = state.jwt.successor_key().code_digest(code.expose_secret());
    // A cheap read first: an unknown code costs no policy check and no hashing.
    {
        let mut conn = state.pool.acquire().await?;
        if store::live_code(&mut conn, &digest).await?.is_none() {
            tracing::info!("password reset refused: invalid or expired code");
            return Err(PasswordError::InvalidCode);
        }
    }
    state.password_policy.check(new.expose_secret()).await?;
    let hash = state.hashing.hash(new).await?;
    let queue = Arc::clone(&state.account_queue);
    let done = hub_db::transaction(&state.pool, move |mut tx| async move {
        let Some(user_id) = store::use_code(&mut tx, &digest).await? else {
            tx.rollback().await?;
            return Ok::<_, PasswordError>(None);
        };
        let Some(changed) = store::set_password(&mut tx, user_id, None, &hash).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        notice(&mut tx, &queue, user_id, &changed, &correlation_id).await?;
        tx.commit().await?;
        Ok(Some(user_id))
    })
    .await?;
    match done {
        Some(user_id) => {
            tracing::info!(user.id = %user_id, "password reset; every token revoked");
            Ok(())
        }
        None => {
            tracing::info!("password reset refused: code used meanwhile");
            Err(PasswordError::InvalidCode)
        }
    }
}
