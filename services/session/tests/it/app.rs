//! Test harness: each test gets its own PostgreSQL database, MongoDB database and queue
//! names, and its own server on port 0, against the real servers started by
//! scripts/backing.sh.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use hub_testkit::{Go as _, eventually};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lapin::{
    BasicProperties, Connection, ConnectionProperties,
    options::{BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions},
};
use mongodb::bson::{Document, doc};
use reqwest::Method;
use serde_json::{Value, json};
use session::Session;
use uuid::Uuid;

pub struct TestApp {
    /// The service on port 0: `addr`, `base`, `http`, `running` (through `Deref`).
    pub service: hub_testkit::Spawned,
    pub db_url: String,
    pub mongo_db: String,
    pub queue: String,
    pub dlq: String,
    pub secret: String,
    pub mongo: mongodb::Database,
}

hub_testkit::test_app!(TestApp);

impl TestApp {
    /// Starts the service with test settings, overridden by `extra`.
    pub async fn spawn_with(extra: &[(&str, &str)]) -> Self {
        let db_url = hub_testkit::create_database("session").await;
        let mongo_db = hub_testkit::mongo_database("session");
        let queue = hub_testkit::queue_name("auth-events");
        let dlq = format!("{queue}.dlq");
        let secret = format!("test-secret-{}", Uuid::new_v4().simple());
        let source = hub_testkit::local_source(
            &[
                ("DATABASE_URL", db_url.as_str()),
                ("MONGODB_URI", &hub_testkit::mongodb_uri()),
                ("MONGODB_DATABASE", mongo_db.as_str()),
                ("JWT_SECRET", secret.as_str()),
                ("AMQP_URL", &hub_testkit::amqp_url()),
                ("CONSUMER_QUEUE", queue.as_str()),
                ("CONSUMER_RETRY_BASE_MS", "50"),
                ("CONSUMER_RETRY_MAX_MS", "500"),
            ],
            extra,
        );
        let service = hub_testkit::spawn::<Session>(source).await;
        let client = mongodb::Client::with_uri_str(hub_testkit::mongodb_uri())
            .await
            .unwrap();
        Self {
            service,
            db_url,
            mongo: client.database(&mongo_db),
            mongo_db,
            queue,
            dlq,
            secret,
        }
    }

    pub fn sessions(&self) -> mongodb::Collection<Document> {
        self.mongo.collection("sessions")
    }

    pub async fn session_doc(&self, user_id: Uuid) -> Option<Document> {
        self.sessions()
            .find_one(doc! { "userId": user_id.to_string() })
            .await
            .unwrap()
    }

    /// Inserts a user into `"user"` and returns its id.
    pub async fn insert_user(&self, username: &str) -> Uuid {
        hub_testkit::seed_user(&self.db_url, username).await
    }

    /// A token as auth (PyJWT, HS256) mints it, valid for an hour.
    pub fn token(&self, user_id: Uuid) -> String {
        self.token_with(
            Algorithm::HS256,
            &self.secret,
            &json!({
                "user_id": user_id, "username": "u", "exp": chrono::Utc::now().timestamp() + 3600
            }),
        )
    }

    pub fn token_with(&self, alg: Algorithm, secret: &str, claims: &Value) -> String {
        jsonwebtoken::encode(
            &Header::new(alg),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    /// A user in `"user"` and a token for them.
    pub async fn user(&self, username: &str) -> (Uuid, String) {
        let id = self.insert_user(username).await;
        (id, self.token(id))
    }

    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut req = self.req(method, path);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req
    }

    pub async fn post_session(&self, token: &str, body: Value) -> (u16, Value) {
        let req = self.request(Method::POST, "/api/sessions", Some(token));
        json_body(req.json(&body).go().await).await
    }

    pub async fn get_json(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        json_body(self.request(Method::GET, path, token).go().await).await
    }

    /// A user with a session whose data is `{"text": text}`: the user's id and token, and
    /// the session document as stored.
    pub async fn user_with_session(&self, username: &str, text: &str) -> (Uuid, String, Document) {
        let (id, token) = self.user(username).await;
        self.post_session(&token, json!({"data": {"text": text}}))
            .await;
        let doc = self.session_doc(id).await.unwrap();
        (id, token, doc)
    }

    /// Publishes `body` to the test's queue as auth's relay does (persistent, JSON,
    /// with a message id), waiting for the broker's confirm.
    pub async fn publish(&self, body: &[u8], message_id: &str) {
        publish_to(&self.queue, body, Some(message_id)).await;
    }

    /// Publishes a login of `user` at `timestamp` ([`user_logged_in`]) with a new message id.
    pub async fn publish_login(&self, user: Uuid, timestamp: &str) {
        let message_id = Uuid::new_v4().to_string();
        self.publish(&user_logged_in(user, timestamp), &message_id)
            .await;
    }

    /// Polls until the user's session document records a login ([`Self::wait_for_session`]).
    pub async fn wait_for_login(&self, user: Uuid, within: Duration) -> Document {
        self.wait_for_session(user, within, |d| d.contains_key("lastLoginAt"))
            .await
    }

    /// Polls until `check` passes on the user's session document, or panics at the deadline.
    pub async fn wait_for_session(
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

    /// The service's Prometheus text.
    pub async fn metrics(&self) -> String {
        self.get("/metrics").await.text().await.unwrap()
    }

    /// Polls the DLQ (without deleting it) until a message arrives.
    pub async fn wait_dead_letter(&self, within: Duration) -> lapin::message::BasicGetMessage {
        let (_conn, ch) = hub_testkit::queue_channel(&self.dlq).await;
        eventually(within, async || {
            ch.basic_get(self.dlq.as_str().into(), BasicGetOptions { no_ack: true })
                .await
                .unwrap()
                .ok_or_else(|| format!("nothing in {}", self.dlq))
        })
        .await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.running.cancel();
        // Queues and the Mongo database are per test: remove them (best effort, on a runtime-free thread).
        let queues = [self.queue.clone(), self.dlq.clone()];
        let mongo_db = self.mongo_db.clone();
        hub_testkit::block_on_own_thread(async move {
            if let Ok(conn) =
                Connection::connect(&hub_testkit::amqp_url(), ConnectionProperties::default()).await
                && let Ok(ch) = conn.create_channel().await
            {
                for q in queues {
                    let _ = ch.queue_delete(q.as_str().into(), Default::default()).await;
                }
                let _ = conn.close(0, "done".into()).await;
            }
            if let Ok(client) = mongodb::Client::with_uri_str(hub_testkit::mongodb_uri()).await {
                let _ = client.database(&mongo_db).drop().await;
            }
        });
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

pub use hub_testkit::json_body;
