//! Logins whose clients vanish mid-request must not leave a pooled connection inside a
//! transaction.
//!
//! sqlx 0.9's `begin()`, dropped between sending `BEGIN` and reading its answer, hands
//! the connection back to the pool with the server-side transaction still open; the
//! next borrower then runs inside it (PostgreSQL logs `there is already a transaction
//! in progress`). Only clients that hang up at random moments reach that window, so
//! this test makes many of them.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use crate::app::{AuthApp as _, TestApp};
use hub_testkit::{Go as _, eventually};
use tokio::task::JoinSet;

const USERS: usize = 8;
const CLIENTS: usize = 64;
const ROUNDS: usize = 20;
/// Clients hang up after 0..=this many milliseconds.
const MAX_HANG_UP_MS: u64 = 30;
const SETTLE: Duration = Duration::from_secs(10);

#[tokio::test]
async fn logins_abandoned_mid_request_leave_no_connection_inside_a_transaction() {
    let app = TestApp::spawn_with(&[
        // The cheapest hash: request time is then mostly database round trips, which
        // is where the hang-ups must land.
        ("PASSWORD_HASH", "pbkdf2-sha256"),
        ("PASSWORD_PBKDF2_ITERATIONS", "1000"),
        // Every request comes from 127.0.0.1 and most fail: no 429 may cut them short
        // before the transaction.
        ("LOGIN_MAX_FAILURES_PER_USER", "1000000"),
        ("LOGIN_MAX_FAILURES_PER_ADDRESS", "1000000"),
        // A relay that cannot reach its broker never borrows a pooled connection; a
        // working one would commit a leaked transaction with its own `BEGIN`/`COMMIT`
        // and hide the defect from this test (not from production).
        ("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f"),
    ])
    .await;
    let mut users = Vec::new();
    for i in 0..USERS {
        let (name, password) = (format!("cx{i}"), format!("pw-{i}"));
        app.legacy_user(&name, &password).await;
        users.push((name, password));
    }

    for round in 0..ROUNDS {
        let mut clients = JoinSet::new();
        for c in 0..CLIENTS {
            let (name, password) = &users[c % USERS];
            let password = if c % 2 == 0 {
                password.as_str()
            } else {
                "wrong"
            };
            let body = serde_json::json!({ "username": name, "password": password }).to_string();
            let request = hub_testkit::raw_post(app.addr, "/login", "application/json", &body);
            clients.spawn(hub_testkit::send_and_hang_up(
                app.addr,
                request,
                MAX_HANG_UP_MS,
            ));
        }
        clients.join_all().await;
        wait_no_login_in_flight(&app).await;
        assert_no_connection_left_in_a_transaction(&app, round).await;
    }

    // Every pooled connection still works and carries no one else's transaction.
    let mut burst = JoinSet::new();
    for (name, password) in users.iter().cycle().take(32) {
        let body = serde_json::json!({ "username": name, "password": password });
        let request = app.post("/login").json(&body);
        burst.spawn(async move { request.go().await.status() });
    }
    for status in burst.join_all().await {
        assert_eq!(status, 200);
    }
    assert_no_connection_left_in_a_transaction(&app, ROUNDS).await;
}

/// Waits until no `/login` handler runs any more: a running one could borrow a leaked
/// connection and end its transaction, hiding the leak.
async fn wait_no_login_in_flight(app: &TestApp) {
    eventually(SETTLE, async || match app.in_flight("/login").await {
        n if n > 0.0 => Err(format!("{n} logins still in flight")),
        _ => Ok(()),
    })
    .await;
}

/// See [`hub_testkit::assert_no_connection_left_in_a_transaction`].
async fn assert_no_connection_left_in_a_transaction(app: &TestApp, round: usize) {
    let mut db = app.db().await;
    hub_testkit::assert_no_connection_left_in_a_transaction(
        &mut db,
        SETTLE,
        &format!("round {round}"),
    )
    .await;
}
