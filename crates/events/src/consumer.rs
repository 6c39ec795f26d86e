//! A resilient RabbitMQ consumer: the machinery, not the business.
//!
//! A service supplies a [`Handler`] (what one message means); [`run`] does the rest:
//!
//! * connects with bounded timeouts and reconnects by itself, with capped exponential
//!   backoff, whenever the broker goes away (never touching the HTTP path), to the next
//!   broker when `AMQP_URL` names several ([`crate::broker::Brokers`]);
//! * declares the queue exactly as the producers' relay does (durable, and **no
//!   arguments** but `x-queue-type` when `RABBITMQ_QUEUE_TYPE=quorum`: declaring
//!   `x-dead-letter-*` arguments here would make the two declarations conflict with
//!   `PRECONDITION_FAILED`), and the dead-letter queue (durable, of the same type);
//! * takes up to `prefetch` messages from the broker and handles them one at a time,
//!   acking **after** the handler's work is done;
//! * retries a failed message in place with backoff: [`HandleError::Failed`] counts
//!   towards `max_attempts`, after which the message is dead-lettered;
//!   [`HandleError::Unavailable`] (a backing server is down) is retried without limit,
//!   because an outage is not the message's fault and must not empty the queue into the
//!   DLQ; [`HandleError::Poison`] (unparseable, wrong shape) is dead-lettered at once;
//! * parks a message the handler defers ([`HandleError::Deferred`]: not now, for this
//!   message only, e.g. its recipient's rate limit) instead of retrying it in place, so
//!   it holds up no other message: a copy goes to `<queue>.deferred` (publisher
//!   confirms, then the original is acked), where it waits `defer` and then RabbitMQ
//!   dead-letters it back to the tail of the queue, without limit;
//! * dead-letters by publishing to the DLQ with publisher confirms, and acks the
//!   original only after the broker confirmed the copy, so nothing is lost in between;
//! * on shutdown finishes the message in hand (a message waiting for a retry is
//!   returned to the queue), then closes the channel and connection.
//!
//! Attempts are counted in this process only: after a crash or a reconnect a message
//! starts again from attempt 1. Handlers must therefore be idempotent, keyed on
//! [`Message::id`] (the producer's AMQP `message_id`, stable across redeliveries).
//!
//! Metrics: `consumer_messages_total{queue,outcome}` (outcome = `processed`,
//! `skipped`, `retried`, `deferred`, `dead_lettered`), `consumer_redeliveries_total{queue}`,
//! `consumer_reconnects_total{queue}`, and the gauges `consumer_queue_depth{queue}` and
//! `consumer_dead_letter_depth{queue}` (messages ready in the queue and in its DLQ,
//! sampled at each (re)connect and every 5 s).

use std::{future::Future, time::Duration};

use futures_util::StreamExt;
use hub_config::{ConfigError, Vars};
use hub_retry::Backoff;
use lapin::{
    BasicProperties, Channel, Confirmation,
    message::Delivery,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions,
        BasicQosOptions, QueueDeclareOptions,
    },
    types::{AMQPValue, FieldTable},
};
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::broker::{Brokers, QueueType};

/// Consumer settings.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// The broker, or several comma-separated (`AMQP_URL` or
    /// `RABBITMQ_HOST`/`RABBITMQ_PORT`).
    pub amqp_url: SecretString,
    /// Names the AMQP connection (`<app>-consumer`) in the broker's UI.
    pub app_id: String,
    /// How the queue and its dead-letter queue are declared (`RABBITMQ_QUEUE_TYPE`,
    /// default classic): as the producers' relays declare them.
    pub queue_type: QueueType,
    /// `CONSUMER_QUEUE`, else `RABBITMQ_QUEUE` (the originals' name), else the
    /// service's default.
    pub queue: String,
    /// `CONSUMER_DEAD_LETTER_QUEUE`, default `<queue>.dlq`.
    pub dead_letter_queue: String,
    /// `CONSUMER_PREFETCH` (default 10): unacked messages the broker may hand over.
    pub prefetch: u16,
    /// `CONSUMER_MAX_ATTEMPTS` (default 5): tries of a failing message before it is
    /// dead-lettered.
    pub max_attempts: u32,
    /// `CONSUMER_RETRY_BASE_MS` (default 200): first retry delay, doubled each time.
    pub retry_base: Duration,
    /// `CONSUMER_RETRY_MAX_MS` (default 5000): cap of the retry delay.
    pub retry_max: Duration,
    /// `CONSUMER_TIMEOUT_MS` (default 5000): bound on connecting, declaring, acking
    /// and waiting for a dead-letter confirm.
    pub timeout: Duration,
    /// `CONSUMER_DEFER_MS` (default 5000): how long a deferred message waits in
    /// [`deferred_queue`](Self::deferred_queue) before it is back in the queue.
    pub defer: Duration,
}

