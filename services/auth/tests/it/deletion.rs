//! `DELETE /api/account`, `GET /api/account/export` and the use case behind them
//! (`account::deletion`): after a deletion, a scan of every PostgreSQL table finds nothing
//! of the user but the deletion log and the `UserDeleted` events (its id only), also when
//! logins race the deletion on two instances.

use auth::account::deletion::{self, By, DeletionError};
use futures_util::future::join_all;
use hub_testkit::{Go as _, json_body};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{PgConnection, Row as _};
use uuid::Uuid;

use crate::{
    app::AuthHelpers as _,
    harness::{AuthApp as _, TestApp},
};

/// auth with its own images queue (the deletion's second `UserDeleted` goes there).
async fn spawn(extra: &[(&str, &str)]) -> (TestApp, String) {
    let images_queue = hub_testkit::queue_name("auth-images");
    let mut settings = vec![("IMAGES_QUEUE", images_queue.as_str())];
    settings.extend_from_slice(extra);
    (TestApp::spawn_with(&settings).await, images_queue)
}

/// The user's strings: (id, username, email, dni).
async fn strings_of(db: &mut PgConnection, id: Uuid) -> (String, String, String, String) {
    let row = sqlx::query(r#"SELECT username, email, dni FROM "user" WHERE id = $1"#)
        .bind(id)
        .fetch_one(db)
        .await
        .unwrap();
    (id.to_string(), row.get(0), row.get(1), row.get(2))
}

/// `http://127.0.0.1:<port>` where nothing listens (a port just bound and let go).
async fn closed_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn a_deleted_account_leaves_nothing_of_it_in_any_table_and_its_export_had_everything() {
    // Nothing listens where session and images would be: the HTTP export must refuse
    // (tests/tests/it/deletion.rs runs it against the real services).
    let closed = closed_url().await;
    let (app, images_queue) = spawn(&[
        ("SESSION_URL", closed.as_str()),
        ("IMAGES_URL", closed.as_str()),
    ])
    .await;
    let id = app.legacy_user("del-ana", "right-password").await;
    let mut db = app.db().await;
    let (id_s, username, email, dni) = strings_of(&mut db, id).await;

    // Traces of the user everywhere: a login (token family, UserLoggedIn), failures
    // under two spellings (throttle rows keyed by the account and by digests of the login
    // strings; UserLoginFailed), a registration event as user-soap writes it (published),
    // a mail notifications recorded.
    let token = app.token_for(&username, "right-password").await;
    assert_eq!(app.login(&username, "wrong").await.status(), 401);
    assert_eq!(
        app.login(&email.to_uppercase(), "wrong").await.status(),
        401
    );
    sqlx::query(
        "INSERT INTO outbox (message_id, queue, event, body, published_at)
         VALUES ($1, 'user-events', 'UserRegistered', $2, now())",
    )
    .bind(Uuid::new_v4())
    .bind(json!({"event": "UserRegistered", "data": {"id": id, "username": username, "first_name": "Ana",
        "last_name": "Peña", "dni": dni, "email": email, "city": "Málaga"}, "timestamp": "2026-12-07T10:00:00Z"}).to_string())
    .execute(&mut db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO notification (message_id, template, recipient, claimed_at, lease_until, sent_at)
         VALUES ($1, 'welcome', $2, now(), now(), now())",
    )
    .bind(Uuid::new_v4().to_string())
    .bind(email.to_lowercase())
    .execute(&mut db)
    .await
    .unwrap();
    app.wait_outbox_drained(std::time::Duration::from_secs(20))
        .await;
    // The throttle rows hold digests, which a text scan cannot find: named here.
    let throttle_keys = vec![
        format!("account:{id}"),
        auth::login::throttle_user_key(&username.to_lowercase()),
        auth::login::throttle_user_key(&email.to_lowercase()),
    ];
    let throttle_rows = async |db: &mut PgConnection| -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM login_throttle WHERE key = ANY($1)")
            .bind(&throttle_keys)
            .fetch_one(db)
            .await
            .unwrap()
    };
    assert_eq!(throttle_rows(&mut db).await, 3);
    let needles = [
        id_s.as_str(),
        username.as_str(),
        email.as_str(),
        dni.as_str(),
    ];
    assert!(
        hub_testkit::pg_leftovers(&app.db_url, &id_s, &needles)
            .await
            .len()
            >= 6,
        "the scan finds the traces it must find"
    );

    // Without session and images the export answers 503 naming the store, nothing
    // partial.
    let (status, body) = json_body(
        app.req(Method::GET, "/api/account/export")
            .bearer_auth(&token)
            .go()
            .await,
    )
    .await;
    assert_eq!(status, 503, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("Export unavailable: sessions could not be read"),
        "{body}"
    );
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");

    // PostgreSQL's part of the export has all of it, but the password hash.
    let export = deletion::stored_in_postgres(&app.state().await, id)
        .await
        .unwrap();
    assert_eq!(export["user"]["email"], email.as_str());
    assert_eq!(export["user"]["dni"], dni.as_str());
    assert!(export["user"].get("password").is_none(), "{export}");
    assert_eq!(export["logins"].as_array().unwrap().len(), 1, "{export}");
    assert!(
        export["login_throttle"].as_array().unwrap().len() >= 2,
        "{export}"
    );
    let events: Vec<&str> = export["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for event in ["UserLoggedIn", "UserLoginFailed", "UserRegistered"] {
        assert!(events.contains(&event), "{events:?}");
    }
    assert_eq!(export["mails"][0]["template"], "welcome");

    // Refused deletions change nothing.
    let delete = |body: Value| {
        app.req(Method::DELETE, "/api/account")
            .bearer_auth(&token)
            .json(&body)
    };
    let (status, body) = json_body(delete(json!({"password": "wrong"})).go().await).await;
    assert_eq!(
        (status, body),
        (401, json!({"message": "Invalid credentials"}))
    );
    let (status, body) = json_body(delete(json!({})).go().await).await;
    assert_eq!(
        (status, body),
        (400, json!({"message": "Missing field: password"}))
    );
    let (status, _) = json_body(
        app.req(Method::DELETE, "/api/account")
            .json(&json!({"password": "right-password"}))
            .go()
            .await,
    )
    .await;
    assert_eq!(status, 403, "no token");
    assert_eq!(app.profile(&token).await.0, 200, "still there");

    let (status, body) = json_body(delete(json!({"password": "right-password"})).go().await).await;
    assert_eq!((status, body), (200, json!({"message": "Account deleted"})));

    let hits = hub_testkit::pg_leftovers(&app.db_url, &id_s, &needles).await;
    assert!(hits.is_empty(), "left behind: {hits:#?}");
    assert_eq!(throttle_rows(&mut db).await, 0);
    let logged: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM deleted_account WHERE user_id = $1 AND by_admin IS NULL",
    )
    .bind(id)
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(logged, 1);
    let queues: Vec<String> = sqlx::query_scalar(
        "SELECT queue FROM outbox WHERE event = 'UserDeleted' AND body LIKE '%' || $1 || '%' ORDER BY queue",
    )
    .bind(&id_s)
    .fetch_all(&mut db)
    .await
    .unwrap();
    let mut expected = vec![app.queue.clone(), images_queue.clone()];
    expected.sort();
    assert_eq!(queues, expected, "one UserDeleted per consumer");

    // The token is dead, and a second deletion finds nobody.
    assert_eq!(app.profile(&token).await.0, 404);
    let (status, _) = json_body(delete(json!({"password": "right-password"})).go().await).await;
    assert_eq!(status, 404);

    app.wait_outbox_drained(std::time::Duration::from_secs(20))
        .await;
    let deleted = hub_testkit::take_messages(&images_queue).await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].body["event"], "UserDeleted");
    assert_eq!(deleted[0].body["data"], json!({"user_id": id_s}));
}

