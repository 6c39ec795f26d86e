//! The user-soap binary killed with SIGKILL while registrations are in flight: each
//! registration is all or nothing (a user row exactly when its `UserRegistered` outbox
//! row exists), and after a restart the outbox drains, so no event is lost.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use crate::app::{TEXT_XML, process, register_request, user_fields};
use hub_testkit::{Go as _, ProcessBacking};
use sqlx::{Connection as _, PgConnection};
use uuid::Uuid;

#[tokio::test]
async fn sigkill_mid_registration_leaves_no_partial_user_and_no_lost_event() {
    let backing = ProcessBacking::new("soapkill").await;
    let envs = [
        // Slow hashing keeps registrations in flight when the process dies.
        ("PASSWORD_HASH", "pbkdf2-sha256"),
        ("PASSWORD_PBKDF2_ITERATIONS", "300000"),
        ("REGISTER_MAX_PER_ADDRESS", "1000000"),
    ];
    let service = process(&backing, &envs).await;

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    // Two complete registrations first, so the check below is about real rows.
    for i in 0..2 {
        let fields = user_fields(&format!(
            "done{i}{}",
            &Uuid::new_v4().simple().to_string()[..6]
        ));
        let resp = register_request(&http, &service.base, &fields).go().await;
        assert_eq!(resp.status(), 200);
    }
    let requests: Vec<_> = (0..6)
        .map(|i| {
            let fields = user_fields(&format!(
                "kill{i}{}",
                &Uuid::new_v4().simple().to_string()[..6]
            ));
            let req = register_request(&http, &service.base, &fields);
            tokio::spawn(async move { req.send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    service
        .wait_in_flight("/register", 3, Duration::from_secs(20))
        .await;
    service.signal("KILL");
    let mut answered = 2;
    for r in requests {
        if let Ok(Ok(200)) = r.await {
            answered += 1;
        }
    }
    drop(service);

    let mut db = PgConnection::connect(&backing.db_url).await.unwrap();
    let users: Vec<String> = sqlx::query_scalar(r#"SELECT id::text FROM "user" ORDER BY 1"#)
        .fetch_all(&mut db)
        .await
        .unwrap();
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT (body::json -> 'data' ->> 'id') FROM outbox WHERE event = 'UserRegistered' ORDER BY 1",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(
        users, events,
        "a user without its event, or an event without its user"
    );
    assert!(
        users.len() >= answered,
        "{answered} registrations answered 200 but only {} stored",
        users.len()
    );

    // Restarted on the same database, the relay publishes what the dead process left.
    let _restarted = process(&backing, &envs).await;
    hub_testkit::wait_outbox_drained(&backing.db_url, Duration::from_secs(30)).await;
    let published = hub_testkit::take_messages(&backing.queue).await;
    let mut ids: Vec<String> = published
        .iter()
        .filter(|m| m.event() == "UserRegistered")
        .map(|m| m.body["data"]["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids, users,
        "every stored registration is published after the restart"
    );
}

/// A client's malformed requests are SOAP 1.1 Client faults (HTTP 500) but not server
/// errors: no ERROR line in the real process's log, and the metrics tell them apart by
/// fault code.
#[tokio::test]
async fn client_faults_are_counted_by_code_and_never_logged_as_errors() {
    let backing = ProcessBacking::new("soapfaults").await;
    let service = process(&backing, &[("RUST_LOG", "info")]).await;
    let http = reqwest::Client::new();
    let bodies = [
        "not xml at all",
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body>",
        "<!DOCTYPE x [<!ENTITY a \"b\">]><x/>",
    ];
    let register = format!("{}/register", service.base);
    for body in bodies {
        let resp = http
            .post(&register)
            .header("content-type", TEXT_XML)
            .body(body)
            .go()
            .await;
        assert_eq!(resp.status(), 500);
        assert!(resp.text().await.unwrap().contains("soapenv:Client"));
    }
    let metrics = hub_testkit::get_text(&http, &format!("{}/metrics", service.base)).await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("soap_faults_total{code=\"Client\"}") && l.ends_with(" 3")),
        "{metrics}"
    );
    let log = service.log();
    assert!(log.contains("POST"), "the access log is there: {log}");
    assert!(!log.contains("ERROR"), "{log}");
}

/// `LOG_FORMAT=json`: one flat object per line; the access line carries the request id,
/// route, method, numeric status and latency, and the service, at the top level.
#[tokio::test]
async fn json_logs_are_flat_with_the_request_fields_at_the_top() {
    let backing = ProcessBacking::new("soapjson").await;
    let envs = [
        ("LOG_FORMAT", "json"),
        ("PASSWORD_HASH", "pbkdf2-sha256"),
        ("PASSWORD_PBKDF2_ITERATIONS", "1000"),
    ];
    let service = process(&backing, &envs).await;
    let fields = user_fields(&crate::app::tag());
    let resp = register_request(&reqwest::Client::new(), &service.base, &fields)
        .header("x-request-id", "req-json-1")
        .go()
        .await;
    assert_eq!(resp.status(), 200);
    let lines: Vec<serde_json::Value> =
        hub_testkit::eventually(Duration::from_secs(10), async || {
            let log = service.log();
            let lines: Vec<serde_json::Value> = log
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
                .collect();
            if lines
                .iter()
                .any(|l| l["message"] == "request finished" && l["request_id"] == "req-json-1")
            {
                Ok(lines)
            } else {
                Err(format!("no access line yet: {log}"))
            }
        })
        .await;
    let access = lines
        .iter()
        .find(|l| l["message"] == "request finished" && l["request_id"] == "req-json-1")
        .unwrap();
    assert_eq!(access["status"], 200, "{access}");
    assert!(access["latency_ms"].is_f64(), "{access}");
    assert_eq!(access["route"], "/register", "{access}");
    assert_eq!(access["method"], "POST", "{access}");
    assert_eq!(access["service"], "user-soap", "{access}");
    assert_eq!(access["level"], "INFO", "{access}");
    // The registration's own line carries the same id, also at the top level.
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "user registered" && l["request_id"] == "req-json-1"),
        "{lines:?}"
    );
}
