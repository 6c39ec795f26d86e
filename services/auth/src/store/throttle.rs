//! Login attempt counters (table `login_throttle`), shared by every auth instance.
//!
//! An attempt is *reserved* on each of its keys before any password work, atomically
//! with the limit check: a key admits a new attempt only while `failures + pending`
//! (finished failures in the window plus attempts still in flight) is under its limit,
//! and the check and the increment are one row-locking statement. However many requests
//! arrive at once, on however many instances, no more than the limit reach the password
//! check. When the check ends, each reservation becomes a failure (which may start a
//! lockout), or is released; a success also forgets the account's failures.

use std::time::Duration;

use hub_db::TxError;
use sqlx::{PgConnection, PgPool};

/// The limits for one kind of key.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Attempts (failed or in flight) within the window that close the key.
    pub max_failures: i32,
    /// How far back failures count.
    pub window: Duration,
    /// How long a key stays closed once its failures reach the limit.
    pub lockout: Duration,
}

/// What a successful login does to a key it reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnSuccess {
    /// Forget the key's failures (the account's and the login string's: the caller
    /// proved it knows the password).
    Clear,
    /// Only give back this attempt's reservation (the client address: other logins
    /// from it may still be guesses).
    Release,
}

/// One counter an attempt is charged to.
#[derive(Debug, Clone)]
pub struct Key {
    /// `account:<id>`, `user:<digest of a login string's canonical form>` or
    /// `addr:<client>` (an address, or an IPv6 prefix: `addr:2001:db8:1:2::/64`).
    pub name: String,
    /// Its limit.
    pub limit: Limit,
    /// What a success does to it.
    pub on_success: OnSuccess,
}

/// An attempt admitted on every one of its keys. Settle it with [`Reservation::fail`]
/// or [`Reservation::succeed`] inside the transaction that records the attempt, then
/// [`Reservation::settled`] once that commits; dropped unsettled (an error, a panic,
/// a cancelled future), it gives its reservations back in a task of its own.
#[derive(Debug)]
pub struct Reservation {
    pool: PgPool,
    keys: Vec<Key>,
    settled: bool,
}

/// What [`reserve`] decided.
#[derive(Debug)]
pub enum Admission {
    /// Admitted on every key: settle the reservation when the attempt ends.
    Reserved(Reservation),
    /// Some key is closed: nothing was reserved; retry after this many seconds.
    Throttled {
        /// The longest lockout left among the keys, or 1 s when a key is only full of
        /// attempts still in flight.
        retry_after: u64,
    },
}

/// Reserves one attempt on every key, or on none ([`Admission::Throttled`] when any
/// key is closed).
///
/// Runs to completion even if the caller's future is dropped ([`hub_db::transaction`]):
/// a client that hangs up cannot leave a key half-reserved.
pub async fn reserve(pool: &PgPool, mut keys: Vec<Key>) -> Result<Admission, TxError> {
    // One lock order for every transaction, so concurrent attempts sharing keys
    // cannot deadlock.
    keys.sort_by(|a, b| a.name.cmp(&b.name));
    let owned = pool.clone();
    hub_db::transaction(pool, move |mut tx| async move {
        let pool = owned;
        for key in &keys {
            if !account_alive(&mut tx, &key.name).await? {
                continue;
            }
            if !reserve_one(&mut tx, key).await? {
                tx.rollback().await?;
                let mut conn = pool.acquire().await?;
                let names: Vec<String> = keys.iter().map(|k| k.name.clone()).collect();
                let retry_after = blocked_for(&mut conn, &names).await?.unwrap_or(1);
                return Ok(Admission::Throttled { retry_after });
            }
        }
        tx.commit().await?;
        Ok(Admission::Reserved(Reservation {
            pool,
            keys,
            settled: false,
        }))
    })
    .await
}

