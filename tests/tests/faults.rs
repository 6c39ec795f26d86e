//! PostgreSQL stopped under the running services: every request fails fast in its
//! caller's protocol, health says unhealthy, and service resumes by itself when the
//! server is back. Stops a shared server, so it runs alone (scripts/test.sh).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use hub_checks::system::start;
use hub_testkit::{Down, Server};
use serde_json::{Value, json};

const REGISTER: &str = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:u="http://example.com/user"><s:Body><u:RegisterUser><u:username>{tag}</u:username><u:password>pw-secret</u:password><u:first_name>A</u:first_name><u:last_name>B</u:last_name><u:dni>{tag}</u:dni><u:email>{tag}@example.com</u:email><u:city>C</u:city></u:RegisterUser></s:Body></s:Envelope>"#;

/// (status, content type, body, how long it took).
async fn call(req: reqwest::RequestBuilder) -> (u16, String, String, Duration) {
    let t = Instant::now();
    let (status, ct, body) = hub_testkit::parts(req.send().await.unwrap()).await;
    (status, ct, body, t.elapsed())
}

#[tokio::test]
async fn with_postgresql_down_under_load_requests_fail_fast_and_service_resumes_without_a_restart()
{
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
            .json(&json!({"username": "pgdown1", "password": "pw-secret"}))
    };
    let lookup = || http.get(format!("http://{}/user/soap?username=pgdown1", sys.lookup));
    assert_eq!(call(register("pgdown1")).await.0, 200);
    let (s, _, body, _) = call(login()).await;
    assert_eq!(s, 200);
    let token = serde_json::from_str::<Value>(&body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let session = || {
        http.post(format!("http://{}/api/sessions", sys.session))
            .bearer_auth(&token)
            .json(&json!({"data": {}}))
    };
    let last = || {
        http.get(format!(
            "http://{}/last-connection?username=pgdown1",
            sys.connected
        ))
    };
    // 201, or 200 when session's consumer already made the session from the login event.
    assert!(matches!(call(session()).await.0, 200 | 201));
    assert_eq!(call(last()).await.0, 200);

    // Background load through the whole outage: lookups, last connections and session
    // writes from 4 clients, every answer recorded.
    let stop_load = tokio_util::sync::CancellationToken::new();
    let load: Vec<_> = (0..4)
        .map(|client| {
            let (http, stop) = (http.clone(), stop_load.clone());
            let (lookup, connected, session, token) =
                (sys.lookup, sys.connected, sys.session, token.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut n = 0u32;
                while !stop.is_cancelled() {
                    n += 1;
                    let req = match (client + n) % 3 {
                        0 => http.get(format!("http://{lookup}/user/soap?username=pgdown1")),
                        1 => http.get(format!(
                            "http://{connected}/last-connection?username=pgdown1"
                        )),
                        _ => http
                            .post(format!("http://{session}/api/sessions"))
                            .bearer_auth(&token)
                            .json(&json!({"data": {"n": n}})),
                    };
                    let (status, _, _, took) = call(req).await;
                    seen.push((status, took));
                }
                seen
            })
        })
        .collect();

    let outage = Down::stop(Server::Postgres);
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
    // session checks the token's user in PostgreSQL; connected looks the username up there.
    let (s, ct, body, took) = call(session()).await;
    assert_eq!((s, ct.as_str()), (503, "application/json"), "{body}");
    assert!(took < fast, "session took {took:?}");
    let (s, ct, body, took) = call(last()).await;
    assert_eq!((s, ct.as_str()), (503, "application/json"), "{body}");
    assert!(took < fast, "last-connection took {took:?}");
    eprintln!("faults: PostgreSQL down: last 503 answered in {took:?}");
    for url in [
        format!("http://{}/session/health", sys.session),
        format!("http://{}/connected/health", sys.connected),
    ] {
        let (s, _, body, took) = call(http.get(&url)).await;
        assert_eq!(s, 500, "{url}: {body}");
        assert!(
            body.contains("unhealthy") && took < fast,
            "{url} {took:?} {body}"
        );
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

    // The load saw the outage as fast 503s only, and ends served again.
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if call(session()).await.0 == 200 && call(last()).await.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_load.cancel();
    let mut answers = Vec::new();
    for task in load {
        let seen = task.await.unwrap();
        let last_status = seen.last().map(|(s, _)| *s);
        assert!(
            matches!(last_status, Some(200 | 201)),
            "a load client ended on {last_status:?}"
        );
        answers.extend(seen);
    }
    let unavailable = answers.iter().filter(|(s, _)| *s == 503).count();
    let slowest = answers.iter().map(|(_, t)| *t).max().unwrap_or_default();
    eprintln!(
        "faults: PostgreSQL outage under load: {} answers, {unavailable} fast 503s, slowest {slowest:?}",
        answers.len()
    );
    assert!(unavailable > 0, "the load never saw the outage");
    assert!(
        answers.iter().all(|(s, _)| matches!(s, 200 | 201 | 503)),
        "unexpected statuses under load: {:?}",
        answers
            .iter()
            .filter(|(s, _)| !matches!(s, 200 | 201 | 503))
            .collect::<Vec<_>>()
    );
    // Under load the bound is the statement timeout (5 s): a request that reaches
    // PostgreSQL while it restarts waits for its start-up (3.1 s seen on CI), not more.
    assert!(
        slowest < Duration::from_secs(5),
        "a request under load took {slowest:?}"
    );
    assert_eq!(
        call(http.get(format!("http://{}/user-soap/health", sys.soap)))
            .await
            .0,
        200
    );
    assert_eq!(call(session()).await.0, 200);
    assert_eq!(call(last()).await.0, 200);
}

