//! The users domain end to end, as a front-end drives it: register over SOAP, look the
//! user up, log in through auth, and read "last connection" from connected, which only
//! knows about the login because session consumed auth's `UserLoggedIn` event from
//! RabbitMQ and recorded it in MongoDB. Every hop is a real server.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use chrono::{DateTime, Utc};
use hub_checks::system::System;
use hub_testkit::{Go as _, eventually};
use reqwest::Method;
use serde_json::{Value, json};

const REGISTER: &str = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:u="http://example.com/user"><soapenv:Body><u:RegisterUser><u:username>{u}</u:username><u:password>s3cret pw</u:password><u:first_name>José</u:first_name><u:last_name>Peña</u:last_name><u:dni>{u}</u:dni><u:email>{u}@example.com</u:email><u:city>Málaga</u:city></u:RegisterUser></soapenv:Body></soapenv:Envelope>"#;

/// Polls `GET /last-connection` until it answers 200 (the consumer has recorded the
/// login), or fails after `within`.
async fn last_connection(sys: &System, user: &str, within: Duration) -> Value {
    eventually(within, async || {
        let resp = sys.get(sys.connected, &last_connection_of(user)).await;
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

/// connected's path for the last connection of `user`.
fn last_connection_of(user: &str) -> String {
    format!("/last-connection?username={user}")
}

#[tokio::test]
async fn a_user_registered_over_soap_logs_in_and_connected_says_a_few_seconds_ago() {
    let sys = hub_checks::system::start().await;
    let user = format!("journey{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);

    let resp = sys.register(REGISTER.replace("{u}", &user)).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());

    // The id every service agrees on, from the lookup service.
    let xml = sys
        .text(sys.lookup, &format!("/user/soap?username={user}"))
        .await;
    let id = hub_checks::between(&xml, "<web:id>", "</web:id>")
        .expect("lookup answers the id")
        .to_owned();

    // Registered, never logged in: connected knows the user but has no session.
    let resp = sys.get(sys.connected, &last_connection_of(&user)).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"error": "No sessions found for this user."})
    );

    let before_login = Utc::now();
    let resp = sys.login(&user, "s3cret pw").await;
    assert_eq!(resp.status(), 200);
    let token = resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let body = last_connection(&sys, &user, Duration::from_secs(20)).await;
    assert_eq!(body["userId"], id.as_str(), "{body}");
    assert_eq!(body["lastConnection"], "a few seconds ago", "{body}");
    let at: DateTime<Utc> = body["lastConnectionAt"].as_str().unwrap().parse().unwrap();
    let slack = chrono::Duration::seconds(2);
    assert!(
        at >= before_login - slack && at <= Utc::now() + slack,
        "lastConnectionAt {at} is not the login time (logged in at {before_login})"
    );

    // The session the consumer made is the caller's own, readable with the token.
    let resp = sys
        .req(Method::GET, sys.session, &format!("/api/sessions/{id}"))
        .bearer_auth(&token)
        .go()
        .await;
    assert_eq!(resp.status(), 200);
    let session: Value = resp.json().await.unwrap();
    assert_eq!(session["userId"], id.as_str(), "{session}");

    // A later login moves the last connection forward (the original kept the first).
    let first = at;
    assert_eq!(sys.login(&user, "s3cret pw").await.status(), 200);
    eventually(Duration::from_secs(20), async || {
        let body = last_connection(&sys, &user, Duration::from_secs(5)).await;
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
    let sys = hub_checks::system::start().await;
    for addr in [sys.soap, sys.lookup, sys.auth, sys.session, sys.connected] {
        for (path, want) in [
            ("/livez", json!({"status": "alive"})),
            ("/readyz", json!({"status": "ready"})),
        ] {
            let resp = sys.get(addr, path).await;
            assert_eq!(resp.status(), 200, "{addr}{path}");
            assert_eq!(resp.json::<Value>().await.unwrap(), want, "{addr}{path}");
        }
    }
}

/// A browser front-end registers with JSON (`POST /api/users`), no envelope: the user
/// logs in through auth and the lookup service finds the same id.
#[tokio::test]
async fn a_user_registered_with_json_logs_in_and_is_looked_up() {
    let sys = hub_checks::system::start().await;
    let user = format!("json{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let fields = json!({
        "username": user, "password": "s3cret pw", "first_name": "José",
        "last_name": "Peña", "dni": user, "email": format!("{user}@example.com"),
        "city": "Málaga",
    });
    let resp = sys.post_json(sys.soap, "/api/users", &fields).await;
    assert_eq!(resp.status(), 201);
    let id = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let xml = sys
        .text(sys.lookup, &format!("/user/soap?username={user}"))
        .await;
    assert!(xml.contains(&format!("<web:id>{id}</web:id>")), "{xml}");
    let resp = sys.login(&format!("{user}@example.com"), "s3cret pw").await;
    assert_eq!(resp.status(), 200);
}

/// The legacy front-end's origin, allowed by the operator.
const FRONT_END: &str = "http://front-end.example";

/// A browser's CORS preflight for `method` with `headers` from the front-end: asserts
/// that the browser may go on.
async fn preflight(
    sys: &System,
    addr: std::net::SocketAddr,
    path: &str,
    method: &str,
    headers: &str,
) {
    let resp = sys
        .req(Method::OPTIONS, addr, path)
        .header("origin", FRONT_END)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers)
        .go()
        .await;
    assert!(
        resp.status().is_success(),
        "preflight {method} {path}: {}",
        resp.status()
    );
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        FRONT_END,
        "{path}"
    );
}

