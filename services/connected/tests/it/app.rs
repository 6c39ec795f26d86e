//! Test harness: each test gets its own PostgreSQL database, its own MongoDB database
//! and its own server on port 0, against the real servers started by scripts/backing.sh.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::SocketAddr;

use chrono::{DateTime, Duration, Utc};
use connected::Connected;
use mongodb::bson::{self, Document, doc};
use serde_json::{Value, json};
use sqlx::{Connection as _, PgConnection};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub struct TestApp {
    /// The service on port 0: `addr`, `base`, `http`, `running` (through `Deref`).
    pub service: hub_testkit::Spawned,
    pub db_url: String,
    pub mongo: mongodb::Database,
}

hub_testkit::test_app!(TestApp);

impl TestApp {
    /// Starts the service with test settings, overridden by `extra`.
    pub async fn spawn_with(extra: &[(&str, &str)]) -> Self {
        Self::spawn_on(hub_testkit::create_database("connected").await, extra).await
    }

    /// Starts the service on the database at `db_url`, which the test's own helpers
    /// use directly (`extra` may point the service elsewhere, e.g. through a [`Cut`]).
    pub async fn spawn_on(db_url: String, extra: &[(&str, &str)]) -> Self {
        let mongo_name = hub_testkit::mongo_database("connected");
        let mongo_uri = hub_testkit::mongodb_uri();
        let source = hub_testkit::local_source(
            &[
                ("DATABASE_URL", db_url.as_str()),
                ("MONGODB_URI", mongo_uri.as_str()),
                ("MONGODB_DATABASE", mongo_name.as_str()),
            ],
            extra,
        );
        let service = hub_testkit::spawn::<Connected>(source).await;
        let mongo = mongodb::Client::with_uri_str(&mongo_uri)
            .await
            .unwrap()
            .database(&mongo_name);
        Self {
            service,
            db_url,
            mongo,
        }
    }

    pub async fn db(&self) -> PgConnection {
        PgConnection::connect(&self.db_url).await.unwrap()
    }

    /// Inserts a row in the shared `"user"` table, as user-soap registers one.
    pub async fn insert_user(&self, username: &str) -> Uuid {
        hub_testkit::seed_user(&self.db_url, username).await
    }

    /// Inserts a raw document into `sessions`, as a session service would write it.
    pub async fn insert_session(&self, session: Document) {
        self.mongo
            .collection::<Document>("sessions")
            .insert_one(session)
            .await
            .unwrap();
    }

    /// Inserts the session document the session service writes for `user`: created
    /// `created` from now, last logged in `last_login` from now (negative: the past).
    pub async fn insert_login(&self, user: Uuid, created: Duration, last_login: Duration) {
        self.insert_session(session(user, date(created), date(last_login)))
            .await;
    }

    /// `GET /last-connection?username=<name>` (properly encoded): status and JSON body.
    pub async fn last_connection(&self, username: &str) -> (u16, Value) {
        let path = format!("/last-connection?username={}", encode(username));
        json_body(self.get(&path).await).await
    }

    /// `last_connection(username)` answers 200 with `lastConnection` `words`.
    pub async fn assert_last_connection(&self, username: &str, words: &str) {
        let (status, body) = self.last_connection(username).await;
        assert_eq!((status, &body["lastConnection"]), (200, &json!(words)));
    }

    /// `last_connection(username)` answers 404 `{"error": message}`.
    pub async fn assert_404(&self, username: &str, message: &str) {
        let (status, body) = self.last_connection(username).await;
        assert_eq!(status, 404, "{username:?}");
        assert_eq!(body, json!({ "error": message }), "{username:?}");
    }

    /// `GET /last-connection<query>` answers 400 `{"error": message}`.
    pub async fn assert_400(&self, query: &str, message: &str) {
        let path = format!("/last-connection{query}");
        let (status, body) = json_body(self.get(&path).await).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(body, json!({ "error": message }), "{path}");
    }
}

impl Drop for TestApp {
    /// Drops the test's MongoDB database (PostgreSQL ones are dropped by scripts/test.sh),
    /// even when the test fails.
    fn drop(&mut self) {
        let name = self.mongo.name().to_owned();
        hub_testkit::block_on_own_thread(async move {
            if let Ok(client) = mongodb::Client::with_uri_str(hub_testkit::mongodb_uri()).await {
                let _ = client.database(&name).drop().await;
            }
        });
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

pub use hub_testkit::json_body;

/// A BSON date `offset` away from now (negative: the past).
pub fn date(offset: Duration) -> bson::DateTime {
    bson::DateTime::from_millis((Utc::now() + offset).timestamp_millis())
}

/// The same instant as RFC 3339 with milliseconds, as the service writes it.
pub fn rfc3339(d: bson::DateTime) -> String {
    DateTime::<Utc>::from_timestamp_millis(d.timestamp_millis())
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
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

/// A TCP forwarder to a real server that a test can cut and restore, so the service
/// sees that server go away without stopping the shared one (which other tests use).
pub struct Cut {
    pub port: u16,
    target: SocketAddr,
    stop: CancellationToken,
}

impl Cut {
    /// Forwards a fresh local port to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        Self::listen(target, 0).await
    }

    async fn listen(target: SocketAddr, port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = CancellationToken::new();
        let token = stop.clone();
        tokio::spawn(async move {
            loop {
                let (mut inbound, _) = tokio::select! {
                    () = token.cancelled() => return,
                    accepted = listener.accept() => accepted.unwrap(),
                };
                let token = token.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        () = token.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    }
                });
            }
        });
        Self { port, target, stop }
    }

    /// Closes the port and every connection through it (like a server that died).
    pub fn cut(&self) {
        self.stop.cancel();
    }

    /// Forwards the same port again (like the server coming back).
    pub async fn restore(self) -> Self {
        Self::listen(self.target, self.port).await
    }
}

/// `url` with its `host:port` replaced by `127.0.0.1:<port>`, and the original address.
pub fn via_local_port(url: &str, port: u16) -> (String, SocketAddr) {
    let at = url.find('@').unwrap() + 1;
    let end = at + url[at..].find('/').unwrap();
    let target = std::net::ToSocketAddrs::to_socket_addrs(&url[at..end])
        .unwrap()
        .next()
        .unwrap();
    (
        format!("{}127.0.0.1:{port}{}", &url[..at], &url[end..]),
        target,
    )
}
