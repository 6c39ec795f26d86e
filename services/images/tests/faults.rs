//! Fault test: it stops the shared S3 server, so it runs serially, after the rest
//! (scripts/test.sh runs this binary on its own with one thread).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "it/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use harness::{ImagesApp as _, TestApp, anonymous_get, png, reencoded};
use hub_testkit::{Down, Server, status_json};
use serde_json::json;

#[tokio::test]
async fn with_s3_down_requests_fail_fast_with_503_and_after_it_returns_empty_the_service_heals() {
    let app = TestApp::spawn().await;
    app.upload_ok("before.png", png(100)).await;

    let outage = Down::stop(Server::S3);
    for _ in 0..2 {
        let started = Instant::now();
        let unavailable = (503, json!({ "error": "Storage temporarily unavailable" }));
        let resp = app.upload("during.png", png(100)).await;
        assert_eq!(status_json(resp).await, unavailable);
        assert_eq!(
            status_json(app.get("/list_images").await).await,
            unavailable
        );
        assert_eq!(
            status_json(app.get("/profile-image/health").await).await,
            (
                500,
                json!({ "error": "storage unavailable", "status": "unhealthy" })
            )
        );
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(3),
            "three requests took {took:?}"
        );
    }
    drop(outage); // moto starts again, empty: the bucket and its policy are gone

    // No restart: the first upload finds NoSuchBucket, puts bucket and policy back, retries.
    let url = app.upload_ok("after.png", png(200)).await;
    let resp = anonymous_get(&url).await;
    assert_eq!(resp.status(), 200, "public again");
    assert!(resp.bytes().await.unwrap() == reencoded(&png(200)));
    assert_eq!(app.list().await, vec![url]);
    let resp = app.get("/profile-image/health").await;
    assert_eq!(resp.status(), 200);
}
