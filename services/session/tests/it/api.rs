//! The session service's HTTP contract, against real PostgreSQL and MongoDB.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use crate::app::{SessionApp as _, SessionHelpers as _, TestApp, json_body};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
use hub_testkit::Go as _;
use jsonwebtoken::Algorithm;
use mongodb::bson::{Bson, doc};
use reqwest::Method;
use serde_json::{Value, json};

/// The paths the OpenAPI document lists: every route session serves, sorted.
const ROUTES: [&str; 5] = [
    "/api/sessions",
    "/api/sessions/verify",
    "/api/sessions/{userId}",
    "/health",
    "/session/health",
];

fn is_iso_millis(v: &Value) -> bool {
    let s = v.as_str().unwrap_or_default();
    s.len() == 24 && s.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

#[tokio::test]
async fn post_creates_then_updates_and_get_returns_the_originals_json_shape() {
    let app = TestApp::spawn().await;
    let (id, token) = app.user("ana").await;

    let (status, body) = app
        .post_session(&token, json!({"data": {"theme": "dark"}}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["message"], "Session created");
    let created = body["session"].clone();
    assert_eq!(created["userId"], id.to_string());
    assert_eq!(created["data"], json!({"theme": "dark"}));
    assert_eq!(created["__v"], 0);
    let oid = created["_id"].as_str().unwrap();
    assert!(
        oid.len() == 24 && oid.bytes().all(|b| b.is_ascii_hexdigit()),
        "{oid}"
    );
    assert!(
        is_iso_millis(&created["createdAt"]) && is_iso_millis(&created["updatedAt"]),
        "{created}"
    );

    let (status, body) = app
        .post_session(&token, json!({"data": {"theme": "light"}}))
        .await;
    assert_eq!((status, &body["message"]), (200, &json!("Session updated")));
    assert_eq!(body["session"]["_id"], created["_id"], "same document");
    assert_eq!(body["session"]["createdAt"], created["createdAt"]);
    assert_eq!(body["session"]["data"], json!({"theme": "light"}));

    let (status, got) = app
        .get_json(&format!("/api/sessions/{id}"), Some(&token))
        .await;
    assert_eq!(status, 200);
    let keys: Vec<&str> = got
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 6, "{got}");
    for k in ["_id", "userId", "data", "createdAt", "updatedAt", "__v"] {
        assert!(got.get(k).is_some(), "{k} missing in {got}");
    }
    assert_eq!(got["data"], json!({"theme": "light"}));
    assert_eq!(app.sessions().count_documents(doc! {}).await.unwrap(), 1);
}

#[tokio::test]
async fn another_users_session_answers_as_a_missing_one_for_get_put_and_delete() {
    let app = TestApp::spawn().await;
    let (victim, _, before) = app.user_with_session("victim", "secret").await;
    let (_, token) = app.user("mallory").await;

    let path = format!("/api/sessions/{victim}");
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let resp = app
            .request(method.clone(), &path, Some(&token))
            .json(&json!({"data": {"text": "pwned"}}))
            .go()
            .await;
        let (status, body) = json_body(resp).await;
        assert_eq!(
            (status, body),
            (404, json!({"message": "Session not found"})),
            "{method}"
        );
    }
    // A path that is not a user id at all (the frontend sends usernames) is not the caller's.
    assert_eq!(
        app.get_json("/api/sessions/victim", Some(&token)).await,
        (404, json!({"message": "Session not found"}))
    );
    assert_eq!(
        app.session_doc(victim).await.unwrap(),
        before,
        "nothing changed"
    );
}

