//! The auth service's HTTP contract, against real PostgreSQL and RabbitMQ.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use crate::app::{AuthApp as _, AuthHelpers as _, TestApp, sign};
use hub_identity::password::legacy_hash;
use hub_testkit::{Go as _, json_body};
use reqwest::Method;
use serde_json::{Value, json};

/// The paths the OpenAPI document lists: every route auth serves, sorted.
const ROUTES: [&str; 29] = [
    "/.well-known/jwks.json",
    "/api/account",
    "/api/account/email",
    "/api/account/email/verify",
    "/api/account/email/verify/resend",
    "/api/account/export",
    "/api/account/logins",
    "/api/account/logins/revoke-others",
    "/api/account/logins/{id}",
    "/api/account/password",
    "/api/account/password/forgot",
    "/api/account/password/reset",
    "/api/account/profile",
    "/api/admin/users",
    "/api/admin/users/{id}",
    "/api/admin/users/{id}/deactivate",
    "/api/admin/users/{id}/export",
    "/api/admin/users/{id}/logins",
    "/api/admin/users/{id}/logins/revoke-all",
    "/api/admin/users/{id}/logins/{login_id}",
    "/api/admin/users/{id}/reactivate",
    "/auth/health",
    "/health",
    "/login",
    "/logout",
    "/profile",
    "/test-db",
    "/test-event",
    "/token/refresh",
];

const DRAIN: Duration = Duration::from_secs(20);