/// Registrations and logins from several clients; RabbitMQ is stopped in the middle
/// of it and started again. Every request still succeeds (events wait in the outbox),
/// the outbox drains to zero once the broker is back, and the session consumer, which
/// reconnects by itself, records every login exactly once.
#[tokio::test]
async fn rabbitmq_stopped_under_mixed_load_loses_no_event_and_applies_none_twice() {
    let sys = start().await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let run_clients = |phase: &'static str| {
        (0..4)
            .map(|client| {
                let http = http.clone();
                let (soap, auth) = (sys.soap, sys.auth);
                tokio::spawn(async move {
                    let mut users = Vec::new();
                    for n in 0..5 {
                        let user = format!("mq{phase}{client}x{n}");
                        let (s, _, body, _) = call(
                            http.post(format!("http://{soap}/register"))
                                .header("content-type", "text/xml")
                                .body(REGISTER.replace("{tag}", &user)),
                        )
                        .await;
                        assert_eq!(s, 200, "register during {phase}: {body}");
                        let (s, _, body, _) = call(
                            http.post(format!("http://{auth}/login"))
                                .json(&json!({"username": user, "password": "pw-secret"})),
                        )
                        .await;
                        assert_eq!(s, 200, "login during {phase}: {body}");
                        users.push(user);
                    }
                    users
                })
            })
            .collect::<Vec<_>>()
    };
    let mut users = Vec::new();
    for c in run_clients("before") {
        users.extend(c.await.unwrap());
    }
    let outage = Down::stop(Server::Broker);
    for c in run_clients("during") {
        users.extend(c.await.unwrap());
    }
    assert!(
        hub_testkit::outbox_pending(&sys.db_url).await > 0,
        "events wait in the outbox while the broker is down"
    );
    drop(outage); // RabbitMQ starts again
    for c in run_clients("after") {
        users.extend(c.await.unwrap());
    }

    hub_testkit::wait_outbox_drained(&sys.db_url, Duration::from_secs(90)).await;
    let registered = hub_testkit::count(
        &sys.db_url,
        "SELECT count(*) FROM outbox WHERE event = 'UserRegistered' AND published_at IS NOT NULL",
    )
    .await;
    let logins = hub_testkit::count(
        &sys.db_url,
        "SELECT count(*) FROM outbox WHERE event = 'UserLoggedIn' AND published_at IS NOT NULL",
    )
    .await;
    assert_eq!(
        (registered, logins),
        (60, 60),
        "every event confirmed by the broker"
    );

    // The consumer applied each login once: one session per user, each with its login.
    let mongo = mongodb::Client::with_uri_str(hub_testkit::mongodb_uri())
        .await
        .unwrap();
    let sessions = mongo
        .database(&sys.mongo_db)
        .collection::<mongodb::bson::Document>("sessions");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let recorded = sessions
            .count_documents(mongodb::bson::doc! { "lastLoginAt": { "$exists": true } })
            .await
            .unwrap();
        if recorded == 60 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{recorded} of 60 logins recorded"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        sessions
            .count_documents(mongodb::bson::doc! {})
            .await
            .unwrap(),
        60
    );
    let _ = mongo.database(&sys.mongo_db).drop().await;
}