#[tokio::test]
async fn verify_is_reachable_and_says_the_session_is_valid() {
    let app = TestApp::spawn().await;
    let (id, token) = app.user("vera").await;
    let (status, body) = app.get_json("/api/sessions/verify", Some(&token)).await;
    assert_eq!(
        (status, body),
        (404, json!({"message": "Session not found"}))
    );

    app.post_session(&token, json!({})).await;
    let (status, body) = app.get_json("/api/sessions/verify", Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Session is valid");
    assert_eq!(body["userId"], id.to_string());
    assert_eq!(
        body["session"]["data"],
        json!({}),
        "missing data stores {{}}"
    );
    assert_eq!(app.get_json("/api/sessions/verify", None).await.0, 403);
}

#[tokio::test]
async fn put_persists_a_truthy_text_and_keeps_the_rest_of_the_data() {
    let app = TestApp::spawn().await;
    let (id, token) = app.user("pat").await;
    let path = format!("/api/sessions/{id}");
    let put = |body: Value| {
        let req = app.request(Method::PUT, &path, Some(&token)).json(&body);
        async move { json_body(req.go().await).await }
    };
    assert_eq!(
        put(json!({"data": {"text": "x"}})).await,
        (404, json!({"message": "Session not found"}))
    );

    app.post_session(&token, json!({"data": {"text": "old", "keep": 1}}))
        .await;
    let (status, body) = put(json!({"data": {"text": "new"}})).await;
    assert_eq!((status, &body["message"]), (200, &json!("Session updated")));
    assert_eq!(body["session"]["data"], json!({"text": "new", "keep": 1}));
    // Read back: stored, not only in the response (the original lost it).
    let (_, got) = app.get_json(&path, Some(&token)).await;
    assert_eq!(got["data"], json!({"text": "new", "keep": 1}));

    // A falsy text keeps the old one, as `data.text || session.data.text` did.
    let (status, body) = put(json!({"data": {"text": ""}})).await;
    assert_eq!(
        (status, &body["session"]["data"]["text"]),
        (200, &json!("new"))
    );

    // A scalar data has no text to set: refused, nothing changed.
    app.post_session(&token, json!({"data": "plain"})).await;
    let (status, _) = put(json!({"data": {"text": "t"}})).await;
    assert_eq!(status, 409);
    assert_eq!(
        app.session_doc(id).await.unwrap().get("data"),
        Some(&Bson::String("plain".into()))
    );
}

#[tokio::test]
async fn delete_removes_the_session_then_answers_404() {
    let app = TestApp::spawn().await;
    let (id, token) = app.user("dan").await;
    app.post_session(&token, json!({"data": {}})).await;
    let path = format!("/api/sessions/{id}");
    let del =
        || async { json_body(app.request(Method::DELETE, &path, Some(&token)).go().await).await };
    assert_eq!(del().await, (200, json!({"message": "Session deleted"})));
    assert!(app.session_doc(id).await.is_none());
    assert_eq!(del().await, (404, json!({"message": "Session not found"})));
    assert_eq!(app.get_json(&path, Some(&token)).await.0, 404);
}

#[tokio::test]
async fn missing_bad_expired_none_and_hs512_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let (id, _) = app.user("tom").await;
    let (status, body) = app.get_json("/api/sessions/verify", None).await;
    assert_eq!(
        (status, body),
        (403, json!({"message": "No token provided"}))
    );
    let resp = app
        .req(Method::GET, "/api/sessions/verify")
        .header("authorization", "Basic abc")
        .go()
        .await;
    assert_eq!(
        json_body(resp).await,
        (403, json!({"message": "No token provided"}))
    );

    let now = chrono::Utc::now().timestamp();
    let good = json!({"user_id": id, "username": "tom", "exp": now + 600});
    let none_alg = format!(
        "{}.{}.",
        B64URL.encode(r#"{"alg":"none","typ":"JWT"}"#),
        B64URL.encode(good.to_string())
    );
    let bad = [
        app.token_with(
            Algorithm::HS256,
            &app.secret,
            &json!({"user_id": id, "username": "tom", "exp": now - 5}),
        ),
        app.token_with(
            Algorithm::HS256,
            "some-other-secret-0123456789abcdef",
            &good,
        ),
        app.token_with(Algorithm::HS512, &app.secret, &good),
        none_alg,
        "garbage".to_owned(),
    ];
    for token in bad {
        let (status, body) = app.get_json("/api/sessions/verify", Some(&token)).await;
        assert_eq!(
            (status, body),
            (401, json!({"message": "Invalid or expired token"})),
            "{token}"
        );
    }
}

#[tokio::test]
async fn a_valid_token_for_a_user_missing_from_postgresql_gets_401_user_not_found() {
    let app = TestApp::spawn().await;
    let ghost = uuid::Uuid::new_v4();
    let token = app.token(ghost);
    let (status, body) = app.post_session(&token, json!({"data": {}})).await;
    assert_eq!((status, body), (401, json!({"message": "User not found"})));
    assert!(app.session_doc(ghost).await.is_none(), "nothing written");
}

#[tokio::test]
async fn malformed_json_gets_a_json_400_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (id, token, before) = app.user_with_session("mal", "keep").await;
    let cases = [
        (
            Method::POST,
            "/api/sessions".to_owned(),
            r#"{"data": {"$set": 1}}"#,
        ),
        (
            Method::PUT,
            format!("/api/sessions/{id}"),
            r#"{"data": {"text": {"$set": 1}}}"#,
        ),
    ];
    for (method, path, operator_key) in cases {
        for raw in [r#"{"data": "#, "42", operator_key] {
            let resp = app
                .request(method.clone(), &path, Some(&token))
                .header("content-type", "application/json")
                .body(raw)
                .go()
                .await;
            let (status, body) = json_body(resp).await;
            assert_eq!(status, 400, "{method} {raw}: {body}");
            assert!(body["message"].is_string());
        }
    }
    assert_eq!(app.session_doc(id).await.unwrap(), before);
}