#[tokio::test]
async fn legacy_user_logs_in_with_a_pyjwt_valid_token_and_is_upgraded_to_the_new_hash() {
    let app = TestApp::spawn().await;
    let id = app.legacy_user("ana", "12345").await;
    assert_eq!(app.stored_hash(id).await.len(), 128);

    let token = app.token_for("ana", "12345").await;
    let claims = hub_testkit::pyjwt_decode(&token, &app.secret).expect("PyJWT accepts the token");
    assert_eq!(claims["user_id"], json!(id.to_string()));
    assert_eq!(claims["username"], json!("ana"));
    let (exp, iat) = (
        claims["exp"].as_i64().unwrap(),
        claims["iat"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 3600, "one hour, as the original");
    assert!(
        hub_testkit::pyjwt_decode(&token, "another-secret").is_err(),
        "PyJWT must reject a wrong key"
    );

    let upgraded = app.stored_hash(id).await;
    assert!(
        upgraded.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"),
        "the default, Argon2id at the harness's cost: {upgraded}"
    );

    // The same password logs in against the new hash, which is then left alone.
    app.token_for("ana", "12345").await;
    assert_eq!(app.stored_hash(id).await, upgraded);
    assert_eq!(app.login("ana", "1234").await.status(), 401);
}

#[tokio::test]
async fn login_accepts_the_email_and_publishes_user_logged_in_with_the_request_id() {
    let app = TestApp::spawn().await;
    let id = app.legacy_user("bob", "password").await;
    let resp = app
        .post("/login")
        .header("x-request-id", "req-login-1")
        .json(&json!({"username": "bob@example.com", "password": "password"}))
        .go()
        .await;
    assert_eq!(resp.headers()["x-request-id"], "req-login-1");
    let (status, body) = json_body(resp).await;
    assert_eq!(status, 200);
    assert!(body["token"].is_string());

    app.wait_outbox_drained(DRAIN).await;
    let msgs = app.take_messages().await;
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let m = &msgs[0];
    assert_eq!(m.event(), "UserLoggedIn");
    assert_eq!(
        m.body["data"],
        json!({"user_id": id.to_string(), "username": "bob", "email": "bob@example.com"})
    );
    assert!(m.body["timestamp"].as_str().unwrap().ends_with("+00:00"));
    assert_eq!(m.correlation_id.as_deref(), Some("req-login-1"));
    assert_eq!(m.delivery_mode, Some(2), "persistent");
    assert_eq!(m.content_type.as_deref(), Some("application/json"));
    assert!(uuid::Uuid::parse_str(m.message_id.as_deref().unwrap()).is_ok());
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_401_and_publish_user_login_failed() {
    let app = TestApp::spawn().await;
    app.legacy_user("carl", "right").await;

    for (user, pw) in [("carl", "wrong"), ("nobody", "whatever"), ("", "")] {
        let (status, body) = json_body(app.login(user, pw).await).await;
        assert_eq!(
            (status, body),
            (401, json!({"message": "Invalid credentials"})),
            "{user}"
        );
    }

    app.wait_outbox_drained(DRAIN).await;
    let msgs = app.take_messages().await;
    let failed: Vec<&Value> = msgs
        .iter()
        .filter(|m| m.event() == "UserLoginFailed")
        .map(|m| &m.body["data"])
        .collect();
    assert_eq!(
        failed,
        [
            &json!({"username": "carl", "reason": "Invalid credentials"}),
            &json!({"username": "nobody", "reason": "Invalid credentials"}),
            &json!({"username": "", "reason": "Invalid credentials"}),
        ]
    );
    let ids: std::collections::HashSet<_> =
        msgs.iter().map(|m| m.message_id.clone().unwrap()).collect();
    assert_eq!(ids.len(), msgs.len(), "message ids are unique");
}

#[tokio::test]
async fn bad_login_bodies_get_a_4xx_json_message_and_change_nothing() {
    let app = TestApp::spawn_with(&[("MAX_BODY_BYTES", "1024")]).await;
    let id = app.legacy_user("dan", "pw").await;
    let before = app.stored_hash(id).await;
    let check = async |ct: &str, body: String, want_status: u16, want_msg: &str| {
        let req = app
            .post("/login")
            .header("content-type", ct)
            .body(body.clone());
        let (status, json) = json_body(req.go().await).await;
        assert_eq!(
            (status, json),
            (want_status, json!({"message": want_msg})),
            "{ct} {body:.60}"
        );
    };
    check(
        "text/plain",
        r#"{"username":"dan","password":"pw"}"#.into(),
        415,
        "Content-Type must be application/json",
    )
    .await;
    let malformed = "Malformed JSON body";
    let not_an_object = "Request body must be a JSON object with username and password";
    let no_username = "Missing field: username";
    let no_password = "Missing field: password";
    let json_cases: Vec<(String, u16, &str)> = vec![
        ("{\"username\":".into(), 400, malformed),
        (String::new(), 400, malformed),
        ("null".into(), 400, not_an_object),
        ("\"dan\"".into(), 400, not_an_object),
        (r#"{"password":"pw"}"#.into(), 400, no_username),
        (
            r#"{"username":null,"password":"pw"}"#.into(),
            400,
            no_username,
        ),
        (r#"{"username":"dan"}"#.into(), 400, no_password),
        (
            r#"{"username":"dan","password":12}"#.into(),
            400,
            "Field password must be a string",
        ),
        (
            format!(r#"{{"username":"dan","password":"{}"}}"#, "x".repeat(2000)),
            413,
            "Request body too large",
        ),
        // A UTF-8 byte order mark is skipped, as Flask did: the object is read.
        ("\u{feff}{}".into(), 400, no_username),
        (
            String::from_utf8_lossy(b"{\"username\":\"\xff\"}").into_owned(),
            400,
            no_password,
        ),
    ];
    for (body, want_status, want_msg) in json_cases {
        check("application/json", body, want_status, want_msg).await;
    }
    // A NUL in the username cannot name a user: a plain 401, not a database error.
    let (status, _) = json_body(app.login("dan\0", "pw").await).await;
    assert_eq!(status, 401);

    assert_eq!(app.stored_hash(id).await, before);
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event <> 'UserLoginFailed'")
            .fetch_one(&mut app.db().await)
            .await
            .unwrap();
    assert_eq!(events, 0, "bad input records no login");
}

#[tokio::test]
async fn profile_answers_as_the_original() {
    let app = TestApp::spawn().await;
    let id = app.legacy_user("eve", "pw").await;
    let token = app.token_for("eve", "pw").await;
    let profile = |auth: Option<String>| {
        let mut req = app.req(Method::GET, "/profile");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        req.go()
    };

    let (status, body) = json_body(profile(Some(format!("Bearer {token}"))).await).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"email": "eve@example.com", "user_id": id.to_string(), "username": "eve"})
    );

    let now = chrono::Utc::now().timestamp();
    let signed = |secret: &str, claims: Value| Some(format!("Bearer {}", sign(secret, &claims)));
    let secret = app.secret.as_str();
    let cases = [
        (None, 403, "Token is missing"),
        (Some(format!("Token {token}")), 403, "Token is missing"),
        (Some(format!("bearer {token}")), 403, "Token is missing"),
        // Header values are trimmed on the wire, so "Bearer " arrives as "Bearer".
        (Some("Bearer ".into()), 403, "Token is missing"),
        // As the original, the token is the second space-separated part: here "".
        (Some(format!("Bearer  {token}")), 401, "Invalid token"),
        (Some("Bearer not.a.jwt".into()), 401, "Invalid token"),
        (
            signed(
                "wrong-secret",
                json!({"user_id": id, "username": "eve", "exp": now + 60}),
            ),
            401,
            "Invalid token",
        ),
        (
            signed(
                secret,
                json!({"user_id": id, "username": "eve", "exp": now - 5}),
            ),
            401,
            "Token expired",
        ),
        (
            signed(
                secret,
                json!({"user_id": "42", "username": "eve", "exp": now + 60}),
            ),
            401,
            "Invalid token",
        ),
        (
            signed(secret, json!({"username": "eve", "exp": now + 60})),
            401,
            "Invalid token",
        ),
        (
            signed(
                secret,
                json!({"user_id": uuid::Uuid::new_v4(), "username": "x", "exp": now + 60}),
            ),
            404,
            "User not found",
        ),
    ];
    for (auth, want_status, want_msg) in cases {
        let (status, body) = json_body(profile(auth.clone()).await).await;
        assert_eq!(
            (status, body),
            (want_status, json!({"message": want_msg})),
            "{auth:?}"
        );
    }
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_answer_in_json() {
    let app = TestApp::spawn().await;
    let (status, body) = json_body(app.get("/nope").await).await;
    assert_eq!((status, body), (404, json!({"message": "Not found"})));
    let resp = app.get("/login").await;
    assert!(
        resp.headers().get("allow").is_some(),
        "405 keeps its Allow header"
    );
    let (status, body) = json_body(resp).await;
    assert_eq!(
        (status, body),
        (405, json!({"message": "Method not allowed"}))
    );
}

#[tokio::test]
async fn request_ids_are_kept_when_sane_and_minted_otherwise() {
    let app = TestApp::spawn().await;
    assert_eq!(answered_request_id(&app, "abc-123").await, "abc-123");
    let minted = app.get("/health").await;
    let id = minted.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    let long = "a".repeat(500);
    assert_ne!(answered_request_id(&app, &long).await, long);
}

/// The `x-request-id` answered to a `GET /health` that sent `id`.
async fn answered_request_id(app: &TestApp, id: &str) -> String {
    let req = app.req(Method::GET, "/health").header("x-request-id", id);
    let resp = req.go().await;
    resp.headers()["x-request-id"].to_str().unwrap().to_owned()
}

/// The `access-control-allow-origin` answered to a `GET path` from a page at `origin`.
async fn allowed_origin(app: &TestApp, path: &str, origin: &str) -> Option<String> {
    let req = app.req(Method::GET, path).header("origin", origin);
    let resp = req.go().await;
    let allowed = resp.headers().get("access-control-allow-origin");
    allowed.map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn cors_headers_appear_only_for_allowed_origins() {
    let app_origin = "https://app.example.com";
    let off = TestApp::spawn().await;
    assert!(
        allowed_origin(&off, "/health", app_origin).await.is_none(),
        "no CORS by default, as the original"
    );

    let on = TestApp::spawn_with(&[("CORS_ALLOWED_ORIGINS", app_origin)]).await;
    assert_eq!(
        allowed_origin(&on, "/nope", app_origin).await.as_deref(),
        Some(app_origin),
        "error responses too"
    );
    assert!(
        allowed_origin(&on, "/health", "https://evil.example")
            .await
            .is_none()
    );
    let preflight = on
        .req(Method::OPTIONS, "/login")
        .header("origin", app_origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .go()
        .await;
    assert!(preflight.status().is_success());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        app_origin
    );
}

#[tokio::test]
async fn health_and_diagnostics_answer_as_the_original() {
    let app = TestApp::spawn().await;
    for path in ["/auth/health", "/health"] {
        let (status, body) = json_body(app.get(path).await).await;
        assert_eq!((status, body), (200, json!({"status": "healthy"})));
    }
    let (status, body) = json_body(app.get("/test-db").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["message"], "Successful connection");
    let ts = body["timestamp"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_str(ts, "%Y-%m-%d %H:%M:%S%.6f%:z").is_ok(),
        "{ts}"
    );

    let (status, body) = json_body(app.get("/test-event").await).await;
    assert_eq!(
        (status, body),
        (200, json!({"message": "Evento de prueba enviado"}))
    );
    app.wait_outbox_drained(DRAIN).await;
    let msgs = app.take_messages().await;
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].body["event"], "TestEvent");
    assert_eq!(msgs[0].body["data"], json!({"msg": "Esto es una prueba"}));

    let off = TestApp::spawn_with(&[("AUTH_TEST_ENDPOINTS", "false")]).await;
    assert_eq!(off.get("/test-event").await.status(), 404);
}

#[tokio::test]
async fn a_hash_already_in_the_new_format_is_not_rewritten() {
    let app = TestApp::spawn().await;
    let cost = hub_identity::password::Argon2Cost::new(
        crate::app::TEST_ARGON2_MEMORY_KIB.parse().unwrap(),
        crate::app::TEST_ARGON2_ITERATIONS.parse().unwrap(),
        1,
    )
    .unwrap();
    let stored = hub_identity::password::Hasher::argon2id(cost, 20_000)
        .unwrap()
        .hash("s3cret")
        .unwrap();
    let id = app.insert_user("fay", "fay@example.com", &stored).await;
    app.token_for("fay", "s3cret").await;
    assert_eq!(app.stored_hash(id).await, stored);
    // And the legacy hash of the same password is not accepted in its place.
    assert_ne!(stored, legacy_hash("s3cret"));
}

#[tokio::test]
async fn shutdown_drains_and_returns_cleanly() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/health").await.status(), 200);
    let started = std::time::Instant::now();
    app.stop().await.expect("clean exit");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn rehash_on_login_can_be_turned_off_for_a_mixed_deployment() {
    let app = TestApp::spawn_with(&[("PASSWORD_REHASH_ON_LOGIN", "false")]).await;
    let id = app.legacy_user("gus", "pw").await;
    app.token_for("gus", "pw").await;
    assert_eq!(
        app.stored_hash(id).await,
        legacy_hash("pw"),
        "left in the legacy format"
    );
}

/// The service locking an account after `per_user` failed logins and an address after
/// `per_address`.
async fn with_login_limits(per_user: &str, per_address: &str) -> TestApp {
    TestApp::spawn_with(&[
        ("LOGIN_MAX_FAILURES_PER_USER", per_user),
        ("LOGIN_MAX_FAILURES_PER_ADDRESS", per_address),
    ])
    .await
}

/// [`with_login_limits`] behind a proxy: the test client, at 127.0.0.1, is trusted to
/// say in `X-Forwarded-For` where each login comes from (see [`login_from`]).
async fn behind_a_proxy(per_user: &str, per_address: &str) -> TestApp {
    TestApp::spawn_with(&[
        ("TRUSTED_PROXIES", "127.0.0.1"),
        ("LOGIN_MAX_FAILURES_PER_USER", per_user),
        ("LOGIN_MAX_FAILURES_PER_ADDRESS", per_address),
    ])
    .await
}

/// The status of a login of `user` with `pw` that a proxy says comes from `address`.
async fn login_from(app: &TestApp, address: &str, user: &str, pw: &str) -> u16 {
    app.post("/login")
        .header("x-forwarded-for", address)
        .json(&json!({"username": user, "password": pw}))
        .go()
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn brute_force_on_a_username_gets_429_with_retry_after_while_other_users_log_in() {
    let app = TestApp::spawn_with(&[
        ("LOGIN_MAX_FAILURES_PER_USER", "3"),
        ("LOGIN_LOCKOUT_SECS", "120"),
    ])
    .await;
    app.legacy_user("ann", "right").await;
    app.legacy_user("ben", "pw").await;
    for _ in 0..3 {
        assert_eq!(app.login("ann", "wrong").await.status(), 401);
    }
    for (user, pw) in [("ann", "right"), ("ANN", "wrong")] {
        let resp = app.login(user, pw).await;
        let retry: u64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=120).contains(&retry), "{retry}");
        let (status, body) = json_body(resp).await;
        assert_eq!(
            (status, body),
            (
                429,
                json!({"message": "Too many failed login attempts; try again later"})
            )
        );
    }
    assert_eq!(
        app.login("ben", "pw").await.status(),
        200,
        "other users are unaffected"
    );
}

#[tokio::test]
async fn brute_force_from_one_address_is_throttled_without_blocking_other_addresses() {
    // The test client is the proxy: it connects from 127.0.0.1 and writes what a proxy
    // appends, the address it received the request from, on the right.
    let app = behind_a_proxy("100", "3").await;
    app.legacy_user("cat", "pw").await;
    // Documentation addresses (RFC 5737): header values only, no traffic goes there.
    for user in ["u1", "u2", "u3"] {
        assert_eq!(login_from(&app, "203.0.113.7", user, "x").await, 401);
    }
    assert_eq!(login_from(&app, "203.0.113.7", "cat", "pw").await, 429);
    assert_eq!(
        login_from(&app, "203.0.113.7, 198.51.100.9", "cat", "pw").await,
        200
    );
}

#[tokio::test]
async fn a_successful_login_clears_the_username_failures_and_untrusted_forwarding_is_ignored() {
    let app = with_login_limits("3", "100").await;
    app.legacy_user("dee", "pw").await;
    for _ in 0..2 {
        assert_eq!(app.login("dee", "no").await.status(), 401);
    }
    assert_eq!(app.login("dee", "pw").await.status(), 200);
    for _ in 0..2 {
        assert_eq!(app.login("dee", "no").await.status(), 401);
    }
    assert_eq!(
        app.login("dee", "pw").await.status(),
        200,
        "the count restarted after the success"
    );

    // Without TRUST_FORWARDED_FOR a client cannot pick its address: all these count
    // against the real peer address.
    let strict = with_login_limits("100", "2").await;
    for (i, addr) in ["203.0.113.1", "203.0.113.2"].into_iter().enumerate() {
        assert_eq!(login_from(&strict, addr, &format!("v{i}"), "x").await, 401);
    }
    assert_eq!(login_from(&strict, "203.0.113.3", "v9", "x").await, 429);
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_show_the_pool_and_outbox() {
    let app = TestApp::spawn().await;
    app.legacy_user("mia", "pw").await;
    assert_eq!(app.login("mia", "nope").await.status(), 401);
    assert_eq!(app.get("/users/123/secret").await.status(), 404);
    app.wait_outbox_drained(DRAIN).await;

    let resp = app.get("/metrics").await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = resp.text().await.unwrap();
    let has = |needle: &str| text.lines().any(|l| l.starts_with(needle));
    assert!(
        text.lines().any(|l| l.starts_with("http_requests_total{")
            && l.contains("route=\"/login\"")
            && l.contains("status=\"401\"")),
        "{text}"
    );
    assert!(
        text.contains("route=\"unmatched\""),
        "unknown paths share one label, not their path"
    );
    assert!(!text.contains("/users/123/secret"));
    assert!(has("http_request_duration_seconds_bucket{"), "{text}");
    assert!(has("db_pool_connections{"), "{text}");
    assert!(has("outbox_published_total"), "{text}");
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_routes_served() {
    let app = TestApp::spawn().await;
    let doc = hub_testkit::assert_openapi_lists(&app.base, "message", &ROUTES).await;
    assert!(doc["paths"]["/login"]["post"]["responses"]["401"].is_object());
    assert!(
        doc["components"]["schemas"]["TokenResponse"]["properties"]["refresh_token"].is_object(),
        "{doc}"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    // Without the diagnostic endpoints, the document loses them too.
    let closed = TestApp::spawn_with(&[("AUTH_TEST_ENDPOINTS", "false")]).await;
    let doc = hub_testkit::assert_openapi_matches_routes(&closed.base, "message").await;
    assert!(doc["paths"].get("/test-db").is_none(), "{doc}");
}

/// `n` logins at once, alternating between two instances; `(401s, 429s)`.
async fn at_once(
    instances: [&TestApp; 2],
    n: usize,
    attempt: impl Fn(usize) -> (String, String, String),
) -> (usize, usize) {
    let statuses = futures_util::future::join_all((0..n).map(|i| {
        let (address, user, pw) = attempt(i);
        let app = instances[i % 2];
        async move { login_from(app, &address, &user, &pw).await }
    }))
    .await;
    let count = |code| statuses.iter().filter(|&&s| s == code).count();
    assert_eq!(count(401) + count(429), n, "{statuses:?}");
    (count(401), count(429))
}

const BEHIND_A_PROXY: &[(&str, &str)] = &[
    ("TRUSTED_PROXIES", "127.0.0.1"),
    ("LOGIN_MAX_FAILURES_PER_USER", "5"),
    ("LOGIN_MAX_FAILURES_PER_ADDRESS", "10"),
];

/// Two instances [`BEHIND_A_PROXY`] on one database, as two replicas behind a load balancer.
async fn two_behind_a_proxy() -> (TestApp, TestApp) {
    let a = TestApp::spawn_with(BEHIND_A_PROXY).await;
    let b = a.beside(BEHIND_A_PROXY).await;
    (a, b)
}

#[tokio::test]
async fn simultaneous_guesses_on_two_instances_never_get_past_the_account_limit() {
    let (a, b) = two_behind_a_proxy().await;
    a.legacy_user("ann", "right").await;
    // 40 guesses at once, each from its own address: only the account limit applies.
    let (checked, throttled) = at_once([&a, &b], 40, |i| {
        (format!("203.0.113.{i}"), "ann".into(), "wrong".into())
    })
    .await;
    assert!(checked <= 5, "{checked} guesses reached the password check");
    assert!(throttled >= 35, "{throttled}");
    assert_eq!(
        login_from(&b, "198.51.100.1", "ann", "right").await,
        429,
        "the account is locked, right password or not"
    );
}

#[tokio::test]
async fn simultaneous_failures_from_one_address_on_two_instances_stop_at_its_limit() {
    let (a, b) = two_behind_a_proxy().await;
    a.legacy_user("bea", "pw").await;
    let (checked, _) = at_once([&a, &b], 40, |i| {
        ("203.0.113.50".into(), format!("nobody{i}"), "x".into())
    })
    .await;
    assert!(
        checked <= 10,
        "{checked} failures reached the password check"
    );
    assert_eq!(login_from(&a, "203.0.113.50", "bea", "pw").await, 429);
    assert_eq!(
        login_from(&b, "198.51.100.2", "bea", "pw").await,
        200,
        "another address is unaffected"
    );
}

#[tokio::test]
async fn a_username_and_its_email_share_one_account_limit() {
    let app = with_login_limits("4", "100").await;
    app.legacy_user("fay", "pw").await;
    for login in ["fay", "fay@example.com", "fay", "fay@example.com"] {
        assert_eq!(app.login(login, "guess").await.status(), 401, "{login}");
    }
    for login in ["fay", "fay@example.com"] {
        assert_eq!(app.login(login, "pw").await.status(), 429, "{login}");
    }
}

/// What an attacker at one address can do to a user at another: spend that user's own
/// account limit, and nothing more. Forwarding entries the attacker writes are ignored.
#[tokio::test]
async fn behind_a_proxy_a_client_can_neither_pick_its_address_nor_lock_out_another() {
    let app = behind_a_proxy("3", "5").await;
    app.legacy_user("gil", "pw").await;
    app.legacy_user("hal", "pw").await;
    let (attacker, victim) = ("203.0.113.66", "198.51.100.20");

    // A new left-most entry each time (what the attacker writes) changes nothing: the
    // proxy's entry on the right is the address.
    for i in 0..5 {
        let chain = format!("10.9.9.{i}, {attacker}");
        let status = login_from(&app, &chain, &format!("x{i}"), "bad").await;
        assert_eq!(status, 401);
    }
    for chain in [
        format!("10.9.9.99, {attacker}"),
        format!("{victim}, {attacker}"),
    ] {
        let status = login_from(&app, &chain, "hal", "pw").await;
        assert_eq!(status, 429, "{chain}: the attacker's own address is locked");
    }
    assert_eq!(
        login_from(&app, victim, "gil", "pw").await,
        200,
        "the victim's address was never charged"
    );

    // From a fresh address, the attacker can still use up gil's account limit: the most
    // anyone can do to another user.
    for _ in 0..3 {
        let status = login_from(&app, "203.0.113.67", "gil", "bad").await;
        assert_eq!(status, 401);
    }
    assert_eq!(login_from(&app, victim, "gil", "pw").await, 429);
    assert_eq!(
        login_from(&app, victim, "hal", "pw").await,
        200,
        "other accounts at the victim's address log in"
    );
}

/// The `user_id` of the profile that a login with `login` opens.
async fn logged_in_id(app: &TestApp, login: &str, password: &str) -> String {
    let token = app.token_for(login, password).await;
    app.profile(&token).await.1["user_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A legacy username equal to another user's email: a login with that email is the
/// email's owner's, never the username's.
#[tokio::test]
async fn a_login_with_an_email_finds_its_owner_even_if_a_legacy_username_equals_it() {
    let app = TestApp::spawn().await;
    let owner = app.legacy_user("ivy", "ivy-pw").await;
    app.insert_legacy_user("ivy@example.com", "squatter@example.com", "squatter-pw")
        .await;
    assert_eq!(
        logged_in_id(&app, "ivy@example.com", "ivy-pw").await,
        owner.to_string()
    );
    assert_eq!(
        app.login("ivy@example.com", "squatter-pw").await.status(),
        401
    );
}

/// A client that asks `Expect: 100-continue` for a body over the limit is refused at
/// once: no `100 Continue` first, so it never sends the body.
#[tokio::test]
async fn an_expected_body_over_the_limit_gets_413_without_100_continue() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(
            b"POST /login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
              Content-Length: 10000000\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut reply))
        .await
        .unwrap()
        .unwrap();
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(
        reply.ends_with(r#"{"message":"Request body too large"}"#),
        "{reply}"
    );
}

/// `auth locks`: an operator sees who is locked out and until when, and lifts it.
#[tokio::test]
async fn operators_list_and_clear_locks() {
    let app = behind_a_proxy("2", "3").await;
    app.legacy_user("kay", "pw").await;
    let locks = async |args: &[&str]| {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let db_url = app.db_url.clone();
        let env = move |k: &str| (k == "DATABASE_URL").then(|| db_url.clone());
        auth::admin::locks(&args, &env).await.unwrap()
    };
    assert_eq!(locks(&["list"]).await, "no locks");

    for _ in 0..2 {
        let status = login_from(&app, "198.51.100.30", "kay", "bad").await;
        assert_eq!(status, 401);
    }
    let status = login_from(&app, "198.51.100.30", "nobody", "x").await;
    assert_eq!(status, 401, "the address's third failure locks it");
    let status = login_from(&app, "203.0.113.30", "zed", "bad").await;
    assert_eq!(status, 401);
    assert_eq!(login_from(&app, "198.51.100.30", "any", "x").await, 429);

    let listed = locks(&[]).await;
    assert!(listed.contains("(kay)"), "{listed}");
    assert!(listed.contains("addr:198.51.100.30"), "{listed}");
    assert!(!listed.contains("203.0.113.30"), "{listed}");
    assert_eq!(login_from(&app, "203.0.113.31", "kay", "pw").await, 429);

    assert_eq!(
        locks(&["clear", "--account", "kay@example.com"]).await,
        "cleared 2 lock(s)",
        "the account, and its username as a login string (its email was never locked)"
    );
    assert_eq!(login_from(&app, "203.0.113.31", "kay", "pw").await, 200);
    assert_eq!(
        locks(&["clear", "--address", "198.51.100.30"]).await,
        "cleared 1 lock(s)"
    );
    assert_eq!(locks(&["list"]).await, "no locks");
    let err = auth::admin::locks(
        &["clear".into(), "--bogus".into(), "x".into()],
        &|_: &str| None,
    )
    .await
    .unwrap_err();
    assert_eq!(err.exit_code(), 2);
}

/// Another spelling of the same canonical name (case, width, accent composition) logs
/// in to the one account; two legacy look-alikes are ambiguous and neither is chosen.
#[tokio::test]
async fn another_spelling_of_a_canonical_name_finds_the_account_unless_ambiguous() {
    let app = TestApp::spawn().await;
    let zoe = app
        .insert_legacy_user("Zoë", "Zoe@Example.com", "zoe-pw")
        .await;
    for login in [
        "Zoë",
        "ZOË",
        "zoe\u{308}",
        "ｚｏë",
        "zoe@example.com",
        "ZOE@EXAMPLE.COM",
    ] {
        assert_eq!(
            logged_in_id(&app, login, "zoe-pw").await,
            zoe.to_string(),
            "{login}"
        );
    }

    // Legacy rows may hold look-alikes: an exact spelling still finds its own, any
    // other is refused rather than guessed.
    app.insert_legacy_user("max", "max1@example.com", "pw1")
        .await;
    app.insert_legacy_user("MAX", "max2@example.com", "pw2")
        .await;
    assert_eq!(app.login("max", "pw1").await.status(), 200);
    assert_eq!(app.login("MAX", "pw2").await.status(), 200);
    assert_eq!(app.login("Max", "pw1").await.status(), 401);
    assert_eq!(app.login("Max", "pw2").await.status(), 401);
}

/// Made-up methods share one label; every metric family has HELP and TYPE; process
/// figures, build info and the failure counters are there from the start.
#[tokio::test]
async fn metrics_stay_bounded_and_describe_themselves() {
    let app = TestApp::spawn().await;
    for i in 0..20 {
        let method = Method::from_bytes(format!("MADEUP{i}").as_bytes()).unwrap();
        assert_eq!(app.req(method, "/login").go().await.status(), 405);
    }
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(!text.contains("MADEUP"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("http_requests_total{")
            && l.contains("method=\"other\"")
            && l.contains("status=\"405\"")
            && l.ends_with(" 20")),
        "{text}"
    );
    for family in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
        "outbox_publish_failures_total",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(family) && !l.starts_with('#')),
            "{family}: {text}"
        );
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("hub_build_info{") && l.contains("service=\"auth\"")),
        "{text}"
    );
    // What `promtool check metrics` requires first: every sample's family is described.
    for sample in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let name = sample.split(['{', ' ']).next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|f| text.contains(&format!("# TYPE {f} histogram")))
            .unwrap_or(name);
        assert!(
            text.contains(&format!("# HELP {family} ")),
            "no HELP for {family}"
        );
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "no TYPE for {family}"
        );
    }
}