/// A browser's request from the front-end: the page can read the answer only if the
/// origin is allowed on it.
async fn from_page(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.header("origin", FRONT_END).go().await;
    assert_eq!(
        resp.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some(FRONT_END),
        "the browser hides this answer from the page"
    );
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// The legacy login page's exact sequence (`POST /login`; `GET /api/sessions/<username>`,
/// which it expects to answer 404; then `POST /api/sessions {"data":{}}`), as a browser
/// sends it from another origin, preflights included. With a 403 on the second step the
/// page stayed on the login form with no message.
#[tokio::test]
async fn the_legacy_login_page_logs_in_and_creates_its_session() {
    let sys = hub_checks::system::start_with(&[("CORS_ALLOWED_ORIGINS", FRONT_END)]).await;
    let user = format!("page{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let resp = sys.register(REGISTER.replace("{u}", &user)).await;
    assert_eq!(resp.status(), 200);

    preflight(&sys, sys.auth, "/login", "POST", "content-type").await;
    let (status, body) = from_page(
        sys.req(Method::POST, sys.auth, "/login")
            .json(&json!({"username": user, "password": "s3cret pw"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();

    let by_username = format!("/api/sessions/{user}");
    preflight(&sys, sys.session, &by_username, "GET", "authorization").await;
    let (status, body) = from_page(
        sys.req(Method::GET, sys.session, &by_username)
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(
        (status, body),
        (404, json!({"message": "Session not found"})),
        "the page handles only 404 here"
    );

    preflight(
        &sys,
        sys.session,
        "/api/sessions",
        "POST",
        "authorization,content-type",
    )
    .await;
    let (status, body) = from_page(
        sys.req(Method::POST, sys.session, "/api/sessions")
            .bearer_auth(&token)
            .json(&json!({"data": {}})),
    )
    .await;
    assert!(matches!(status, 200 | 201), "response.ok: {status} {body}");
    assert_eq!(body["session"]["data"], json!({}), "{body}");

    // The next login takes the same path: a username is still never a session id.
    let (status, _) = from_page(
        sys.req(Method::GET, sys.session, &by_username)
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(status, 404);
}

/// The newer registration page sends `credentials: 'include'`: a browser then needs
/// `Access-Control-Allow-Credentials: true`, which only an operator's opt-in gives, and
/// only to the listed origins.
#[tokio::test]
async fn credentials_are_allowed_only_when_the_operator_opts_in_and_only_for_listed_origins() {
    let ask = async |sys: &System, origin: &str| {
        let resp = sys
            .req(Method::OPTIONS, sys.soap, "/register")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .go()
            .await;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        (
            header("access-control-allow-origin"),
            header("access-control-allow-credentials"),
        )
    };
    let without = hub_checks::system::start_with(&[("CORS_ALLOWED_ORIGINS", FRONT_END)]).await;
    assert_eq!(
        ask(&without, FRONT_END).await,
        (Some(FRONT_END.into()), None)
    );

    let with = hub_checks::system::start_with(&[
        ("CORS_ALLOWED_ORIGINS", FRONT_END),
        ("CORS_ALLOW_CREDENTIALS", "true"),
    ])
    .await;
    assert_eq!(
        ask(&with, FRONT_END).await,
        (Some(FRONT_END.into()), Some("true".into()))
    );
    assert_eq!(ask(&with, "http://evil.example").await.0, None);
    // The registration itself, as the page sends it with credentials.
    let user = format!("cred{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let resp = with
        .req(Method::POST, with.soap, "/register")
        .header("origin", FRONT_END)
        .header("content-type", "text/xml; charset=utf-8")
        .body(REGISTER.replace("{u}", &user))
        .go()
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["access-control-allow-credentials"], "true");
    assert_eq!(resp.headers()["access-control-allow-origin"], FRONT_END);
}
