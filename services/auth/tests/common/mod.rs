//! Test harness: each test gets its own database, its own queue and its own server
//! on port 0, against the real PostgreSQL and RabbitMQ started by scripts/backing.sh.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use hub_runtime::service::ServiceConfig as _;
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use auth::{App, Config};
use serde_json::Value;
use sqlx::{Connection as _, PgConnection};
use uuid::Uuid;

/// Fast hashing for tests; the production default is exercised by the unit tests.
pub const TEST_ITERATIONS: &str = "20000";

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub db_url: String,
    pub queue: String,
    pub secret: String,
    pub http: reqwest::Client,
    pub running: hub_testkit::Running,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Starts the service with test settings, overridden by `extra`.
    pub async fn spawn_with(extra: &[(&str, &str)]) -> Self {
        let db_url = hub_testkit::create_database("auth").await;
        let queue = hub_testkit::queue_name("auth-events");
        let secret = format!("test-secret-{}", Uuid::new_v4().simple());
        let source = hub_testkit::config_source(
            &[
                ("DATABASE_URL", db_url.as_str()),
                ("SECRET_KEY", secret.as_str()),
                ("AMQP_URL", &hub_testkit::amqp_url()),
                ("RABBITMQ_QUEUE", queue.as_str()),
                ("HOST", "127.0.0.1"),
                ("PORT", "0"),
                ("PASSWORD_PBKDF2_ITERATIONS", TEST_ITERATIONS),
                ("OUTBOX_POLL_MS", "200"),
                ("OUTBOX_PUBLISH_TIMEOUT_MS", "2000"),
            ],
            extra,
        );
        let config = Config::from_source(&source).expect("valid test config");
        let app = App::build(config).await.expect("app builds");
        let addr = app.local_addr().unwrap();
        let running = hub_testkit::Running::start(|token| app.run(token));
        Self {
            addr,
            base: format!("http://{addr}"),
            db_url,
            queue,
            secret,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            running,
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

    pub async fn insert_user(&self, username: &str, email: &str, stored_hash: &str) -> Uuid {
        let id = Uuid::new_v4();
        let dni = &Uuid::new_v4().simple().to_string()[..12];
        sqlx::query(
            r#"INSERT INTO "user" (id, username, password, first_name, last_name, dni, email, city)
               VALUES ($1, $2, $3, 'Ana', 'Peña', $4, $5, 'Málaga')"#,
        )
        .bind(id)
        .bind(username)
        .bind(stored_hash)
        .bind(dni)
        .bind(email)
        .execute(&mut self.db().await)
        .await
        .unwrap();
        id
    }

    pub async fn stored_hash(&self, id: Uuid) -> String {
        sqlx::query_scalar(r#"SELECT password FROM "user" WHERE id = $1"#)
            .bind(id)
            .fetch_one(&mut self.db().await)
            .await
            .unwrap()
    }

    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/login", self.base))
            .json(&serde_json::json!({ "username": username, "password": password }))
            .send()
            .await
            .unwrap()
    }

    pub async fn token_for(&self, username: &str, password: &str) -> String {
        let resp = self.login(username, password).await;
        assert_eq!(resp.status(), 200);
        resp.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    /// Requests to `route` being served now (the `http_requests_in_flight` gauge).
    pub async fn in_flight(&self, route: &str) -> f64 {
        let needle = format!("http_requests_in_flight{{route=\"{route}\"}} ");
        let text = self.get("/metrics").await.text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(&needle))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
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

    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.running.stop().await
    }
}

/// Polls `probe` until it answers `Ok`; once `within` has passed, fails with its last
/// `Err`.
pub async fn wait_for(within: Duration, mut probe: impl AsyncFnMut() -> Result<(), String>) {
    let deadline = Instant::now() + within;
    loop {
        match probe().await {
            Ok(()) => return,
            Err(why) => assert!(Instant::now() < deadline, "after {within:?}: {why}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
