//! Stops the shared RabbitMQ: runs alone, after the other tests (scripts/test.sh).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "it/harness.rs"]
mod harness;

use std::{collections::HashSet, time::Duration};

use harness::{SoapApp as _, TestApp, pairs, user_fields};
use hub_testkit::{Down, Server};

#[tokio::test]
async fn a_registration_during_a_rabbitmq_outage_is_delivered_exactly_once_after_recovery() {
    let app = TestApp::spawn().await;
    let outage = Down::stop(Server::Broker);
    let (status, _, body) = app.register11(&pairs(&user_fields("outage01"))).await;
    assert_eq!(status, 200, "registration does not need the broker: {body}");
    // UserRegistered, and the EmailVerificationRequested that mails the new account's code.
    assert_eq!(hub_testkit::outbox_pending(&app.db_url).await, 2);
    drop(outage);

    hub_testkit::wait_outbox_drained(&app.db_url, Duration::from_secs(60)).await;
    let msgs = hub_testkit::take_messages(&app.queue).await;
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(msgs[0].event(), "UserRegistered");
    let ids: HashSet<_> = msgs.iter().map(|m| m.message_id.clone()).collect();
    assert_eq!(ids.len(), 1);
    let mails = hub_testkit::take_messages(&format!("{}.account", app.queue)).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].event(), "EmailVerificationRequested");
}
