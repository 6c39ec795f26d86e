//! Test harness: each test gets its own database, its own queue and its own server
//! on port 0, against the real PostgreSQL and RabbitMQ started by scripts/backing.sh.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use auth::Auth;
use hub_testkit::{Go as _, json_body};
use jsonwebtoken::{EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{Connection as _, PgConnection};
use uuid::Uuid;

/// Fast hashing for tests; the production default is exercised by the unit tests.
pub const TEST_ITERATIONS: &str = "20000";

pub struct TestApp {
    /// The service on port 0: `addr`, `base`, `http`, `running` (through `Deref`).
    pub service: hub_testkit::Spawned,
    pub db_url: String,
    pub queue: String,
    pub secret: String,
}

hub_testkit::test_app!(TestApp);

impl TestApp {
    /// Starts the service with test settings, overridden by `extra`.
    pub async fn spawn_with(extra: &[(&str, &str)]) -> Self {
        let db_url = hub_testkit::create_database("auth").await;
        let queue = hub_testkit::queue_name("auth-events");
        let secret = format!("test-secret-{}", Uuid::new_v4().simple());
        Self::spawn_on(db_url, queue, secret, extra).await
    }

    /// A second instance sharing this one's database, queue and key, as two replicas
    /// behind a load balancer.
    pub async fn spawn_beside(&self, extra: &[(&str, &str)]) -> Self {
        Self::spawn_on(
            self.db_url.clone(),
            self.queue.clone(),
            self.secret.clone(),
            extra,
        )
        .await
    }

    async fn spawn_on(
        db_url: String,
        queue: String,
        secret: String,
        extra: &[(&str, &str)],
    ) -> Self {
        let source = hub_testkit::local_source(
            &[
                ("DATABASE_URL", db_url.as_str()),
                ("SECRET_KEY", secret.as_str()),
                ("AMQP_URL", &hub_testkit::amqp_url()),
                ("RABBITMQ_QUEUE", queue.as_str()),
                ("PASSWORD_PBKDF2_ITERATIONS", TEST_ITERATIONS),
                ("OUTBOX_POLL_MS", "200"),
                ("OUTBOX_PUBLISH_TIMEOUT_MS", "2000"),
            ],
            extra,
        );
        let service = hub_testkit::spawn::<Auth>(source).await;
        Self {
            service,
            db_url,
            queue,
            secret,
        }
    }

    pub async fn db(&self) -> PgConnection {
        PgConnection::connect(&self.db_url).await.unwrap()
    }

    /// Inserts a user whose password is stored in the originals' legacy format.
    pub async fn insert_legacy_user(&self, username: &str, email: &str, password: &str) -> Uuid {
        self.insert_user(
            username,
            email,
            &hub_identity::password::legacy_hash(password),
        )
        .await
    }

    /// [`TestApp::insert_legacy_user`] with the e-mail `<username>@example.com`.
    pub async fn legacy_user(&self, username: &str, password: &str) -> Uuid {
        let email = format!("{username}@example.com");
        self.insert_legacy_user(username, &email, password).await
    }

    pub async fn insert_user(&self, username: &str, email: &str, stored_hash: &str) -> Uuid {
        hub_testkit::seed_user_with(&self.db_url, username, email, stored_hash).await
    }

    pub async fn stored_hash(&self, id: Uuid) -> String {
        sqlx::query_scalar(r#"SELECT password FROM "user" WHERE id = $1"#)
            .bind(id)
            .fetch_one(&mut self.db().await)
            .await
            .unwrap()
    }

    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.post("/login")
            .json(&json!({ "username": username, "password": password }))
            .go()
            .await
    }

    /// `GET /profile` with `token` as the bearer: status and JSON body.
    pub async fn profile(&self, token: &str) -> (u16, Value) {
        let req = self.req(Method::GET, "/profile").bearer_auth(token);
        json_body(req.go().await).await
    }

    pub async fn token_for(&self, username: &str, password: &str) -> String {
        let resp = self.login(username, password).await;
        assert_eq!(resp.status(), 200);
        resp.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn outbox_pending(&self) -> i64 {
        hub_testkit::outbox_pending(&self.db_url).await
    }

    pub async fn wait_outbox_drained(&self, within: Duration) {
        hub_testkit::wait_outbox_drained(&self.db_url, within).await
    }

    pub async fn take_messages(&self) -> Vec<hub_testkit::Message> {
        hub_testkit::take_messages(&self.queue).await
    }
}

/// An HS256 token of `claims`, signed with `secret`.
pub fn sign(secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}
