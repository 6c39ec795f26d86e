//! Fault tests: they stop the shared RabbitMQ, so they run serially, after the rest
//! (scripts/test.sh runs this binary on its own with one thread).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "it/harness.rs"]
mod harness;

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use harness::{AuthApp as _, TestApp};
use hub_testkit::{Down, Server};

async fn timed_login(app: &TestApp, user: &str, pw: &str) -> Duration {
    let t = Instant::now();
    let resp = app.login(user, pw).await;
    assert_eq!(resp.status(), 200);
    t.elapsed()
}

#[tokio::test]
async fn logins_succeed_while_rabbitmq_is_down_and_every_event_arrives_exactly_once_after() {
    let app = TestApp::spawn().await;
    app.legacy_user("gil", "pw").await;

    // Baseline with the broker up (the first login also upgrades the hash).
    let mut baseline = Duration::ZERO;
    for _ in 0..3 {
        baseline = baseline.max(timed_login(&app, "gil", "pw").await);
    }
    app.wait_outbox_drained(Duration::from_secs(20)).await;

    let outage = Down::stop(Server::Broker);
    let mut worst = Duration::ZERO;
    const DURING: usize = 8;
    for _ in 0..DURING {
        worst = worst.max(timed_login(&app, "gil", "pw").await);
    }
    // Normal latency: the broker is not on the login path at all.
    let bound = baseline * 3 + Duration::from_millis(300);
    assert!(
        worst <= bound,
        "login took {worst:?} with the broker down (baseline {baseline:?})"
    );
    assert_eq!(
        app.outbox_pending().await,
        DURING as i64,
        "events wait in the outbox"
    );
    drop(outage); // restarts RabbitMQ

    app.wait_outbox_drained(Duration::from_secs(60)).await;
    let msgs = app.take_messages().await;
    let logged_in: Vec<_> = msgs
        .iter()
        .filter(|m| m.event() == "UserLoggedIn")
        .collect();
    let ids: HashSet<_> = logged_in
        .iter()
        .map(|m| m.message_id.clone().unwrap())
        .collect();
    assert_eq!(logged_in.len(), 3 + DURING, "every login's event arrived");
    assert_eq!(ids.len(), logged_in.len(), "none twice");
    let published: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL")
            .fetch_one(&mut app.db().await)
            .await
            .unwrap();
    assert_eq!(published, (3 + DURING) as i64);
}
