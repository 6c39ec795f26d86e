//! Hostile input against every REST endpoint and the lookup GET, and a JWT attack
//! matrix against every route that takes a token: each answer is a 4xx in the caller's
//! protocol (JSON for REST, a SOAP Fault for SOAP), no service panics or stops, and the
//! stored state (users, sessions, published-on-success events) is the same after as
//! before. The SOAP bodies have their own corpus (services/user-soap/tests/it/hostile.rs).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
use hub_testkit::Go as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mongodb::bson::{Document, doc};
use reqwest::Method;
use serde_json::{Value, json};

/// Everything a hostile request must not change, as one comparable value.
async fn state(sys: &hub_checks::system::System) -> (Vec<String>, i64, Vec<String>) {
    let users: Vec<String> = {
        use sqlx::Connection as _;
        let mut db = sqlx::PgConnection::connect(&sys.db_url).await.unwrap();
        sqlx::query_scalar(r#"SELECT "user"::text FROM "user" ORDER BY id"#)
            .fetch_all(&mut db)
            .await
            .unwrap()
    };
    let events = hub_testkit::count(
        &sys.db_url,
        "SELECT count(*) FROM outbox WHERE event IN ('UserRegistered', 'UserLoggedIn')",
    )
    .await;
    let mongo = mongodb::Client::with_uri_str(hub_testkit::mongodb_uri())
        .await
        .unwrap();
    let mut cursor = mongo
        .database(&sys.mongo_db)
        .collection::<Document>("sessions")
        .find(doc! {})
        .sort(doc! {"_id": 1})
        .await
        .unwrap();
    let mut sessions = Vec::new();
    while cursor.advance().await.unwrap() {
        sessions.push(format!("{:?}", cursor.deserialize_current().unwrap()));
    }
    (users, events, sessions)
}

fn sign(alg: Algorithm, secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret)).unwrap()
}

