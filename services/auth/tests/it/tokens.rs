//! Refresh tokens, logout, revocation and EdDSA keys, over HTTP against the real
//! PostgreSQL (each test on its own database).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashMap;

use crate::app::{AuthApp as _, AuthHelpers as _, TestApp, sign};
use hub_identity::keys::{SigningKey, generate_signing_pem};
use hub_testkit::{Go as _, json_body, token_pair};
use serde_json::{Value, json};
use uuid::Uuid;

/// A user with a current-format hash of `pw` (no upgrade on login).
async fn user(app: &TestApp, name: &str, pw: &str) -> Uuid {
    let hasher =
        hub_identity::password::Hasher::new(crate::app::TEST_ITERATIONS.parse().unwrap()).unwrap();
    app.insert_user(
        name,
        &format!("{name}@example.com"),
        &hasher.hash(pw).unwrap(),
    )
    .await
}

/// `(token, refresh_token)` of a successful login.
async fn login(app: &TestApp, name: &str, pw: &str) -> (String, String) {
    let resp = app.login(name, pw).await;
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let (status, body) = json_body(resp).await;
    assert_eq!(status, 200, "{body}");
    token_pair(&body)
}

async fn refresh(app: &TestApp, refresh_token: &str) -> (u16, Value) {
    refresh_with(app, &json!({ "refresh_token": refresh_token })).await
}

/// `POST /token/refresh` with `body`.
async fn refresh_with(app: &TestApp, body: &Value) -> (u16, Value) {
    json_body(app.post("/token/refresh").json(body).go().await).await
}

async fn logout(app: &TestApp, token: &str) -> (u16, Value) {
    json_body(app.post("/logout").bearer_auth(token).go().await).await
}

/// The claims, unverified.
fn payload(token: &str) -> Value {
    jsonwebtoken::dangerous::insecure_decode_claims(token).unwrap()
}

const REVOKED: &str = "Token has been revoked";

/// The refresh-reuse grace turned off: every second use is a reuse, as before it existed.
const GRACE_OFF: &[(&str, &str)] = &[("REFRESH_REUSE_GRACE_SECS", "0")];

/// `(refresh tokens of the login not yet rotated, whether the login is revoked)`.
async fn login_state(app: &TestApp, sid: &str) -> (i64, bool) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM refresh_token WHERE family_id = f.id AND rotated_at IS NULL),
                f.revoked_at IS NOT NULL
         FROM token_family f WHERE f.id = $1::uuid",
    )
    .bind(sid)
    .fetch_one(&mut app.db().await)
    .await
    .unwrap()
}

fn sid_of(token: &str) -> String {
    payload(token)["sid"].as_str().unwrap().to_owned()
}

/// `n` refreshes of `refresh_token` at once, alternating between `a` and `b`: each must
/// succeed, all with the same new refresh token and access tokens of the same login,
/// leaving that one refresh token live. Returns it.
async fn race(a: &TestApp, b: &TestApp, refresh_token: &str, n: usize) -> String {
    let answers = futures_util::future::join_all(
        (0..n).map(|i| refresh(if i % 2 == 0 { a } else { b }, refresh_token)),
    )
    .await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{n} at once: {answers:?} ({body})");
    }
    let pairs: Vec<(String, String)> = answers.iter().map(|(_, body)| token_pair(body)).collect();
    let successor = pairs[0].1.clone();
    assert_ne!(successor, refresh_token);
    let sid = sid_of(&pairs[0].0);
    for (token, next) in &pairs {
        assert_eq!(next, &successor, "{n} at once: one successor for all");
        assert_eq!(sid_of(token), sid, "the same login");
        assert_eq!(b.profile(token).await.0, 200);
    }
    assert_eq!(
        login_state(a, &sid).await,
        (1, false),
        "{n} at once: one live refresh token, login not revoked"
    );
    successor
}

