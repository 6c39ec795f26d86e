//! The connected service's HTTP contract, against real PostgreSQL and MongoDB.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::{DateTime, Duration, Utc};
use std::time::Instant;

use crate::app::{
    ConnectedApp as _, ConnectedHelpers as _, Cut, TestApp, date, json_body, rfc3339, session,
    via_local_port,
};
use hub_testkit::Go as _;
use mongodb::bson::doc;
use serde_json::json;

/// The paths the OpenAPI document lists: every route connected serves, sorted.
const ROUTES: [&str; 3] = ["/connected/health", "/health", "/last-connection"];

#[tokio::test]
async fn a_session_just_logged_in_reads_a_few_seconds_ago_with_the_users_id() {
    let app = TestApp::spawn().await;
    let id = app.insert_user("ana").await;
    let login = date(Duration::zero());
    app.insert_session(session(id, date(Duration::days(-3)), login))
        .await;

    let (status, body) = app.last_connection("ana").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["userId"], json!(id.to_string()));
    assert_eq!(body["lastConnection"], json!("a few seconds ago"));
    let at = body["lastConnectionAt"].as_str().unwrap();
    assert_eq!(at, rfc3339(login));
    let parsed = DateTime::parse_from_rfc3339(at).expect("RFC 3339");
    assert!(
        (Utc::now() - parsed.with_timezone(&Utc))
            .num_seconds()
            .abs()
            < 10
    );
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["userId", "lastConnection", "lastConnectionAt"]
    );
}

#[tokio::test]
async fn the_most_recent_login_wins_over_older_documents_and_the_first_created_at() {
    let app = TestApp::spawn().await;
    let id = app.insert_user("bea").await;
    let other = app.insert_user("carl").await;
    let latest = date(Duration::minutes(-5));
    // The first session ever (the original reported its createdAt), a legacy document
    // touched an hour ago, and another user's login just now.
    app.insert_session(session(id, date(Duration::days(-400)), latest))
        .await;
    app.insert_session(doc! {
        "userId": id.to_string(), "data": {},
        "createdAt": date(Duration::days(-2)), "updatedAt": date(Duration::hours(-1)), "__v": 0,
    })
    .await;
    app.insert_session(doc! {
        "userId": id.to_string(), "data": {}, "createdAt": date(Duration::days(-10)),
        "updatedAt": date(Duration::days(-1)), "lastLoginAt": date(Duration::hours(-2)),
    })
    .await;
    app.insert_login(other, Duration::days(-1), Duration::zero())
        .await;

    let (status, body) = app.last_connection("bea").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["userId"], json!(id.to_string()));
    assert_eq!(body["lastConnection"], json!("5 minutes ago"));
    assert_eq!(body["lastConnectionAt"], json!(rfc3339(latest)));
}

#[tokio::test]
async fn a_legacy_session_reads_its_updated_at_and_one_with_only_created_at_reads_that() {
    let app = TestApp::spawn().await;
    let legacy = app.insert_user("dora").await;
    let bare = app.insert_user("eli").await;
    // Written by the original session service: created at the first login, updated at
    // each later one; no lastLoginAt.
    app.insert_session(doc! {
        "userId": legacy.to_string(), "data": {"text": "hi"},
        "createdAt": date(Duration::days(-30)), "updatedAt": date(Duration::hours(-3)), "__v": 0,
    })
    .await;
    app.insert_session(doc! { "userId": bare.to_string(), "createdAt": date(Duration::days(-12)) })
        .await;

    app.assert_last_connection("dora", "3 hours ago").await;
    app.assert_last_connection("eli", "12 days ago").await;
}

#[tokio::test]
async fn a_timestamp_in_the_future_reads_in_words() {
    let app = TestApp::spawn().await;
    let id = app.insert_user("fay").await;
    let ahead = date(Duration::hours(3));
    app.insert_session(session(id, ahead, ahead)).await;
    app.assert_last_connection("fay", "in 3 hours").await;
}

#[tokio::test]
async fn a_missing_or_empty_username_gives_400_as_the_original() {
    let app = TestApp::spawn().await;
    for query in ["", "?username=", "?user=ana", "?username[]=ana"] {
        app.assert_400(query, "Username must be provided.").await;
    }
}

#[tokio::test]
async fn a_repeated_username_gives_400_instead_of_guessing_which_one() {
    let app = TestApp::spawn().await;
    app.insert_user("gus").await;
    for query in [
        "?username=gus&username=gus",
        "?username=gus&username=nobody",
        "?username=&username=gus",
    ] {
        app.assert_400(query, "Username must be provided only once.")
            .await;
    }
}

#[tokio::test]
async fn an_unknown_user_gives_404_user_not_found() {
    let app = TestApp::spawn().await;
    app.insert_user("hal").await;
    for name in ["nobody", "HAL", "hal ", " "] {
        app.assert_404(name, "User not found.").await;
    }
}

