//! Administration over HTTP (issue 23 item 6): the admin role an operator grants, the
//! user list, deactivation and reactivation, and an administrator acting on any
//! user's logins; against the real PostgreSQL, across two instances.

use std::collections::HashMap;

use hub_testkit::{Go as _, json_body, token_pair};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::app::{AuthApp as _, AuthHelpers as _, TestApp};

/// A user with a current-format hash of `pw`.
pub async fn user(app: &TestApp, name: &str, pw: &str) -> Uuid {
    let hasher =
        hub_identity::password::Hasher::new(crate::app::TEST_ITERATIONS.parse().unwrap()).unwrap();
    app.insert_user(
        name,
        &format!("{name}@example.com"),
        &hasher.hash(pw).unwrap(),
    )
    .await
}

/// The operator's `auth users <args>` against the test's database.
pub async fn operator(app: &TestApp, args: &[&str]) -> Result<String, auth::admin::AdminError> {
    let env: HashMap<String, String> = [("DATABASE_URL".to_owned(), app.db_url.clone())].into();
    let env = move |k: &str| env.get(k).cloned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    auth::admin::users(&args, &env).await
}

/// `(token, refresh_token)` of a successful login of `name` with password `pw`.
pub async fn login(app: &TestApp, name: &str, pw: &str) -> (String, String) {
    let (status, body) = json_body(app.login(name, pw).await).await;
    assert_eq!(status, 200, "{body}");
    token_pair(&body)
}

/// A new administrator `name` (password `pw`) made by the operator, and its token.
pub async fn admin(app: &TestApp, name: &str) -> (Uuid, String) {
    let id = user(app, name, "admin-pw").await;
    operator(app, &["grant-admin", name]).await.unwrap();
    (id, login(app, name, "admin-pw").await.0)
}

/// `method path` with `token`: status and JSON body (`null` for none).
pub async fn call(app: &TestApp, method: Method, path: &str, token: &str) -> (u16, Value) {
    let resp = app.req(method, path).bearer_auth(token).go().await;
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    (status, body)
}

/// The claims, unverified.
pub fn payload(token: &str) -> Value {
    jsonwebtoken::dangerous::insecure_decode_claims(token).unwrap()
}

async fn refresh(app: &TestApp, refresh_token: &str) -> (u16, Value) {
    let body = json!({ "refresh_token": refresh_token });
    json_body(app.post("/token/refresh").json(&body).go().await).await
}

const REVOKED: &str = "Token has been revoked";

fn admin_required() -> (u16, Value) {
    (403, json!({ "message": "Admin role required" }))
}

#[tokio::test]
async fn only_the_operator_makes_an_admin_and_a_revoked_role_stops_at_once_everywhere() {
    let app = TestApp::spawn().await;
    let other = app.beside(&[]).await;
    let ana = user(&app, "ana", "pw").await;
    let (token, refresh_token) = login(&app, "ana", "pw").await;
    // An ordinary token keeps the shape it had: no roles claim.
    assert!(
        payload(&token).get("roles").is_none(),
        "{}",
        payload(&token)
    );
    assert_eq!(
        call(&app, Method::GET, "/api/admin/users", &token).await,
        admin_required()
    );
    assert_eq!(
        call(&app, Method::GET, "/api/admin/users", "not-a-jwt").await,
        (401, json!({ "message": "Invalid token" }))
    );
    let (status, _) = json_body(app.get("/api/admin/users").await).await;
    assert_eq!(status, 403, "no token");

    assert_eq!(
        operator(&app, &["grant-admin", "ana"]).await.unwrap(),
        format!("ana ({ana}) is now an administrator (from its next login or refresh)")
    );
    assert_eq!(
        operator(&app, &["grant-admin", "ana@example.com"])
            .await
            .unwrap(),
        format!("ana@example.com ({ana}) was already an administrator")
    );
    assert_eq!(
        operator(&app, &["admins"]).await.unwrap(),
        format!("ana ({ana})")
    );
    let missing = operator(&app, &["grant-admin", "nobody"])
        .await
        .unwrap_err();
    assert_eq!(missing.exit_code(), 2, "{missing}");
    assert_eq!(
        operator(&app, &["promote", "ana"])
            .await
            .unwrap_err()
            .exit_code(),
        2
    );

    // The token from before the grant has no claim: still refused, until a refresh.
    assert_eq!(
        call(&app, Method::GET, "/api/admin/users", &token).await,
        admin_required()
    );
    let (status, body) = refresh(&other, &refresh_token).await;
    assert_eq!(status, 200, "{body}");
    let (admin_token, _) = token_pair(&body);
    assert_eq!(payload(&admin_token)["roles"], json!(["admin"]));
    for instance in [&app, &other] {
        let (status, body) = call(instance, Method::GET, "/api/admin/users", &admin_token).await;
        assert_eq!(status, 200, "{body}");
    }
    // A fresh login carries it too.
    let (fresh, _) = login(&other, "ana", "pw").await;
    assert_eq!(payload(&fresh)["roles"], json!(["admin"]));

    // Revoked: the same tokens are refused by the admin routes at once, on both
    // instances, and keep working elsewhere.
    assert_eq!(
        operator(&app, &["revoke-admin", "ana"]).await.unwrap(),
        format!("ana ({ana}) is no longer an administrator")
    );
    for instance in [&app, &other] {
        for t in [&admin_token, &fresh] {
            assert_eq!(
                call(instance, Method::GET, "/api/admin/users", t).await,
                admin_required()
            );
            assert_eq!(instance.profile(t).await.0, 200);
        }
    }
    assert_eq!(
        operator(&app, &["admins"]).await.unwrap(),
        "no administrators"
    );
    // Logins from now on carry no claim.
    let (plain, _) = login(&app, "ana", "pw").await;
    assert!(payload(&plain).get("roles").is_none());
}

