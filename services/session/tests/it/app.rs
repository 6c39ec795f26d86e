//! session's MongoDB reads, event publishing and dead letters, only the `it` binary uses
//! ([`SessionHelpers`]); the harness and what the `faults` binary shares are in
//! `harness.rs`.

use std::time::Duration;

use hub_testkit::eventually;
use lapin::{
    BasicProperties,
    options::{BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions},
};
use mongodb::bson::{Document, doc};
use serde_json::json;
use uuid::Uuid;

pub use crate::harness::{SessionApp, TestApp};
pub use hub_testkit::json_body;

/// session's stored sessions and consumed events, on the test's instance.
pub trait SessionHelpers {
    /// The `sessions` collection of the test's MongoDB database.
    fn sessions(&self) -> mongodb::Collection<Document>;
    /// The session document of `user_id`, if any.
    async fn session_doc(&self, user_id: Uuid) -> Option<Document>;
    /// A user with a session whose data is `{"text": text}`: the user's id and token, and
    /// the session document as stored.
    async fn user_with_session(&self, username: &str, text: &str) -> (Uuid, String, Document);
    /// Publishes `body` to the test's queue as auth's relay does (persistent, JSON,
    /// with a message id), waiting for the broker's confirm.
    async fn publish(&self, body: &[u8], message_id: &str);
    /// Publishes a login of `user` at `timestamp` ([`user_logged_in`]) with a new message id.
    async fn publish_login(&self, user: Uuid, timestamp: &str);
    /// Polls until the user's session document records a login ([`Self::wait_for_session`]).
    async fn wait_for_login(&self, user: Uuid, within: Duration) -> Document;
    /// Polls until `check` passes on the user's session document, or panics at the deadline.
    async fn wait_for_session(
        &self,
        user_id: Uuid,
        within: Duration,
        check: impl Fn(&Document) -> bool,
    ) -> Document;
    /// The service's Prometheus text.
    async fn metrics(&self) -> String;
    /// Polls the DLQ (without deleting it) until a message arrives.
    async fn wait_dead_letter(&self, within: Duration) -> lapin::message::BasicGetMessage;
}

impl SessionHelpers for TestApp {
    fn sessions(&self) -> mongodb::Collection<Document> {
        self.mongo().collection("sessions")
    }

    async fn session_doc(&self, user_id: Uuid) -> Option<Document> {
        self.sessions()
            .find_one(doc! { "userId": user_id.to_string() })
            .await
            .unwrap()
    }

    async fn user_with_session(&self, username: &str, text: &str) -> (Uuid, String, Document) {
        let (id, token) = self.user(username).await;
        self.post_session(&token, json!({"data": {"text": text}}))
            .await;
        let doc = self.session_doc(id).await.unwrap();
        (id, token, doc)
    }

    async fn publish(&self, body: &[u8], message_id: &str) {
        // auth announces logins of users that exist, and session drops the login of one
        // that does not (a deletion racing it): store the throwaway users first.
        if let Ok(event) = serde_json::from_slice::<serde_json::Value>(body)
            && event["event"] == "UserLoggedIn"
            && let Some(user) = event["data"]["user_id"].as_str()
            && let Ok(user) = user.parse::<Uuid>()
        {
            hub_testkit::ensure_user(&self.db_url, user).await;
        }
        publish_to(&self.queue, body, Some(message_id)).await;
    }

    async fn publish_login(&self, user: Uuid, timestamp: &str) {
        let message_id = Uuid::new_v4().to_string();
        self.publish(&user_logged_in(user, timestamp), &message_id)
            .await;
    }

    async fn wait_for_login(&self, user: Uuid, within: Duration) -> Document {
        self.wait_for_session(user, within, |d| d.contains_key("lastLoginAt"))
            .await
    }

    async fn wait_for_session(
        &self,
        user_id: Uuid,
        within: Duration,
        check: impl Fn(&Document) -> bool,
    ) -> Document {
        eventually(within, async || match self.session_doc(user_id).await {
            Some(doc) if check(&doc) => Ok(doc),
            _ => Err(format!("session of {user_id} not as expected")),
        })
        .await
    }

    async fn metrics(&self) -> String {
        self.get("/metrics").await.text().await.unwrap()
    }

    async fn wait_dead_letter(&self, within: Duration) -> lapin::message::BasicGetMessage {
        let dlq = format!("{}.dlq", self.queue);
        let (_conn, ch) = hub_testkit::queue_channel(&dlq).await;
        eventually(within, async || {
            ch.basic_get(dlq.as_str().into(), BasicGetOptions { no_ack: true })
                .await
                .unwrap()
                .ok_or_else(|| format!("nothing in {}", dlq))
        })
        .await
    }
}

pub async fn publish_to(queue: &str, body: &[u8], message_id: Option<&str>) {
    let (conn, ch) = hub_testkit::queue_channel(queue).await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let mut props = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_correlation_id("test-correlation".into());
    if let Some(id) = message_id {
        props = props.with_message_id(id.into());
    }
    let confirm = ch
        .basic_publish(
            "".into(),
            queue.into(),
            BasicPublishOptions::default(),
            body,
            props,
        )
        .await
        .unwrap();
    confirm.await.unwrap();
    let _ = conn.close(0, "done".into()).await;
}

/// The envelope auth publishes for a login (Python isoformat timestamp).
pub fn user_logged_in(user_id: Uuid, timestamp: &str) -> Vec<u8> {
    format!(
        r#"{{"event": "UserLoggedIn", "data": {{"user_id": "{user_id}", "username": "ana", "email": "ana@example.com"}}, "timestamp": "{timestamp}"}}"#
    )
    .into_bytes()
}