/// `(status, Retry-After seconds)` of a login that a proxy says comes from `address`.
async fn throttled_from(app: &TestApp, address: &str, user: &str, pw: &str) -> (u16, Option<u64>) {
    let resp = app
        .post("/login")
        .header("x-forwarded-for", address)
        .json(&json!({"username": user, "password": pw}))
        .go()
        .await;
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (resp.status().as_u16(), retry)
}

/// An IPv6 client may use any address of its /64 for each request: its failures count
/// together (`CLIENT_IPV6_PREFIX`), another /64 is counted apart, and an operator lifts
/// the lockout by any address of the prefix.
#[tokio::test]
async fn failures_from_one_ipv6_prefix_share_its_limit_and_other_prefixes_are_counted_apart() {
    let app = behind_a_proxy("100", "5").await;
    app.legacy_user("cat", "pw").await;
    for i in 1..=5 {
        let address = format!("2001:db8:1:2:{i:x}::{i:x}");
        assert_eq!(login_from(&app, &address, &format!("u{i}"), "x").await, 401);
    }
    let (status, retry) =
        throttled_from(&app, "2001:db8:1:2:ffff:ffff:ffff:ffff", "cat", "pw").await;
    assert_eq!(
        status, 429,
        "a sixth address of the same /64, right password or not"
    );
    assert!((1..=900).contains(&retry.unwrap()), "{retry:?}");
    assert_eq!(
        login_from(&app, "2001:db8:1:3::1", "cat", "pw").await,
        200,
        "the next /64 is another client"
    );
    assert_eq!(login_from(&app, "203.0.113.9", "cat", "pw").await, 200);

    let locks = async |args: &[&str]| {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let db_url = app.db_url.clone();
        let env = move |k: &str| (k == "DATABASE_URL").then(|| db_url.clone());
        auth::admin::locks(&args, &env).await.unwrap()
    };
    let listed = locks(&[]).await;
    assert!(listed.contains("addr:2001:db8:1:2::/64"), "{listed}");
    assert_eq!(
        locks(&["clear", "--address", "2001:db8:1:2::abcd"]).await,
        "cleared 1 lock(s)"
    );
    assert_eq!(login_from(&app, "2001:db8:1:2::9", "cat", "pw").await, 200);

    // The prefix is a setting: /48 puts different /64s of one /48 together.
    let wide = TestApp::spawn_with(&[
        ("TRUSTED_PROXIES", "127.0.0.1"),
        ("LOGIN_MAX_FAILURES_PER_ADDRESS", "3"),
        ("CLIENT_IPV6_PREFIX", "48"),
    ])
    .await;
    for i in 1..=3 {
        let address = format!("2001:db8:7:{i:x}::1");
        assert_eq!(
            login_from(&wide, &address, &format!("u{i}"), "x").await,
            401
        );
    }
    assert_eq!(login_from(&wide, "2001:db8:7:ff::1", "u9", "x").await, 429);
    assert_eq!(login_from(&wide, "2001:db8:8::1", "u9", "x").await, 401);
}

