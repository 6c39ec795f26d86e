//! Snapshots (insta) of session's JSON replies, in the original's shape: create, update,
//! read, verify and delete, and the 403s and 404s around them.
//! Review or update them with `cargo insta review` (docs/ARCHITECTURE.md, Testing).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use crate::app::{SessionApp as _, TestApp};
use hub_testkit::snapshot::Replies;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn session_replies_match_their_snapshots() {
    let app = TestApp::spawn().await;
    let (id, token) = app.user("ana").await;
    let (other, _) = app.user("bob").await;
    let own = format!("/api/sessions/{id}");
    let others = format!("/api/sessions/{other}");
    let call = |method: Method, path: &str| app.request(method, path, Some(&token));
    let post = |data: serde_json::Value| call(Method::POST, "/api/sessions").json(&data);
    let cases = [
        (
            "verify_404_no_session",
            call(Method::GET, "/api/sessions/verify"),
        ),
        (
            "verify_403_no_token",
            app.request(Method::GET, "/api/sessions/verify", None),
        ),
        (
            "verify_401_invalid_token",
            app.request(Method::GET, "/api/sessions/verify", Some("not.a.jwt")),
        ),
        ("post_201_created", post(json!({"data": {"theme": "dark"}}))),
        (
            "post_200_updated",
            post(json!({"data": {"theme": "light"}})),
        ),
        ("get_200", call(Method::GET, &own)),
        ("verify_200", call(Method::GET, "/api/sessions/verify")),
        (
            "put_200",
            call(Method::PUT, &own).json(&json!({"data": {"text": "hi"}})),
        ),
        ("get_404_another_users", call(Method::GET, &others)),
        ("delete_200", call(Method::DELETE, &own)),
        ("delete_404", call(Method::DELETE, &own)),
        ("not_found_404", call(Method::GET, "/nope")),
    ];
    Replies::new(&app.base)
        .check(cases, |name, reply| insta::assert_snapshot!(name, reply))
        .await;
}
