//! auth's requests only the `it` binary uses ([`AuthHelpers`]); the harness and what
//! the `faults` binary shares are in `harness.rs`.

use hub_testkit::{Go as _, json_body};
use jsonwebtoken::{EncodingKey, Header};
use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

pub use crate::harness::{
    AuthApp, TEST_ARGON2_ITERATIONS, TEST_ARGON2_MEMORY_KIB, TEST_ITERATIONS, TestApp,
};

/// auth's requests and rows, on the test's instance.
pub trait AuthHelpers {
    /// The password hash stored for user `id`.
    async fn stored_hash(&self, id: Uuid) -> String;
    /// `GET /profile` with `token` as the bearer: status and JSON body.
    async fn profile(&self, token: &str) -> (u16, Value);
    /// The token of a successful login.
    async fn token_for(&self, username: &str, password: &str) -> String;
}

impl AuthHelpers for TestApp {
    async fn stored_hash(&self, id: Uuid) -> String {
        sqlx::query_scalar(r#"SELECT password FROM "user" WHERE id = $1"#)
            .bind(id)
            .fetch_one(&mut self.db().await)
            .await
            .unwrap()
    }

    async fn profile(&self, token: &str) -> (u16, Value) {
        let req = self.req(Method::GET, "/profile").bearer_auth(token);
        json_body(req.go().await).await
    }

    async fn token_for(&self, username: &str, password: &str) -> String {
        let resp = self.login(username, password).await;
        assert_eq!(resp.status(), 200);
        resp.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
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
