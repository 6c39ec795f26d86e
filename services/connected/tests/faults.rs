//! Fault tests: they stop the shared MongoDB, so they run serially, after the rest
//! (scripts/test.sh runs this binary on its own with one thread).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "it/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use harness::{ConnectedApp as _, TestApp};
use hub_testkit::{Down, Server, json_body};
use serde_json::json;

/// How fast an outage must turn into an answer (the driver's bound is 1 s).
const FAST: Duration = Duration::from_millis(2500);

#[tokio::test]
async fn with_mongodb_down_requests_get_a_fast_503_and_recover_without_a_restart() {
    let app = TestApp::spawn().await;
    let id = app.insert_user("mo").await;
    app.insert_login(
        id,
        chrono::Duration::days(-1),
        chrono::Duration::minutes(-7),
    )
    .await;
    app.assert_last_connection("mo", "7 minutes ago").await;

    let outage = Down::stop(Server::Mongo);
    for _ in 0..3 {
        let t = Instant::now();
        let (status, body) = app.last_connection("mo").await;
        let took = t.elapsed();
        assert_eq!(status, 503, "{body}");
        assert_eq!(body, json!({"error": "Service temporarily unavailable."}));
        assert!(took < FAST, "503 took {took:?}");
        eprintln!("MongoDB down: 503 after {took:?}");
    }
    let t = Instant::now();
    let (status, body) = json_body(app.get("/connected/health").await).await;
    assert!(t.elapsed() < FAST, "health took {:?}", t.elapsed());
    assert_eq!(
        (status, body),
        (
            500,
            json!({"status": "unhealthy", "error": "MongoDB unavailable"})
        )
    );
    // Requests that need only PostgreSQL still answer.
    let (status, _) = app.last_connection("nobody").await;
    assert_eq!(status, 404);
    // Out of rotation, but alive: a liveness probe must not restart it.
    assert_eq!(
        json_body(app.get("/readyz").await).await,
        (
            503,
            json!({"status": "unready", "error": "MongoDB unavailable"})
        )
    );
    assert_eq!(
        json_body(app.get("/livez").await).await,
        (200, json!({"status": "alive"}))
    );
    drop(outage); // restarts mongod

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = app.last_connection("mo").await;
        if status == 200 {
            assert_eq!(body["lastConnection"], json!("7 minutes ago"));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no recovery within 60 s: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, body) = json_body(app.get("/connected/health").await).await;
    assert_eq!((status, body), (200, json!({"status": "healthy"})));
    assert_eq!(
        json_body(app.get("/readyz").await).await,
        (200, json!({"status": "ready"}))
    );
}
