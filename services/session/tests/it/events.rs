//! The `auth-events` consumer, against real RabbitMQ and MongoDB.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use crate::app::{SessionApp as _, SessionHelpers as _, TestApp, user_logged_in};
use lapin::types::AMQPValue;
use mongodb::bson::{Bson, DateTime, doc};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(20);

fn millis(iso: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(iso)
        .unwrap()
        .timestamp_millis()
}

/// Publishes a login for a throwaway user and waits until it is applied: the consumer
/// handles messages in order, so everything published before it has been handled.
async fn barrier(app: &TestApp) {
    let user = Uuid::new_v4();
    app.publish_login(user, "2025-01-01T00:00:00+00:00").await;
    app.wait_for_login(user, WAIT).await;
}

fn counter(metrics: &str, queue: &str, outcome: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("consumer_messages_total{"))
        .filter(|l| {
            l.contains(&format!("queue=\"{queue}\""))
                && l.contains(&format!("outcome=\"{outcome}\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

#[tokio::test]
async fn user_logged_in_creates_the_session_with_last_login_at() {
    let app = TestApp::spawn().await;
    let user = Uuid::new_v4();
    let ts = "2025-07-05T23:40:01.123456+00:00";
    app.publish_login(user, ts).await;
    let doc = app.wait_for_login(user, WAIT).await;
    assert_eq!(
        doc.get_datetime("lastLoginAt").unwrap().timestamp_millis(),
        millis(ts)
    );
    assert_eq!(doc.get("data"), Some(&Bson::Document(doc! {})));
    assert_eq!(doc.get("__v"), Some(&Bson::Int32(0)));
    assert!(doc.get_datetime("createdAt").is_ok() && doc.get_datetime("updatedAt").is_ok());
    assert!(doc.get_object_id("_id").is_ok());
}

#[tokio::test]
async fn the_same_event_delivered_twice_changes_nothing() {
    let app = TestApp::spawn().await;
    let user = Uuid::new_v4();
    let id = Uuid::new_v4().to_string();
    let body = user_logged_in(user, "2025-07-05T23:40:01.123456+00:00");
    app.publish(&body, &id).await;
    let first = app.wait_for_login(user, WAIT).await;

    app.publish(&body, &id).await;
    barrier(&app).await;
    let second = app.session_doc(user).await.unwrap();
    assert_eq!(
        second, first,
        "updatedAt, __v and everything else unchanged"
    );
    assert!(counter(&app.metrics().await, &app.queue, "skipped") >= 1);
}

#[tokio::test]
async fn a_login_updates_an_existing_session_and_an_older_login_never_moves_it_back() {
    let app = TestApp::spawn().await;
    let (user, _, created) = app.user_with_session("lia", "mine").await;

    let newer = "2025-07-05T23:40:01.500000+00:00";
    app.publish_login(user, newer).await;
    let doc = app.wait_for_login(user, WAIT).await;
    assert_eq!(doc.get("data"), created.get("data"), "data kept");
    assert_eq!(doc.get("_id"), created.get("_id"), "same document");
    assert!(doc.get_datetime("updatedAt").unwrap() >= created.get_datetime("updatedAt").unwrap());

    app.publish_login(user, "2024-01-01T00:00:00+00:00").await;
    barrier(&app).await;
    let after = app.session_doc(user).await.unwrap();
    assert_eq!(
        after
            .get_datetime("lastLoginAt")
            .unwrap()
            .timestamp_millis(),
        millis(newer)
    );
    assert_eq!(
        app.sessions()
            .count_documents(doc! {"userId": user.to_string()})
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn poison_messages_are_dead_lettered_and_other_events_are_ignored() {
    let app = TestApp::spawn().await;
    app.publish(br#"{"event": "TestEvent", "data": {"msg": "Esto es una prueba"}, "timestamp": "2025-07-05T23:40:01.123456+00:00"}"#, "test-event").await;
    app.publish(b"this is not json", "poison-1").await;
    barrier(&app).await;

    let dead = app.wait_dead_letter(WAIT).await;
    assert_eq!(dead.delivery.data, b"this is not json");
    let props = &dead.delivery.properties;
    assert_eq!(
        props.message_id().as_ref().map(|s| s.as_str()),
        Some("poison-1")
    );
    assert_eq!(
        props.correlation_id().as_ref().map(|s| s.as_str()),
        Some("test-correlation")
    );
    let headers = props.headers().as_ref().unwrap().inner();
    let reason = match headers.get("x-death-reason") {
        Some(AMQPValue::LongString(s)) => s.to_string(),
        other => panic!("{other:?}"),
    };
    assert!(reason.contains("not an event envelope"), "{reason}");
    assert!(
        matches!(headers.get("x-original-queue"), Some(AMQPValue::LongString(q)) if q.to_string() == app.queue)
    );
    // Only the poison went there (the TestEvent was acked and ignored).
    let metrics = app.metrics().await;
    assert_eq!(
        counter(&metrics, &app.queue, "dead_lettered"),
        1,
        "{metrics}"
    );
    assert!(counter(&metrics, &app.queue, "skipped") >= 1);
}

/// A validator that rejects any document with `lastLoginAt`: every login write fails
/// with a real server error until it is lifted.
async fn block_login_writes(app: &TestApp, blocked: bool) {
    let validator = if blocked {
        doc! { "lastLoginAt": { "$exists": false } }
    } else {
        doc! {}
    };
    app.mongo()
        .run_command(doc! { "collMod": "sessions", "validator": validator })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_failing_write_is_retried_until_it_succeeds() {
    let app = TestApp::spawn_with(&[("CONSUMER_MAX_ATTEMPTS", "1000")]).await;
    block_login_writes(&app, true).await;
    let user = Uuid::new_v4();
    app.publish_login(user, "2025-07-05T23:40:01+00:00").await;

    hub_testkit::eventually(WAIT, async || {
        if counter(&app.metrics().await, &app.queue, "retried") >= 2 {
            Ok(())
        } else {
            Err("no retries seen")
        }
    })
    .await;
    assert!(
        app.session_doc(user).await.is_none(),
        "nothing written while blocked"
    );
    block_login_writes(&app, false).await;
    let doc = app.wait_for_login(user, WAIT).await;
    assert!(matches!(doc.get("lastLoginAt"), Some(Bson::DateTime(d)) if *d < DateTime::now()));
}

#[tokio::test]
async fn a_write_still_failing_after_the_last_attempt_is_dead_lettered() {
    let app = TestApp::spawn_with(&[("CONSUMER_MAX_ATTEMPTS", "3")]).await;
    block_login_writes(&app, true).await;
    let user = Uuid::new_v4();
    app.publish(&user_logged_in(user, "2025-07-05T23:40:01+00:00"), "doomed")
        .await;
    let dead = app.wait_dead_letter(WAIT).await;
    let headers = dead.delivery.properties.headers().as_ref().unwrap().inner();
    assert_eq!(headers.get("x-attempts"), Some(&AMQPValue::LongLongInt(3)));
    assert_eq!(counter(&app.metrics().await, &app.queue, "retried"), 2);
    assert!(app.session_doc(user).await.is_none());
}

#[tokio::test]
async fn the_consumer_reconnects_by_itself_when_the_broker_cancels_it() {
    let app = TestApp::spawn().await;
    barrier(&app).await;
    // Deleting the queue makes the broker cancel our consumer, as a node restart would
    // drop its channel; the consumer must come back on its own.
    let conn = lapin::Connection::connect(&hub_testkit::amqp_url(), Default::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.queue_delete(app.queue.as_str().into(), Default::default())
        .await
        .unwrap();
    let _ = conn.close(0, "done".into()).await;

    let user = Uuid::new_v4();
    app.publish_login(user, "2025-07-05T23:40:01+00:00").await;
    app.wait_for_login(user, WAIT).await;
    let metrics = app.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("consumer_reconnects_total{") && l.contains(&app.queue)),
        "{metrics}"
    );
}

/// The dead-letter queue's depth is exported from the start and follows the queue (the
/// consumer samples it every few seconds): what the HubDeadLetters alert reads.
#[tokio::test]
async fn a_dead_letter_shows_in_the_dead_letter_depth_gauge() {
    let app = TestApp::spawn().await;
    let depth = async || {
        let metrics = app.metrics().await;
        metrics
            .lines()
            .filter(|l| l.starts_with("consumer_dead_letter_depth{"))
            .find(|l| l.contains(&format!("queue=\"{}\"", app.queue)))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
    };
    hub_testkit::eventually(WAIT, async || depth().await == Some(0.0)).await;
    app.publish(b"this is not json either", "poison-depth")
        .await;
    hub_testkit::eventually(WAIT, async || depth().await == Some(1.0)).await;
}
