//! session on the testkit's harness: each test gets its own PostgreSQL database,
//! MongoDB database and queue names, and its own server on port 0, against the real
//! servers started by scripts/backing.sh. What both the `it` and the `faults` binaries
//! use; the rest of the helpers are in `app.rs`.

use hub_testkit::{Go as _, Harness, json_body};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};
use session::Session;
use uuid::Uuid;

/// session running for one test.
pub type TestApp = hub_testkit::TestApp<Session>;

/// session's test instance, its users, tokens and requests.
pub trait SessionApp {
    /// Starts the service with the test settings.
    async fn spawn() -> TestApp {
        Self::spawn_with(&[]).await
    }
    /// Starts the service on its own databases and queue, verifying tokens with a fresh
    /// secret, retrying quickly, with test settings overridden by `extra`.
    async fn spawn_with(extra: &[(&str, &str)]) -> TestApp;
    /// Inserts a user into `"user"` and returns its id.
    async fn insert_user(&self, username: &str) -> Uuid;
    /// A token as auth (PyJWT, HS256) mints it, valid for an hour.
    fn token(&self, user_id: Uuid) -> String;
    /// A token of `claims` signed with `alg` and `secret`.
    fn token_with(&self, alg: Algorithm, secret: &str, claims: &Value) -> String;
    /// A user in `"user"` and a token for them.
    async fn user(&self, username: &str) -> (Uuid, String);
    /// `<method> {base}{path}`, with `token` as the bearer when given.
    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder;
    /// `POST /api/sessions` of `body` with `token`: status and JSON body.
    async fn post_session(&self, token: &str, body: Value) -> (u16, Value);
    /// `GET path`, with `token` when given: status and JSON body.
    async fn get_json(&self, path: &str, token: Option<&str>) -> (u16, Value);
}

impl SessionApp for TestApp {
    async fn spawn_with(extra: &[(&str, &str)]) -> TestApp {
        Harness::new("session")
            .mongo()
            .secret("JWT_SECRET")
            .queue("CONSUMER_QUEUE")
            .set("CONSUMER_RETRY_BASE_MS", "50")
            .set("CONSUMER_RETRY_MAX_MS", "500")
            .spawn(extra)
            .await
    }

    async fn insert_user(&self, username: &str) -> Uuid {
        hub_testkit::seed_user(&self.db_url, username).await
    }

    fn token(&self, user_id: Uuid) -> String {
        self.token_with(
            Algorithm::HS256,
            &self.secret,
            &json!({
                "user_id": user_id, "username": "u", "exp": chrono::Utc::now().timestamp() + 3600
            }),
        )
    }

    fn token_with(&self, alg: Algorithm, secret: &str, claims: &Value) -> String {
        jsonwebtoken::encode(
            &Header::new(alg),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    async fn user(&self, username: &str) -> (Uuid, String) {
        let id = self.insert_user(username).await;
        (id, self.token(id))
    }

    fn request(
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

    async fn post_session(&self, token: &str, body: Value) -> (u16, Value) {
        let req = self.request(Method::POST, "/api/sessions", Some(token));
        json_body(req.json(&body).go().await).await
    }

    async fn get_json(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        json_body(self.request(Method::GET, path, token).go().await).await
    }
}
