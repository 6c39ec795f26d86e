//! Session writes on a replica set: `MONGODB_WRITE_CONCERN` reaches every write the
//! service makes (the backing mongod is a one-member replica set, where `majority` is
//! that member), a write whose concern is not met is never answered as a success, and
//! with no primary available a write answers 503.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use crate::app::{SessionApp as _, SessionHelpers as _, TestApp};
use hub_runtime::{
    config::Vars,
    http::JsonError,
    service::{Service as _, Settings},
};
use hub_testkit::Go as _;
use mongodb::bson::{Bson, doc};
use serde_json::json;
use session::{error::ApiError, store::sessions::Sessions};

#[tokio::test]
async fn with_a_majority_write_concern_every_session_write_is_acknowledged() {
    let app = TestApp::spawn_with(&[("MONGODB_WRITE_CONCERN", "majority")]).await;
    let (user, token) = app.user("wc-majority").await;
    let (status, body) = app
        .post_session(&token, json!({"data": {"text": "a"}}))
        .await;
    assert_eq!(status, 201, "{body}");
    let put = app
        .request(
            reqwest::Method::PUT,
            &format!("/api/sessions/{user}"),
            Some(&token),
        )
        .json(&json!({"data": {"text": "b"}}))
        .go()
        .await;
    assert_eq!(put.status(), 200);
    let doc = app.session_doc(user).await.unwrap();
    assert_eq!(doc.get_document("data").unwrap().get_str("text"), Ok("b"));
    // A login event, applied by the consumer with the same write concern.
    app.publish(
        &crate::app::user_logged_in(user, "2025-07-05T23:40:01.123456+00:00"),
        "wc-login-1",
    )
    .await;
    app.wait_for_session(user, Duration::from_secs(15), |d| {
        d.get_datetime("lastLoginAt").is_ok()
    })
    .await;
    let delete = app
        .request(
            reqwest::Method::DELETE,
            &format!("/api/sessions/{user}"),
            Some(&token),
        )
        .go()
        .await;
    assert_eq!(delete.status(), 200);
    assert!(app.session_doc(user).await.is_none());
}

#[tokio::test]
async fn a_write_concern_the_replica_set_cannot_meet_is_never_answered_as_a_success() {
    // Two members must acknowledge; the set has one. The server refuses the concern,
    // which proves it reached each write: none is reported as done.
    let (sessions, database) = sessions_with(&hub_testkit::mongodb_uri(), "2").await;
    let data = || Bson::Document(doc! { "text": "a" });
    let errors = [
        sessions
            .upsert("wc-two", data())
            .await
            .map(drop)
            .unwrap_err(),
        sessions
            .set_text("wc-two", "b".into())
            .await
            .map(drop)
            .unwrap_err(),
        sessions
            .record_login("wc-two", chrono::Utc::now(), "event-1")
            .await
            .map(drop)
            .unwrap_err(),
    ];
    for err in errors {
        // A write concern larger than the replica set is a configuration mistake, not
        // an outage: a 500, logged.
        assert!(!err.is_unavailable(), "{err}");
        assert_eq!(ApiError::from(err).status(), 500);
    }
    let client = mongodb::Client::with_uri_str(hub_testkit::mongodb_uri())
        .await
        .unwrap();
    client.database(&database).drop().await.unwrap();
    // Nor does the service start: its index creation carries the same concern.
    let source = hub_testkit::local_source(
        &[
            (
                "DATABASE_URL",
                &hub_testkit::create_database("session").await,
            ),
            ("MONGODB_URI", &hub_testkit::mongodb_uri()),
            ("MONGODB_DATABASE", &hub_testkit::mongo_database("session")),
            ("MONGODB_WRITE_CONCERN", "2"),
            ("JWT_SECRET", "s"),
            ("SESSION_CONSUMER", "false"),
        ],
        &[],
    );
    let settings = Settings::from_source(&source, session::Session::PORT).unwrap();
    let built = hub_runtime::service::App::<session::Session>::build(settings).await;
    assert!(built.is_err());
}

#[tokio::test]
async fn a_write_with_no_primary_available_is_a_503() {
    // The real server, but not a member of the set the URI names: the driver finds no
    // primary, as during an election.
    let uri = hub_testkit::mongodb_uri();
    assert!(
        uri.contains("replicaSet="),
        "the test server is a replica set: {uri}"
    );
    let uri = uri.replace("replicaSet=", "replicaSet=not-");
    let (sessions, _) = sessions_with(&uri, "majority").await;
    let err = sessions
        .upsert("no-primary", Bson::Document(doc! { "text": "a" }))
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert_eq!(ApiError::from(err).status(), 503);
}

/// The `sessions` collection of a fresh database (and its name), through `uri` with
/// `MONGODB_WRITE_CONCERN=write_concern`, as the service builds it.
async fn sessions_with(uri: &str, write_concern: &str) -> (Sessions, String) {
    let database = hub_testkit::mongo_database("session");
    let env = hub_testkit::config_source(
        &[
            ("MONGODB_URI", uri),
            ("MONGODB_DATABASE", &database),
            ("MONGODB_WRITE_CONCERN", write_concern),
            ("MONGODB_TIMEOUT_MS", "300"),
        ],
        &[],
    );
    let settings = hub_mongo::MongoSettings::from_vars(&Vars::new(&env)).unwrap();
    let (_client, db) = hub_mongo::connect(&settings, "session").await.unwrap();
    (Sessions::new(&db, Duration::from_secs(5)), database)
}