/// `false` for an `account:<id>` key whose account no longer exists (deleted after the
/// login read it), else `true`. Locks the user row `FOR KEY SHARE` until the transaction
/// ends, so an account deletion (which locks it `FOR UPDATE` before deleting the
/// account's throttle rows) either comes after and deletes the row this transaction
/// writes, or came before and this finds no user: no `account:` row outlives its account.
async fn account_alive(conn: &mut PgConnection, key: &str) -> Result<bool, sqlx::Error> {
    let Some(id) = key
        .strip_prefix("account:")
        .and_then(|id| id.parse::<uuid::Uuid>().ok())
    else {
        return Ok(true);
    };
    let found = sqlx::query_scalar!(
        r#"SELECT 1 AS "one!" FROM "user" WHERE id = $1 FOR KEY SHARE"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// `true` if `key` admitted the attempt. A window that has run out, or a lockout that
/// has ended, starts the count again.
async fn reserve_one(conn: &mut PgConnection, key: &Key) -> Result<bool, sqlx::Error> {
    let admitted = sqlx::query_scalar!(
        r#"INSERT INTO login_throttle AS t (key, failures, pending, window_started)
           VALUES ($1, 0, 1, now())
           ON CONFLICT (key) DO UPDATE SET
             failures = CASE WHEN t.blocked_until <= now()
                              OR (t.blocked_until IS NULL AND t.window_started < now() - make_interval(secs => $3))
                             THEN 0 ELSE t.failures END,
             pending = CASE WHEN t.blocked_until <= now()
                             OR (t.blocked_until IS NULL AND t.window_started < now() - make_interval(secs => $3))
                            THEN 1 ELSE t.pending + 1 END,
             window_started = CASE WHEN t.blocked_until <= now()
                                   OR (t.blocked_until IS NULL AND t.window_started < now() - make_interval(secs => $3))
                                  THEN now() ELSE t.window_started END,
             blocked_until = CASE WHEN t.blocked_until <= now() THEN NULL ELSE t.blocked_until END
           WHERE t.blocked_until <= now()
              OR (t.blocked_until IS NULL AND t.window_started < now() - make_interval(secs => $3))
              OR (t.blocked_until IS NULL AND t.failures + t.pending < $2)
           RETURNING true AS "admitted!""#,
        key.name,
        key.limit.max_failures,
        key.limit.window.as_secs_f64(),
    )
    .fetch_optional(conn)
    .await?;
    Ok(admitted.unwrap_or(false))
}

impl Reservation {
    /// The attempt failed: each reservation becomes a failure, and a key whose failures
    /// reach its limit is locked out for its lockout time.
    pub async fn fail(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        for key in &self.keys {
            if !account_alive(conn, &key.name).await? {
                continue;
            }
            sqlx::query!(
                r#"INSERT INTO login_throttle AS t (key, failures, pending, window_started, blocked_until)
                   VALUES ($1, 1, 0, now(), CASE WHEN $2 <= 1 THEN now() + make_interval(secs => $3) END)
                   ON CONFLICT (key) DO UPDATE SET
                     pending = greatest(t.pending - 1, 0),
                     failures = t.failures + 1,
                     blocked_until = CASE WHEN t.failures + 1 >= $2
                                          THEN now() + make_interval(secs => $3)
                                          ELSE t.blocked_until END"#,
                key.name,
                key.limit.max_failures,
                key.limit.lockout.as_secs_f64(),
            )
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// The attempt succeeded: [`OnSuccess::Clear`] keys forget their failures, every
    /// key gives back this attempt's reservation.
    pub async fn succeed(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        for key in &self.keys {
            let clear = key.on_success == OnSuccess::Clear;
            sqlx::query!(
                r#"UPDATE login_throttle SET
                     pending = greatest(pending - 1, 0),
                     failures = CASE WHEN $2 THEN 0 ELSE failures END,
                     blocked_until = CASE WHEN $2 THEN NULL ELSE blocked_until END
                   WHERE key = $1"#,
                key.name,
                clear,
            )
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// The transaction that ran [`fail`](Self::fail) or [`succeed`](Self::succeed)
    /// has committed: nothing is left to give back.
    pub fn settled(mut self) {
        self.settled = true;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let pool = self.pool.clone();
        let names: Vec<String> = self.keys.iter().map(|k| k.name.clone()).collect();
        // Without a runtime (shutting down) the reservation stays counted until its
        // window ends: a closed key, never an open one.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = release(&pool, &names).await {
                    tracing::warn!(error = %e, "login throttle: releasing a reservation failed");
                }
            });
        }
    }
}

/// Gives back one in-flight reservation on each key (the attempt ended without a
/// verdict: an outage, saturation, a client gone). One row at a time, in key order,
/// so it never holds one row while waiting for another.
async fn release(pool: &PgPool, names: &[String]) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    for name in names {
        sqlx::query!(
            "UPDATE login_throttle SET pending = greatest(pending - 1, 0) WHERE key = $1",
            name
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Seconds until the longest lockout among `keys` ends, if any is locked out now.
pub async fn blocked_for(
    conn: &mut PgConnection,
    keys: &[String],
) -> Result<Option<u64>, sqlx::Error> {
    let secs = sqlx::query_scalar!(
        r#"SELECT ceil(extract(epoch FROM max(blocked_until) - now()))::bigint AS "secs"
           FROM login_throttle WHERE key = ANY($1) AND blocked_until > now()"#,
        keys
    )
    .fetch_one(conn)
    .await?;
    Ok(secs.map(|s| u64::try_from(s.max(1)).unwrap_or(1)))
}

/// A key locked out now, for operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    /// The key: `account:<id>`, `user:<digest of a login string's canonical form>` or
    /// `addr:<client address or IPv6 prefix>`.
    pub key: String,
    /// The account's username, for an `account:` key whose user still exists.
    pub username: Option<String>,
    /// Failures in the window.
    pub failures: i32,
    /// When the lockout ends (UTC, RFC 3339).
    pub until: String,
    /// Seconds until then.
    pub seconds_left: i64,
}

/// Every key locked out now, the longest lockout first.
pub async fn locks(conn: &mut PgConnection) -> Result<Vec<Lock>, sqlx::Error> {
    sqlx::query_as!(
        Lock,
        r#"SELECT t.key AS "key!", u.username AS "username?", t.failures AS "failures!",
                  to_char(t.blocked_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "until!",
                  ceil(extract(epoch FROM t.blocked_until - now()))::bigint AS "seconds_left!"
           FROM login_throttle t
           LEFT JOIN "user" u ON t.key = 'account:' || u.id::text
           WHERE t.blocked_until > now()
           ORDER BY t.blocked_until DESC, t.key"#
    )
    .fetch_all(conn)
    .await
}

/// Lifts the lockout of each of `keys` and forgets their failures (attempts in flight
/// stay counted until they end). Returns how many were locked.
/// One row at a time, as [`release`], so it never waits for one row while holding
/// another.
pub async fn unlock(conn: &mut PgConnection, keys: &[String]) -> Result<u64, sqlx::Error> {
    let mut unlocked = 0;
    for key in keys {
        let res = sqlx::query!(
            r#"UPDATE login_throttle SET failures = 0, blocked_until = NULL
               WHERE key = $1 AND blocked_until > now()"#,
            key
        )
        .execute(&mut *conn)
        .await?;
        unlocked += res.rows_affected();
    }
    Ok(unlocked)
}

/// Deletes rows whose window and lockout are both over, so random usernames cannot
/// grow the table without bound. (An attempt still in flight on a deleted row records
/// its failure in a new one.)
pub async fn prune(conn: &mut PgConnection, older_than: Duration) -> Result<u64, sqlx::Error> {
    let res = sqlx::query!(
        r#"DELETE FROM login_throttle
           WHERE window_started < now() - make_interval(secs => $1)
             AND (blocked_until IS NULL OR blocked_until < now())"#,
        older_than.as_secs_f64()
    )
    .execute(conn)
    .await?;
    Ok(res.rows_affected())
}
