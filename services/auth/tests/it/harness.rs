//! auth on the testkit's harness: each test gets its own database, its own queue and its
//! own server on port 0, against the real PostgreSQL and RabbitMQ started by
//! scripts/backing.sh. What both the `it` and the `faults` binaries use; the rest of
//! the helpers are in `app.rs`.

use auth::Auth;
use hub_testkit::{Go as _, Harness};
use serde_json::json;
use uuid::Uuid;

/// Fast hashing for tests; the production default is exercised by the unit tests.
pub const TEST_ITERATIONS: &str = "20000";
/// Argon2id's test cost: 1 MiB, one pass (OWASP's 19 MiB, t=2 in production).
pub const TEST_ARGON2_MEMORY_KIB: &str = "1024";
/// See [`TEST_ARGON2_MEMORY_KIB`].
pub const TEST_ARGON2_ITERATIONS: &str = "1";

/// auth running for one test.
pub type TestApp = hub_testkit::TestApp<Auth>;

/// auth's test instance, users and events.
pub trait AuthApp {
    /// Starts auth with the test settings.
    async fn spawn() -> TestApp {
        Self::spawn_with(&[]).await
    }
    /// Starts auth on its own database and queue, with a fresh signing secret, fast
    /// hashing and a quick outbox relay, overridden by `extra`.
    async fn spawn_with(extra: &[(&str, &str)]) -> TestApp;
    /// Inserts a user whose password is stored as `stored_hash`.
    async fn insert_user(&self, username: &str, email: &str, stored_hash: &str) -> Uuid;
    /// Inserts a user whose password is stored in the originals' legacy format.
    async fn insert_legacy_user(&self, username: &str, email: &str, password: &str) -> Uuid;
    /// [`AuthApp::insert_legacy_user`] with the e-mail `<username>@example.com`.
    async fn legacy_user(&self, username: &str, password: &str) -> Uuid;
    /// `POST /login` of `username` and `password`.
    async fn login(&self, username: &str, password: &str) -> reqwest::Response;
    /// Every message now in the test's queue (then deleted).
    async fn take_messages(&self) -> Vec<hub_testkit::Message>;
}

impl AuthApp for TestApp {
    async fn spawn_with(extra: &[(&str, &str)]) -> TestApp {
        Harness::new("auth")
            .secret("SECRET_KEY")
            .queue("RABBITMQ_QUEUE")
            .also_queue("RABBITMQ_ACCOUNT_QUEUE", "account")
            .also_queue("RABBITMQ_USER_QUEUE", "user")
            .set("PASSWORD_PBKDF2_ITERATIONS", TEST_ITERATIONS)
            .set("PASSWORD_ARGON2_MEMORY_KIB", TEST_ARGON2_MEMORY_KIB)
            .set("PASSWORD_ARGON2_ITERATIONS", TEST_ARGON2_ITERATIONS)
            .set("OUTBOX_POLL_MS", "200")
            .set("OUTBOX_PUBLISH_TIMEOUT_MS", "2000")
            .spawn(extra)
            .await
    }

    async fn insert_user(&self, username: &str, email: &str, stored_hash: &str) -> Uuid {
        hub_testkit::seed_user_with(&self.db_url, username, email, stored_hash).await
    }

    async fn insert_legacy_user(&self, username: &str, email: &str, password: &str) -> Uuid {
        let hash = hub_identity::password::legacy_hash(password);
        self.insert_user(username, email, &hash).await
    }

    async fn legacy_user(&self, username: &str, password: &str) -> Uuid {
        let email = format!("{username}@example.com");
        self.insert_legacy_user(username, &email, password).await
    }

    async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.post("/login")
            .json(&json!({ "username": username, "password": password }))
            .go()
            .await
    }

    async fn take_messages(&self) -> Vec<hub_testkit::Message> {
        hub_testkit::take_messages(&self.queue).await
    }
}