impl ConsumerConfig {
    /// Reads the `CONSUMER_*` settings and the broker URL; `app_id` names the service,
    /// `default_queue` is the queue consumed when none is configured.
    pub fn from_vars(
        vars: &Vars<'_>,
        app_id: &str,
        default_queue: &str,
    ) -> Result<Self, ConfigError> {
        let queue = vars
            .first_of(&["CONSUMER_QUEUE", "RABBITMQ_QUEUE"])
            .map_or_else(|| default_queue.to_owned(), |(_, q)| q);
        let dead_letter_queue =
            vars.string_or("CONSUMER_DEAD_LETTER_QUEUE", &format!("{queue}.dlq"));
        if dead_letter_queue == queue {
            return Err(ConfigError::invalid(
                "CONSUMER_DEAD_LETTER_QUEUE",
                "must differ from the consumed queue",
            ));
        }
        let prefetch: u16 = vars.positive_or("CONSUMER_PREFETCH", 10)?;
        let max_attempts: u32 = vars.positive_or("CONSUMER_MAX_ATTEMPTS", 5)?;
        Ok(Self {
            amqp_url: crate::broker::url_from_vars(vars)?,
            app_id: app_id.to_owned(),
            queue_type: QueueType::from_vars(vars)?,
            queue,
            dead_letter_queue,
            prefetch,
            max_attempts,
            retry_base: vars.millis_or("CONSUMER_RETRY_BASE_MS", Duration::from_millis(200))?,
            retry_max: vars.millis_or("CONSUMER_RETRY_MAX_MS", Duration::from_secs(5))?,
            timeout: vars.millis_or("CONSUMER_TIMEOUT_MS", Duration::from_secs(5))?,
            defer: vars.millis_or("CONSUMER_DEFER_MS", Duration::from_secs(5))?,
        })
    }

    /// `<queue>.deferred`: where deferred messages wait (per-message TTL `defer`), to be
    /// dead-lettered back to the queue by RabbitMQ.
    pub fn deferred_queue(&self) -> String {
        format!("{}.deferred", self.queue)
    }
}

/// One delivered message, as a handler sees it.
#[derive(Debug, Clone)]
pub struct Message {
    /// The AMQP `message_id`, or, when the producer set none (the originals did not),
    /// `sha256:<hex of the body>`: either way stable across redeliveries, so handlers
    /// deduplicate on it.
    pub id: String,
    /// The AMQP `correlation_id` (the producing request's id), if any.
    pub correlation_id: Option<String>,
    /// The raw body.
    pub body: Vec<u8>,
    /// The broker's redelivered flag.
    pub redelivered: bool,
    /// 1 for the first try in this process, then 2, 3, ...
    pub attempt: u32,
}

/// What a handler did with a message; either way it is acked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// The work was done.
    Processed,
    /// Nothing to do (an event this consumer ignores, or a duplicate).
    Skipped,
}

