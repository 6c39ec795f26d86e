//! `POST /api/users`: the JSON registration for REST front-ends, over HTTP against the
//! real service, PostgreSQL and RabbitMQ: the same use case, rules and events as the
//! SOAP operation, answered in JSON.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use crate::app::{SoapApp as _, SoapHelpers as _, TestApp, pairs, tag, two_instances, user_fields};
use hub_testkit::Go as _;
use reqwest::Method;
use serde_json::{Map, Value, json};

fn body(fields: &[(String, String)]) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect::<Map<_, _>>(),
    )
}

/// `POST /api/users`, to be completed and sent.
fn users_request(app: &TestApp) -> reqwest::RequestBuilder {
    app.req(Method::POST, "/api/users")
}

async fn post_json(app: &TestApp, body: &Value) -> (u16, Value) {
    let resp = users_request(app).json(body).go().await;
    let status = resp.status().as_u16();
    assert_eq!(
        resp.headers()["content-type"],
        "application/json",
        "{status}"
    );
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn a_json_registration_is_stored_and_announced_like_a_soap_one() {
    let app = TestApp::spawn().await;
    let fields = user_fields(&tag());
    let (status, reply) = post_json(&app, &body(&fields)).await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["message"], "User registered successfully");
    let id = reply["id"].as_str().unwrap();
    uuid::Uuid::parse_str(id).unwrap();

    // Stored with a current-format hash auth verifies, like a SOAP registration.
    let row: (String, String) =
        sqlx::query_as(r#"SELECT username, password FROM "user" WHERE id = $1::uuid"#)
            .bind(id)
            .fetch_one(&mut app.db().await)
            .await
            .unwrap();
    assert_eq!(row.0, fields[0].1);
    assert!(
        hub_identity::password::is_recognised(&row.1) && !row.1.contains("s3cret"),
        "stored as a hash auth recognises"
    );

    let msgs = app.take_messages().await;
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(msgs[0].event(), "UserRegistered");
    assert_eq!(msgs[0].body["data"]["id"], id);
    assert!(msgs[0].body["data"].get("password").is_none());
}

#[tokio::test]
async fn a_taken_field_is_a_409_naming_it_and_records_the_failure() {
    let app = TestApp::spawn().await;
    let first = user_fields(&tag());
    assert_eq!(app.register11(&pairs(&first)).await.0, 200, "over SOAP");
    for (i, field) in ["username", "dni", "email"].into_iter().enumerate() {
        let mut again = user_fields(&tag());
        again[[0, 4, 5][i]].1 = first[[0, 4, 5][i]].1.clone();
        let (status, reply) = post_json(&app, &body(&again)).await;
        assert_eq!(
            (status, reply),
            (
                409,
                json!({"error": format!("{field} is already registered"), "field": field})
            )
        );
    }
    assert_eq!(app.users().await, 1);
    let events: Vec<String> = app
        .take_messages()
        .await
        .iter()
        .map(|m| m.event().to_owned())
        .collect();
    assert_eq!(
        events,
        [
            "UserRegistered",
            "UserRegistrationFailed",
            "UserRegistrationFailed",
            "UserRegistrationFailed"
        ]
    );
}

/// A username that looks like a taken one under UTS #39 (Cyrillic `һ` for `h`, `1` for
/// `l`) is answered exactly as a taken username, and recorded as one.
#[tokio::test]
async fn a_look_alike_username_is_the_409_of_a_taken_username() {
    let app = TestApp::spawn().await;
    let t = tag();
    for name in [format!("john{t}"), format!("bobl{t}")] {
        let mut fields = user_fields(&tag());
        fields[0].1 = name;
        assert_eq!(app.register11(&pairs(&fields)).await.0, 200, "over SOAP");
    }
    for name in [format!("jo\u{04BB}n{t}"), format!("bob1{t}")] {
        let mut fields = user_fields(&tag());
        fields[0].1 = name;
        assert_eq!(
            post_json(&app, &body(&fields)).await,
            (
                409,
                json!({"error": "username is already registered", "field": "username"})
            )
        );
    }
    let mut different = user_fields(&tag());
    different[0].1 = format!("bobi{t}");
    assert_eq!(post_json(&app, &body(&different)).await.0, 201);
    assert_eq!(app.users().await, 3);
    let failed = app
        .take_messages()
        .await
        .iter()
        .filter(|m| m.event() == "UserRegistrationFailed")
        .count();
    assert_eq!(failed, 2);
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let valid = body(&user_fields(&tag()));
    let with = |key: &str, value: Value| {
        let mut b = valid.clone();
        b[key] = value;
        b
    };
    let mut missing = valid.clone();
    missing.as_object_mut().unwrap().remove("dni");
    let cases = [
        (missing, "dni", "Invalid dni: is required"),
        (
            with("city", json!(7)),
            "city",
            "Invalid city: must be a string",
        ),
        (
            with("email", json!("nobody")),
            "email",
            "Invalid email: is not an email address",
        ),
        (
            with("username", json!("a@b")),
            "username",
            "Invalid username: must not contain @",
        ),
        (
            with("username", json!("ana\u{200B}")),
            "username",
            "Invalid username: must not contain invisible or bidirectional control characters",
        ),
        (
            with("password", json!("1234567")),
            "password",
            "Invalid password: must be at least 8 characters",
        ),
        (
            with("password", json!("x".repeat(129))),
            "password",
            "Invalid password: must be at most 128 characters",
        ),
        (
            with("password", json!("x".repeat(1025))),
            "password",
            "Invalid password: must be at most 1024 characters",
        ),
    ];
    for (b, field, error) in cases {
        assert_eq!(
            post_json(&app, &b).await,
            (400, json!({"error": error, "field": field}))
        );
    }
    assert_eq!(
        post_json(&app, &json!(["not", "an", "object"])).await,
        (
            400,
            json!({"error": "Request body must be a JSON object with the user's fields"})
        )
    );

    // Not declared as JSON: 415, in JSON.
    let resp = users_request(&app)
        .header("content-type", "text/plain")
        .body(valid.to_string())
        .go()
        .await;
    assert_eq!(resp.status(), 415);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"error": "Content-Type must be application/json"})
    );
    // Over the body limit: the framework's 413, rendered in JSON for a JSON caller.
    let resp = users_request(&app)
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .go()
        .await;
    assert_eq!(resp.status(), 413);
    assert!(
        resp.json::<Value>().await.unwrap()["error"].is_string(),
        "413 in JSON"
    );
    assert_eq!(app.users().await, 0);
    assert!(app.take_messages().await.is_empty());
}