#[tokio::test]
async fn hostile_requests_get_4xx_in_the_callers_protocol_and_change_nothing() {
    let sys = hub_checks::system::start().await;
    let http = &sys.http;
    // One real user with a session, so "changes nothing" has something to protect.
    let register = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:u="http://example.com/user"><s:Body><u:RegisterUser><u:username>victim</u:username><u:password>pw-secret</u:password><u:first_name>A</u:first_name><u:last_name>B</u:last_name><u:dni>victim</u:dni><u:email>victim@example.com</u:email><u:city>C</u:city></u:RegisterUser></s:Body></s:Envelope>"#;
    assert_eq!(sys.register(register).await.status(), 200);
    let resp = sys.login("victim", "pw-secret").await;
    let token = resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims: Value =
        serde_json::from_slice(&B64URL.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap();
    let user_id = claims["user_id"].as_str().unwrap().to_owned();
    let resp = sys
        .req(Method::POST, sys.session, "/api/sessions")
        .bearer_auth(&token)
        .json(&json!({"data": {"theme": "dark"}}))
        .go()
        .await;
    // 201, or 200 when session's consumer already made the session from the login event.
    assert!(matches!(resp.status().as_u16(), 200 | 201));
    // Let the consumer record the login before taking the snapshot.
    hub_testkit::wait_outbox_drained(&sys.db_url, Duration::from_secs(30)).await;
    let before = hub_testkit::eventually(Duration::from_secs(30), async || {
        let before = state(&sys).await;
        if before.2.iter().any(|s| s.contains("lastLoginAt")) {
            Ok(before)
        } else {
            Err("login never consumed")
        }
    })
    .await;

    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let big = format!(r#"{{"data":"{}"}}"#, "A".repeat(2 * 1024 * 1024));
    let json_bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"{".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        br#"{"username": 1, "password": [], "data": 7}"#.to_vec(),
        deep.clone().into_bytes(),
        format!(r#"{{"data":{deep}}}"#).into_bytes(),
        big.into_bytes(),
        b"{\"username\":\"\xc0\xaf\xc0\xaf\",\"password\":\"x\"}".to_vec(), // overlong UTF-8
        b"\xff\xfe{\x00}".to_vec(),
    ];
    let auth = format!("http://{}", sys.auth);
    let session = format!("http://{}", sys.session);
    let connected = format!("http://{}", sys.connected);
    let lookup = format!("http://{}", sys.lookup);
    let mut cases: Vec<(String, reqwest::RequestBuilder)> = Vec::new();
    for (i, body) in json_bodies.iter().enumerate() {
        // An empty body, `[]` and any `data` are valid session writes (the original's
        // express.json() reads the first two as no data, and `data` is free-form), so
        // they are hostile only to /login.
        let session_routes = if [0, 3, 4].contains(&i) { 0 } else { 2 };
        for (what, req) in [
            ("POST /login", http.post(format!("{auth}/login"))),
            (
                "POST /api/sessions",
                http.post(format!("{session}/api/sessions"))
                    .bearer_auth(&token),
            ),
            (
                "PUT /api/sessions/{id}",
                http.put(format!("{session}/api/sessions/{user_id}"))
                    .bearer_auth(&token),
            ),
        ]
        .into_iter()
        .take(1 + session_routes)
        {
            cases.push((
                format!("{what} body #{i}"),
                req.header("content-type", "application/json")
                    .body(body.clone()),
            ));
        }
    }
    cases.push((
        "POST /login as text/plain".into(),
        http.post(format!("{auth}/login"))
            .header("content-type", "text/plain")
            .body(r#"{"username":"victim","password":"pw-secret"}"#),
    ));
    for name in [
        "' OR '1'='1' --",
        "victim'; DROP TABLE \"user\"; --",
        "../../etc/passwd",
        "%00",
        "\u{202e}mitciv",
        "%C0%AF",
        "a%00b",
        "[$ne]=x",
    ] {
        cases.push((
            format!("GET /last-connection?username={name}"),
            http.get(format!("{connected}/last-connection?username={name}")),
        ));
        cases.push((
            format!("GET /user/soap?username={name}"),
            http.get(format!("{lookup}/user/soap?username={name}")),
        ));
        cases.push((
            format!("POST /login username {name}"),
            http.post(format!("{auth}/login"))
                .json(&json!({"username": name, "password": "pw"})),
        ));
    }
    cases.push((
        "GET /last-connection?username[$ne]=x".into(),
        http.get(format!("{connected}/last-connection?username[$ne]=x")),
    ));
    cases.push((
        "GET /last-connection with a 60 kB username".into(),
        http.get(format!(
            "{connected}/last-connection?username={}",
            "a".repeat(60_000)
        )),
    ));
    for path in [
        "..%2F..%2Fetc%2Fpasswd",
        "%27%20OR%201%3D1",
        "00000000-0000-0000-0000-000000000000",
        "verify%00",
    ] {
        for m in [reqwest::Method::GET, reqwest::Method::DELETE] {
            cases.push((
                format!("{m} /api/sessions/{path}"),
                http.request(m.clone(), format!("{session}/api/sessions/{path}"))
                    .bearer_auth(&token),
            ));
        }
    }

    // The JWT attack matrix, against every route that takes a token.
    let now = chrono::Utc::now().timestamp();
    let secret = sys.secret.as_bytes();
    let good = json!({"user_id": user_id, "username": "victim", "exp": now + 600});
    let b64 = |v: &Value| B64URL.encode(v.to_string());
    let hs256_sig = |header: &Value, payload: &Value| {
        // An HMAC-SHA256 signature under a header that names another algorithm: the
        // "RS256 verified with the HMAC key as public key" confusion.
        let signing_input = format!("{}.{}", b64(header), b64(payload));
        format!(
            "{signing_input}.{}",
            jsonwebtoken::crypto::sign(
                signing_input.as_bytes(),
                &EncodingKey::from_secret(secret),
                Algorithm::HS256
            )
            .unwrap()
        )
    };
    let valid_parts: Vec<&str> = token.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        valid_parts[0],
        b64(
            &json!({"user_id": "00000000-0000-0000-0000-000000000001", "username": "victim", "exp": now + 600})
        ),
        valid_parts[2]
    );
    let bad_tokens: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg":"none","typ":"JWT"})),
                b64(&good)
            ),
        ),
        ("HS384", sign(Algorithm::HS384, secret, &good)),
        ("HS512", sign(Algorithm::HS512, secret, &good)),
        (
            "RS256 header, HMAC signature",
            hs256_sig(&json!({"alg":"RS256","typ":"JWT"}), &good),
        ),
        (
            "wrong key",
            sign(
                Algorithm::HS256,
                b"another-secret-0123456789abcdef0123",
                &good,
            ),
        ),
        (
            "expired",
            sign(
                Algorithm::HS256,
                secret,
                &json!({"user_id": user_id, "username": "victim", "exp": now - 5}),
            ),
        ),
        (
            "not yet valid",
            sign(
                Algorithm::HS256,
                secret,
                &json!({"user_id": user_id, "username": "victim", "exp": now + 600, "nbf": now + 300}),
            ),
        ),
        ("tampered payload", tampered),
        (
            "no user_id",
            sign(
                Algorithm::HS256,
                secret,
                &json!({"username": "victim", "exp": now + 600}),
            ),
        ),
        (
            "no exp",
            sign(
                Algorithm::HS256,
                secret,
                &json!({"user_id": user_id, "username": "victim"}),
            ),
        ),
        (
            "user_id not a string",
            sign(
                Algorithm::HS256,
                secret,
                &json!({"user_id": 42, "username": "victim", "exp": now + 600}),
            ),
        ),
        (
            "exp a string",
            sign(
                Algorithm::HS256,
                secret,
                &json!({"user_id": user_id, "username": "victim", "exp": "tomorrow"}),
            ),
        ),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (what, bad) in &bad_tokens {
        for (route, req) in [
            ("GET /profile", http.get(format!("{auth}/profile"))),
            (
                "GET /api/sessions/verify",
                http.get(format!("{session}/api/sessions/verify")),
            ),
            (
                "GET /api/sessions/{id}",
                http.get(format!("{session}/api/sessions/{user_id}")),
            ),
            (
                "DELETE /api/sessions/{id}",
                http.delete(format!("{session}/api/sessions/{user_id}")),
            ),
            (
                "POST /api/sessions",
                http.post(format!("{session}/api/sessions"))
                    .json(&json!({"data": {}})),
            ),
        ] {
            cases.push((format!("{route} with token: {what}"), req.bearer_auth(bad)));
        }
    }

    for (what, req) in cases {
        let resp = req.send().await.unwrap_or_else(|e| panic!("{what}: {e}"));
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = resp.text().await.unwrap_or_default();
        assert!((400..500).contains(&status), "{what}: {status} {body}");
        if what.contains("/user/soap") {
            assert!(
                ct.starts_with("text/xml") && body.contains("Fault>"),
                "{what}: not a Fault: {ct} {body}"
            );
        } else {
            assert!(
                ct.starts_with("application/json") && serde_json::from_str::<Value>(&body).is_ok(),
                "{what}: not JSON: {status} {ct} {body}"
            );
        }
        if what.contains("with token") {
            assert!(matches!(status, 401 | 403), "{what}: {status} {body}");
        }
    }

    // Nobody panicked or stopped, and nothing changed.
    for url in [
        format!("{auth}/auth/health"),
        format!("{session}/session/health"),
        format!("{connected}/connected/health"),
        format!("{lookup}/user-search/health"),
        format!("http://{}/user-soap/health", sys.soap),
    ] {
        assert_eq!(http.get(&url).send().await.unwrap().status(), 200, "{url}");
    }
    assert_eq!(
        state(&sys).await,
        before,
        "a hostile request changed stored state"
    );
}

