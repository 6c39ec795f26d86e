//! Password change, forgotten password and reset, and the password policy, over HTTP
//! against the real PostgreSQL; the races across two instances (`TestApp::beside`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Instant,
};

use crate::app::{AuthApp as _, AuthHelpers as _, TEST_ITERATIONS, TestApp};
use hub_identity::password::{Hasher, Verification};
use hub_testkit::{Go as _, json_body, token_pair};
use serde_json::{Value, json};
use uuid::Uuid;

const REVOKED: &str = "Token has been revoked";

fn hasher() -> Hasher {
    Hasher::new(TEST_ITERATIONS.parse().unwrap()).unwrap()
}

/// A user `name` (email `<name>@example.com`) with a current-format hash of `pw`.
async fn user(app: &TestApp, name: &str, pw: &str) -> Uuid {
    app.insert_user(
        name,
        &format!("{name}@example.com"),
        &hasher().hash(pw).unwrap(),
    )
    .await
}

async fn login(app: &TestApp, name: &str, pw: &str) -> (String, String) {
    let (status, body) = json_body(app.login(name, pw).await).await;
    assert_eq!(status, 200, "{body}");
    token_pair(&body)
}

async fn change(app: &TestApp, token: &str, current: &str, new: &str) -> (u16, Value) {
    let body = json!({ "current_password": current, "new_password": new });
    json_body(
        app.post("/api/account/password")
            .bearer_auth(token)
            .json(&body)
            .go()
            .await,
    )
    .await
}

async fn forgot(app: &TestApp, login: &str) -> (u16, Value) {
    let resp = app
        .post("/api/account/password/forgot")
        .json(&json!({ "login": login }))
        .go()
        .await;
    json_body(resp).await
}

async fn reset(app: &TestApp, code: &str, new: &str) -> (u16, Value) {
    let body = json!({ "code": code, "new_password": new });
    json_body(
        app.post("/api/account/password/reset")
            .json(&body)
            .go()
            .await,
    )
    .await
}

async fn refresh(app: &TestApp, refresh_token: &str) -> u16 {
    let body = json!({ "refresh_token": refresh_token });
    app.post("/token/refresh")
        .json(&body)
        .go()
        .await
        .status()
        .as_u16()
}

/// The `data` of every outbox row of `event`, oldest first.
async fn events(app: &TestApp, event: &str) -> Vec<Value> {
    let bodies: Vec<(String, String)> =
        sqlx::query_as("SELECT queue, body FROM outbox WHERE event = $1 ORDER BY created_at")
            .bind(event)
            .fetch_all(&mut app.db().await)
            .await
            .unwrap();
    bodies
        .into_iter()
        .map(|(queue, body)| {
            assert_eq!(
                queue,
                format!("{}.account", app.queue),
                "account events go to RABBITMQ_ACCOUNT_QUEUE"
            );
            serde_json::from_str::<Value>(&body).unwrap()["data"].clone()
        })
        .collect()
}

/// The code of the newest `PasswordResetRequested` for `email`.
async fn code_for(app: &TestApp, email: &str) -> String {
    let mailed = events(app, "PasswordResetRequested").await;
    let last = mailed
        .iter()
        .rev()
        .find(|e| e["email"] == email)
        .unwrap_or_else(|| panic!("no code for {email}: {mailed:?}"));
    last["code"].as_str().unwrap().to_owned()
}

/// Whether `pw` is the stored password of `id`.
async fn is_password(app: &TestApp, id: Uuid, pw: &str) -> bool {
    let stored = app.stored_hash(id).await;
    matches!(
        hasher().verify(pw, Some(&stored)),
        Verification::Valid { .. }
    )
}