/// One username registered at once over JSON and SOAP on two instances: exactly one
/// wins, every other answer is its protocol's duplicate.
#[tokio::test]
async fn simultaneous_json_and_soap_registrations_on_two_instances_store_exactly_one() {
    let (a, b) = two_instances(&[]).await;
    let username = format!("race{}", tag());
    let attempts = (0..16).map(|i| {
        let mut fields = user_fields(&tag());
        fields[0].1 = username.clone();
        let app = if i % 2 == 0 { &a } else { &b };
        async move {
            if i % 4 < 2 {
                post_json(app, &body(&fields)).await.0
            } else {
                app.register11(&pairs(&fields)).await.0
            }
        }
    });
    let mut statuses = futures_util::future::join_all(attempts).await;
    statuses.sort_unstable();
    let wins = statuses.iter().filter(|s| matches!(s, 200 | 201)).count();
    assert_eq!(wins, 1, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| matches!(s, 200 | 201 | 409)),
        "{statuses:?}"
    );
    assert_eq!(a.users().await, 1);
}

#[tokio::test]
async fn the_openapi_document_describes_exactly_the_json_route() {
    let app = TestApp::spawn().await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    assert_eq!(hub_testkit::openapi_paths(&doc), ["/api/users"]);
    let post = &doc["paths"]["/api/users"]["post"];
    for status in ["201", "400", "409", "415", "429", "503"] {
        assert!(post["responses"][status].is_object(), "{status}: {post}");
    }
    // Documented means routed: an empty JSON body reaches the handler.
    assert_eq!(
        post_json(&app, &json!({})).await,
        (
            400,
            json!({"error": "Invalid username: is required", "field": "username"})
        )
    );
}