#[tokio::test]
async fn health_checks_both_databases_and_unknown_paths_get_json_404() {
    let app = TestApp::spawn().await;
    for path in ["/session/health", "/health"] {
        assert_eq!(
            app.get_json(path, None).await,
            (200, json!({"status": "healthy"}))
        );
    }
    assert_eq!(app.get_json("/nope", None).await.0, 404);
    let indexes = app.sessions().list_index_names().await.unwrap();
    assert!(indexes.contains(&"userId_unique".to_owned()), "{indexes:?}");
}

/// A MongoDB database of the test's own, filled before the service starts on it.
async fn foreign_database() -> (
    mongodb::Client,
    String,
    mongodb::Collection<mongodb::bson::Document>,
) {
    let name = hub_testkit::mongo_database("session");
    let client = mongodb::Client::with_uri_str(hub_testkit::mongodb_uri())
        .await
        .unwrap();
    let coll = client.database(&name).collection("sessions");
    (client, name, coll)
}

#[tokio::test]
async fn legacy_duplicate_user_ids_do_not_stop_the_service() {
    // A database the original filled: two documents for one user, no index.
    let (client, mongo_db, coll) = foreign_database().await;
    let user = uuid::Uuid::new_v4().to_string();
    for _ in 0..2 {
        coll.insert_one(doc! {"userId": &user, "data": {}, "__v": 0})
            .await
            .unwrap();
    }
    let app = TestApp::spawn_with(&[("MONGODB_DATABASE", mongo_db.as_str())]).await;
    assert_eq!(app.get_json("/session/health", None).await.0, 200);
    let indexes = coll.list_index_names().await.unwrap();
    assert!(
        !indexes.contains(&"userId_unique".to_owned()),
        "{indexes:?}"
    );
    client.database(&mongo_db).drop().await.unwrap();
}

#[tokio::test]
async fn shutdown_stops_the_server_and_the_consumer_cleanly() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get_json("/session/health", None).await.0, 200);
    let t = std::time::Instant::now();
    app.stop().await.expect("clean exit");
    assert!(
        t.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn an_existing_non_unique_user_id_index_does_not_stop_the_service() {
    let (client, mongo_db, coll) = foreign_database().await;
    coll.create_index(
        mongodb::IndexModel::builder()
            .keys(doc! {"userId": 1})
            .build(),
    )
    .await
    .unwrap();
    let app = TestApp::spawn_with(&[("MONGODB_DATABASE", mongo_db.as_str())]).await;
    let (_, token) = app.user("idx").await;
    assert_eq!(app.get_json("/session/health", None).await.0, 200);
    assert_eq!(app.post_session(&token, json!({"data": {}})).await.0, 201);
    client.database(&mongo_db).drop().await.unwrap();
}

#[tokio::test]
async fn health_reports_postgresql_unhealthy_without_leaking_the_driver_message() {
    let app = TestApp::spawn().await;
    // Dropping the test's own database (connections and all) breaks PostgreSQL for this
    // service only; the shared server stays up for the other tests.
    let name = app.db_url.rsplit('/').next().unwrap().to_owned();
    let mut admin =
        <sqlx::PgConnection as sqlx::Connection>::connect(&hub_testkit::env("DATABASE_URL"))
            .await
            .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    let (status, body) = app.get_json("/session/health", None).await;
    assert_eq!(
        (status, body),
        (
            500,
            json!({"status": "unhealthy", "error": "PostgreSQL unavailable"})
        )
    );
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_routes_served() {
    let app = TestApp::spawn().await;
    let doc = hub_testkit::assert_openapi_lists(&app.base, "message", &ROUTES).await;
    let by_id = &doc["paths"]["/api/sessions/{userId}"];
    for method in ["get", "put", "delete"] {
        assert!(by_id[method]["responses"]["403"].is_object(), "{method}");
        assert_eq!(
            by_id[method]["security"],
            json!([{"bearer": []}]),
            "{method}"
        );
    }
    assert!(doc["paths"]["/api/sessions"]["post"]["responses"]["201"].is_object());
    let session = &doc["components"]["schemas"]["Session"]["properties"];
    for key in ["_id", "userId", "data", "createdAt", "updatedAt", "__v"] {
        assert!(session[key].is_object(), "{key}: {session}");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}