/// Token families of `id` that can still refresh.
async fn live_logins(app: &TestApp, id: Uuid) -> i64 {
    sqlx::query_scalar(
        r#"SELECT count(*) FROM token_family f JOIN "user" u ON u.id = f.user_id
           WHERE f.user_id = $1 AND f.revoked_at IS NULL AND f.expires_at > now()
             AND (u.tokens_valid_after IS NULL OR f.created_at > u.tokens_valid_after)"#,
    )
    .bind(id)
    .fetch_one(&mut app.db().await)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_change_needs_the_current_password_keeps_the_caller_signed_in_and_signs_out_the_rest() {
    let app = TestApp::spawn().await;
    let id = user(&app, "cp-ana", "old-password").await;
    let (mine, mine_refresh) = login(&app, "cp-ana", "old-password").await;
    let (other, other_refresh) = login(&app, "cp-ana", "old-password").await;

    // Refusals change nothing.
    assert_eq!(
        change(&app, &mine, "wrong-password", "new-password-1").await,
        (400, json!({ "message": "Current password is wrong" }))
    );
    assert_eq!(
        change(&app, &mine, "old-password", "short").await,
        (
            400,
            json!({ "message": "Invalid new_password: must be at least 8 characters" })
        )
    );
    let long = "x".repeat(129);
    assert_eq!(
        change(&app, &mine, "old-password", &long).await,
        (
            400,
            json!({ "message": "Invalid new_password: must be at most 128 characters" })
        )
    );
    let (status, body) = json_body(
        app.post("/api/account/password")
            .bearer_auth(&mine)
            .json(&json!({ "current_password": "old-password" }))
            .go()
            .await,
    )
    .await;
    assert_eq!(
        (status, body),
        (400, json!({ "message": "Missing field: new_password" }))
    );
    let (status, _) = json_body(
        app.post("/api/account/password")
            .json(&json!({ "current_password": "old-password", "new_password": "new-password-1" }))
            .go()
            .await,
    )
    .await;
    assert_eq!(status, 403, "no token");
    assert!(is_password(&app, id, "old-password").await);
    assert_eq!(app.profile(&other).await.0, 200, "nothing revoked yet");
    assert!(events(&app, "PasswordChanged").await.is_empty());

    let (status, body) = change(&app, &mine, "old-password", "new-password-1").await;
    assert_eq!(status, 200, "{body}");
    let (token, refresh_token) = token_pair(&body);
    assert!(is_password(&app, id, "new-password-1").await);

    // Every token from before is revoked, the caller's too; the new login works.
    for t in [&mine, &other] {
        assert_eq!(app.profile(t).await, (401, json!({ "message": REVOKED })));
    }
    for r in [&mine_refresh, &other_refresh] {
        assert_eq!(refresh(&app, r).await, 401);
    }
    assert_eq!(app.profile(&token).await.0, 200);
    assert_eq!(refresh(&app, &refresh_token).await, 200);
    assert_eq!(live_logins(&app, id).await, 1);
    assert_eq!(app.login("cp-ana", "old-password").await.status(), 401);
    assert_eq!(app.login("cp-ana", "new-password-1").await.status(), 200);

    // The notice: one PasswordChanged to the account's address.
    let changed = events(&app, "PasswordChanged").await;
    assert_eq!(
        changed,
        vec![json!({ "user_id": id, "username": "cp-ana", "email": "cp-ana@example.com" })]
    );
}

#[tokio::test]
async fn wrong_current_passwords_count_as_failed_logins_of_the_account() {
    let app = TestApp::spawn_with(&[("LOGIN_MAX_FAILURES_PER_USER", "3")]).await;
    user(&app, "cp-bob", "old-password").await;
    let (token, _) = login(&app, "cp-bob", "old-password").await;
    for _ in 0..3 {
        assert_eq!(
            change(&app, &token, "guess-guess", "new-password-1")
                .await
                .0,
            400
        );
    }
    let resp = app
        .post("/api/account/password")
        .bearer_auth(&token)
        .json(&json!({ "current_password": "old-password", "new_password": "new-password-1" }))
        .go()
        .await;
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(
        app.login("cp-bob", "old-password").await.status(),
        429,
        "the account's lock"
    );
}

/// Many changes of one password at once, from different logins, across two instances:
/// one wins; the password is the winner's; no token from before lives, only the
/// winner's new login.
#[tokio::test]
async fn two_password_changes_at_once_leave_one_password_and_no_live_token_from_before() {
    let limits = [("LOGIN_MAX_FAILURES_PER_USER", "100")];
    let a = TestApp::spawn_with(&limits).await;
    let b = a.beside(&limits).await;
    for round in 0..3 {
        let name = format!("race-{round}");
        let id = user(&a, &name, "old-password").await;
        let n = if round == 0 { 2 } else { 8 };
        let mut logins = Vec::new();
        for _ in 0..n {
            logins.push(login(&a, &name, "old-password").await);
        }
        let answers =
            futures_util::future::join_all(logins.iter().enumerate().map(|(i, (t, _))| {
                let app = if i % 2 == 0 { &a } else { &b };
                async move { change(app, t, "old-password", &format!("new-password-{i}")).await }
            }))
            .await;
        let winners: Vec<usize> = (0..n).filter(|&i| answers[i].0 == 200).collect();
        assert_eq!(winners.len(), 1, "{answers:?}");
        for (status, body) in &answers {
            assert!(
                [200, 401, 409].contains(status),
                "a loser is told the password changed or its token is revoked: {status} {body}"
            );
        }
        let w = winners[0];
        assert!(is_password(&a, id, &format!("new-password-{w}")).await);
        for (i, (t, r)) in logins.iter().enumerate() {
            assert_eq!(b.profile(t).await.0, 401, "token {i} from before");
            assert_eq!(refresh(&a, r).await, 401, "refresh token {i} from before");
        }
        let (token, _) = token_pair(&answers[w].1);
        assert_eq!(b.profile(&token).await.0, 200);
        assert_eq!(live_logins(&a, id).await, 1, "only the winner's new login");
        assert_eq!(events(&a, "PasswordChanged").await.len(), round + 1);
    }
}

#[tokio::test]
async fn forgot_answers_alike_and_mails_a_single_use_code_that_resets_and_revokes_everything() {
    let app = TestApp::spawn_with(&[("PASSWORD_RESET_MAX_PER_ACCOUNT", "10")]).await;
    let id = user(&app, "fp-ana", "old-password").await;
    let (token, refresh_token) = login(&app, "fp-ana", "old-password").await;

    let known = forgot(&app, "fp-ana@example.com").await;
    let unknown = forgot(&app, "nobody@example.com").await;
    assert_eq!(known, unknown);
    assert_eq!(
        known,
        (
            202,
            json!({ "message": "If the account exists, a code has been sent to its email" })
        )
    );
    // Both went through the outbox: the code to the account, nothing to nobody.
    let mailed = events(&app, "PasswordResetRequested").await;
    assert_eq!(mailed.len(), 1, "{mailed:?}");
    assert_eq!(mailed[0]["email"], "fp-ana@example.com");
    assert_eq!(mailed[0]["expires_in_minutes"], 30);
    assert_eq!(
        events(&app, "PasswordResetUnmatched").await,
        vec![json!({})]
    );
    let code = code_for(&app, "fp-ana@example.com").await;
    assert_eq!(code.len(), 32);
    // Stored as a keyed digest only.
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT digest FROM password_reset")
        .fetch_all(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], code.as_bytes());
    assert_ne!(stored[0], hub_identity::revocation::refresh_digest(&code));

    // A refused password leaves the code usable and nothing changed.
    assert_eq!(
        reset(&app, &code, "short").await,
        (
            400,
            json!({ "message": "Invalid new_password: must be at least 8 characters" })
        )
    );
    assert_eq!(
        reset(&app, "0123456789abcdef0123456789abcdef", "new-password-1").await,
        (400, json!({ "message": "Invalid or expired code" }))
    );
    assert!(is_password(&app, id, "old-password").await);
    assert_eq!(app.profile(&token).await.0, 200);

    assert_eq!(
        reset(&app, &code, "new-password-1").await,
        (200, json!({ "message": "Password reset" }))
    );
    assert!(is_password(&app, id, "new-password-1").await);
    assert_eq!(
        app.profile(&token).await,
        (401, json!({ "message": REVOKED }))
    );
    assert_eq!(refresh(&app, &refresh_token).await, 401);
    assert_eq!(live_logins(&app, id).await, 0, "every token revoked");
    assert_eq!(events(&app, "PasswordChanged").await.len(), 1);
    // Once only.
    assert_eq!(
        reset(&app, &code, "new-password-2").await,
        (400, json!({ "message": "Invalid or expired code" }))
    );
    assert_eq!(app.login("fp-ana", "new-password-1").await.status(), 200);

    // By username too; an expired code is refused; a reset uses up the other codes.
    assert_eq!(forgot(&app, "fp-ana").await.0, 202);
    let first = code_for(&app, "fp-ana@example.com").await;
    assert_eq!(forgot(&app, "FP-Ana").await.0, 202);
    let second = code_for(&app, "fp-ana@example.com").await;
    assert_ne!(first, second);
    sqlx::query(
        "UPDATE password_reset SET expires_at = now() - interval '1 second'
         WHERE digest = (SELECT digest FROM password_reset WHERE used_at IS NULL ORDER BY created_at LIMIT 1)",
    )
    .execute(&mut app.db().await)
    .await
    .unwrap();
    assert_eq!(
        reset(&app, &first, "new-password-3").await.0,
        400,
        "expired"
    );
    assert_eq!(forgot(&app, "fp-ana").await.0, 202);
    let third = code_for(&app, "fp-ana@example.com").await;
    assert_eq!(reset(&app, &second, "new-password-4").await.0, 200);
    assert_eq!(
        reset(&app, &third, "new-password-5").await.0,
        400,
        "used up by the reset"
    );
    assert!(is_password(&app, id, "new-password-4").await);
}