/// Why a handler could not finish a message. Reasons end up in logs and in the
/// dead-lettered copy's `x-death-reason` header: no secrets in them.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HandleError {
    /// The message can never be handled (unparseable, wrong shape): dead-letter now.
    #[error("poison message: {0}")]
    Poison(String),
    /// A backing server is unavailable: retry with backoff, without limit.
    #[error("backing server unavailable: {0}")]
    Unavailable(String),
    /// Anything else: retry with backoff, dead-letter after `max_attempts`.
    #[error("handling failed: {0}")]
    Failed(String),
    /// Not now, for this message only, through nobody's fault (a rate limit, another
    /// instance holding the same message, a receiver's "try later"): parked in
    /// `<queue>.deferred` for `defer`, then back at the tail of the queue, without limit.
    /// Messages behind it go on meanwhile.
    #[error("deferred: {0}")]
    Deferred(String),
}

/// The business side of a consumer.
pub trait Handler: Send + Sync + 'static {
    /// Handles one message; must be idempotent on [`Message::id`].
    fn handle(
        &self,
        message: &Message,
    ) -> impl Future<Output = Result<Handled, HandleError>> + Send;
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct BrokerError(String);

impl From<lapin::Error> for BrokerError {
    fn from(e: lapin::Error) -> Self {
        Self(e.to_string())
    }
}

async fn within<F: Future>(limit: Duration, f: F) -> Result<F::Output, BrokerError> {
    tokio::time::timeout(limit, f)
        .await
        .map_err(|_| BrokerError(format!("no answer within {limit:?}")))
}

/// HELP text of the consumer's metrics, registered when a consumer starts.
fn describe_metrics() {
    use metrics::{describe_counter, describe_gauge};
    describe_counter!(
        "consumer_messages_total",
        "Messages the consumer finished, by queue and outcome (processed, skipped, retried, deferred, dead_lettered)."
    );
    describe_counter!(
        "consumer_redeliveries_total",
        "Messages RabbitMQ delivered again, by queue."
    );
    describe_counter!(
        "consumer_reconnects_total",
        "Times the consumer lost RabbitMQ and reconnected, by queue."
    );
    describe_gauge!(
        "consumer_queue_depth",
        "Messages ready in the consumed queue, sampled at each (re)connect and every 5 s."
    );
    describe_gauge!(
        "consumer_dead_letter_depth",
        "Messages in the dead-letter queue of the consumed queue (label queue), sampled at each (re)connect and every 5 s."
    );
}

/// Consumes `cfg.queue` with `handler` until `shutdown` is cancelled, reconnecting
/// whenever the broker connection is lost.
pub async fn run<H: Handler>(cfg: ConsumerConfig, handler: H, shutdown: CancellationToken) {
    let mut backoff = Backoff::default();
    let mut brokers = Brokers::default();
    let mut healthy = true;
    tracing::info!(queue = %cfg.queue, dlq = %cfg.dead_letter_queue, "consumer started");
    hub_metrics::describe(describe_metrics);
    // Every series from the start, so rates and alerts have something before the first
    // message, the first failure or the first reconnect.
    for outcome in [
        "processed",
        "skipped",
        "retried",
        "deferred",
        "dead_lettered",
    ] {
        metrics::counter!("consumer_messages_total", "queue" => cfg.queue.clone(), "outcome" => outcome)
            .increment(0);
    }
    metrics::counter!("consumer_redeliveries_total", "queue" => cfg.queue.clone()).increment(0);
    metrics::counter!("consumer_reconnects_total", "queue" => cfg.queue.clone()).increment(0);
    metrics::gauge!("consumer_dead_letter_depth", "queue" => cfg.queue.clone()).set(0.0);
    while !shutdown.is_cancelled() {
        match consume(
            &cfg,
            &handler,
            &shutdown,
            &mut brokers,
            &mut backoff,
            &mut healthy,
        )
        .await
        {
            Ok(()) => break,
            Err(e) => {
                metrics::counter!("consumer_reconnects_total", "queue" => cfg.queue.clone())
                    .increment(1);
                if healthy {
                    tracing::warn!(queue = %cfg.queue, error = %e, "consumer lost the broker; reconnecting");
                    healthy = false;
                } else {
                    tracing::debug!(queue = %cfg.queue, error = %e, "consumer still cannot connect");
                }
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(backoff.next_delay()) => {}
                }
            }
        }
    }
    tracing::info!(queue = %cfg.queue, "consumer stopped");
}