#[tokio::test]
async fn a_user_without_a_timestamped_session_gives_404_no_sessions() {
    let app = TestApp::spawn().await;
    let id = app.insert_user("ivy").await;
    let other = app.insert_user("jon").await;
    app.insert_login(other, Duration::days(-1), Duration::zero())
        .await;
    let no_sessions = "No sessions found for this user.";
    app.assert_404("ivy", no_sessions).await;

    // A document without any date (no session service writes one) is not a login.
    app.insert_session(doc! { "userId": id.to_string(), "data": {}, "createdAt": "yesterday" })
        .await;
    app.assert_404("ivy", no_sessions).await;
}

#[tokio::test]
async fn sql_injection_looking_usernames_give_404_and_change_nothing() {
    let app = TestApp::spawn().await;
    let id = app.insert_user("kim").await;
    app.insert_login(id, Duration::days(-1), Duration::minutes(-10))
        .await;
    for name in [
        "' OR '1'='1",
        "kim' --",
        "kim'; DROP TABLE \"user\"; --",
        "kim\0",
        "\u{0}",
        "kim%",
        "%",
        "_im",
        "{\"$ne\": null}",
        "ｋｉｍ",
        &"k".repeat(10_000),
    ] {
        app.assert_404(name, "User not found.").await;
    }
    let users: i64 = sqlx::query_scalar(r#"SELECT count(*) FROM "user""#)
        .fetch_one(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(users, 1);
    app.assert_last_connection("kim", "10 minutes ago").await;
}

#[tokio::test]
async fn a_query_that_fails_gives_the_originals_opaque_500() {
    let app = TestApp::spawn().await;
    sqlx::query(r#"ALTER TABLE "user" RENAME TO "user_gone""#)
        .execute(&mut app.db().await)
        .await
        .unwrap();
    let (status, body) = app.last_connection("lia").await;
    assert_eq!(status, 500);
    assert_eq!(body, json!({"error": "An internal server error occurred."}));
}

#[tokio::test]
async fn health_is_healthy_on_both_paths_when_both_databases_answer() {
    let app = TestApp::spawn().await;
    for path in ["/connected/health", "/health"] {
        let answer = json_body(app.get(path).await).await;
        assert_eq!(answer, (200, json!({"status": "healthy"})), "{path}");
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_in_the_error_shape() {
    let app = TestApp::spawn().await;
    let (status, body) = json_body(app.get("/nope").await).await;
    assert_eq!((status, body), (404, json!({"error": "Not found"})));
    let resp = app.post("/last-connection?username=x").go().await;
    let (status, body) = json_body(resp).await;
    assert_eq!(
        (status, body),
        (405, json!({"error": "Method not allowed"}))
    );
    // Every answer carries a request id.
    let resp = app.get("/last-connection").await;
    assert!(resp.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn with_postgresql_unreachable_requests_get_a_fast_503_and_recover_by_themselves() {
    // The service reaches PostgreSQL through a forwarder this test can cut, so the
    // shared server keeps running for every other test.
    let db_url = hub_testkit::create_database("connected").await;
    let (_, target) = via_local_port(&db_url, 0);
    let cut = Cut::start(target).await;
    let (through, _) = via_local_port(&db_url, cut.port);
    let app = TestApp::spawn_on(db_url, &[("DATABASE_URL", through.as_str())]).await;
    let id = app.insert_user("pia").await;
    app.insert_login(id, Duration::days(-1), Duration::hours(-4))
        .await;
    assert_eq!(app.last_connection("pia").await.0, 200);

    cut.cut();
    let t = Instant::now();
    let (status, body) = app.last_connection("pia").await;
    assert!(t.elapsed().as_millis() < 2500, "503 took {:?}", t.elapsed());
    eprintln!("PostgreSQL cut: 503 after {:?}", t.elapsed());
    assert_eq!(
        (status, body),
        (503, json!({"error": "Service temporarily unavailable."}))
    );
    let t = Instant::now();
    let (status, body) = json_body(app.get("/connected/health").await).await;
    assert!(
        t.elapsed().as_millis() < 2500,
        "health took {:?}",
        t.elapsed()
    );
    assert_eq!(
        (status, body),
        (
            500,
            json!({"status": "unhealthy", "error": "PostgreSQL unavailable"})
        )
    );

    let _cut = cut.restore().await;
    let body = hub_testkit::eventually(std::time::Duration::from_secs(20), async || {
        match app.last_connection("pia").await {
            (200, body) => Ok(body),
            (status, body) => Err(format!("no recovery: {status} {body}")),
        }
    })
    .await;
    assert_eq!(body["lastConnection"], json!("4 hours ago"));
    let (status, _) = json_body(app.get("/connected/health").await).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_routes_served() {
    let app = TestApp::spawn().await;
    let doc = hub_testkit::assert_openapi_lists(&app.base, "error", &ROUTES).await;
    let get = &doc["paths"]["/last-connection"]["get"];
    assert_eq!(get["parameters"][0]["name"], "username");
    for status in ["200", "400", "404", "500", "503"] {
        assert!(get["responses"][status].is_object(), "{status}");
    }
    let answer = &doc["components"]["schemas"]["LastConnection"]["properties"];
    for key in ["userId", "lastConnection", "lastConnectionAt"] {
        assert!(answer[key].is_object(), "{key}: {answer}");
    }
}