#[tokio::test]
async fn an_admin_deletion_is_the_same_use_case_and_is_logged_with_the_admin() {
    let (app, images_queue) = spawn(&[]).await;
    let id = app.legacy_user("del-bea", "pw-bea-12345").await;
    let state = app.state().await;
    let admin = Uuid::new_v4();
    let done = deletion::delete_account(&state, id, By::Admin(admin), Some("req-1".into()))
        .await
        .unwrap();
    assert_eq!(done.throttle_rows, 0);
    let again = deletion::delete_account(&state, id, By::Admin(admin), None).await;
    assert!(matches!(again, Err(DeletionError::NotFound)), "{again:?}");
    let by: Option<Uuid> =
        sqlx::query_scalar("SELECT by_admin FROM deleted_account WHERE user_id = $1")
            .bind(id)
            .fetch_one(&mut app.db().await)
            .await
            .unwrap();
    assert_eq!(by, Some(admin));
    let export = deletion::stored_in_postgres(&state, id).await;
    assert!(matches!(export, Err(DeletionError::NotFound)), "{export:?}");
    app.wait_outbox_drained(std::time::Duration::from_secs(20))
        .await;
    hub_testkit::take_messages(&images_queue).await;
}

#[tokio::test]
async fn wrong_passwords_at_deletion_count_against_the_account() {
    let (app, _images_queue) = spawn(&[("LOGIN_MAX_FAILURES_PER_USER", "3")]).await;
    app.legacy_user("del-cid", "right-password").await;
    let token = app.token_for("del-cid", "right-password").await;
    let delete = |pw: &'static str| {
        app.req(Method::DELETE, "/api/account")
            .bearer_auth(&token)
            .json(&json!({ "password": pw }))
            .go()
    };
    for _ in 0..3 {
        assert_eq!(delete("wrong").await.status(), 401);
    }
    let resp = delete("right-password").await;
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(app.profile(&token).await.0, 200, "not deleted");
}