#[tokio::test]
async fn simultaneous_refreshes_of_one_token_on_two_instances_all_get_one_successor() {
    let a = TestApp::spawn().await;
    let b = a.beside(&[]).await;
    user(&a, "ana", "pw").await;
    for n in [2, 4, 8] {
        let (_, r) = login(&a, "ana", "pw").await;
        let successor = race(&a, &b, &r, n).await;
        // The successor is the live token: it refreshes, once more all alike.
        let next = race(&b, &a, &successor, n).await;
        let (status, body) = refresh(&a, &next).await;
        assert_eq!(status, 200, "{body}");
    }

    // EdDSA: the successor key comes from the signing key, which both instances share.
    let key = generate_signing_pem();
    let ed = [("JWT_SIGNING_KEY", key.as_str())];
    let a = TestApp::spawn_with(&ed).await;
    let b = a.beside(&ed).await;
    user(&a, "eve", "pw").await;
    let (_, r) = login(&a, "eve", "pw").await;
    race(&a, &b, &r, 8).await;
}

#[tokio::test]
async fn a_copy_presented_after_the_grace_revokes_the_whole_login() {
    let short = [("REFRESH_REUSE_GRACE_SECS", "2")];
    let app = TestApp::spawn_with(&short).await;
    let other = app.beside(&short).await;
    user(&app, "ana", "pw").await;
    let (t1, r1) = login(&app, "ana", "pw").await;
    let sid = sid_of(&t1);
    let (status, body) = refresh(&app, &r1).await;
    assert_eq!(status, 200, "{body}");
    let (t2, r2) = token_pair(&body);

    // Wait, by the database's clock (the one the grace is measured by), until r1 was
    // rotated more than the grace ago.
    hub_testkit::eventually(std::time::Duration::from_secs(20), async || {
        sqlx::query_scalar::<_, bool>(
            "SELECT rotated_at < clock_timestamp() - interval '2 seconds'
             FROM refresh_token r JOIN token_family f ON f.id = r.family_id
             WHERE f.id = $1::uuid AND r.rotated_at IS NOT NULL",
        )
        .bind(&sid)
        .fetch_one(&mut app.db().await)
        .await
        .unwrap()
    })
    .await;
    assert_eq!(
        refresh(&other, &r1).await,
        (401, json!({ "message": "Invalid refresh token" }))
    );
    assert_eq!(login_state(&app, &sid).await, (1, true), "revoked");
    assert_eq!(refresh(&app, &r2).await.0, 401, "the newest too");
    for t in [&t1, &t2] {
        assert_eq!(app.profile(t).await, (401, json!({ "message": REVOKED })));
    }
    assert_eq!(revoked_reason(&app, &sid).await, "reuse");
}

