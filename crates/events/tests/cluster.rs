//! What running on a RabbitMQ cluster needs, against the real broker: quorum queues
//! (`RABBITMQ_QUEUE_TYPE=quorum`) for the relay, the consumer and its dead-letter queue,
//! a clear error when a queue exists with the other type, and several broker addresses
//! in `AMQP_URL` tried in order (a dead one is skipped; after the live one, never tried).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use hub_config::Vars;
use hub_events::{
    broker::{self, Brokers, QueueType},
    catalogue::{TestEvent, UserLoggedIn},
    consumer::{self, ConsumerConfig, HandleError, Handled, Handler, Message},
    outbox,
    relay::{self, RelayConfig},
};
use hub_testkit::eventually;
use lapin::{
    Connection, ConnectionProperties,
    options::{BasicGetOptions, QueueDeleteOptions},
};
use secrecy::SecretString;
use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const WITHIN: Duration = Duration::from_secs(15);

/// A fresh, migrated database with its pool.
async fn database() -> (String, PgPool) {
    let url = hub_testkit::create_database("events").await;
    let pool = PgPool::connect(&url).await.unwrap();
    hub_db::migrator().run(&pool).await.unwrap();
    (url, pool)
}

/// A port that accepts TCP connections and hangs up at once (a broker that is gone),
/// and how many connections it has seen.
async fn dead_broker() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (
        format!("amqp://guest:s3cret-dead@127.0.0.1:{port}/%2f"),
        seen,
    )
}

/// Settings as a service reads them.
fn vars(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
    move |k: &str| {
        pairs
            .iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.clone())
    }
}

fn relay_config(amqp_url: String, queue_type: &str) -> RelayConfig {
    let env = vars(vec![
        ("AMQP_URL", amqp_url),
        ("RABBITMQ_QUEUE_TYPE", queue_type.to_owned()),
        ("OUTBOX_POLL_MS", "100".to_owned()),
        ("OUTBOX_PUBLISH_TIMEOUT_MS", "2000".to_owned()),
    ]);
    RelayConfig::from_vars(&Vars::new(&env), "auth").unwrap()
}

fn consumer_config(amqp_url: String, queue_type: &str, queue: &str) -> ConsumerConfig {
    let env = vars(vec![
        ("AMQP_URL", amqp_url),
        ("RABBITMQ_QUEUE_TYPE", queue_type.to_owned()),
        ("CONSUMER_QUEUE", queue.to_owned()),
        ("CONSUMER_TIMEOUT_MS", "2000".to_owned()),
    ]);
    ConsumerConfig::from_vars(&Vars::new(&env), "session", "unused").unwrap()
}

/// Hands every message's event name to the test; `TestEvent`s are poison.
struct Recorder(mpsc::UnboundedSender<String>);

impl Handler for Recorder {
    async fn handle(&self, message: &Message) -> Result<Handled, HandleError> {
        let body: serde_json::Value = serde_json::from_slice(&message.body)
            .map_err(|e| HandleError::Poison(e.to_string()))?;
        let event = body["event"].as_str().unwrap_or_default().to_owned();
        if event == "TestEvent" {
            return Err(HandleError::Poison("a test event".into()));
        }
        let _ = self.0.send(event);
        Ok(Handled::Processed)
    }
}

async fn enqueue_login(pool: &PgPool, queue: &str) {
    let mut conn = pool.acquire().await.unwrap();
    let event = UserLoggedIn {
        user_id: Uuid::new_v4(),
        username: "ana".into(),
        email: "ana@example.com".into(),
    };
    outbox::enqueue(&mut conn, queue, &event, Some("req-1"))
        .await
        .unwrap();
}