#[tokio::test]
async fn simultaneous_failures_from_one_ipv6_prefix_on_two_instances_stop_at_its_limit() {
    let (a, b) = two_behind_a_proxy().await;
    a.legacy_user("bea", "pw").await;
    // 40 at once, each from its own address of one /64: one client, limit 10.
    let (checked, throttled) = at_once([&a, &b], 40, |i| {
        (
            format!("2001:db8:50:1::{:x}", i + 1),
            format!("nobody{i}"),
            "x".into(),
        )
    })
    .await;
    assert_eq!((checked, throttled), (10, 30));
    assert_eq!(
        login_from(&b, "2001:db8:50:1:abcd::1", "bea", "pw").await,
        429
    );
    assert_eq!(
        login_from(&a, "2001:db8:50:2::1", "bea", "pw").await,
        200,
        "another /64 is unaffected"
    );
}

/// The throttle must not tell whether an account exists: every spelling of a login
/// string that names no account shares one count (its canonical form), as every
/// spelling of an account does, so both answer 429 with `Retry-After` alike.
#[tokio::test]
async fn a_name_that_exists_and_one_that_does_not_are_throttled_alike_in_every_spelling() {
    let app = with_login_limits("5", "100").await;
    app.legacy_user("ann", "right").await;
    let attempt = async |login: &str| {
        let resp = app.login(login, "wrong").await;
        let retry = resp.headers().get("retry-after").map(|v| {
            let secs: u64 = v.to_str().unwrap().parse().unwrap();
            assert!((1..=900).contains(&secs), "{secs}");
        });
        let (status, body) = json_body(resp).await;
        (status, retry.is_some(), body)
    };
    for _ in 0..5 {
        let (exists, missing) = (attempt("ann").await, attempt("bob").await);
        assert_eq!(exists.0, 401);
        assert_eq!(exists, missing);
    }
    for (exists, missing) in [
        ("ann", "bob"),
        ("ANN", "BOB"),
        ("Ａｎｎ", "Ｂｏｂ"),
        ("ａＮｎ", "ｂＯｂ"),
    ] {
        let (exists, missing) = (attempt(exists).await, attempt(missing).await);
        assert_eq!(exists.0, 429);
        assert!(exists.1, "Retry-After");
        assert_eq!(exists, missing);
    }
    assert_eq!(app.login("Ａｎｎ", "right").await.status(), 429);
    let other = app.login("zoe", "wrong").await.status();
    assert_eq!(other, 401, "another name has its own count");
}