/// One connection's life: set up, then handle deliveries until shutdown (Ok) or a
/// broker error (Err, the caller reconnects).
async fn consume<H: Handler>(
    cfg: &ConsumerConfig,
    handler: &H,
    shutdown: &CancellationToken,
    brokers: &mut Brokers,
    backoff: &mut Backoff,
    healthy: &mut bool,
) -> Result<(), BrokerError> {
    let name = format!("{}-consumer", cfg.app_id);
    let (conn, channel) = brokers
        .open_confirmed(&cfg.amqp_url, &name, cfg.timeout)
        .await
        .map_err(BrokerError)?;
    within(
        cfg.timeout,
        channel.basic_qos(cfg.prefetch, BasicQosOptions::default()),
    )
    .await??;
    // Declares both queues and samples their depths, now and then every few seconds on a
    // channel of its own, so the gauges keep moving even while a handler is stuck.
    let sampling = within(cfg.timeout, conn.create_channel()).await??;
    sample_depths(&sampling, cfg).await?;
    let sampler = Sampler(tokio::spawn(keep_sampling(sampling, cfg.clone())));
    let mut deliveries = within(
        cfg.timeout,
        channel.basic_consume(
            cfg.queue.as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        ),
    )
    .await??;
    backoff.reset();
    if !*healthy {
        tracing::info!(queue = %cfg.queue, "consumer reconnected");
        *healthy = true;
    }

    let result = loop {
        let next = tokio::select! {
            () = shutdown.cancelled() => break Ok(()),
            next = deliveries.next() => next,
        };
        match next {
            Some(Ok(delivery)) => {
                if let Err(e) = process(cfg, &channel, handler, delivery, shutdown).await {
                    break Err(e);
                }
            }
            Some(Err(e)) => break Err(e.into()),
            None => break Err(BrokerError("the broker cancelled the consumer".into())),
        }
    };
    drop(sampler);
    // Unacked prefetched messages go back to the queue when the channel closes.
    let _ = within(cfg.timeout, channel.close(200, "bye".into())).await;
    let _ = within(cfg.timeout, conn.close(200, "bye".into())).await;
    result
}

/// Declares `queue` as the producers' relays do (durable; [`QueueType`]).
async fn declare(
    channel: &Channel,
    queue: &str,
    cfg: &ConsumerConfig,
) -> Result<lapin::Queue, BrokerError> {
    within(
        cfg.timeout,
        crate::broker::declare(channel, queue, cfg.queue_type),
    )
    .await?
    .map_err(BrokerError)
}

/// How often a connected consumer samples the depths of its queue and dead-letter queue.
const DEPTH_EVERY: Duration = Duration::from_secs(5);

/// Declares the queue and its dead-letter queue and records the messages ready in each:
/// `consumer_queue_depth` and `consumer_dead_letter_depth`, both labelled with the
/// consumed queue.
async fn sample_depths(channel: &Channel, cfg: &ConsumerConfig) -> Result<(), BrokerError> {
    let queue = declare(channel, &cfg.queue, cfg).await?;
    let dlq = declare(channel, &cfg.dead_letter_queue, cfg).await?;
    metrics::gauge!("consumer_queue_depth", "queue" => cfg.queue.clone())
        .set(f64::from(queue.message_count()));
    metrics::gauge!("consumer_dead_letter_depth", "queue" => cfg.queue.clone())
        .set(f64::from(dlq.message_count()));
    Ok(())
}

/// Samples the depths every [`DEPTH_EVERY`] until its channel fails (the consumer then
/// reconnects and starts another) or it is aborted.
async fn keep_sampling(channel: Channel, cfg: ConsumerConfig) {
    loop {
        tokio::time::sleep(DEPTH_EVERY).await;
        if sample_depths(&channel, &cfg).await.is_err() {
            return;
        }
    }
}

