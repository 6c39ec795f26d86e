//! The outbox relay: PostgreSQL → RabbitMQ with publisher confirms.
//!
//! Each round locks a batch of pending rows (`FOR UPDATE SKIP LOCKED`, so relays in
//! other instances take other rows), publishes them in id order to the default
//! exchange with the row's queue as routing key, waits for every confirm, then marks
//! the acked rows `published_at` in the same transaction. A nack, an unroutable
//! return, a timeout or a lost connection leaves the rows pending for the next round;
//! the relay reconnects with capped exponential backoff ([`hub_retry::Backoff`]), to
//! the next broker when `AMQP_URL` names several ([`crate::broker::Brokers`]). Between
//! rounds it sleeps until a `NOTIFY outbox` (sent by a trigger when a producer
//! commits) or the poll interval, whichever comes first. Each batch is a
//! [`hub_db::transaction`]; the statements are in [`crate::outbox`].
//!
//! Each message's `app_id` is the service that wrote the row (its `producer` column),
//! whichever service's relay publishes it.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use hub_config::{ConfigError, Vars};
use hub_db::Tx;
use hub_retry::Backoff;
use lapin::{
    BasicProperties, Channel, Confirmation, Connection,
    options::BasicPublishOptions,
    types::{AMQPValue, FieldTable},
};
use secrecy::SecretString;
use sqlx::{PgPool, postgres::PgListener};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::{
    broker::{Brokers, QueueType},
    outbox,
};

/// Relay settings.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The broker, or several comma-separated (`AMQP_URL` or
    /// `RABBITMQ_HOST`/`RABBITMQ_PORT`).
    pub amqp_url: SecretString,
    /// This service's name: it names the relay's connection, and is the `app_id` of rows
    /// written before the outbox recorded their producer.
    pub app_id: String,
    /// How the queues published to are declared (`RABBITMQ_QUEUE_TYPE`, default classic).
    pub queue_type: QueueType,
    /// Rows per round (`OUTBOX_BATCH_SIZE`, default 100).
    pub batch_size: i64,
    /// Longest sleep between rounds when no NOTIFY arrives (`OUTBOX_POLL_MS`, default 1000).
    pub poll_interval: Duration,
    /// Bound on connecting, declaring and waiting for confirms (`OUTBOX_PUBLISH_TIMEOUT_MS`, default 5000).
    pub publish_timeout: Duration,
    /// Published rows older than this are deleted (`OUTBOX_RETENTION_HOURS`, default 168).
    pub retention: Duration,
}

impl RelayConfig {
    /// Reads the `OUTBOX_*` settings and the broker URL; `app_id` names the service.
    pub fn from_vars(vars: &Vars<'_>, app_id: &str) -> Result<Self, ConfigError> {
        let batch_size: i64 = vars.parse_or("OUTBOX_BATCH_SIZE", 100)?;
        if !(1..=10_000).contains(&batch_size) {
            return Err(ConfigError::invalid(
                "OUTBOX_BATCH_SIZE",
                "must be between 1 and 10000",
            ));
        }
        Ok(Self {
            amqp_url: crate::broker::url_from_vars(vars)?,
            app_id: app_id.to_owned(),
            queue_type: QueueType::from_vars(vars)?,
            batch_size,
            poll_interval: vars.millis_or("OUTBOX_POLL_MS", Duration::from_secs(1))?,
            publish_timeout: vars.millis_or("OUTBOX_PUBLISH_TIMEOUT_MS", Duration::from_secs(5))?,
            retention: Duration::from_secs(
                3600 * vars.parse_or::<u64>("OUTBOX_RETENTION_HOURS", 168)?,
            ),
        })
    }
}

