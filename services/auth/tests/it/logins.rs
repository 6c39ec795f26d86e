//! A user's own logins over HTTP (issue 23 item 5): the list, revoking one, revoking
//! all the others; across two instances.

use hub_testkit::{Go as _, json_body, token_pair};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    admin_users::{call, payload, user},
    app::{AuthApp as _, AuthHelpers as _, TestApp},
};

/// `(token, refresh_token)` of a login of `name` sent with `User-Agent: agent`.
async fn login_as(app: &TestApp, name: &str, agent: &str) -> (String, String) {
    let resp = app
        .post("/login")
        .header("user-agent", agent)
        .json(&json!({ "username": name, "password": "pw" }))
        .go()
        .await;
    let (status, body) = json_body(resp).await;
    assert_eq!(status, 200, "{body}");
    token_pair(&body)
}

fn sid(token: &str) -> String {
    payload(token)["sid"].as_str().unwrap().to_owned()
}

async fn list(app: &TestApp, token: &str) -> Vec<Value> {
    let (status, body) = call(app, Method::GET, "/api/account/logins", token).await;
    assert_eq!(status, 200, "{body}");
    body["logins"].as_array().unwrap().clone()
}

const REVOKED: &str = "Token has been revoked";

#[tokio::test]
async fn a_user_sees_each_login_with_its_client_and_which_one_is_asking() {
    let app = TestApp::spawn().await;
    let other = app.beside(&[]).await;
    user(&app, "ana", "pw").await;
    user(&app, "bob", "pw").await;
    let (phone, phone_refresh) = login_as(&app, "ana", "Phone/1.0").await;
    let long_agent = "L".repeat(1000);
    let (laptop, _) = login_as(&other, "ana", &long_agent).await;
    login_as(&app, "bob", "Bob/1.0").await;

    let logins = list(&other, &phone).await;
    assert_eq!(logins.len(), 2, "{logins:?}");
    let by_id = |id: &str| logins.iter().find(|l| l["id"] == id).unwrap().clone();
    let p = by_id(&sid(&phone));
    assert_eq!(p["current"], true);
    assert_eq!(p["user_agent"], "Phone/1.0");
    assert_eq!(p["address"], "127.0.0.1");
    assert_eq!(p["created_at"], p["last_used_at"], "not refreshed yet");
    let l = by_id(&sid(&laptop));
    assert_eq!(l["current"], false);
    assert_eq!(l["user_agent"].as_str().unwrap().len(), 256, "cut");
    for key in ["created_at", "last_used_at", "expires_at"] {
        chrono::DateTime::parse_from_rfc3339(p[key].as_str().unwrap()).unwrap();
    }

    // A refresh is a use: last_used_at moves, and the login is listed first.
    let (status, body) = json_body(
        app.post("/token/refresh")
            .json(&json!({ "refresh_token": phone_refresh }))
            .go()
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (phone2, _) = token_pair(&body);
    let logins = list(&app, &laptop).await;
    assert_eq!(logins[0]["id"], sid(&phone), "most recently used first");
    let at =
        |key: &str| chrono::DateTime::parse_from_rfc3339(logins[0][key].as_str().unwrap()).unwrap();
    assert!(at("last_used_at") > at("created_at"), "{logins:?}");
    assert_eq!(
        list(&app, &phone2).await[0]["current"],
        true,
        "same login after a refresh"
    );
}

#[tokio::test]
async fn revoking_one_login_ends_its_tokens_at_once_everywhere_and_leaves_the_others() {
    let app = TestApp::spawn().await;
    let other = app.beside(&[]).await;
    user(&app, "ana", "pw").await;
    user(&app, "bob", "pw").await;
    let (mine, _) = login_as(&app, "ana", "A").await;
    let (lost, lost_refresh) = login_as(&other, "ana", "B").await;
    let (bobs, _) = login_as(&app, "bob", "C").await;

    let path = format!("/api/account/logins/{}", sid(&lost));
    assert_eq!(
        call(&other, Method::DELETE, &path, &mine).await,
        (204, Value::Null)
    );
    for instance in [&app, &other] {
        assert_eq!(
            instance.profile(&lost).await,
            (401, json!({ "message": REVOKED }))
        );
        assert_eq!(instance.profile(&mine).await.0, 200);
        let (status, _) = json_body(
            instance
                .post("/token/refresh")
                .json(&json!({ "refresh_token": lost_refresh }))
                .go()
                .await,
        )
        .await;
        assert_eq!(status, 401);
    }
    assert_eq!(list(&app, &mine).await.len(), 1);
    let not_found = (404, json!({ "message": "Login not found" }));
    assert_eq!(
        call(&app, Method::DELETE, &path, &mine).await,
        not_found,
        "already revoked"
    );
    let bobs_login = format!("/api/account/logins/{}", sid(&bobs));
    assert_eq!(
        call(&app, Method::DELETE, &bobs_login, &mine).await,
        not_found,
        "another user's"
    );
    assert_eq!(app.profile(&bobs).await.0, 200);
    let random = format!("/api/account/logins/{}", Uuid::new_v4());
    assert_eq!(call(&app, Method::DELETE, &random, &mine).await, not_found);
    assert_eq!(
        call(&app, Method::DELETE, "/api/account/logins/nope", &mine).await,
        (400, json!({ "message": "id must be a UUID" }))
    );
    // Its own login: a logout.
    let own = format!("/api/account/logins/{}", sid(&mine));
    assert_eq!(call(&app, Method::DELETE, &own, &mine).await.0, 204);
    assert_eq!(app.profile(&mine).await.0, 401);
    assert_eq!(
        call(&app, Method::GET, "/api/account/logins", &mine)
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn simultaneous_revoke_others_leave_exactly_one_login() {
    let app = TestApp::spawn().await;
    let other = app.beside(&[]).await;
    user(&app, "ana", "pw").await;
    let instance = |i: usize| if i.is_multiple_of(2) { &app } else { &other };

    // The same caller, many times at once: its login stays, every other goes.
    let mut tokens = Vec::new();
    for i in 0..6 {
        tokens.push(login_as(instance(i), "ana", &format!("agent {i}")).await.0);
    }
    let caller = tokens[0].clone();
    let answers = futures_util::future::join_all((0..10).map(|i| {
        call(
            instance(i),
            Method::POST,
            "/api/account/logins/revoke-others",
            &caller,
        )
    }))
    .await;
    let mut total = 0;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{answers:?}");
        total += body["revoked"].as_u64().unwrap();
    }
    assert_eq!(total, 5, "each other login revoked once: {answers:?}");
    let left = list(&other, &caller).await;
    assert_eq!(left.len(), 1);
    assert_eq!(
        (left[0]["id"].as_str().unwrap(), &left[0]["current"]),
        (sid(&caller).as_str(), &json!(true))
    );
    for t in &tokens[1..] {
        assert_eq!(app.profile(t).await.0, 401);
    }

    // Every login at once, each revoking the others: exactly one wins and survives.
    for round in 0..3 {
        let mut tokens = Vec::new();
        for i in 0..6 {
            tokens.push(login_as(instance(i), "ana", "racer").await.0);
        }
        let answers = futures_util::future::join_all(tokens.iter().enumerate().map(|(i, t)| {
            call(
                instance(i),
                Method::POST,
                "/api/account/logins/revoke-others",
                t,
            )
        }))
        .await;
        let winners: Vec<usize> = (0..tokens.len()).filter(|&i| answers[i].0 == 200).collect();
        assert_eq!(winners.len(), 1, "round {round}: {answers:?}");
        for (i, (status, body)) in answers.iter().enumerate() {
            if i != winners[0] {
                assert_eq!(
                    (*status, body),
                    (401, &json!({ "message": REVOKED })),
                    "round {round}"
                );
            }
        }
        let winner = &tokens[winners[0]];
        let left = list(&app, winner).await;
        assert_eq!(left.len(), 1, "round {round}: {left:?}");
        assert_eq!(left[0]["id"], sid(winner));
    }
}