/// Logout, a password change and the operator end what the grace handed out, and a copy
/// presented within the grace afterwards gets nothing.
#[tokio::test]
async fn the_grace_never_extends_a_revoked_login() {
    let app = TestApp::spawn().await;
    let other = app.beside(&[]).await;
    let id = user(&app, "ana", "pw").await;
    let env: HashMap<String, String> = [("DATABASE_URL".to_owned(), app.db_url.clone())].into();
    let env = move |k: &str| env.get(k).cloned();

    for how in ["logout", "password change", "operator"] {
        let (_, r) = login(&app, "ana", "pw").await;
        let (status, body) = refresh(&app, &r).await;
        assert_eq!(status, 200, "{body}");
        let (t2, r2) = token_pair(&body);
        // Within the grace, a copy gets the same successor: what the grace hands out.
        let (status, body) = refresh(&other, &r).await;
        assert_eq!(status, 200, "{how}: {body}");
        let (t3, r3) = token_pair(&body);
        assert_eq!(r3, r2, "{how}");
        match how {
            "logout" => assert_eq!(logout(&other, &t3).await.0, 200),
            "password change" => {
                let hash = hub_identity::password::Hasher::new(20000)
                    .unwrap()
                    .hash("pw")
                    .unwrap();
                sqlx::query(r#"UPDATE "user" SET password = $2 WHERE id = $1"#)
                    .bind(id)
                    .bind(&hash)
                    .execute(&mut app.db().await)
                    .await
                    .unwrap();
            }
            _ => {
                let args = ["revoke", "--account", "ana"].map(str::to_owned);
                auth::admin::tokens(&args, &env).await.unwrap();
            }
        }
        for instance in [&app, &other] {
            assert_eq!(refresh(instance, &r).await.0, 401, "{how}: the copy");
            assert_eq!(refresh(instance, &r2).await.0, 401, "{how}: the successor");
        }
        for t in [&t2, &t3] {
            assert_eq!(app.profile(t).await, (401, json!({ "message": REVOKED })));
        }
    }
    let reasons: Vec<Option<String>> =
        sqlx::query_scalar("SELECT revoked_reason FROM token_family ORDER BY created_at")
            .fetch_all(&mut app.db().await)
            .await
            .unwrap();
    assert_eq!(
        reasons[0].as_deref(),
        Some("logout"),
        "not turned into a reuse"
    );
}

/// A token the previous release rotated (no successor recorded), or one rotated by an
/// instance whose key derives another successor, presented again within the grace: the
/// grace has no successor to repeat, so 401, and the login stays with whoever holds its
/// newest token.
#[tokio::test]
async fn a_copy_the_grace_cannot_answer_is_refused_without_revoking_the_login() {
    let app = TestApp::spawn().await;
    user(&app, "ana", "pw").await;
    let (t1, r1) = login(&app, "ana", "pw").await;
    let (status, body) = refresh(&app, &r1).await;
    assert_eq!(status, 200, "{body}");
    let (_, r2) = token_pair(&body);
    sqlx::query("UPDATE refresh_token SET successor = NULL")
        .execute(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(refresh(&app, &r1).await.0, 401);
    assert_eq!(login_state(&app, &sid_of(&t1)).await, (1, false));
    let (status, body) = refresh(&app, &r2).await;
    assert_eq!(status, 200, "the newest still refreshes: {body}");
}

/// With the grace off (`REFRESH_REUSE_GRACE_SECS=0`), any second use revokes the login
/// at once; with it on, the same after the grace
/// (`a_copy_presented_after_the_grace_revokes_the_whole_login`).
#[tokio::test]
async fn a_login_returns_a_refresh_token_that_rotates_once_and_a_reuse_revokes_the_login() {
    let app = TestApp::spawn_with(GRACE_OFF).await;
    let id = user(&app, "ana", "pw").await;
    let (token, r1) = login(&app, "ana", "pw").await;
    let sid = payload(&token)["sid"].as_str().unwrap().to_owned();
    assert_eq!(payload(&token)["user_id"], json!(id.to_string()));
    // The token is still what PyJWT (the originals' library) accepts in HS256 mode.
    let claims = hub_testkit::pyjwt_decode(&token, &app.secret).unwrap();
    assert_eq!(claims["username"], "ana");
    assert_eq!(app.profile(&token).await.0, 200);

    let (status, body) = refresh(&app, &r1).await;
    assert_eq!(status, 200, "{body}");
    let (t2, r2) = token_pair(&body);
    assert_ne!(r2, r1);
    assert_eq!(payload(&t2)["sid"], json!(sid), "the same login");
    assert_eq!(app.profile(&t2).await.0, 200);

    // r1 again: someone holds a copy. 401, and every token of the login is revoked.
    let (status, body) = refresh(&app, &r1).await;
    assert_eq!(
        (status, body),
        (401, json!({ "message": "Invalid refresh token" }))
    );
    assert_eq!(refresh(&app, &r2).await.0, 401, "the newest is revoked too");
    for t in [&token, &t2] {
        assert_eq!(app.profile(t).await, (401, json!({ "message": REVOKED })));
    }
    assert_eq!(revoked_reason(&app, &sid).await, "reuse");

    // Other logins are not affected; unknown and malformed refresh tokens are refused.
    let (fresh, _) = login(&app, "ana", "pw").await;
    assert_eq!(app.profile(&fresh).await.0, 200);
    assert_eq!(refresh(&app, "made-up").await.0, 401);
    for (body, message) in [
        (json!({}), "Missing field: refresh_token"),
        (
            json!({"refresh_token": 1}),
            "Field refresh_token must be a string",
        ),
        (
            json!([]),
            "Request body must be a JSON object with refresh_token",
        ),
    ] {
        let (status, answer) = refresh_with(&app, &body).await;
        assert_eq!((status, answer), (400, json!({ "message": message })));
    }
    let not_json = app.post("/token/refresh").body("x").go().await;
    assert_eq!(not_json.status(), 415);
}

/// With the grace off, the database still lets exactly one of two simultaneous uses
/// rotate, and the other is a reuse. (With it on, all get the same successor:
/// `simultaneous_refreshes_of_one_token_on_two_instances_all_get_one_successor`.)
#[tokio::test]
async fn two_refreshes_of_one_token_on_two_instances_at_once_never_both_succeed() {
    let a = TestApp::spawn_with(GRACE_OFF).await;
    let b = a.beside(GRACE_OFF).await;
    user(&a, "ana", "pw").await;
    for round in 0..5 {
        let (_, r) = login(&a, "ana", "pw").await;
        let (ra, rb) = tokio::join!(refresh(&a, &r), refresh(&b, &r));
        let wins = [&ra, &rb].iter().filter(|(s, _)| *s == 200).count();
        assert!(wins <= 1, "round {round}: {ra:?} {rb:?}");
        for (status, body) in [&ra, &rb] {
            assert!(*status == 200 || *status == 401, "{status} {body}");
        }
        // Whoever won holds tokens of a login that the reuse has revoked.
        if let Some((_, body)) = [&ra, &rb].into_iter().find(|(s, _)| *s == 200) {
            let (token, newest) = token_pair(body);
            assert_eq!(refresh(&a, &newest).await.0, 401, "round {round}");
            assert_eq!(b.profile(&token).await.0, 401, "round {round}");
        }
    }
}

#[tokio::test]
async fn logout_revokes_the_login_everywhere_and_only_that_login() {
    let app = TestApp::spawn().await;
    let other = app.beside(&[]).await;
    user(&app, "ana", "pw").await;
    let (token, r) = login(&app, "ana", "pw").await;
    let (phone, phone_refresh) = login(&app, "ana", "pw").await;

    assert_eq!(
        logout(&app, &token).await,
        (200, json!({ "message": "Logged out" }))
    );
    assert_eq!(
        other.profile(&token).await,
        (401, json!({ "message": REVOKED }))
    );
    assert_eq!(refresh(&other, &r).await.0, 401);
    assert_eq!(logout(&app, &token).await.0, 401, "already revoked");
    assert_eq!(app.profile(&phone).await.0, 200, "another login");
    assert_eq!(refresh(&app, &phone_refresh).await.0, 200);

    let missing = app.post("/logout").go().await;
    assert_eq!(missing.status(), 403);
}

/// An HS256 token as the original auth minted it: no `sid`.
fn original_token(app: &TestApp, id: Uuid, iat: i64) -> String {
    sign(
        &app.secret,
        &json!({"user_id": id, "username": "ana", "exp": iat + 3600, "iat": iat}),
    )
}

#[tokio::test]
async fn a_password_change_or_the_operator_revokes_every_token_but_a_rehash_does_not() {
    let app = TestApp::spawn().await;
    let id = app.legacy_user("ana", "12345").await;
    // The first login upgrades the legacy hash: not a password change.
    let (first, first_refresh) = login(&app, "ana", "12345").await;
    let (second, _) = login(&app, "ana", "12345").await;
    // A stronger cost on another instance upgrades it again, still the same password.
    let stronger = app.beside(&[("PASSWORD_ARGON2_ITERATIONS", "2")]).await;
    let (third, _) = login(&stronger, "ana", "12345").await;
    assert!(app.stored_hash(id).await.contains(",t=2,"));
    for t in [&first, &second, &third] {
        assert_eq!(app.profile(t).await.0, 200);
    }

    // A password change (whoever makes it) revokes everything issued until then.
    let new_hash = hub_identity::password::Hasher::new(20000)
        .unwrap()
        .hash("changed")
        .unwrap();
    sqlx::query(r#"UPDATE "user" SET password = $2 WHERE id = $1"#)
        .bind(id)
        .bind(&new_hash)
        .execute(&mut app.db().await)
        .await
        .unwrap();
    for t in [&first, &second, &third] {
        assert_eq!(app.profile(t).await, (401, json!({ "message": REVOKED })));
    }
    assert_eq!(refresh(&app, &first_refresh).await.0, 401);
    let old_original = original_token(&app, id, chrono::Utc::now().timestamp() - 5);
    assert_eq!(app.profile(&old_original).await.0, 401);
    let (after, after_refresh) = login(&app, "ana", "changed").await;
    assert_eq!(app.profile(&after).await.0, 200);

    // The operator's command does the same.
    let env: HashMap<String, String> = [("DATABASE_URL".to_owned(), app.db_url.clone())].into();
    let env = move |k: &str| env.get(k).cloned();
    let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let out = auth::admin::tokens(&args(&["revoke", "--account", "ana@example.com"]), &env)
        .await
        .unwrap();
    assert!(out.contains(&id.to_string()), "{out}");
    assert_eq!(app.profile(&after).await.0, 401);
    assert_eq!(refresh(&app, &after_refresh).await.0, 401);
    let err = auth::admin::tokens(&args(&["revoke", "--account", "nobody"]), &env)
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        auth::admin::tokens(&args(&["revoke"]), &env)
            .await
            .unwrap_err()
            .to_string()
            .contains("usage: auth tokens")
    );
    // Logging in again works at once.
    let (again, _) = login(&app, "ana", "changed").await;
    assert_eq!(app.profile(&again).await.0, 200);
}

#[tokio::test]
async fn logging_out_a_token_of_the_original_revokes_every_token_of_its_user() {
    let app = TestApp::spawn().await;
    let id = user(&app, "ana", "pw").await;
    let (mine, _) = login(&app, "ana", "pw").await;
    let original = original_token(&app, id, chrono::Utc::now().timestamp());
    assert_eq!(
        app.profile(&original).await.0,
        200,
        "no sid: still accepted"
    );
    assert_eq!(logout(&app, &original).await.0, 200);
    assert_eq!(app.profile(&original).await.0, 401);
    assert_eq!(
        app.profile(&mine).await.0,
        401,
        "it had no login of its own"
    );
}

#[tokio::test]
async fn with_an_ed25519_key_tokens_are_eddsa_and_a_third_party_library_verifies_them_from_the_jwks()
 {
    let key = generate_signing_pem();
    let app = TestApp::spawn_with(&[("JWT_SIGNING_KEY", key.as_str())]).await;
    user(&app, "ana", "pw").await;
    let (token, _) = login(&app, "ana", "pw").await;
    let header = jsonwebtoken::decode_header(&token).unwrap();
    let kid = SigningKey::from_pem(&key)
        .unwrap()
        .public()
        .kid()
        .to_owned();
    assert_eq!(
        (header.alg, header.kid.as_deref()),
        (jsonwebtoken::Algorithm::EdDSA, Some(kid.as_str()))
    );

    let resp = app.get("/.well-known/jwks.json").await;
    assert_eq!(resp.headers()["cache-control"], "public, max-age=300");
    let (status, jwks) = json_body(resp).await;
    assert_eq!(status, 200);
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(jwks["keys"][0]["kid"], json!(kid));
    assert!(
        jwks.to_string().find("\"d\"").is_none(),
        "no private part: {jwks}"
    );

    let url = format!("{}/.well-known/jwks.json", app.base);
    let claims = hub_testkit::pyjwt_decode_with_jwks(&token, &url)
        .await
        .expect("PyJWT verifies");
    assert_eq!(claims["username"], "ana");
    assert_eq!(app.profile(&token).await.0, 200);

    // An HS256 token signed with the secret still in the environment is refused.
    let hs = original_token(&app, Uuid::new_v4(), chrono::Utc::now().timestamp());
    assert_eq!(
        app.profile(&hs).await,
        (401, json!({ "message": "Invalid token" }))
    );
    assert!(
        hub_testkit::pyjwt_decode_with_jwks(&hs, &url)
            .await
            .is_err()
    );

    // HS256 mode publishes nothing.
    let hs_app = TestApp::spawn().await;
    let (status, body) = json_body(hs_app.get("/.well-known/jwks.json").await).await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn a_rotated_key_keeps_verifying_until_retired_while_the_new_one_signs() {
    let (old, new) = (generate_signing_pem(), generate_signing_pem());
    let old_public = SigningKey::from_pem(&old).unwrap().public().to_pem();
    let before = TestApp::spawn_with(&[("JWT_SIGNING_KEY", old.as_str())]).await;
    user(&before, "ana", "pw").await;
    let (old_token, old_refresh) = login(&before, "ana", "pw").await;

    // The new key signs; the old one is still published and accepted.
    let after = before
        .beside(&[
            ("JWT_SIGNING_KEY", new.as_str()),
            ("JWT_ADDITIONAL_PUBLIC_KEYS", old_public.as_str()),
        ])
        .await;
    let (new_token, _) = login(&after, "ana", "pw").await;
    assert_ne!(
        jsonwebtoken::decode_header(&old_token).unwrap().kid,
        jsonwebtoken::decode_header(&new_token).unwrap().kid
    );
    for t in [&old_token, &new_token] {
        assert_eq!(after.profile(t).await.0, 200);
    }
    let (_, jwks) = json_body(after.get("/.well-known/jwks.json").await).await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    // A refresh token outlives the key change: the new key signs its next access token.
    let (status, body) = refresh(&after, &old_refresh).await;
    assert_eq!(status, 200, "{body}");
    let (refreshed, _) = token_pair(&body);
    assert_eq!(
        jsonwebtoken::decode_header(&refreshed).unwrap().kid,
        jsonwebtoken::decode_header(&new_token).unwrap().kid
    );

    // Retired: without the old key, its tokens no longer verify.
    let retired = before.beside(&[("JWT_SIGNING_KEY", new.as_str())]).await;
    assert_eq!(retired.profile(&old_token).await.0, 401);
    assert_eq!(retired.profile(&new_token).await.0, 200);
}

#[tokio::test]
async fn the_keys_command_generates_a_key_and_shows_its_kid_and_public_half() {
    let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let pem = auth::admin::keys(&args(&["generate"]), &mut std::io::empty()).unwrap();
    let key = SigningKey::from_pem(&pem).unwrap();
    let out = auth::admin::keys(&args(&["public"]), &mut pem.as_bytes()).unwrap();
    assert!(
        out.starts_with(&format!(
            "# kid {}\n-----BEGIN PUBLIC KEY-----",
            key.public().kid()
        )),
        "{out}"
    );
    assert!(!out.contains("PRIVATE"));
    let err = auth::admin::keys(&args(&["public"]), &mut "junk".as_bytes()).unwrap_err();
    assert_eq!(err.exit_code(), 2);
}

/// Why the login (token family) `sid` was revoked.
async fn revoked_reason(app: &TestApp, sid: &str) -> String {
    sqlx::query_scalar("SELECT revoked_reason FROM token_family WHERE id = $1::uuid")
        .bind(sid)
        .fetch_one(&mut app.db().await)
        .await
        .unwrap()
}
