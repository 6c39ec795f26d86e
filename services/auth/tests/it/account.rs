//! `/api/account*`: the caller's record, profile update, email verification and email
//! change, over HTTP against the real database and broker, with the races across two
//! instances (`TestApp::beside`).

use std::time::Duration;

use futures_util::future::join_all;
use hub_testkit::{Go as _, json_body};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::app::{AuthApp as _, AuthHelpers as _, TestApp};

/// The events named `event` in the outbox, oldest first: the envelopes' `data`.
pub async fn outbox_events(app: &TestApp, event: &str) -> Vec<Value> {
    let bodies: Vec<String> =
        sqlx::query_scalar("SELECT body FROM outbox WHERE event = $1 ORDER BY id")
            .bind(event)
            .fetch_all(&mut app.db().await)
            .await
            .unwrap();
    bodies
        .iter()
        .map(|b| serde_json::from_str::<Value>(b).unwrap()["data"].clone())
        .collect()
}

/// The code of the latest `EmailVerificationRequested` mailed to `email`.
pub async fn code_mailed_to(app: &TestApp, email: &str) -> String {
    let events = outbox_events(app, "EmailVerificationRequested").await;
    let event = events
        .iter()
        .rev()
        .find(|e| e["email"] == email)
        .unwrap_or_else(|| panic!("no code mailed to {email}: {events:?}"));
    event["code"].as_str().unwrap().to_owned()
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut req = app.req(method, path).json(&body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    json_body(req.go().await).await
}

async fn account(app: &TestApp, token: &str) -> Value {
    let (status, body) = json_body(
        app.req(Method::GET, "/api/account")
            .bearer_auth(token)
            .go()
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn patch(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    call(
        app,
        Method::PATCH,
        "/api/account/profile",
        Some(token),
        body,
    )
    .await
}

async fn verify(app: &TestApp, code: &str) -> (u16, Value) {
    call(
        app,
        Method::POST,
        "/api/account/email/verify",
        None,
        json!({ "code": code }),
    )
    .await
}

async fn change_email(app: &TestApp, token: &str, new_email: &str, password: &str) -> (u16, Value) {
    let body = json!({ "new_email": new_email, "password": password });
    call(app, Method::POST, "/api/account/email", Some(token), body).await
}

async fn resend(app: &TestApp, email: &str) -> (u16, Value) {
    let body = json!({ "email": email });
    call(
        app,
        Method::POST,
        "/api/account/email/verify/resend",
        None,
        body,
    )
    .await
}

async fn email_of(app: &TestApp, id: Uuid) -> String {
    sqlx::query_scalar(r#"SELECT email FROM "user" WHERE id = $1"#)
        .bind(id)
        .fetch_one(&mut app.db().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_profile_update_validates_like_registration_sets_updated_at_and_records_user_updated() {
    let app = TestApp::spawn().await;
    let id = app.legacy_user("pf-ana", "pw-ana-1").await;
    let token = app.token_for("pf-ana", "pw-ana-1").await;

    let before = account(&app, &token).await;
    assert_eq!(before["user_id"], id.to_string());
    assert_eq!(
        (
            &before["first_name"],
            &before["city"],
            &before["email_verified"]
        ),
        (&json!("Ana"), &json!("Málaga"), &json!(false))
    );
    assert!(
        before["updated_at"].is_string(),
        "the insert set it: {before}"
    );
    assert!(before.get("password").is_none(), "{before}");

    let (status, after) = patch(
        &app,
        &token,
        json!({ "city": "  Lima ", "last_name": "Soto" }),
    )
    .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(
        (&after["city"], &after["last_name"]),
        (&json!("Lima"), &json!("Soto"))
    );
    assert_eq!(after["first_name"], "Ana", "an absent field is kept");
    let (t0, t1) = (
        before["updated_at"].as_str().unwrap(),
        after["updated_at"].as_str().unwrap(),
    );
    assert!(
        chrono::DateTime::parse_from_rfc3339(t1).unwrap()
            > chrono::DateTime::parse_from_rfc3339(t0).unwrap(),
        "{t0} -> {t1}"
    );
    let events = outbox_events(&app, "UserUpdated").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["changed"], json!(["last_name", "city"]));
    assert_eq!(
        (&events[0]["user_id"], &events[0]["city"]),
        (&json!(id.to_string()), &json!("Lima"))
    );

    // The same values again: nothing written, no event, updated_at kept.
    let (status, same) = patch(&app, &token, json!({ "city": "Lima" })).await;
    assert_eq!(status, 200, "{same}");
    assert_eq!(same["updated_at"], after["updated_at"]);
    assert_eq!(outbox_events(&app, "UserUpdated").await.len(), 1);

    // Registration's refusals, and nothing changes.
    for (body, message) in [
        (json!({ "city": " " }), "Invalid city: must not be empty"),
        (
            json!({ "first_name": "x".repeat(101) }),
            "Invalid first_name: must be at most 100 characters",
        ),
        (
            json!({ "last_name": "a\u{7}b" }),
            "Invalid last_name: must not contain control characters",
        ),
        (json!({ "city": 5 }), "Field city must be a string"),
        (
            json!({}),
            "Nothing to update: give first_name, last_name or city",
        ),
        (
            json!({ "email": "new@example.com" }),
            "The email changes through POST /api/account/email",
        ),
        (
            json!({ "dni": "1" }),
            "Field dni cannot be updated: give first_name, last_name or city",
        ),
    ] {
        let (status, err) = patch(&app, &token, body.clone()).await;
        assert_eq!(
            (status, err),
            (400, json!({ "message": message })),
            "{body}"
        );
    }
    assert_eq!(
        account(&app, &token).await["updated_at"],
        after["updated_at"]
    );
    assert_eq!(outbox_events(&app, "UserUpdated").await.len(), 1);

    // Without a token: the extractor's refusal, as /profile.
    let (status, err) = json_body(
        app.req(Method::PATCH, "/api/account/profile")
            .json(&json!({"city": "X"}))
            .go()
            .await,
    )
    .await;
    assert_eq!(
        (status, err),
        (403, json!({ "message": "Token is missing" }))
    );
    // /profile keeps the original's three fields.
    let (status, profile) = app.profile(&token).await;
    assert_eq!(status, 200);
    assert_eq!(
        profile.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["email", "user_id", "username"]
    );
}

#[tokio::test]
async fn concurrent_profile_updates_on_two_instances_each_apply_and_record_one_event() {
    let a = TestApp::spawn().await;
    let b = a.beside(&[]).await;
    a.legacy_user("pf-bea", "pw-bea-1").await;
    let token = a.token_for("pf-bea", "pw-bea-1").await;
    let n = 12;
    let results = join_all((0..n).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        let token = token.clone();
        async move { patch(app, &token, json!({ "city": format!("City {i}") })).await }
    }))
    .await;
    assert!(results.iter().all(|(s, _)| *s == 200), "{results:?}");
    let events = outbox_events(&a, "UserUpdated").await;
    assert_eq!(events.len(), n, "each distinct change is one event");
    // The last event written is the row as it stands.
    let last = events.last().unwrap();
    assert_eq!(account(&a, &token).await["city"], last["city"]);
}

#[tokio::test]
async fn an_email_change_is_confirmed_at_the_new_address_and_the_old_one_gets_a_notice() {
    let app = TestApp::spawn().await;
    let id = app.legacy_user("ec-ana", "pw-ana-1").await;
    app.legacy_user("ec-other", "pw-other").await;
    let token = app.token_for("ec-ana", "pw-ana-1").await;

    let refusals = [
        ("new@example.org", "wrong", 403, "Wrong password"),
        (
            "not-an-email",
            "pw-ana-1",
            400,
            "Invalid new_email: is not an email address",
        ),
        (
            "ec-ana@example.com",
            "pw-ana-1",
            400,
            "Invalid new_email: is already the account's email",
        ),
        // Another account's address, in another case: taken, canonically.
        (
            "EC-Other@Example.com",
            "pw-ana-1",
            409,
            "Email already registered",
        ),
    ];
    for (new_email, password, status, message) in refusals {
        let got = change_email(&app, &token, new_email, password).await;
        assert_eq!(got, (status, json!({ "message": message })), "{new_email}");
    }
    assert!(
        outbox_events(&app, "EmailVerificationRequested")
            .await
            .is_empty()
    );

    let (status, body) = change_email(&app, &token, "ana.new@example.org", "pw-ana-1").await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["pending_email"], "ana.new@example.org");
    assert!(
        !body
            .to_string()
            .contains(&code_mailed_to(&app, "ana.new@example.org").await),
        "no code in the answer"
    );
    let event = outbox_events(&app, "EmailVerificationRequested")
        .await
        .remove(0);
    assert_eq!(
        (&event["purpose"], &event["username"]),
        (&json!("email_change"), &json!("ec-ana"))
    );
    // Nothing changed yet; the change is pending.
    let pending = account(&app, &token).await;
    assert_eq!(
        (&pending["email"], &pending["pending_email"]),
        (&json!("ec-ana@example.com"), &json!("ana.new@example.org"))
    );

    // Asking again within the resend interval: 429, the first code stands.
    let (status, body) = change_email(&app, &token, "ana.other@example.org", "pw-ana-1").await;
    assert_eq!(status, 429, "{body}");

    let code = code_mailed_to(&app, "ana.new@example.org").await;
    let (status, body) = verify(&app, &code).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({ "email": "ana.new@example.org", "email_verified": true, "confirmed": "email_change" })
        )
    );
    assert_eq!(email_of(&app, id).await, "ana.new@example.org");
    let now = account(&app, &token).await;
    assert_eq!(
        (&now["email_verified"], &now["pending_email"]),
        (&json!(true), &Value::Null)
    );
    let notices = outbox_events(&app, "EmailChanged").await;
    assert_eq!(notices.len(), 1);
    assert_eq!(
        (&notices[0]["old_email"], &notices[0]["new_email"]),
        (&json!("ec-ana@example.com"), &json!("ana.new@example.org"))
    );
    // The events go to the account queue, for notifications.
    let queue: Vec<String> = sqlx::query_scalar("SELECT DISTINCT queue FROM outbox WHERE event IN ('EmailChanged', 'EmailVerificationRequested')")
        .fetch_all(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(queue, [format!("{}.account", app.queue)]);

    // Used once.
    assert_eq!(
        verify(&app, &code).await,
        (400, json!({ "message": "Invalid or expired code" }))
    );
    assert_eq!(
        verify(&app, "made-up").await,
        (400, json!({ "message": "Invalid or expired code" }))
    );
    // The new address logs in.
    assert_eq!(
        app.login("ana.new@example.org", "pw-ana-1").await.status(),
        200
    );
}

/// Two codes, `n` uses of each at once, spread over two instances: each works once.
#[tokio::test]
async fn a_code_used_many_times_at_once_on_two_instances_works_once() {
    let a = TestApp::spawn().await;
    let b = a.beside(&[]).await;
    let id = a.legacy_user("race-ana", "pw-ana-1").await;
    let token = a.token_for("race-ana", "pw-ana-1").await;

    // A verification code (by resend) and an email-change code.
    assert_eq!(resend(&a, "race-ana@example.com").await.0, 202);
    let verification = code_mailed_to(&a, "race-ana@example.com").await;
    assert_eq!(
        change_email(&b, &token, "race.new@example.org", "pw-ana-1")
            .await
            .0,
        202
    );
    let change = code_mailed_to(&a, "race.new@example.org").await;

    for code in [verification, change] {
        let n = 16;
        let results = join_all((0..n).map(|i| {
            let app = if i % 2 == 0 { &a } else { &b };
            let code = code.clone();
            async move { verify(app, &code).await }
        }))
        .await;
        let ok = results.iter().filter(|(s, _)| *s == 200).count();
        let refused = results
            .iter()
            .filter(|r| **r == (400, json!({ "message": "Invalid or expired code" })))
            .count();
        assert_eq!((ok, refused), (1, n - 1), "{results:?}");
    }
    assert_eq!(email_of(&a, id).await, "race.new@example.org");
    assert_eq!(outbox_events(&a, "EmailChanged").await.len(), 1);
}

/// Accounts confirming the same new address at once (and in another case), on two
/// instances: one gets it, the others are told it is taken, and one row has it.
#[tokio::test]
async fn accounts_racing_for_the_same_new_email_leave_one_owner() {
    let a = TestApp::spawn().await;
    let b = a.beside(&[]).await;
    for round in 0..3 {
        let target = format!("Shared{round}@example.org");
        let mut codes = Vec::new();
        for k in 0..4 {
            let user = format!("claim{round}-{k}");
            a.legacy_user(&user, "pw-claim").await;
            let token = a.token_for(&user, "pw-claim").await;
            // Spellings that are one address canonically.
            let spelled = if k % 2 == 0 {
                target.clone()
            } else {
                target.to_lowercase()
            };
            let (status, body) = change_email(&a, &token, &spelled, "pw-claim").await;
            assert_eq!(status, 202, "{body}");
            codes.push(code_mailed_to(&a, &spelled).await);
        }
        let results = join_all(codes.iter().enumerate().map(|(i, code)| {
            let app = if i % 2 == 0 { &a } else { &b };
            async move { verify(app, code).await }
        }))
        .await;
        let ok = results.iter().filter(|(s, _)| *s == 200).count();
        let taken = results
            .iter()
            .filter(|r| **r == (409, json!({ "message": "Email already registered" })))
            .count();
        assert_eq!((ok, taken), (1, 3), "round {round}: {results:?}");
        let owners: i64 = sqlx::query_scalar(
            r#"SELECT count(*) FROM "user" WHERE identity_canonical(email) = identity_canonical($1)"#,
        )
        .bind(&target)
        .fetch_one(&mut a.db().await)
        .await
        .unwrap();
        assert_eq!(owners, 1, "round {round}");
    }
}

#[tokio::test]
async fn with_verification_required_login_waits_for_the_code_and_resend_answers_alike() {
    let a = TestApp::spawn_with(&[("REQUIRE_VERIFIED_EMAIL", "true")]).await;
    let b = a.beside(&[]).await;
    a.legacy_user("rv-ana", "pw-ana-1").await;

    let resp = a.login("rv-ana", "pw-ana-1").await;
    let (status, body) = json_body(resp).await;
    assert_eq!(
        (status, body),
        (403, json!({ "message": "Email not verified" }))
    );
    // A wrong password is told nothing about the email.
    assert_eq!(a.login("rv-ana", "wrong").await.status(), 401);

    // The same answer for an unknown address and an unverified one; many at once on two
    // instances mail one code (the resend interval).
    let unknown = resend(&a, "nobody@example.com").await;
    let results = join_all((0..10).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        async move { resend(app, "RV-ANA@example.com").await }
    }))
    .await;
    assert!(
        results.iter().all(|r| *r == unknown),
        "{results:?} vs {unknown:?}"
    );
    assert_eq!(unknown.0, 202);
    assert_eq!(
        outbox_events(&a, "EmailVerificationRequested").await.len(),
        1
    );
    assert_eq!(resend(&a, "not an address").await.0, 400);

    let code = code_mailed_to(&a, "rv-ana@example.com").await;
    let (status, body) = verify(&b, &format!(" {code} ")).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({ "email": "rv-ana@example.com", "email_verified": true, "confirmed": "registration" })
        )
    );
    assert_eq!(a.login("rv-ana", "pw-ana-1").await.status(), 200);
    // Verified: a resend mails nothing more.
    assert_eq!(resend(&a, "rv-ana@example.com").await, unknown);
    a.wait_outbox_drained(Duration::from_secs(20)).await;
    assert_eq!(
        outbox_events(&a, "EmailVerificationRequested").await.len(),
        1
    );
}

#[tokio::test]
async fn by_default_an_unverified_account_logs_in_and_an_expired_code_is_refused() {
    let app = TestApp::spawn_with(&[("EMAIL_CODE_TTL_SECS", "1")]).await;
    app.legacy_user("df-ana", "pw-ana-1").await;
    assert_eq!(app.login("df-ana", "pw-ana-1").await.status(), 200);
    assert_eq!(resend(&app, "df-ana@example.com").await.0, 202);
    let code = code_mailed_to(&app, "df-ana@example.com").await;
    // Expired once its second is over (polled, not slept on).
    hub_testkit::eventually(Duration::from_secs(10), async || {
        let expired: bool = sqlx::query_scalar(
            "SELECT bool_and(expires_at <= clock_timestamp()) FROM email_confirmation",
        )
        .fetch_one(&mut app.db().await)
        .await
        .unwrap();
        expired
    })
    .await;
    assert_eq!(
        verify(&app, &code).await,
        (400, json!({ "message": "Invalid or expired code" }))
    );
}
