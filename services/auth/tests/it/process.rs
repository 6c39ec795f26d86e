//! The auth binary as a real process: SIGTERM lets the logins in flight finish and the
//! process exits 0 within its drain bound, and nothing secret reaches its log even at
//! debug level (the password, the signing key, the tokens it issued).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use hub_testkit::{ProcessBacking, ServiceProcess};
use serde_json::{Value, json};
use uuid::Uuid;

#[tokio::test]
async fn sigterm_drains_in_flight_logins_exits_0_and_the_log_holds_no_secret() {
    let backing = ProcessBacking::new("authproc").await;
    let envs = backing.envs(&[
        // Slow enough that the logins are still hashing when the signal lands.
        ("PASSWORD_PBKDF2_ITERATIONS", "300000"),
        ("SHUTDOWN_DRAIN_SECS", "20"),
        ("RUST_LOG", "debug"),
    ]);
    let mut service =
        ServiceProcess::spawn(env!("CARGO_BIN_EXE_auth"), &envs, "/auth/health").await;

    let password = format!("pw-{}", Uuid::new_v4().simple());
    hub_testkit::seed_user_with(
        &backing.db_url,
        "proc",
        "proc@example.com",
        &hub_identity::password::legacy_hash(&password),
    )
    .await;

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let logins: Vec<_> = (0..4)
        .map(|_| {
            let req = http
                .post(format!("{}/login", service.base))
                .json(&json!({"username": "proc", "password": password}));
            tokio::spawn(async move {
                let resp = req.send().await.unwrap();
                (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
            })
        })
        .collect();
    service
        .wait_in_flight("/login", 4, Duration::from_secs(20))
        .await;
    service.signal("TERM");

    let mut tokens = Vec::new();
    for login in logins {
        let (status, body) = login.await.unwrap();
        assert_eq!(status, 200, "an in-flight login was cut off: {body}");
        tokens.push(body["token"].as_str().unwrap().to_owned());
    }
    assert_eq!(service.wait_exit(Duration::from_secs(25)).await, Some(0));
    assert!(
        reqwest::get(format!("{}/auth/health", service.base))
            .await
            .is_err(),
        "still accepting after exit"
    );

    let log = service.log();
    assert!(log.contains("shutdown complete"), "{log}");
    assert!(!log.contains(&password), "the password reached the log");
    assert!(
        !log.contains(&backing.secret),
        "the signing key reached the log"
    );
    for token in &tokens {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!log.contains(signature), "a token reached the log");
    }
}
