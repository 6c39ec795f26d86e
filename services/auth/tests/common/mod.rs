//! Test harness: each test gets its own database, its own queue and its own server
//! on port 0, against the real PostgreSQL and RabbitMQ started by scripts/backing.sh.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    collections::HashMap,
    net::SocketAddr,
    time::{Duration, Instant},
};

use auth::{App, Config};
use lapin::{
    Connection, ConnectionProperties,
    options::{BasicGetOptions, QueueDeclareOptions, QueueDeleteOptions},
    types::FieldTable,
};
use serde_json::Value;
use sqlx::{Connection as _, PgConnection};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Fast hashing for tests; the production default is exercised by the unit tests.
pub const TEST_ITERATIONS: &str = "20000";

pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests through scripts/test.sh (it starts the backing servers)")
    })
}

pub fn amqp_url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A fresh, empty database; returns its URL.
pub async fn create_database(prefix: &str) -> String {
    let admin = env("DATABASE_URL");
    let name = format!("test_{prefix}_{}", Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("connect to the admin database");
    // The name is ours (prefix + UUID), never user input.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap();
    format!("{base}/{name}")
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub db_url: String,
    pub queue: String,
    pub secret: String,
    pub http: reqwest::Client,
    pub shutdown: CancellationToken,
    pub handle: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Starts the service with test settings, overridden by `extra`.
    pub async fn spawn_with(extra: &[(&str, &str)]) -> Self {
        let db_url = create_database("auth").await;
        let queue = format!("auth-events-test-{}", Uuid::new_v4().simple());
        let secret = format!("test-secret-{}", Uuid::new_v4().simple());
        let mut vars: HashMap<String, String> = [
            ("DATABASE_URL", db_url.as_str()),
            ("SECRET_KEY", secret.as_str()),
            ("AMQP_URL", &amqp_url()),
            ("RABBITMQ_QUEUE", queue.as_str()),
            ("HOST", "127.0.0.1"),
            ("PORT", "0"),
            ("PASSWORD_PBKDF2_ITERATIONS", TEST_ITERATIONS),
            ("OUTBOX_POLL_MS", "200"),
            ("OUTBOX_PUBLISH_TIMEOUT_MS", "2000"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (k, v) in extra {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        let source = move |k: &str| vars.get(k).cloned();
        let config = Config::from_source(&source).expect("valid test config");
        let app = App::build(config).await.expect("app builds");
        let addr = app.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(app.run(shutdown.clone()));
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
            shutdown,
            handle: Some(handle),
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

    pub async fn outbox_pending(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .fetch_one(&mut self.db().await)
            .await
            .unwrap()
    }

    /// Polls until every outbox row has been confirmed by the broker.
    pub async fn wait_outbox_drained(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let pending = self.outbox_pending().await;
            if pending == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{pending} outbox rows still pending after {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every message now in this test's queue (drains it). Call after
    /// `wait_outbox_drained`: then nothing more is on its way.
    pub async fn take_messages(&self) -> Vec<Message> {
        take_messages(&self.queue).await
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let handle = self.handle.take().unwrap();
        tokio::time::timeout(Duration::from_secs(15), handle)
            .await
            .expect("shutdown within 15 s")
            .unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

#[derive(Debug, Clone)]
pub struct Message {
    pub body: Value,
    pub message_id: Option<String>,
    pub correlation_id: Option<String>,
    pub content_type: Option<String>,
    pub delivery_mode: Option<u8>,
}

impl Message {
    pub fn event(&self) -> &str {
        self.body["event"].as_str().unwrap_or_default()
    }
}

pub async fn take_messages(queue: &str) -> Vec<Message> {
    let conn = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let opts = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    ch.queue_declare(queue.into(), opts, FieldTable::default())
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(msg) = ch
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
    {
        let props = &msg.delivery.properties;
        out.push(Message {
            body: serde_json::from_slice(&msg.delivery.data).unwrap(),
            message_id: props.message_id().as_ref().map(|s| s.to_string()),
            correlation_id: props.correlation_id().as_ref().map(|s| s.to_string()),
            content_type: props.content_type().as_ref().map(|s| s.to_string()),
            delivery_mode: *props.delivery_mode(),
        });
    }
    let _ = ch
        .queue_delete(queue.into(), QueueDeleteOptions::default())
        .await;
    let _ = conn.close(0, "done".into()).await;
    out
}

/// Decodes `token` with PyJWT, an independent implementation, using `secret`.
pub fn pyjwt_decode(token: &str, secret: &str) -> Result<Value, String> {
    let python = env("HUB_PYTHON");
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import jwt, json, os, sys; \
             print(json.dumps(jwt.decode(sys.argv[1], os.environ['JWT_TEST_SECRET'], algorithms=['HS256'])))",
            token,
        ])
        .env("JWT_TEST_SECRET", secret)
        .output()
        .expect("run python with PyJWT");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}