#[tokio::test]
async fn registration_never_makes_an_admin() {
    // The only writers of "user".roles are the operator's commands: a new row has none.
    let app = TestApp::spawn().await;
    let id = user(&app, "reg", "pw").await;
    let roles: Vec<String> = sqlx::query_scalar(r#"SELECT roles FROM "user" WHERE id = $1"#)
        .bind(id)
        .fetch_one(&mut app.db().await)
        .await
        .unwrap();
    assert!(roles.is_empty());
}

#[tokio::test]
async fn the_user_list_pages_by_cursor_and_filters_by_prefix_and_state() {
    let app = TestApp::spawn().await;
    let (_, token) = admin(&app, "root").await;
    let mut ids = HashMap::new();
    for name in [
        "ana", "Anabel", "bob", "bea", "carl", "dan", "eve", "x%y", "x_z",
    ] {
        ids.insert(name, user(&app, name, "pw").await);
    }
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/api/admin/users/{}/deactivate", ids["bob"]),
        &token,
    )
    .await;
    assert_eq!(status, 200);

    let page = |query: String| {
        let app = &app;
        let token = token.clone();
        async move {
            call(
                app,
                Method::GET,
                &format!("/api/admin/users{query}"),
                &token,
            )
            .await
        }
    };
    // Every user exactly once, in username order, three at a time.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("?limit=3&cursor={}", urlencode(c)),
            None => "?limit=3".to_owned(),
        };
        let (status, body) = page(query).await;
        assert_eq!(status, 200, "{body}");
        let users = body["users"].as_array().unwrap();
        assert!(users.len() <= 3);
        for u in users {
            seen.push(u["username"].as_str().unwrap().to_owned());
            assert!(u.get("password").is_none() && u.get("dni").is_none(), "{u}");
        }
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen.len(), 10, "{seen:?}");
    sorted.dedup();
    assert_eq!(sorted.len(), 10, "no user twice: {seen:?}");

    let names = |body: &Value| -> Vec<String> {
        let mut v: Vec<String> = body["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    let (_, body) = page("?q=AN".into()).await;
    assert_eq!(names(&body), ["Anabel", "ana"], "case-insensitive prefix");
    let (_, body) = page("?q=bea%40example".into()).await;
    assert_eq!(names(&body), ["bea"], "by email");
    let (_, body) = page("?q=x%25".into()).await;
    assert_eq!(names(&body), ["x%y"], "% is literal");
    let (_, body) = page("?q=x_".into()).await;
    assert_eq!(names(&body), ["x_z"], "_ is literal");
    let (_, body) = page("?active=false".into()).await;
    assert_eq!(names(&body), ["bob"]);
    assert_eq!(body["users"][0]["is_active"], false);
    assert!(body["users"][0]["deactivated_at"].is_string());
    let (_, body) = page("?active=true&q=b".into()).await;
    assert_eq!(names(&body), ["bea"]);
    let (_, body) = page("?q=root".into()).await;
    assert_eq!(body["users"][0]["roles"], json!(["admin"]));
    assert_eq!(body["users"][0]["is_active"], true);

    for (query, message) in [
        ("?limit=0", "limit must be a whole number from 1 to 200"),
        ("?limit=201", "limit must be a whole number from 1 to 200"),
        ("?limit=x", "limit must be a whole number from 1 to 200"),
        ("?active=yes", "active must be true or false"),
        (
            "?sort=name",
            "Unknown query parameter; known: limit, cursor, q, active",
        ),
        ("?q=%00", "Query parameters cannot hold NUL"),
    ] {
        assert_eq!(
            page(query.into()).await,
            (400, json!({ "message": message })),
            "{query}"
        );
    }

    // One user by id; a wrong id.
    let (status, body) = call(
        &app,
        Method::GET,
        &format!("/api/admin/users/{}", ids["carl"]),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["username"], "carl");
    assert_eq!(body["email"], "carl@example.com");
    assert_eq!(body["id"], ids["carl"].to_string());
    let path = format!("/api/admin/users/{}", Uuid::new_v4());
    assert_eq!(
        call(&app, Method::GET, &path, &token).await,
        (404, json!({ "message": "User not found" }))
    );
    assert_eq!(
        call(&app, Method::GET, "/api/admin/users/42", &token).await,
        (400, json!({ "message": "id must be a UUID" }))
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The events in the test's outbox named `name`, as their `data`.
async fn outbox_events(app: &TestApp, name: &str) -> Vec<Value> {
    sqlx::query_scalar::<_, Value>(
        "SELECT body::jsonb -> 'data' FROM outbox WHERE body::jsonb ->> 'event' = $1 ORDER BY id",
    )
    .bind(name)
    .fetch_all(&mut app.db().await)
    .await
    .unwrap()
}

#[tokio::test]
async fn deactivation_ends_login_refresh_and_every_token_at_once_on_both_instances() {
    let app = TestApp::spawn().await;
    let other = app.beside(&[]).await;
    let (root, token) = admin(&app, "root").await;
    let ana = user(&app, "ana", "pw").await;
    let (t1, r1) = login(&app, "ana", "pw").await;
    let (t2, _) = login(&other, "ana", "pw").await;
    let legacy = crate::app::sign(
        &app.secret,
        &json!({"user_id": ana, "username": "ana", "exp": chrono::Utc::now().timestamp() + 600}),
    );
    assert_eq!(app.profile(&legacy).await.0, 200);

    let path = |what: &str| format!("/api/admin/users/{ana}/{what}");
    let (status, body) = call(&other, Method::POST, &path("deactivate"), &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["is_active"], false);
    for instance in [&app, &other] {
        for t in [&t1, &t2, &legacy] {
            assert_eq!(
                instance.profile(t).await,
                (401, json!({ "message": REVOKED }))
            );
        }
        assert_eq!(
            refresh(instance, &r1).await,
            (401, json!({ "message": "Invalid refresh token" }))
        );
        // The right password learns the state; a wrong one gets the usual answer.
        let (status, body) = json_body(instance.login("ana", "pw").await).await;
        assert_eq!(
            (status, body),
            (403, json!({ "message": "Account is deactivated" }))
        );
        let (status, body) = json_body(instance.login("ana", "nope").await).await;
        assert_eq!(
            (status, body),
            (401, json!({ "message": "Invalid credentials" }))
        );
    }
    // Idempotent, one event; the administrator cannot deactivate themself.
    let (status, body) = call(&app, Method::POST, &path("deactivate"), &token).await;
    assert_eq!((status, &body["is_active"]), (200, &json!(false)));
    assert_eq!(
        outbox_events(&app, "UserDeactivated").await,
        [json!({ "user_id": ana, "by": root })]
    );
    let reasons: Vec<Value> = outbox_events(&app, "UserLoginFailed").await;
    assert!(
        reasons
            .iter()
            .any(|d| d["reason"] == "Account deactivated" && d["username"] == "ana"),
        "{reasons:?}"
    );
    assert_eq!(
        call(
            &app,
            Method::POST,
            &format!("/api/admin/users/{root}/deactivate"),
            &token
        )
        .await,
        (
            400,
            json!({ "message": "An administrator cannot deactivate their own account" })
        )
    );
    let ghost = format!("/api/admin/users/{}/deactivate", Uuid::new_v4());
    assert_eq!(
        call(&app, Method::POST, &ghost, &token).await,
        (404, json!({ "message": "User not found" }))
    );

    // Reactivated: a new login works; nothing from before comes back.
    let (status, body) = call(&app, Method::POST, &path("reactivate"), &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["is_active"].clone(), body["deactivated_at"].clone()),
        (json!(true), Value::Null)
    );
    for instance in [&app, &other] {
        for t in [&t1, &t2, &legacy] {
            assert_eq!(instance.profile(t).await.0, 401);
        }
        assert_eq!(refresh(instance, &r1).await.0, 401);
    }
    let (t3, r3) = login(&other, "ana", "pw").await;
    assert_eq!(app.profile(&t3).await.0, 200);
    assert_eq!(refresh(&app, &r3).await.0, 200);
    assert_eq!(
        outbox_events(&app, "UserReactivated").await,
        [json!({ "user_id": ana, "by": root })]
    );
    // A deactivated administrator is no administrator.
    let (_, token2) = admin(&app, "root2").await;
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/api/admin/users/{root}/deactivate"),
        &token2,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        call(&other, Method::GET, "/api/admin/users", &token).await,
        (401, json!({ "message": REVOKED }))
    );
}

/// Deactivation racing refreshes and logins on two instances: whatever each of them
/// got, no token works afterwards, not even after reactivation.
#[tokio::test]
async fn deactivation_racing_refreshes_and_logins_leaves_no_live_token() {
    // Refused logins count as failures: a high limit keeps the throttle out of the way.
    let limits = [
        ("LOGIN_MAX_FAILURES_PER_USER", "1000"),
        ("LOGIN_MAX_FAILURES_PER_ADDRESS", "1000"),
    ];
    let app = TestApp::spawn_with(&limits).await;
    let other = app.beside(&limits).await;
    let (_, token) = admin(&app, "root").await;
    let ana = user(&app, "ana", "pw").await;
    for round in 0..3 {
        let mut pairs = Vec::new();
        for i in 0..6 {
            pairs.push(login(if i % 2 == 0 { &app } else { &other }, "ana", "pw").await);
        }
        let (app, other) = (&app, &other);
        let path = format!("/api/admin/users/{ana}/deactivate");
        let deactivate = call(other, Method::POST, &path, &token);
        let refreshes = futures_util::future::join_all(
            pairs
                .iter()
                .enumerate()
                .map(|(i, (_, r))| refresh(if i % 2 == 0 { other } else { app }, r)),
        );
        let logins = futures_util::future::join_all((0..6).map(|i| async move {
            json_body(
                (if i % 2 == 0 { app } else { other })
                    .login("ana", "pw")
                    .await,
            )
            .await
        }));
        let ((status, _), refreshed, logged_in) = tokio::join!(deactivate, refreshes, logins);
        assert_eq!(status, 200);
        let mut tokens: Vec<(String, String)> = pairs.clone();
        for (status, body) in refreshed.iter().chain(logged_in.iter()) {
            match status {
                200 => tokens.push(token_pair(body)),
                401 | 403 => {}
                other => panic!("round {round}: {other} {body}"),
            }
        }
        for (t, r) in &tokens {
            for instance in [&app, &other] {
                assert_eq!(instance.profile(t).await.0, 401, "round {round}");
            }
            assert_eq!(refresh(other, r).await.0, 401, "round {round}");
        }
        let (status, _) = call(
            app,
            Method::POST,
            &format!("/api/admin/users/{ana}/reactivate"),
            &token,
        )
        .await;
        assert_eq!(status, 200);
        for (t, r) in &tokens {
            assert_eq!(
                app.profile(t).await.0,
                401,
                "round {round}: after reactivation"
            );
            assert_eq!(
                refresh(app, r).await.0,
                401,
                "round {round}: after reactivation"
            );
        }
    }
}

#[tokio::test]
async fn an_admin_lists_and_revokes_any_users_logins() {
    let app = TestApp::spawn().await;
    let other = app.beside(&[]).await;
    let (_, token) = admin(&app, "root").await;
    let ana = user(&app, "ana", "pw").await;
    let (t1, _) = login(&app, "ana", "pw").await;
    let (t2, r2) = login(&other, "ana", "pw").await;
    let sid = |t: &str| payload(t)["sid"].as_str().unwrap().to_owned();

    let (status, body) = call(
        &other,
        Method::GET,
        &format!("/api/admin/users/{ana}/logins"),
        &token,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mut listed: Vec<&str> = body["logins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    listed.sort_unstable();
    let mut want = vec![sid(&t1), sid(&t2)];
    want.sort();
    assert_eq!(listed, want);
    assert!(
        body["logins"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["current"] == false)
    );

    let one = format!("/api/admin/users/{ana}/logins/{}", sid(&t1));
    assert_eq!(
        call(&app, Method::DELETE, &one, &token).await,
        (204, Value::Null)
    );
    for instance in [&app, &other] {
        assert_eq!(
            instance.profile(&t1).await,
            (401, json!({ "message": REVOKED }))
        );
        assert_eq!(instance.profile(&t2).await.0, 200, "the other login stays");
    }
    assert_eq!(
        call(&app, Method::DELETE, &one, &token).await,
        (404, json!({ "message": "Login not found" }))
    );
    let (root_sid, bad) = (sid(&token), format!("/api/admin/users/{ana}/logins/x"));
    assert_eq!(
        call(
            &app,
            Method::DELETE,
            &format!("/api/admin/users/{ana}/logins/{root_sid}"),
            &token
        )
        .await,
        (404, json!({ "message": "Login not found" })),
        "another user's login is not the user's"
    );
    assert_eq!(
        call(&app, Method::DELETE, &bad, &token).await,
        (400, json!({ "message": "id and login_id must be UUIDs" }))
    );
    let ghost = format!("/api/admin/users/{}/logins", Uuid::new_v4());
    assert_eq!(
        call(&app, Method::GET, &ghost, &token).await,
        (404, json!({ "message": "User not found" }))
    );

    let all = format!("/api/admin/users/{ana}/logins/revoke-all");
    assert_eq!(
        call(&other, Method::POST, &all, &token).await,
        (200, json!({ "revoked": 1 }))
    );
    assert_eq!(app.profile(&t2).await.0, 401);
    assert_eq!(refresh(&app, &r2).await.0, 401);
    assert_eq!(
        app.profile(&token).await.0,
        200,
        "the admin's own login is untouched"
    );
}

#[tokio::test]
async fn replay_deletions_deletes_again_the_logged_accounts_still_there_and_names_a_bad_line() {
    let app = TestApp::spawn().await;
    let back = user(&app, "restored", "pw").await;
    let kept = user(&app, "kept", "pw").await;
    let never = Uuid::new_v4();
    let dir = std::env::temp_dir().join(format!("replay-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("deletions");
    std::fs::write(
        &log,
        format!("{back} 2026-12-07T22:00:00.000000Z\n\n{never} 2026-12-07T22:00:01.000000Z\n"),
    )
    .unwrap();
    let out = operator(&app, &["replay-deletions", log.to_str().unwrap()])
        .await
        .unwrap();
    assert_eq!(out, "deleted 1 account(s) again; 1 already gone");
    let mut db = app.db().await;
    let left: Vec<Uuid> = sqlx::query_scalar(r#"SELECT id FROM "user" WHERE id = ANY($1)"#)
        .bind(vec![back, kept])
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert_eq!(left, vec![kept]);
    let logged: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM deleted_account WHERE user_id = $1)")
            .bind(back)
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert!(logged);
    // Its UserDeleted for session and images, as any deletion writes.
    let events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE event = 'UserDeleted' AND body LIKE '%' || $1 || '%'",
    )
    .bind(back.to_string())
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(events, 2);
    // Again: nothing left to delete.
    let out = operator(&app, &["replay-deletions", log.to_str().unwrap()])
        .await
        .unwrap();
    assert_eq!(out, "deleted 0 account(s) again; 2 already gone");
    // A line that is no id: exit 2, naming the file's line, nothing deleted.
    std::fs::write(&log, format!("{kept}\nnot-an-id\n")).unwrap();
    let err = operator(&app, &["replay-deletions", log.to_str().unwrap()])
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("line 2"), "{err}");
    let still: bool = sqlx::query_scalar(r#"SELECT EXISTS (SELECT 1 FROM "user" WHERE id = $1)"#)
        .bind(kept)
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert!(still, "a bad line deleted the accounts before it");
    std::fs::remove_dir_all(&dir).unwrap();
}