/// Stops the depth sampler when its connection's life ends, however it ends.
struct Sampler(tokio::task::JoinHandle<()>);

impl Drop for Sampler {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The id a handler deduplicates on (see [`Message::id`]).
pub fn message_id(properties: &BasicProperties, body: &[u8]) -> String {
    match properties.message_id() {
        Some(id) if !id.as_str().is_empty() => id.to_string(),
        _ => format!("sha256:{}", hex::encode(Sha256::digest(body))),
    }
}

/// The message's W3C `traceparent` header, if any.
fn traceparent(properties: &BasicProperties) -> Option<&str> {
    match properties
        .headers()
        .as_ref()?
        .inner()
        .get(hub_trace::TRACEPARENT)?
    {
        AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok(),
        AMQPValue::ShortString(s) => Some(s.as_str()),
        _ => None,
    }
}

/// Handles one delivery to its end: acked, dead-lettered, or (on shutdown during a
/// retry wait) returned to the queue. Errors are broker errors only.
async fn process<H: Handler>(
    cfg: &ConsumerConfig,
    channel: &Channel,
    handler: &H,
    delivery: Delivery,
    shutdown: &CancellationToken,
) -> Result<(), BrokerError> {
    if delivery.redelivered {
        metrics::counter!("consumer_redeliveries_total", "queue" => cfg.queue.clone()).increment(1);
    }
    let message = Message {
        id: message_id(&delivery.properties, &delivery.data),
        correlation_id: delivery
            .properties
            .correlation_id()
            .as_ref()
            .map(ToString::to_string),
        body: delivery.data.clone(),
        redelivered: delivery.redelivered,
        attempt: 0,
    };
    let span = tracing::info_span!(
        "message",
        queue = %cfg.queue,
        message.id = %message.id,
        correlation_id = message.correlation_id.as_deref().unwrap_or(""),
        trace_id = tracing::field::Empty,
        otel.name = tracing::field::Empty,
        otel.kind = tracing::field::Empty,
        messaging.system = tracing::field::Empty,
    );
    // The producer's trace, carried in the `traceparent` header, continues here.
    if hub_trace::enabled() {
        span.record("otel.name", format!("{} process", cfg.queue));
        span.record("otel.kind", "consumer");
        span.record("messaging.system", "rabbitmq");
    }
    if let Some(trace_id) = hub_trace::continue_trace(&span, traceparent(&delivery.properties)) {
        span.record("trace_id", trace_id);
    }
    settle(cfg, channel, handler, &delivery, message, shutdown)
        .instrument(span)
        .await
}

/// The retry loop of [`process`].
async fn settle<H: Handler>(
    cfg: &ConsumerConfig,
    channel: &Channel,
    handler: &H,
    delivery: &Delivery,
    mut message: Message,
    shutdown: &CancellationToken,
) -> Result<(), BrokerError> {
    let mut backoff = Backoff::new(cfg.retry_base, cfg.retry_max);
    let mut failures = 0u32;
    loop {
        message.attempt += 1;
        let reason = match handler.handle(&message).await {
            Ok(handled) => {
                within(cfg.timeout, delivery.acker.ack(BasicAckOptions::default())).await??;
                count(
                    cfg,
                    match handled {
                        Handled::Processed => "processed",
                        Handled::Skipped => "skipped",
                    },
                );
                return Ok(());
            }
            Err(HandleError::Poison(reason)) => {
                tracing::warn!(reason = %reason, "poison message; dead-lettering it");
                reason
            }
            Err(HandleError::Deferred(reason)) => {
                let defer_ms = u64::try_from(cfg.defer.as_millis()).unwrap_or(u64::MAX);
                tracing::info!(
                    reason = %reason,
                    attempt = message.attempt,
                    defer_ms,
                    "message deferred; parked, back in the queue after defer_ms"
                );
                park(cfg, channel, delivery, defer_ms).await?;
                within(cfg.timeout, delivery.acker.ack(BasicAckOptions::default())).await??;
                count(cfg, "deferred");
                return Ok(());
            }
            Err(HandleError::Failed(reason)) if failures + 1 >= cfg.max_attempts => {
                tracing::warn!(
                    reason = %reason,
                    attempts = failures + 1,
                    "message still failing; dead-lettering it"
                );
                reason
            }
            Err(e) => {
                if matches!(e, HandleError::Failed(_)) {
                    failures += 1;
                }
                count(cfg, "retried");
                let delay = backoff.next_delay();
                tracing::info!(
                    error = %e,
                    attempt = message.attempt,
                    retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    "message failed; will retry"
                );
                tokio::select! {
                    () = shutdown.cancelled() => {
                        // Not lost: back to the queue for the next consumer.
                        let requeue = BasicNackOptions { requeue: true, ..BasicNackOptions::default() };
                        within(cfg.timeout, delivery.acker.nack(requeue)).await??;
                        return Ok(());
                    }
                    () = tokio::time::sleep(delay) => {}
                }
                continue;
            }
        };
        dead_letter(cfg, channel, delivery, &reason, message.attempt).await?;
        within(cfg.timeout, delivery.acker.ack(BasicAckOptions::default())).await??;
        count(cfg, "dead_lettered");
        return Ok(());
    }
}

fn count(cfg: &ConsumerConfig, outcome: &'static str) {
    metrics::counter!("consumer_messages_total", "queue" => cfg.queue.clone(), "outcome" => outcome)
        .increment(1);
}

/// Publishes a copy of `delivery` to the DLQ (same body and properties, plus
/// `x-death-reason`, `x-original-queue`, `x-attempts` headers) and waits for the
/// broker's confirm. Any failure is an error: the original stays unacked.
async fn dead_letter(
    cfg: &ConsumerConfig,
    channel: &Channel,
    delivery: &Delivery,
    reason: &str,
    attempts: u32,
) -> Result<(), BrokerError> {
    // Declared again each time (cheap, rare): someone may have deleted it meanwhile,
    // and a publish to a missing queue would come back unroutable.
    declare(channel, &cfg.dead_letter_queue, cfg).await?;
    let mut headers = delivery.properties.headers().clone().unwrap_or_default();
    let mut reason = reason.to_owned();
    if reason.len() > 1024 {
        let mut cut = 1024;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
    }
    headers.insert(
        "x-death-reason".into(),
        AMQPValue::LongString(reason.into()),
    );
    headers.insert(
        "x-original-queue".into(),
        AMQPValue::LongString(cfg.queue.as_str().into()),
    );
    headers.insert(
        "x-attempts".into(),
        AMQPValue::LongLongInt(i64::from(attempts)),
    );
    let props = delivery
        .properties
        .clone()
        .with_headers(headers)
        .with_delivery_mode(2);
    publish_copy(cfg, channel, delivery, &cfg.dead_letter_queue, props).await
}

/// Publishes `delivery`'s body with `props` to `queue` (mandatory) and waits for the
/// broker's confirm. Any failure is an error: the original stays unacked.
async fn publish_copy(
    cfg: &ConsumerConfig,
    channel: &Channel,
    delivery: &Delivery,
    queue: &str,
    props: BasicProperties,
) -> Result<(), BrokerError> {
    let opts = BasicPublishOptions {
        mandatory: true,
        ..BasicPublishOptions::default()
    };
    let confirm = within(
        cfg.timeout,
        channel.basic_publish("".into(), queue.into(), opts, &delivery.data, props),
    )
    .await??;
    match within(cfg.timeout, confirm).await?? {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(_)) => Err(BrokerError(format!("{queue} unroutable"))),
        Confirmation::Nack(_) => Err(BrokerError(format!("publish to {queue} nacked"))),
        Confirmation::NotRequested => Err(BrokerError("confirms not enabled".into())),
    }
}

