//! Clients that hang up with registrations in flight (a load test stopped, a browser
//! closed) leave no pooled connection inside a transaction: a registration's database
//! work runs to completion whatever happens to its request (`hub_db::transaction`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::app::{
    SoapApp as _, TEXT_XML, TestApp, legacy_envelope, pairs, register_request, user_fields,
};
use hub_testkit::Go as _;
use sqlx::PgConnection;
use tracing::{
    Event, Level, Metadata,
    field::{Field, Visit},
    span::{Attributes, Id, Record},
};
use uuid::Uuid;

/// Clients at once in a round; each sends a whole registration, then hangs up.
const CLIENTS: usize = 64;
/// Rounds of them.
const ROUNDS: usize = 4;

/// Records PostgreSQL's "there is already a transaction in progress" / "there is no
/// transaction in progress" warnings, which sqlx logs under `sqlx::postgres::notice`.
/// The app runs in this test's process, and this binary holds this one test, so a
/// process-wide subscriber sees exactly this test's connections.
#[derive(Clone, Default)]
struct TransactionNotices(Arc<Mutex<Vec<String>>>);

impl TransactionNotices {
    fn install() -> Self {
        let notices = Self::default();
        tracing::subscriber::set_global_default(notices.clone()).unwrap();
        notices
    }

    fn seen(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

impl tracing::Subscriber for TransactionNotices {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == "sqlx::postgres::notice" && *metadata.level() <= Level::WARN
    }

    fn event(&self, event: &Event<'_>) {
        struct Message(String);
        impl Visit for Message {
            fn record_debug(&mut self, _: &Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{value:?}"));
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        if message.0.contains("transaction in progress") {
            self.0.lock().unwrap().push(message.0);
        }
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// Sends one whole registration, hangs up after 0-30 ms (random).
async fn register_and_hang_up(addr: SocketAddr, tag: String) {
    let body = legacy_envelope(&pairs(&user_fields(&tag)));
    let request = hub_testkit::raw_post(addr, "/register", TEXT_XML, &body);
    hub_testkit::send_and_hang_up(addr, request, 30).await;
}

/// Polls until no connection of this test's database is idle in a transaction.
async fn no_connection_stays_in_a_transaction(db: &mut PgConnection) {
    hub_testkit::assert_no_connection_left_in_a_transaction(
        db,
        Duration::from_secs(10),
        "after the hang-ups",
    )
    .await;
}

#[tokio::test]
async fn clients_hanging_up_mid_registration_leave_no_connection_in_a_transaction() {
    let notices = TransactionNotices::install();
    // Cheap hashing and a small pool: many registrations reach the database at once and
    // share its connections, so many hang-ups land inside a transaction's statements.
    let app = TestApp::spawn_with(&[
        ("DB_MAX_CONNECTIONS", "4"),
        ("PASSWORD_HASH", "pbkdf2-sha256"),
        ("PASSWORD_PBKDF2_ITERATIONS", "1000"),
        ("HASHING_CONCURRENCY", "8"),
    ])
    .await;
    let run = &Uuid::new_v4().simple().to_string()[..6];
    for round in 0..ROUNDS {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| tokio::spawn(register_and_hang_up(app.addr, format!("{run}r{round}c{i}"))))
            .collect();
        for client in clients {
            client.await.unwrap();
        }
    }

    // Registrations whose clients left still finish, so a transaction may legitimately
    // be open for a moment: a connection stuck in one is one that stays so.
    let mut db = app.db().await;
    no_connection_stays_in_a_transaction(&mut db).await;
    // One statement, one snapshot: registrations may still be committing.
    let (users, events): (i64, i64) = sqlx::query_as(
        r#"SELECT (SELECT count(*) FROM "user"),
                  (SELECT count(*) FROM outbox WHERE event = 'UserRegistered')"#,
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(users, events, "a user without its event, or the reverse");

    // The pool is healthy: a burst of ordinary registrations all succeed.
    let burst: Vec<_> = (0..16)
        .map(|i| {
            let fields = user_fields(&format!("{run}after{i}"));
            let request = register_request(&app.http, &app.base, &fields);
            tokio::spawn(async move { request.go().await.status().as_u16() })
        })
        .collect();
    for (i, request) in burst.into_iter().enumerate() {
        assert_eq!(
            request.await.unwrap(),
            200,
            "registration {i} after the hang-ups"
        );
    }
    // A connection the hang-ups left in a transaction may show only once reused.
    no_connection_stays_in_a_transaction(&mut db).await;
    // Reusing such a connection makes PostgreSQL warn, whoever reused it.
    assert_eq!(notices.seen(), Vec::<String>::new());
}
