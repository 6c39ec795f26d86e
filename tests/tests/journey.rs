//! The users domain end to end, as a front-end drives it: register over SOAP, look the
//! user up, log in through auth, and read "last connection" from connected, which only
//! knows about the login because session consumed auth's `UserLoggedIn` event from
//! RabbitMQ and recorded it in MongoDB. Every hop is a real server.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use hub_testkit::eventually;
use serde_json::{Value, json};

const REGISTER: &str = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:u="http://example.com/user"><soapenv:Body><u:RegisterUser><u:username>{u}</u:username><u:password>s3cret pw</u:password><u:first_name>José</u:first_name><u:last_name>Peña</u:last_name><u:dni>{u}</u:dni><u:email>{u}@example.com</u:email><u:city>Málaga</u:city></u:RegisterUser></soapenv:Body></soapenv:Envelope>"#;

/// Polls `GET /last-connection` until it answers 200 (the consumer has recorded the
/// login), or fails after `within`.
async fn last_connection(
    http: &reqwest::Client,
    base: &str,
    user: &str,
    within: Duration,
) -> Value {
    eventually(within, async || {
        let resp = http
            .get(format!("{base}/last-connection?username={user}"))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        if status == 200 {
            return Ok(body);
        }
        assert_eq!(
            (status, &body),
            (404, &json!({"error": "No sessions found for this user."})),
            "only 'no session yet' is expected while the event is on its way"
        );
        Err("no session recorded")
    })
    .await
}

#[tokio::test]
async fn a_user_registered_over_soap_logs_in_and_connected_says_a_few_seconds_ago() {
    let sys = common::start().await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let user = format!("journey{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let connected = format!("http://{}", sys.connected);

    let resp = http
        .post(format!("http://{}/register", sys.soap))
        .header("content-type", "text/xml; charset=utf-8")
        .body(REGISTER.replace("{u}", &user))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());

    // The id every service agrees on, from the lookup service.
    let xml = hub_testkit::get_text(
        &http,
        &format!("http://{}/user/soap?username={user}", sys.lookup),
    )
    .await;
    let id = xml
        .split("<web:id>")
        .nth(1)
        .and_then(|rest| rest.split("</web:id>").next())
        .expect("lookup answers the id")
        .to_owned();

    // Registered, never logged in: connected knows the user but has no session.
    let resp = http
        .get(format!("{connected}/last-connection?username={user}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"error": "No sessions found for this user."})
    );

    let before_login = Utc::now();
    let resp = http
        .post(format!("http://{}/login", sys.auth))
        .json(&json!({"username": user, "password": "s3cret pw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let token = resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let body = last_connection(&http, &connected, &user, Duration::from_secs(20)).await;
    assert_eq!(body["userId"], id.as_str(), "{body}");
    assert_eq!(body["lastConnection"], "a few seconds ago", "{body}");
    let at: DateTime<Utc> = body["lastConnectionAt"].as_str().unwrap().parse().unwrap();
    let slack = chrono::Duration::seconds(2);
    assert!(
        at >= before_login - slack && at <= Utc::now() + slack,
        "lastConnectionAt {at} is not the login time (logged in at {before_login})"
    );

    // The session the consumer made is the caller's own, readable with the token.
    let resp = http
        .get(format!("http://{}/api/sessions/{id}", sys.session))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let session: Value = resp.json().await.unwrap();
    assert_eq!(session["userId"], id.as_str(), "{session}");

    // A later login moves the last connection forward (the original kept the first).
    let first = at;
    let resp = http
        .post(format!("http://{}/login", sys.auth))
        .json(&json!({"username": user, "password": "s3cret pw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    eventually(Duration::from_secs(20), async || {
        let body = last_connection(&http, &connected, &user, Duration::from_secs(5)).await;
        let at: DateTime<Utc> = body["lastConnectionAt"].as_str().unwrap().parse().unwrap();
        if at > first {
            Ok(())
        } else {
            Err("second login never recorded")
        }
    })
    .await;
}

/// Every service answers the orchestrator's probes: `/livez` without checking anything,
/// `/readyz` after checking what it needs.
#[tokio::test]
async fn every_service_answers_livez_and_readyz() {
    let sys = common::start().await;
    let http = reqwest::Client::new();
    for addr in [sys.soap, sys.lookup, sys.auth, sys.session, sys.connected] {
        for (path, want) in [
            ("/livez", json!({"status": "alive"})),
            ("/readyz", json!({"status": "ready"})),
        ] {
            let resp = http
                .get(format!("http://{addr}{path}"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{addr}{path}");
            assert_eq!(resp.json::<Value>().await.unwrap(), want, "{addr}{path}");
        }
    }
}

/// A browser front-end registers with JSON (`POST /api/users`), no envelope: the user
/// logs in through auth and the lookup service finds the same id.
#[tokio::test]
async fn a_user_registered_with_json_logs_in_and_is_looked_up() {
    let sys = common::start().await;
    let http = reqwest::Client::new();
    let user = format!("json{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let resp = http
        .post(format!("http://{}/api/users", sys.soap))
        .json(&json!({
            "username": user, "password": "s3cret pw", "first_name": "José",
            "last_name": "Peña", "dni": user, "email": format!("{user}@example.com"),
            "city": "Málaga",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let id = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let xml = hub_testkit::get_text(
        &http,
        &format!("http://{}/user/soap?username={user}", sys.lookup),
    )
    .await;
    assert!(xml.contains(&format!("<web:id>{id}</web:id>")), "{xml}");
    let resp = http
        .post(format!("http://{}/login", sys.auth))
        .json(&json!({"username": format!("{user}@example.com"), "password": "s3cret pw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}
