//! Writing events to the outbox, inside the producer's own transaction.

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
        E::PRODUCER,
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