#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("broker: {0}")]
    Broker(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Interrupted(#[from] hub_db::Interrupted),
}

impl From<lapin::Error> for RelayError {
    fn from(e: lapin::Error) -> Self {
        Self::Broker(e.to_string())
    }
}

/// A confirmed channel and the queues declared on it. Cheap to clone (shared handles),
/// so each batch's transaction task gets its own copy while the relay keeps one.
#[derive(Clone)]
struct Publisher {
    // Kept so the connection lives as long as the channel.
    _conn: Arc<Connection>,
    channel: Channel,
    declared: Arc<Mutex<HashSet<String>>>,
}

impl Publisher {
    async fn connect(cfg: &RelayConfig, brokers: &mut Brokers) -> Result<Self, RelayError> {
        let name = format!("{}-outbox-relay", cfg.app_id);
        let (conn, channel) = brokers
            .open_confirmed(&cfg.amqp_url, &name, cfg.publish_timeout)
            .await
            .map_err(RelayError::Broker)?;
        Ok(Self {
            _conn: Arc::new(conn),
            channel,
            declared: Arc::default(),
        })
    }

    fn is_declared(&self, queue: &str) -> bool {
        self.declared
            .lock()
            .is_ok_and(|declared| declared.contains(queue))
    }

    /// Declares `queue` (durable; classic with no arguments as the originals, or
    /// quorum: [`QueueType`]), once per channel.
    async fn declare(&self, queue: &str, cfg: &RelayConfig) -> Result<(), RelayError> {
        if !self.is_declared(queue) {
            within(
                cfg.publish_timeout,
                crate::broker::declare(&self.channel, queue, cfg.queue_type),
            )
            .await?
            .map_err(RelayError::Broker)?;
            if let Ok(mut declared) = self.declared.lock() {
                declared.insert(queue.to_owned());
            }
        }
        Ok(())
    }
}

async fn within<F: std::future::Future>(limit: Duration, f: F) -> Result<F::Output, RelayError> {
    tokio::time::timeout(limit, f)
        .await
        .map_err(|_| RelayError::Broker(format!("no answer within {limit:?}")))
}

/// HELP text (and unit) of the relay's metrics, registered when a relay starts.
fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_gauge};
    describe_gauge!(
        "outbox_pending",
        "Events in the outbox not yet confirmed by RabbitMQ."
    );
    describe_gauge!(
        "outbox_oldest_pending_seconds",
        Unit::Seconds,
        "Age of the oldest event not yet confirmed by RabbitMQ."
    );
    describe_counter!(
        "outbox_published_total",
        "Events the outbox relay published and RabbitMQ confirmed."
    );
    describe_counter!(
        "outbox_publish_failures_total",
        "Outbox relay publish attempts that failed (retried later)."
    );
}

/// Runs until `shutdown` is cancelled; the batch in hand is finished first.
pub async fn run(pool: PgPool, cfg: RelayConfig, shutdown: CancellationToken) {
    Relay::new(pool, cfg, shutdown).run().await;
}

/// The relay between rounds: what it holds on to, and when it last did its chores.
struct Relay {
    pool: PgPool,
    cfg: Arc<RelayConfig>,
    shutdown: CancellationToken,
    /// The broker connection: opened when a round needs it, dropped after a broker error.
    publisher: Option<Publisher>,
    /// Which broker to try next when `AMQP_URL` names several.
    brokers: Brokers,
    /// `LISTEN outbox`: reopened at the top of a round when lost.
    listener: Option<PgListener>,
    /// The wait after a failed round.
    backoff: Backoff,
    /// False from a failed round to the next good one: one WARN per outage.
    healthy: bool,
    last_prune: Instant,
    last_backlog: Instant,
}

/// How often the relay deletes old published rows, and samples the backlog gauges.
const PRUNE_EVERY: Duration = Duration::from_secs(600);
const BACKLOG_EVERY: Duration = Duration::from_secs(5);

impl Relay {
    fn new(pool: PgPool, cfg: RelayConfig, shutdown: CancellationToken) -> Self {
        // Both chores are due at once.
        let long_ago = Instant::now() - Duration::from_secs(3600);
        Self {
            pool,
            cfg: Arc::new(cfg),
            shutdown,
            publisher: None,
            brokers: Brokers::default(),
            listener: None,
            backoff: Backoff::default(),
            healthy: true,
            last_prune: long_ago,
            last_backlog: long_ago,
        }
    }

