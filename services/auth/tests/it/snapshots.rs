//! Snapshots (insta) of auth's JSON replies that clients parse: login, profile and
//! refresh, their errors, and the framework's 404 and 405.
//! Review or update them with `cargo insta review` (docs/ARCHITECTURE.md, Testing).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use crate::app::{AuthApp as _, AuthHelpers as _, TestApp};
use hub_testkit::snapshot::Replies;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn auth_replies_match_their_snapshots() {
    let app = TestApp::spawn().await;
    app.legacy_user("ana", "pw").await;
    let token = app.token_for("ana", "pw").await;
    let login = |body: &str, content_type: &str| {
        app.post("/login")
            .header("content-type", content_type)
            .body(body.to_owned())
    };
    let profile = |authorization: &str| {
        app.req(Method::GET, "/profile")
            .header("authorization", authorization)
    };
    let cases = [
        (
            "login_200",
            login(r#"{"username":"ana","password":"pw"}"#, "application/json"),
        ),
        (
            "login_401_wrong_password",
            login(r#"{"username":"ana","password":"no"}"#, "application/json"),
        ),
        (
            "login_400_malformed",
            login(r#"{"username":"#, "application/json"),
        ),
        (
            "login_400_missing_password",
            login(r#"{"username":"ana"}"#, "application/json"),
        ),
        (
            "login_415",
            login(r#"{"username":"ana","password":"pw"}"#, "text/plain"),
        ),
        ("profile_200", profile(&format!("Bearer {token}"))),
        ("profile_403_no_token", app.req(Method::GET, "/profile")),
        ("profile_401_invalid_token", profile("Bearer not.a.jwt")),
        (
            "refresh_401",
            app.post("/token/refresh")
                .json(&json!({"refresh_token": "nope"})),
        ),
        ("not_found_404", app.req(Method::GET, "/nope")),
        ("method_not_allowed_405", app.req(Method::GET, "/login")),
    ];
    Replies::new(&app.base)
        .header("cache-control")
        .header("allow")
        .filter(
            r#""refresh_token":"[A-Za-z0-9_-]+""#,
            r#""refresh_token":"[refresh-token]""#,
        )
        .check(cases, |name, reply| insta::assert_snapshot!(name, reply))
        .await;
}
