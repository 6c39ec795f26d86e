//! Fault tests: they stop the shared MongoDB, so they run serially, after the rest
//! (scripts/test.sh runs this binary on its own with one thread).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "it/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use harness::{SessionApp as _, TestApp};
use hub_testkit::{Down, Server};
use serde_json::json;

#[tokio::test]
async fn with_mongodb_stopped_requests_get_fast_503s_and_everything_recovers_after_restart() {
    let app = TestApp::spawn().await;
    let (id, token) = app.user("fay").await;
    assert_eq!(
        app.post_session(&token, json!({"data": {"n": 1}})).await.0,
        201
    );
    let path = format!("/api/sessions/{id}");

    let outage = Down::stop(Server::Mongo);
    for _ in 0..3 {
        let t = Instant::now();
        let (status, body) = app.get_json(&path, Some(&token)).await;
        let took = t.elapsed();
        assert_eq!(
            (status, body),
            (503, json!({"message": "Service temporarily unavailable"}))
        );
        assert!(took < Duration::from_millis(2500), "503 took {took:?}");
    }
    let t = Instant::now();
    let (status, body) = app.get_json("/session/health", None).await;
    assert!(
        t.elapsed() < Duration::from_millis(2500),
        "health took {:?}",
        t.elapsed()
    );
    assert_eq!(
        (status, body),
        (
            500,
            json!({"status": "unhealthy", "error": "MongoDB unavailable"})
        )
    );
    drop(outage); // restarts mongod

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = app.get_json(&path, Some(&token)).await;
        if status == 200 {
            assert_eq!(body["data"], json!({"n": 1}));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {status} {body} after restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.get_json("/session/health", None).await.0, 200);
    assert_eq!(
        app.post_session(&token, json!({"data": {"n": 2}})).await.0,
        200
    );
}