#[tokio::test]
async fn a_deletion_racing_logins_on_two_instances_leaves_no_token_and_no_login_event() {
    // Limits out of the way: the throttle and a loaded machine's pool waits (a 503) are
    // not what this test is about.
    let limits = [
        ("LOGIN_MAX_FAILURES_PER_USER", "1000"),
        ("LOGIN_MAX_FAILURES_PER_ADDRESS", "1000"),
        ("DB_MAX_CONNECTIONS", "30"),
        ("DB_ACQUIRE_TIMEOUT_MS", "10000"),
    ];
    let (a, images_queue) = spawn(&limits).await;
    let b = a.beside(&[]).await;
    let id = a.legacy_user("del-dan", "right-password").await;
    let mut db = a.db().await;
    let (id_s, username, email, dni) = strings_of(&mut db, id).await;
    let token = a.token_for(&username, "right-password").await;

    // 40 logins, half on each instance, and the deletion on b, all at once.
    let logins = join_all((0..40).map(|i| {
        let (app, username) = (if i % 2 == 0 { &a } else { &b }, username.clone());
        async move {
            let resp = app.login(&username, "right-password").await;
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap();
            (status, body)
        }
    }));
    let deletion = b
        .req(Method::DELETE, "/api/account")
        .bearer_auth(&token)
        .json(&json!({"password": "right-password"}))
        .go();
    let (logins, deleted) = tokio::join!(logins, deletion);
    let status = deleted.status();
    assert_eq!(status, 200, "{}", deleted.text().await.unwrap());

    let mut issued = Vec::new();
    for (status, body) in logins {
        match status {
            200 => issued.push(body),
            401 => assert_eq!(body, json!({"message": "Invalid credentials"})),
            other => panic!("a login answered {other}: {body}"),
        }
    }
    // Whatever was issued before the deletion is dead on both instances.
    for body in &issued {
        let token = body["token"].as_str().unwrap();
        assert_eq!(a.profile(token).await.0, 404);
        let refresh = b
            .post("/token/refresh")
            .json(&json!({"refresh_token": body["refresh_token"]}))
            .go()
            .await;
        assert_eq!(refresh.status(), 401);
    }
    let families: i64 = sqlx::query_scalar("SELECT count(*) FROM token_family WHERE user_id = $1")
        .bind(id)
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(families, 0);
    let tokens: i64 = sqlx::query_scalar("SELECT count(*) FROM refresh_token")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(
        tokens, 0,
        "the only user's refresh tokens went with its families"
    );
    // The throttle may count failed logins of the name after the deletion (a name that
    // matches no account is counted too, by the digest of the login string), never the
    // account; nothing else holds anything of the user.
    let hits: Vec<_> = hub_testkit::pg_leftovers(
        &a.db_url,
        &id_s,
        &[
            id_s.as_str(),
            username.as_str(),
            email.as_str(),
            dni.as_str(),
        ],
    )
    .await
    .into_iter()
    .filter(|(table, row)| table != "login_throttle" || row.contains(&id_s))
    .collect();
    assert!(hits.is_empty(), "left behind: {hits:#?}");
    a.wait_outbox_drained(std::time::Duration::from_secs(20))
        .await;
    hub_testkit::take_messages(&images_queue).await;
}
