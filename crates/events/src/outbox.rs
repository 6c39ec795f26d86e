//! The outbox table: producers write events to it inside their own transaction
//! ([`enqueue`]); the relay locks, marks and prunes its rows; the gauges read its depth.
//! Every statement on `outbox` is here.

use chrono::Utc;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::catalogue::{Event, envelope};

/// Why an event could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The payload did not serialise (a programming error).
    #[error("event payload does not serialise: {0}")]
    Serialise(#[from] serde_json::Error),
    /// The insert failed; the caller's transaction should roll back.
    #[error("outbox insert failed: {0}")]
    Db(#[from] sqlx::Error),
}

/// Adds `event` for `queue` to the outbox and returns its message id.
///
/// Pass the connection of the transaction that writes the data the event describes:
/// both commit or neither does. The relay is woken by a trigger at commit. The row
/// records the event's producer ([`Event::PRODUCER`], the message's `app_id`). When
/// traces are on, the current span's `traceparent` is stored with the row.
pub async fn enqueue<E: Event>(
    conn: &mut PgConnection,
    queue: &str,
    event: &E,
    correlation_id: Option<&str>,
) -> Result<Uuid, OutboxError> {
    enqueue_as(conn, queue, event, correlation_id, E::PRODUCER).await
}

/// [`enqueue`] by `producer` instead of the event's usual [`Event::PRODUCER`]: for an
/// event more than one service writes (user-soap's registration asks for the
/// `EmailVerificationRequested` that auth otherwise writes), so the message's `app_id`
/// names who wrote it.
pub async fn enqueue_as<E: Event>(
    conn: &mut PgConnection,
    queue: &str,
    event: &E,
    correlation_id: Option<&str>,
    producer: &str,
) -> Result<Uuid, OutboxError> {
    let message_id = Uuid::new_v4();
    let body = envelope(event, Utc::now())?;
    // The trace of the request writing the event, continued by whoever consumes it.
    let traceparent = hub_trace::current_traceparent();
    sqlx::query!(
        "INSERT INTO outbox (message_id, queue, event, body, correlation_id, traceparent, producer) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        message_id,
        queue,
        E::NAME,
        body,
        correlation_id,
        traceparent,
        producer,
    )
    .execute(conn)
    .await?;
    Ok(message_id)
}

/// Outbox depth and the age in seconds of the oldest pending event (the relay's lag).
pub async fn backlog(conn: &mut PgConnection) -> Result<(i64, f64), sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT count(*) AS "pending!",
                  coalesce(extract(epoch FROM now() - min(created_at))::float8, 0) AS "oldest_secs!"
           FROM outbox WHERE published_at IS NULL"#
    )
    .fetch_one(conn)
    .await?;
    Ok((row.pending, row.oldest_secs))
}

/// How many events wait for the broker (outbox depth).
pub async fn pending(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    let n =
        sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM outbox WHERE published_at IS NULL"#)
            .fetch_one(conn)
            .await?;
    Ok(n)
}

/// A pending row, as the relay publishes it.
#[derive(Debug)]
pub(crate) struct Pending {
    pub id: i64,
    pub message_id: Uuid,
    pub queue: String,
    pub event: String,
    pub body: String,
    pub correlation_id: Option<String>,
    pub created_at: chrono::DateTime<Utc>,
    pub traceparent: Option<String>,
    pub producer: Option<String>,
}

/// Locks up to `limit` pending rows, oldest first, skipping rows another relay holds
/// (`FOR UPDATE SKIP LOCKED`): call it inside the transaction that marks them.
pub(crate) async fn lock_pending(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<Pending>, sqlx::Error> {
    sqlx::query_as!(
        Pending,
        r#"SELECT id, message_id, queue, event, body, correlation_id, created_at, traceparent, producer
           FROM outbox WHERE published_at IS NULL
           ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED"#,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Marks the `acked` rows published and counts a failed attempt, with its reason, on
/// each of `failed`.
pub(crate) async fn mark(
    conn: &mut PgConnection,
    acked: &[i64],
    failed: &[(i64, &'static str)],
) -> Result<(), sqlx::Error> {
    if !acked.is_empty() {
        sqlx::query!(
            "UPDATE outbox SET published_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = ANY($1)",
            acked
        )
        .execute(&mut *conn)
        .await?;
    }
    for (id, why) in failed {
        note_failure(conn, *id, why).await?;
    }
    Ok(())
}

/// Counts a failed attempt on row `id` and records why (shown by `last_error`).
pub(crate) async fn note_failure(
    conn: &mut PgConnection,
    id: i64,
    why: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
        id,
        why
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deletes rows published more than `retention` ago; returns how many.
pub(crate) async fn prune_published(
    pool: &sqlx::PgPool,
    retention: std::time::Duration,
) -> Result<u64, sqlx::Error> {
    let secs = retention.as_secs_f64();
    let res = sqlx::query!(
        "DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < now() - make_interval(secs => $1)",
        secs
    )
    .execute(pool)
    .await?;
    Ok(res.rows_affected())
}