/// Reads until the peer closes `stream` or `within` passes; whether it closed.
async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
    use tokio::io::AsyncReadExt as _;
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, read).await.is_ok()
}

/// A connection to `addr` from the loopback address `from`.
async fn connect_from(from: &str, addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(addr).await.unwrap()
}

/// One host's connections against every service: a socket that never sends a byte and a
/// cleartext HTTP/2 connection idle after its preface are closed within the configured
/// bound, and one address holding as many silent sockets as the whole cap leaves another
/// address answered at once (before: all still open after 300 s; another client
/// unanswered for 12 s).
#[tokio::test]
async fn silent_and_idle_connections_are_closed_and_one_host_cannot_take_every_connection() {
    use tokio::io::AsyncWriteExt as _;
    let bound = Duration::from_secs(1);
    let sys = hub_checks::system::start_with(&[
        ("HEADER_READ_TIMEOUT_SECS", "1"),
        ("MAX_CONNECTIONS", "50"),
    ])
    .await;
    let services = [
        (sys.soap, "/user-soap/health"),
        (sys.lookup, "/user-search/health"),
        (sys.auth, "/auth/health"),
        (sys.session, "/session/health"),
        (sys.connected, "/connected/health"),
    ];
    for (addr, health) in services {
        let mut silent = connect_from("127.0.0.1", addr).await;
        let mut h2c = connect_from("127.0.0.1", addr).await;
        h2c.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            .await
            .unwrap();
        let within = bound * 2 + Duration::from_secs(1);
        assert!(
            closed_within(&mut silent, within).await,
            "{health}: silent socket open"
        );
        assert!(
            closed_within(&mut h2c, within).await,
            "{health}: idle h2c open"
        );

        let mut hog = Vec::new();
        for _ in 0..50 {
            hog.push(connect_from("127.0.0.1", addr).await);
        }
        let started = std::time::Instant::now();
        let other = reqwest::Client::builder()
            .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let resp = other
            .get(format!("http://{addr}{health}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{health}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{health}: another address answered after {:?}",
            started.elapsed()
        );
    }
}
