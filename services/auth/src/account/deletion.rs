//! Deleting an account, and reading what PostgreSQL stores about it for the export
//! (issue 23, item 7; the whole export is `account::export`).
//!
//! [`delete_account`] is the one deletion, whoever asks: the user (`DELETE /api/account`,
//! after [`check_password`]) or an admin (`delete_account(state, user_id, By::Admin(id))`).
//! One transaction ([`hub_db::transaction`]) locks the user row, then removes the
//! account from every PostgreSQL table ([`store::deletion`]): its `login_throttle` rows
//! (keyed by the account and by the digests of its login strings), the outbox rows that
//! name it (pending ones deleted, published ones redacted), notifications' records of
//! mails to it, the user row and, by cascade, its token families and refresh tokens;
//! logs the deletion in `deleted_account` (id and time only), and writes `UserDeleted` to
//! the outbox twice, for the stores auth cannot reach: to `RABBITMQ_QUEUE` (session
//! deletes the session documents) and to `IMAGES_QUEUE` (images deletes the objects
//! `<id>.<ext>` and `<id>/…`). Both consumers apply it idempotently.
//!
//! Against a login racing it: the user row lock orders the two. A login whose token
//! family commits first loses it to the cascade, and its `UserLoggedIn` to the outbox
//! cleanup; one that comes after finds no user, or fails its family insert's foreign key
//! (answered as invalid credentials). docs/EVENTS.md, "Deletion", has the whole story.

use hub_events::{
    catalogue::UserDeleted,
    outbox::{self, OutboxError},
};
use hub_identity::{password::Verification, pool::HashPoolError};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::{
    login::throttle_user_key,
    state::AppState,
    store::{
        deletion,
        throttle::{self, Admission, Key, OnSuccess},
    },
};

/// Who deletes the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// Its own user.
    User,
    /// An admin, by id (logged in `deleted_account.by_admin`).
    Admin(Uuid),
}

/// What a deletion did (counts, for the log and the tests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deleted {
    /// `login_throttle` rows deleted.
    pub throttle_rows: u64,
    /// Pending outbox rows naming the account, deleted.
    pub pending_events: u64,
    /// Published outbox rows naming the account, redacted.
    pub redacted_events: u64,
    /// `notification` rows (mails to the account's address) deleted.
    pub mails: u64,
}

