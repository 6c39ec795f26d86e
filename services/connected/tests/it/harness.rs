//! connected on the testkit's harness: each test gets its own PostgreSQL database, its
//! own MongoDB database and its own server on port 0, against the real servers started
//! by scripts/backing.sh. What both the `it` and the `faults` binaries use; the rest of
//! the helpers are in `app.rs`.

use chrono::{Duration, Utc};
use connected::Connected;
use hub_testkit::{Harness, json_body};
use mongodb::bson::{self, Document, doc};
use serde_json::{Value, json};
use uuid::Uuid;

/// connected running for one test.
pub type TestApp = hub_testkit::TestApp<Connected>;

/// connected's harness: PostgreSQL and MongoDB of the test's own.
pub fn harness() -> Harness {
    Harness::new("connected").mongo()
}

/// connected's test instance, its users and their sessions.
pub trait ConnectedApp {
    /// Starts the service with the test settings.
    async fn spawn() -> TestApp {
        harness().spawn(&[]).await
    }
    /// Inserts a row in the shared `"user"` table, as user-soap registers one.
    async fn insert_user(&self, username: &str) -> Uuid;
    /// Inserts a raw document into `sessions`, as a session service would write it.
    async fn insert_session(&self, session: Document);
    /// Inserts the session document the session service writes for `user`: created
    /// `created` from now, last logged in `last_login` from now (negative: the past).
    async fn insert_login(&self, user: Uuid, created: Duration, last_login: Duration);
    /// `GET /last-connection?username=<name>` (properly encoded): status and JSON body.
    async fn last_connection(&self, username: &str) -> (u16, Value);
    /// `last_connection(username)` answers 200 with `lastConnection` `words`.
    async fn assert_last_connection(&self, username: &str, words: &str);
}

impl ConnectedApp for TestApp {
    async fn insert_user(&self, username: &str) -> Uuid {
        hub_testkit::seed_user(&self.db_url, username).await
    }

    async fn insert_session(&self, session: Document) {
        self.mongo()
            .collection::<Document>("sessions")
            .insert_one(session)
            .await
            .unwrap();
    }

    async fn insert_login(&self, user: Uuid, created: Duration, last_login: Duration) {
        self.insert_session(session(user, date(created), date(last_login)))
            .await;
    }

    async fn last_connection(&self, username: &str) -> (u16, Value) {
        let path = format!("/last-connection?username={}", encode(username));
        json_body(self.get(&path).await).await
    }

    async fn assert_last_connection(&self, username: &str, words: &str) {
        let (status, body) = self.last_connection(username).await;
        assert_eq!((status, &body["lastConnection"]), (200, &json!(words)));
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A BSON date `offset` away from now (negative: the past).
pub fn date(offset: Duration) -> bson::DateTime {
    bson::DateTime::from_millis((Utc::now() + offset).timestamp_millis())
}

/// A session document as the session service writes it at a login.
pub fn session(user: Uuid, created: bson::DateTime, last_login: bson::DateTime) -> Document {
    doc! {
        "userId": user.to_string(),
        "data": {},
        "createdAt": created,
        "updatedAt": last_login,
        "lastLoginAt": last_login,
        "__v": 0,
    }
}