/// A channel of its own on the test broker.
async fn channel() -> (Connection, lapin::Channel) {
    let conn = Connection::connect(&hub_testkit::amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    (conn, ch)
}

async fn delete_queues(queues: &[&str]) {
    let (conn, ch) = channel().await;
    for q in queues {
        let _ = ch
            .queue_delete((*q).into(), QueueDeleteOptions::default())
            .await;
    }
    let _ = conn.close(0, "done".into()).await;
}

#[tokio::test]
async fn quorum_queues_carry_events_from_the_outbox_to_the_consumer_and_its_dead_letters() {
    let (db_url, pool) = database().await;
    let queue = hub_testkit::queue_name("quorum");
    let dlq = format!("{queue}.dlq");
    let shutdown = CancellationToken::new();
    let relay = tokio::spawn(relay::run(
        pool.clone(),
        relay_config(hub_testkit::amqp_url(), "quorum"),
        shutdown.clone(),
    ));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let consumer = tokio::spawn(consumer::run(
        consumer_config(hub_testkit::amqp_url(), "quorum", &queue),
        Recorder(tx),
        shutdown.clone(),
    ));

    enqueue_login(&pool, &queue).await;
    let mut conn = pool.acquire().await.unwrap();
    outbox::enqueue(&mut conn, &queue, &TestEvent { msg: "poison" }, None)
        .await
        .unwrap();
    drop(conn);
    hub_testkit::wait_outbox_drained(&db_url, WITHIN).await;
    let got = tokio::time::timeout(WITHIN, rx.recv()).await.unwrap();
    assert_eq!(got.as_deref(), Some("UserLoggedIn"));

    // The poison event went to the dead-letter queue, itself a quorum queue.
    let (_conn, ch) = channel().await;
    let dead = eventually(WITHIN, async || {
        ch.basic_get(dlq.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
    })
    .await;
    let body: serde_json::Value = serde_json::from_slice(&dead.delivery.data).unwrap();
    assert_eq!(body["event"], "TestEvent");

    shutdown.cancel();
    relay.await.unwrap();
    consumer.await.unwrap();

    // Both queues are quorum queues: redeclaring them as quorum is fine, as classic is not.
    for q in [&queue, &dlq] {
        let (_c, ch) = channel().await;
        broker::declare(&ch, q, QueueType::Quorum).await.unwrap();
        let e = broker::declare(&ch, q, QueueType::Classic)
            .await
            .unwrap_err();
        assert!(e.contains("RABBITMQ_QUEUE_TYPE=classic"), "{e}");
    }
    delete_queues(&[&queue, &dlq]).await;
}

#[tokio::test]
async fn a_queue_that_exists_with_the_other_type_is_refused_naming_the_setting() {
    let classic = hub_testkit::queue_name("classic");
    let quorum = hub_testkit::queue_name("quorum");
    let (_c, ch) = channel().await;
    broker::declare(&ch, &classic, QueueType::Classic)
        .await
        .unwrap();
    broker::declare(&ch, &quorum, QueueType::Quorum)
        .await
        .unwrap();

    for (queue, other, setting) in [
        (&classic, QueueType::Quorum, "RABBITMQ_QUEUE_TYPE=quorum"),
        (&quorum, QueueType::Classic, "RABBITMQ_QUEUE_TYPE=classic"),
    ] {
        // The broker closes the channel on PRECONDITION_FAILED: a fresh one each time.
        let (_c, ch) = channel().await;
        let e = broker::declare(&ch, queue, other).await.unwrap_err();
        assert!(
            e.contains(setting) && e.contains(queue.as_str()) && e.contains("PRECONDITION_FAILED"),
            "{e}"
        );
    }

    // A relay set to the other type keeps the event in the outbox and says why on the
    // row (and in its log) instead of publishing it anywhere else.
    let (db_url, pool) = database().await;
    let shutdown = CancellationToken::new();
    let relay = tokio::spawn(relay::run(
        pool.clone(),
        relay_config(hub_testkit::amqp_url(), "quorum"),
        shutdown.clone(),
    ));
    enqueue_login(&pool, &classic).await;
    let why = eventually(WITHIN, async || {
        let mut conn = pool.acquire().await.unwrap();
        sqlx::query_scalar::<_, Option<String>>(
            "SELECT last_error FROM outbox WHERE published_at IS NULL",
        )
        .fetch_one(&mut *conn)
        .await
        .unwrap()
    })
    .await;
    assert!(
        why.contains("RABBITMQ_QUEUE_TYPE=quorum") && why.contains(&classic),
        "{why}"
    );
    shutdown.cancel();
    relay.await.unwrap();
    assert_eq!(hub_testkit::outbox_pending(&db_url).await, 1);
    delete_queues(&[&classic, &quorum]).await;
}

#[tokio::test]
async fn a_dead_broker_is_skipped_and_one_after_a_live_broker_is_never_tried() {
    let live = hub_testkit::amqp_url();
    let (dead, seen) = dead_broker().await;
    let timeout = Duration::from_secs(2);

    // Dead first: tried once, then the live one connects.
    let mut brokers = Brokers::default();
    let both: SecretString = format!("{dead},{live}").into();
    let conn = brokers.connect(&both, "t", timeout).await.unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    let _ = conn.close(0, "done".into()).await;

    // Live first: the dead one is never tried.
    seen.store(0, Ordering::SeqCst);
    let live_first: SecretString = format!("{live},{dead}").into();
    let mut brokers = Brokers::default();
    let conn = brokers.connect(&live_first, "t", timeout).await.unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 0);
    let _ = conn.close(0, "done".into()).await;
    // A reconnection (the live broker's connection failed) starts after it: the dead
    // one, then round to the live one again.
    let conn = brokers.connect(&live_first, "t", timeout).await.unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    let _ = conn.close(0, "done".into()).await;

    // Nothing answers: every broker named by host:port, no credentials.
    let (dead2, _) = dead_broker().await;
    let e = Brokers::default()
        .connect(&format!("{dead},{dead2}").into(), "t", timeout)
        .await
        .unwrap_err();
    assert!(!e.contains("s3cret") && !e.contains("guest"), "{e}");
    for url in [&dead, &dead2] {
        let addr = url.split('@').nth(1).unwrap().split('/').next().unwrap();
        assert!(e.contains(addr), "{e}");
    }
}

#[tokio::test]
async fn the_relay_and_the_consumer_reach_the_live_broker_behind_a_dead_one() {
    let (db_url, pool) = database().await;
    let queue = hub_testkit::queue_name("failover");
    let (dead, seen) = dead_broker().await;
    let urls = format!("{dead},{}", hub_testkit::amqp_url());
    let shutdown = CancellationToken::new();
    let relay = tokio::spawn(relay::run(
        pool.clone(),
        relay_config(urls.clone(), "classic"),
        shutdown.clone(),
    ));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let consumer = tokio::spawn(consumer::run(
        consumer_config(urls, "classic", &queue),
        Recorder(tx),
        shutdown.clone(),
    ));
    enqueue_login(&pool, &queue).await;
    hub_testkit::wait_outbox_drained(&db_url, WITHIN).await;
    let got = tokio::time::timeout(WITHIN, rx.recv()).await.unwrap();
    assert_eq!(got.as_deref(), Some("UserLoggedIn"));
    // Each tried the dead broker once, first, and stayed on the live one.
    assert_eq!(seen.load(Ordering::SeqCst), 2);
    shutdown.cancel();
    relay.await.unwrap();
    consumer.await.unwrap();
    delete_queues(&[&queue, &format!("{queue}.dlq")]).await;
}
