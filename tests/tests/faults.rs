//! PostgreSQL stopped under the running services: every request fails fast in its
//! caller's protocol, health says unhealthy, and service resumes by itself when the
//! server is back. Stops a shared server, so it runs alone (scripts/test.sh).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::{Duration, Instant};

use common::start;
use hub_testkit::DatabaseDown;
use serde_json::json;

const REGISTER: &str = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:u="http://example.com/user"><s:Body><u:RegisterUser><u:username>{tag}</u:username><u:password>pw</u:password><u:first_name>A</u:first_name><u:last_name>B</u:last_name><u:dni>{tag}</u:dni><u:email>{tag}@example.com</u:email><u:city>C</u:city></u:RegisterUser></s:Body></s:Envelope>"#;

/// (status, content type, body, how long it took).
async fn call(req: reqwest::RequestBuilder) -> (u16, String, String, Duration) {
    let t = Instant::now();
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, resp.text().await.unwrap(), t.elapsed())
}

#[tokio::test]
async fn with_postgresql_down_requests_fail_fast_and_service_resumes_without_a_restart() {
    let sys = start().await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let register = |tag: &str| {
        http.post(format!("http://{}/register", sys.soap))
            .header("content-type", "text/xml")
            .body(REGISTER.replace("{tag}", tag))
    };
    let login = || {
        http.post(format!("http://{}/login", sys.auth))
            .json(&json!({"username": "pgdown1", "password": "pw"}))
    };
    let lookup = || http.get(format!("http://{}/user/soap?username=pgdown1", sys.lookup));
    assert_eq!(call(register("pgdown1")).await.0, 200);
    assert_eq!(call(login()).await.0, 200);

    let outage = DatabaseDown::stop();
    // "Fast" = the pool's 1 s acquire timeout, not a hang; 3 s leaves room for a busy CI.
    let fast = Duration::from_secs(3);
    let (s, ct, body, took) = call(login()).await;
    assert_eq!((s, ct.as_str()), (503, "application/json"), "{body}");
    assert_eq!(body, r#"{"message":"Service temporarily unavailable"}"#);
    assert!(took < fast, "login took {took:?}");
    let (s, ct, body, took) = call(register("pgdown2")).await;
    assert_eq!((s, ct.as_str()), (503, "text/xml; charset=utf-8"), "{body}");
    assert!(
        body.contains("<faultcode>soapenv:Server</faultcode>") && took < fast,
        "{took:?} {body}"
    );
    let (s, ct, body, took) = call(lookup()).await;
    assert_eq!((s, ct.as_str()), (503, "text/xml; charset=utf-8"), "{body}");
    assert!(
        body.contains("Service temporarily unavailable") && took < fast,
        "{took:?}"
    );
    for (url, want) in [
        (
            format!("http://{}/auth/health", sys.auth),
            r#"{"error":"database unavailable","status":"unhealthy"}"#,
        ),
        (
            format!("http://{}/user-soap/health", sys.soap),
            "Database connection failed",
        ),
        (
            format!("http://{}/user-search/health", sys.lookup),
            "❌ Unhealthy\n",
        ),
    ] {
        let (s, _, body, took) = call(http.get(&url)).await;
        assert_eq!((s, body.as_str()), (500, want), "{url}");
        assert!(took < fast, "{url} took {took:?}");
    }
    drop(outage); // PostgreSQL starts again

    // Same processes, same pools: they heal by themselves.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (s, ..) = call(login()).await;
        if s == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "auth did not recover: {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(call(lookup()).await.0, 200);
    assert_eq!(call(register("pgdown3")).await.0, 200);
    assert_eq!(
        call(http.get(format!("http://{}/user-soap/health", sys.soap)))
            .await
            .0,
        200
    );
}