/// Why an account was not deleted (or exported).
#[derive(Debug, thiserror::Error)]
pub enum DeletionError {
    /// No such user (already deleted, or never existed).
    #[error("user not found")]
    NotFound,
    /// The password given is not the account's.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Too many wrong passwords for the account: retry after this many seconds.
    #[error("too many failed attempts; retry after {0} s")]
    Throttled(u64),
    /// A query failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// The event could not be written.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// Password hashing is saturated or failed.
    #[error(transparent)]
    Hashing(#[from] HashPoolError),
    /// The runtime shut down before the transaction finished.
    #[error(transparent)]
    Interrupted(#[from] hub_db::Interrupted),
}

impl From<hub_db::TxError> for DeletionError {
    fn from(e: hub_db::TxError) -> Self {
        e.into_error()
    }
}

/// The `login_throttle` keys of an account: `account:<id>` and the digests of its
/// canonical login strings (as `login::login` charges them).
fn throttle_keys(id: Uuid, logins: &[String]) -> Vec<String> {
    std::iter::once(format!("account:{id}"))
        .chain(logins.iter().map(|l| throttle_user_key(l)))
        .collect()
}

/// Checks that `password` is the account's, charged to the account's login throttle
/// (`account:<id>`, the key logins use): a stolen access token does not give unlimited
/// guesses at the password. The caller's token was already checked.
pub async fn check_password(
    state: &AppState,
    user_id: Uuid,
    stored: String,
    password: SecretString,
) -> Result<(), DeletionError> {
    let key = Key {
        name: format!("account:{user_id}"),
        limit: state.throttle.per_user,
        on_success: OnSuccess::Release,
    };
    let reservation = match throttle::reserve(&state.pool, vec![key]).await? {
        Admission::Reserved(r) => r,
        Admission::Throttled { retry_after } => return Err(DeletionError::Throttled(retry_after)),
    };
    let verdict = state
        .hashing
        .run(move |h| h.verify(password.expose_secret(), Some(stored.as_str())))
        .await?;
    if let Verification::Valid { .. } = verdict {
        // Dropped unsettled: the reservation is given back (the deletion then removes the row).
        return Ok(());
    }
    hub_db::transaction(&state.pool, move |mut tx| async move {
        reservation.fail(&mut tx).await?;
        tx.commit().await?;
        reservation.settled();
        Ok::<_, DeletionError>(())
    })
    .await?;
    Err(DeletionError::InvalidCredentials)
}

/// Deletes the account `user_id` from every store (see the module's documentation),
/// `by` its user or an admin; `correlation_id` goes on the `UserDeleted` events.
/// [`DeletionError::NotFound`] if there is no such user (a second deletion included).
pub async fn delete_account(
    state: &AppState,
    user_id: Uuid,
    by: By,
    correlation_id: Option<String>,
) -> Result<Deleted, DeletionError> {
    let queues = Queues {
        session: state.queue.to_string(),
        images: state.images_queue.to_string(),
    };
    delete_on(&state.pool, &queues, user_id, by, correlation_id).await
}

/// Where a deletion's two `UserDeleted` go: `RABBITMQ_QUEUE` (session) and `IMAGES_QUEUE`
/// (images).
#[derive(Debug, Clone)]
pub struct Queues {
    /// `RABBITMQ_QUEUE`.
    pub session: String,
    /// `IMAGES_QUEUE`.
    pub images: String,
}

/// [`delete_account`] on `pool` without the service's state: what the operator's
/// `auth users replay-deletions` runs after a restore (`crate::admin`).
pub async fn delete_on(
    pool: &sqlx::PgPool,
    queues: &Queues,
    user_id: Uuid,
    by: By,
    correlation_id: Option<String>,
) -> Result<Deleted, DeletionError> {
    let (queue, images_queue) = (queues.session.clone(), queues.images.clone());
    let done = hub_db::transaction(pool, move |mut tx| async move {
        let Some(doomed) = deletion::lock_user(&mut tx, user_id).await? else {
            return Err(DeletionError::NotFound);
        };
        let keys = throttle_keys(doomed.id, &doomed.logins);
        let done = Deleted {
            throttle_rows: deletion::delete_throttle(&mut tx, &keys).await?,
            pending_events: deletion::delete_pending_outbox(&mut tx, &doomed.canonical).await?,
            redacted_events: deletion::redact_outbox(&mut tx, &doomed.canonical).await?,
            mails: deletion::delete_notifications(&mut tx, &doomed.email_lower).await?,
        };
        let by_admin = match by {
            By::User => None,
            By::Admin(admin) => Some(admin),
        };
        deletion::delete_user(&mut tx, user_id, by_admin).await?;
        let event = UserDeleted { user_id };
        let correlation = correlation_id.as_deref();
        outbox::enqueue(&mut tx, &queue, &event, correlation).await?;
        outbox::enqueue(&mut tx, &images_queue, &event, correlation).await?;
        tx.commit().await?;
        Ok(done)
    })
    .await?;
    tracing::info!(
        user.id = %user_id,
        by_admin = matches!(by, By::Admin(_)),
        throttle_rows = done.throttle_rows,
        pending_events = done.pending_events,
        redacted_events = done.redacted_events,
        mails = done.mails,
        "account deleted"
    );
    Ok(done)
}

/// Everything PostgreSQL holds about `user_id`, as JSON (see [`deletion::export`]); the
/// whole export, with sessions and images, is [`crate::account::export::export_account`].
pub async fn stored_in_postgres(
    state: &AppState,
    user_id: Uuid,
) -> Result<serde_json::Value, DeletionError> {
    let mut conn = state.pool.acquire().await?;
    let logins = deletion::logins(&mut conn, user_id)
        .await?
        .ok_or(DeletionError::NotFound)?;
    deletion::export(&mut conn, user_id, &throttle_keys(user_id, &logins))
        .await?
        .ok_or(DeletionError::NotFound)
}