    async fn run(mut self) {
        tracing::info!(app_id = %self.cfg.app_id, queue_type = self.cfg.queue_type.as_str(), "outbox relay started");
        // Zero from the start, so a rate or an alert on them has a series before the
        // first event or the first failure.
        hub_metrics::describe(describe_metrics);
        metrics::counter!("outbox_published_total").increment(0);
        metrics::counter!("outbox_publish_failures_total").increment(0);

        while !self.shutdown.is_cancelled() {
            // At the top, so the gauges keep moving while the broker is down.
            if self.last_backlog.elapsed() > BACKLOG_EVERY {
                self.last_backlog = Instant::now();
                record_backlog(&self.pool).await;
            }
            if self.listener.is_none() {
                self.listener = listen(&self.pool).await;
            }
            match self.round().await {
                Ok(n) => {
                    self.published(n);
                    if n as i64 >= self.cfg.batch_size {
                        continue; // more waiting: no sleep
                    }
                }
                Err(e) => {
                    let delay = self.failed(&e);
                    tokio::select! {
                        () = self.shutdown.cancelled() => break,
                        () = tokio::time::sleep(delay) => continue,
                    }
                }
            }
            if self.last_prune.elapsed() > PRUNE_EVERY {
                self.last_prune = Instant::now();
                prune(&self.pool, self.cfg.retention).await;
            }
            if !self.idle().await {
                break;
            }
        }
        tracing::info!("outbox relay stopped");
    }

    /// Connects if need be, then publishes one batch in a transaction
    /// ([`hub_db::transaction`]: it runs to completion even at shutdown).
    async fn round(&mut self) -> Result<usize, RelayError> {
        let publisher = match &self.publisher {
            Some(p) => p.clone(),
            None => {
                let p = Publisher::connect(&self.cfg, &mut self.brokers).await?;
                self.publisher = Some(p.clone());
                p
            }
        };
        let cfg = Arc::clone(&self.cfg);
        hub_db::transaction(&self.pool, move |tx| relay_batch(tx, publisher, cfg)).await
    }

    /// A good round of `n` rows.
    fn published(&mut self, n: usize) {
        metrics::counter!("outbox_published_total").increment(n as u64);
        if !self.healthy {
            tracing::info!("outbox relay recovered");
            self.healthy = true;
        }
        self.backoff.reset();
        if n > 0 {
            tracing::debug!(published = n, "outbox batch published");
        }
    }

    /// A failed round: drops the broker connection after a broker error, and says how
    /// long to wait before the next.
    fn failed(&mut self, e: &RelayError) -> Duration {
        metrics::counter!("outbox_publish_failures_total").increment(1);
        if matches!(e, RelayError::Broker(_)) {
            self.publisher = None;
        }
        if self.healthy {
            tracing::warn!(error = %e, "outbox relay cannot publish; events stay in the outbox and will be retried");
            self.healthy = false;
        } else {
            tracing::debug!(error = %e, "outbox relay still failing");
        }
        self.backoff.next_delay()
    }

    /// Idle: waits for a producer's NOTIFY, the poll interval, or shutdown (false).
    async fn idle(&mut self) -> bool {
        let listener = &mut self.listener;
        tokio::select! {
            () = self.shutdown.cancelled() => return false,
            () = tokio::time::sleep(self.cfg.poll_interval) => {}
            res = async {
                match listener.as_mut() {
                    Some(l) => l.recv().await.map(drop),
                    None => std::future::pending().await,
                }
            } => {
                if res.is_err() {
                    *listener = None; // reconnected next round
                }
            }
        }
        true
    }
}

/// Samples the outbox depth and the age of its oldest row (relay lag) into gauges.
async fn record_backlog(pool: &PgPool) {
    let backlog = match pool.acquire().await {
        Ok(mut conn) => crate::outbox::backlog(&mut conn).await,
        Err(e) => Err(e),
    };
    if let Ok((pending, oldest)) = backlog {
        metrics::gauge!("outbox_pending").set(pending as f64);
        metrics::gauge!("outbox_oldest_pending_seconds").set(oldest);
    }
}

async fn listen(pool: &PgPool) -> Option<PgListener> {
    let mut l = PgListener::connect_with(pool).await.ok()?;
    l.listen("outbox").await.ok()?;
    Some(l)
}