/// Parks a deferred message: a copy (same body and properties, persistent, `expiration`
/// `defer_ms`) in [`ConsumerConfig::deferred_queue`], confirmed by the broker. When it
/// expires RabbitMQ dead-letters it to the tail of the queue (dropping `expiration`,
/// adding its `x-death` count), where it is handled again like any message.
async fn park(
    cfg: &ConsumerConfig,
    channel: &Channel,
    delivery: &Delivery,
    defer_ms: u64,
) -> Result<(), BrokerError> {
    let deferred = cfg.deferred_queue();
    // Declared each time, like the DLQ (cheap; it may have been deleted meanwhile).
    declare_deferred(channel, &deferred, cfg).await?;
    let props = delivery
        .properties
        .clone()
        .with_expiration(defer_ms.to_string().into())
        .with_delivery_mode(2);
    publish_copy(cfg, channel, delivery, &deferred, props).await
}

/// Declares `deferred`: durable, of the queue's type, its expired messages dead-lettered
/// to the queue through the default exchange. Per-message TTLs rather than a queue TTL,
/// so that another `CONSUMER_DEFER_MS` on another instance declares the same queue. A
/// quorum queue dead-letters at least once (RabbitMQ 3.10 or later, which the hub needs
/// for quorum queues anyway); a classic one as RabbitMQ does within a node.
async fn declare_deferred(
    channel: &Channel,
    deferred: &str,
    cfg: &ConsumerConfig,
) -> Result<(), BrokerError> {
    let mut args = cfg.queue_type.arguments();
    args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString("".into()),
    );
    args.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(cfg.queue.as_str().into()),
    );
    if cfg.queue_type == QueueType::Quorum {
        args.insert(
            "x-dead-letter-strategy".into(),
            AMQPValue::LongString("at-least-once".into()),
        );
        args.insert(
            "x-overflow".into(),
            AMQPValue::LongString("reject-publish".into()),
        );
    }
    let opts = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    within(
        cfg.timeout,
        channel.queue_declare(deferred.into(), opts, args),
    )
    .await??;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<ConsumerConfig, ConfigError> {
        let env = hub_config::fixed(vars);
        ConsumerConfig::from_vars(&Vars::new(&env), "t", "auth-events")
    }

    #[test]
    fn the_queue_comes_from_consumer_queue_then_rabbitmq_queue_then_the_default() {
        assert_eq!(config(&[]).unwrap().queue, "auth-events");
        assert_eq!(config(&[]).unwrap().dead_letter_queue, "auth-events.dlq");
        assert_eq!(
            config(&[]).unwrap().deferred_queue(),
            "auth-events.deferred"
        );
        assert_eq!(config(&[]).unwrap().defer, Duration::from_secs(5));
        let c = config(&[("RABBITMQ_QUEUE", "q1")]).unwrap();
        assert_eq!(
            (c.queue.as_str(), c.dead_letter_queue.as_str()),
            ("q1", "q1.dlq")
        );
        let c = config(&[("RABBITMQ_QUEUE", "q1"), ("CONSUMER_QUEUE", "q2")]).unwrap();
        assert_eq!(c.queue, "q2");
    }

    #[test]
    fn nonsense_settings_are_refused_naming_the_variable() {
        for (var, value) in [
            ("CONSUMER_PREFETCH", "0"),
            ("CONSUMER_MAX_ATTEMPTS", "0"),
            ("CONSUMER_DEAD_LETTER_QUEUE", "auth-events"),
            ("CONSUMER_RETRY_BASE_MS", "x"),
            ("CONSUMER_DEFER_MS", "soon"),
        ] {
            let err = config(&[(var, value)]).unwrap_err().to_string();
            assert!(err.contains(var), "{err}");
        }
    }

    #[test]
    fn the_message_id_is_the_producers_or_a_digest_of_the_body() {
        let with = BasicProperties::default().with_message_id("abc".into());
        assert_eq!(message_id(&with, b"x"), "abc");
        let without = BasicProperties::default();
        let a = message_id(&without, b"body");
        assert!(a.starts_with("sha256:") && a.len() == 7 + 64, "{a}");
        assert_eq!(a, message_id(&without, b"body"));
        assert_ne!(a, message_id(&without, b"other"));
    }
}