/// One code presented many times at once across two instances: one reset, the rest
/// refused; the password is the winner's.
#[tokio::test]
async fn a_reset_code_used_twice_at_once_works_once() {
    let a = TestApp::spawn().await;
    let b = a.beside(&[]).await;
    for (round, n) in [2usize, 10].into_iter().enumerate() {
        let name = format!("rr-{round}");
        let id = user(&a, &name, "old-password").await;
        assert_eq!(forgot(&a, &name).await.0, 202);
        let code = code_for(&a, &format!("{name}@example.com")).await;
        let answers = futures_util::future::join_all((0..n).map(|i| {
            let app = if i % 2 == 0 { &a } else { &b };
            let code = code.clone();
            async move { reset(app, &code, &format!("new-password-{i}")).await }
        }))
        .await;
        let winners: Vec<usize> = (0..n).filter(|&i| answers[i].0 == 200).collect();
        assert_eq!(winners.len(), 1, "{answers:?}");
        for (i, answer) in answers.iter().enumerate() {
            if i != winners[0] {
                assert_eq!(
                    answer,
                    &(400, json!({ "message": "Invalid or expired code" }))
                );
            }
        }
        assert!(is_password(&a, id, &format!("new-password-{}", winners[0])).await);
    }
    assert_eq!(events(&a, "PasswordChanged").await.len(), 2);
}