/// Publishes the pending rows `tx` locks and marks the acked ones published.
async fn relay_batch(mut tx: Tx, p: Publisher, cfg: Arc<RelayConfig>) -> Result<usize, RelayError> {
    let rows = outbox::lock_pending(&mut tx, cfg.batch_size).await?;
    if rows.is_empty() {
        return Ok(0);
    }

    let mut confirms = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Err(e) = p.declare(&row.queue, &cfg).await {
            // Say why on the row (a queue of the other type stays refused until an
            // operator acts); the rest of the batch stays pending as it was.
            outbox::note_failure(&mut tx, row.id, &e.to_string()).await?;
            tx.commit().await?;
            return Err(e);
        }
        // The service that wrote the row; rows from before the outbox recorded it
        // carry this relay's service name, as every message did then.
        let app_id = row.producer.as_deref().unwrap_or(&cfg.app_id);
        let mut props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_message_id(row.message_id.to_string().into())
            .with_type(row.event.as_str().into())
            .with_app_id(app_id.into())
            .with_timestamp(u64::try_from(row.created_at.timestamp()).unwrap_or_default());
        if let Some(cid) = &row.correlation_id {
            props = props.with_correlation_id(cid.as_str().into());
        }
        // A traced event: a `publish` span in the producer's trace, named as the
        // consumer's parent in the message's `traceparent` header. Untraced rows get
        // neither (and cost nothing).
        let publish_span = row.traceparent.as_deref().map(|parent| {
            let span = tracing::info_span!(
                "publish",
                otel.name = format!("{} publish", row.queue),
                otel.kind = "producer",
                messaging.system = "rabbitmq",
                messaging.destination.name = %row.queue,
                messaging.message.id = %row.message_id,
            );
            hub_trace::continue_trace(&span, Some(parent));
            if let Some(tp) = hub_trace::traceparent(&span) {
                let mut headers = FieldTable::default();
                headers.insert(
                    hub_trace::TRACEPARENT.into(),
                    AMQPValue::LongString(tp.into()),
                );
                props = std::mem::take(&mut props).with_headers(headers);
            }
            span
        });
        // mandatory: a message that reaches no queue comes back instead of vanishing.
        let opts = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let confirm = within(
            cfg.publish_timeout,
            p.channel.basic_publish(
                "".into(),
                row.queue.as_str().into(),
                opts,
                row.body.as_bytes(),
                props,
            ),
        )
        .await??;
        // The span covers the hand-over to the broker, not the wait for its confirm.
        drop(publish_span);
        confirms.push((row.id, confirm));
    }

    let mut acked = Vec::with_capacity(confirms.len());
    let mut failed = Vec::new();
    let deadline = tokio::time::Instant::now() + cfg.publish_timeout;
    for (id, confirm) in confirms {
        match tokio::time::timeout_at(deadline, confirm).await {
            Ok(Ok(Confirmation::Ack(None))) => acked.push(id),
            Ok(Ok(Confirmation::Ack(Some(_)))) => failed.push((id, "returned unroutable")),
            Ok(Ok(Confirmation::Nack(_))) => failed.push((id, "nacked by broker")),
            Ok(Ok(Confirmation::NotRequested)) => failed.push((id, "confirms not enabled")),
            Ok(Err(e)) => {
                // The channel is gone: keep what was acked, retry the rest elsewhere.
                outbox::mark(&mut tx, &acked, &failed).await?;
                tx.commit().await?;
                return Err(e.into());
            }
            Err(_) => {
                outbox::mark(&mut tx, &acked, &failed).await?;
                tx.commit().await?;
                return Err(RelayError::Broker("confirm timed out".into()));
            }
        }
    }
    outbox::mark(&mut tx, &acked, &failed).await?;
    tx.commit().await?;
    if !failed.is_empty() {
        return Err(RelayError::Broker(format!(
            "{} message(s) not confirmed",
            failed.len()
        )));
    }
    Ok(acked.len())
}

/// Deletes published rows older than the retention; a failure waits for the next time.
async fn prune(pool: &PgPool, retention: Duration) {
    match outbox::prune_published(pool, retention).await {
        Ok(n) if n > 0 => tracing::info!(deleted = n, "pruned published outbox rows"),
        Ok(_) => {}
        Err(e) => tracing::debug!(error = %e, "outbox prune failed"),
    }
}