/// Many simultaneous guesses in many spellings, each from its own address, on two
/// instances: for a name that exists and one that does not, side by side, exactly the
/// limit reach the password check and the rest get 429.
#[tokio::test]
async fn simultaneous_guesses_in_many_spellings_stop_at_the_limit_whether_the_name_exists_or_not() {
    let (a, b) = two_behind_a_proxy().await;
    a.legacy_user("ann", "right").await;
    let spell = |names: [&'static str; 4]| move |i: usize| names[i % 4].to_owned();
    let (ann, zed) = (
        spell(["ann", "ANN", "Ａｎｎ", "aNn"]),
        spell(["zed", "ZED", "Ｚｅｄ", "zEd"]),
    );
    let (exists, missing) = tokio::join!(
        at_once([&a, &b], 40, |i| (
            format!("203.0.113.{i}"),
            ann(i),
            "wrong".into()
        )),
        at_once([&b, &a], 40, |i| (
            format!("198.51.100.{i}"),
            zed(i),
            "wrong".into()
        )),
    );
    assert_eq!(exists, (5, 35), "an account");
    assert_eq!(missing, (5, 35), "a name without an account");
    assert_eq!(login_from(&a, "192.0.2.1", "ann", "right").await, 429);
    assert_eq!(login_from(&b, "192.0.2.2", "ｚｅｄ", "x").await, 429);
}