/// Across two instances at once: the login string's and the address's limits answer
/// 429 with Retry-After; the account's mails no more and answers the same.
#[tokio::test]
async fn forgot_is_limited_per_login_per_address_and_quietly_per_account() {
    let limits = [
        ("PASSWORD_RESET_MAX_PER_ACCOUNT", "2"),
        ("PASSWORD_RESET_MAX_PER_ADDRESS", "1000"),
    ];
    let a = TestApp::spawn_with(&limits).await;
    let b = a.beside(&limits).await;
    user(&a, "rl-ana", "old-password").await;
    let answers = futures_util::future::join_all(
        (0..10).map(|i| forgot(if i % 2 == 0 { &a } else { &b }, "rl-ana")),
    )
    .await;
    let accepted = answers.iter().filter(|(s, _)| *s == 202).count();
    let throttled = answers.iter().filter(|(s, _)| *s == 429).count();
    assert_eq!((accepted, throttled), (2, 8), "{answers:?}");
    assert_eq!(
        answers.iter().find(|(s, _)| *s == 429).unwrap().1,
        json!({ "message": "Too many requests; try again later" })
    );
    assert_eq!(events(&a, "PasswordResetRequested").await.len(), 2);
    // The same account by its email: another login string, the same account, past its
    // limit: the same answer as ever, and no mail.
    assert_eq!(forgot(&b, "rl-ana@example.com").await.0, 202);
    assert_eq!(events(&a, "PasswordResetRequested").await.len(), 2);
    assert_eq!(events(&a, "PasswordResetUnmatched").await.len(), 1);
    // An unknown login is limited alike (the answer tells nothing).
    let unknown = futures_util::future::join_all(
        (0..6).map(|i| forgot(if i % 2 == 0 { &a } else { &b }, "ghost")),
    )
    .await;
    assert_eq!(
        unknown.iter().filter(|(s, _)| *s == 429).count(),
        4,
        "{unknown:?}"
    );

    // The address: 5 distinct logins at once, across both, with room for 3.
    let few = [("PASSWORD_RESET_MAX_PER_ADDRESS", "3")];
    let c = TestApp::spawn_with(&few).await;
    let d = c.beside(&few).await;
    let (c, d) = (&c, &d);
    let answers = futures_util::future::join_all((0..5).map(|i| async move {
        let app = if i % 2 == 0 { c } else { d };
        let resp = app
            .post("/api/account/password/forgot")
            .json(&json!({ "login": format!("who-{i}") }))
            .go()
            .await;
        (
            resp.status().as_u16(),
            resp.headers().get("retry-after").is_some(),
        )
    }))
    .await;
    let accepted = answers.iter().filter(|(s, _)| *s == 202).count();
    assert_eq!(accepted, 3, "{answers:?}");
    assert!(
        answers
            .iter()
            .filter(|(s, _)| *s == 429)
            .all(|(_, retry)| *retry)
    );
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Issue 23: over 200 requests of each kind, the medians of a forgot for an account
/// that exists and for one that does not are within 2 ms. Interleaved, so load on the
/// machine falls on both alike; the figures are printed
/// (`cargo nextest run -p auth -E 'test(/forgot_takes/)' --no-capture`).
#[tokio::test]
async fn forgot_takes_as_long_for_an_unknown_account_as_for_a_known_one() {
    let limits = [
        ("PASSWORD_RESET_MAX_PER_ACCOUNT", "100000"),
        ("PASSWORD_RESET_MAX_PER_ADDRESS", "100000"),
    ];
    let app = TestApp::spawn_with(&limits).await;
    for i in 0..10 {
        user(&app, &format!("tm-{i}"), "old-password").await;
    }
    let timed = async |login: String| {
        let started = Instant::now();
        let (status, _) = forgot(&app, &login).await;
        assert_eq!(status, 202);
        started.elapsed().as_secs_f64() * 1000.0
    };
    for i in 0..20 {
        timed(format!("tm-{}", i % 10)).await;
        timed(format!("warm-{i}")).await;
    }
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..200 {
        // Alternate which kind goes first.
        if i % 2 == 0 {
            known.push(timed(format!("tm-{}@example.com", i % 10)).await);
            unknown.push(timed(format!("nobody-{i}@example.com")).await);
        } else {
            unknown.push(timed(format!("nobody-{i}@example.com")).await);
            known.push(timed(format!("tm-{}@example.com", i % 10)).await);
        }
    }
    let (k, u) = (median(known), median(unknown));
    println!(
        "forgot, 200 each: median known account {k:.3} ms, unknown {u:.3} ms, difference {:.3} ms",
        (k - u).abs()
    );
    assert!((k - u).abs() < 2.0, "known {k:.3} ms, unknown {u:.3} ms");
    assert_eq!(events(&app, "PasswordResetRequested").await.len(), 220);
}

/// A stand-in for the Pwned Passwords range API: answers `breached` (with a padding
/// line) for any prefix, and records each path asked for.
async fn stand_in(breached: &'static str) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    use axum::{Router, extract::Path, routing::get};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let app = Router::new().route(
        "/range/{prefix}",
        get(move |Path(prefix): Path<String>| {
            let log = Arc::clone(&log);
            async move {
                log.lock().unwrap().push(prefix);
                format!(
                    "0018A45C4D1DEF81644B54AB7F969B88D65:0\r\n{}\r\n",
                    hub_identity::policy::range_line(breached, 12)
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

#[tokio::test]
async fn a_breached_password_is_refused_and_only_five_hex_digits_of_its_hash_leave() {
    let (addr, seen) = stand_in("password123").await;
    let url = format!("http://{addr}");
    let app = TestApp::spawn_with(&[("PASSWORD_BREACH_CHECK_URL", &url)]).await;
    let id = user(&app, "br-ana", "old-password").await;
    let (token, _) = login(&app, "br-ana", "old-password").await;
    assert_eq!(
        change(&app, &token, "old-password", "password123").await,
        (
            400,
            json!({ "message": "Invalid new_password: appears in a list of breached passwords; choose another" })
        )
    );
    assert!(is_password(&app, id, "old-password").await);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![hub_identity::policy::range_prefix("password123")]
    );
    assert_eq!(seen.lock().unwrap()[0].len(), 5);

    // The same at reset; an unlisted password passes.
    assert_eq!(forgot(&app, "br-ana").await.0, 202);
    let code = code_for(&app, "br-ana@example.com").await;
    assert_eq!(reset(&app, &code, "password123").await.0, 400);
    assert_eq!(reset(&app, &code, "a fine new passphrase").await.0, 200);
    assert!(is_password(&app, id, "a fine new passphrase").await);

    // Unreachable: `refuse` is a 503 and leaves the code usable; `accept` lets it pass.
    let closed = "http://127.0.0.1:9";
    let refuse = TestApp::spawn_with(&[
        ("PASSWORD_BREACH_CHECK_URL", closed),
        ("PASSWORD_BREACH_CHECK_UNREACHABLE", "refuse"),
    ])
    .await;
    let id = user(&refuse, "br-bob", "old-password").await;
    assert_eq!(forgot(&refuse, "br-bob").await.0, 202);
    let code = code_for(&refuse, "br-bob@example.com").await;
    assert_eq!(
        reset(&refuse, &code, "a fine new passphrase").await,
        (503, json!({ "message": "Service temporarily unavailable" }))
    );
    let accept = refuse
        .beside(&[
            ("PASSWORD_BREACH_CHECK_URL", closed),
            ("PASSWORD_BREACH_CHECK_UNREACHABLE", "accept"),
        ])
        .await;
    assert_eq!(reset(&accept, &code, "a fine new passphrase").await.0, 200);
    assert!(is_password(&refuse, id, "a fine new passphrase").await);
}
