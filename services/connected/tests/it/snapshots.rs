//! Snapshots (insta) of connected's JSON replies, in the original's shape: a last
//! connection, and the 400s and 404s.
//! Review or update them with `cargo insta review` (docs/ARCHITECTURE.md, Testing).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use crate::app::{ConnectedApp as _, TestApp};
use chrono::Duration;
use hub_testkit::snapshot::Replies;
use reqwest::Method;

#[tokio::test]
async fn connected_replies_match_their_snapshots() {
    let app = TestApp::spawn().await;
    let ana = app.insert_user("ana").await;
    app.insert_user("bea").await;
    // Days, not seconds: the words stay the same however slow the run.
    app.insert_login(ana, Duration::days(-30), Duration::days(-3))
        .await;
    let get = |query: &str| app.req(Method::GET, &format!("/last-connection{query}"));
    let cases = [
        ("last_connection_200", get("?username=ana")),
        ("missing_username_400", get("")),
        ("repeated_username_400", get("?username=ana&username=bea")),
        ("unknown_user_404", get("?username=nobody")),
        ("no_sessions_404", get("?username=bea")),
        ("not_found_404", app.req(Method::GET, "/nope")),
    ];
    Replies::new(&app.base)
        .check(cases, |name, reply| insta::assert_snapshot!(name, reply))
        .await;
}
