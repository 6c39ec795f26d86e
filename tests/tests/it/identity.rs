//! Identity across services, every hop a real server: auth signs with Ed25519 and
//! publishes its public keys; session, images and user-lookup verify through that JWKS
//! alone (no secret in their environment) and check revocation. Logout, refresh-token
//! reuse, a password change and a key rotation with tokens of both keys in flight, as
//! front-ends see them.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{collections::HashMap, time::Duration};

use hub_identity::keys::{SigningKey, generate_signing_pem};
use hub_testkit::{Go as _, Spawned, eventually, json_body, spawn, token_pair};
use reqwest::{
    Method,
    multipart::{Form, Part},
};
use serde_json::{Value, json};
use uuid::Uuid;

const PNG: &[u8] = hub_testkit::TINY_PNG;

struct Stack {
    db_url: String,
    /// The environment shared by all three, as `(name, value)`.
    common: Vec<(&'static str, String)>,
}

impl Stack {
    async fn new() -> Self {
        let db_url = hub_testkit::create_database("identity").await;
        let mut common: Vec<_> = hub_checks::IN_PROCESS
            .map(|(k, v)| (k, v.to_owned()))
            .into();
        common.extend([
            ("DATABASE_URL", db_url.clone()),
            ("AMQP_URL", hub_testkit::amqp_url()),
            ("RABBITMQ_QUEUE", hub_testkit::queue_name("identity")),
            ("MONGODB_URI", hub_testkit::mongodb_uri()),
            ("MONGODB_DATABASE", hub_testkit::mongo_database("identity")),
            ("SESSION_CONSUMER", "false".to_owned()),
            ("S3_ENDPOINT", hub_testkit::env("S3_ENDPOINT")),
            ("AWS_ACCESS_KEY_ID", hub_testkit::env("AWS_ACCESS_KEY_ID")),
            (
                "AWS_SECRET_ACCESS_KEY",
                hub_testkit::env("AWS_SECRET_ACCESS_KEY"),
            ),
            ("AWS_BUCKET_NAME", hub_testkit::bucket_name("identity")),
            ("UPLOAD_REQUIRE_JWT", "true".to_owned()),
            // Quick re-fetches, so the test sees a rotation within seconds.
            ("JWKS_REFETCH_MIN_SECS", "1".to_owned()),
            ("JWKS_CACHE_SECS", "1".to_owned()),
            // A refresh token used twice revokes the login at once, without auth's reuse
            // grace (services/auth/tests/it/tokens.rs tests the grace).
            ("REFRESH_REUSE_GRACE_SECS", "0".to_owned()),
        ]);
        Self { db_url, common }
    }

    fn source(&self, extra: &[(&str, String)]) -> impl Fn(&str) -> Option<String> + use<> {
        let vars: HashMap<String, String> = self
            .common
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .chain(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())))
            .collect();
        move |k: &str| vars.get(k).cloned()
    }

    /// auth on `port` (0: any) signing with `key`, also publishing `additional`.
    async fn auth(&self, port: u16, key: &str, additional: Option<String>) -> Spawned {
        let mut extra = vec![
            ("PORT", port.to_string()),
            ("JWT_SIGNING_KEY", key.to_owned()),
        ];
        if let Some(pem) = additional {
            extra.push(("JWT_ADDITIONAL_PUBLIC_KEYS", pem));
        }
        spawn::<auth::Auth>(self.source(&extra)).await
    }

    /// session and images, verifying through the JWKS of auth on `auth_port`.
    async fn verifiers(&self, auth_port: u16) -> (Spawned, Spawned) {
        let extra = [
            ("PORT", "0".to_owned()),
            (
                "JWKS_URL",
                format!("http://127.0.0.1:{auth_port}/.well-known/jwks.json"),
            ),
        ];
        (
            spawn::<session::Session>(self.source(&extra)).await,
            spawn::<images::Images>(self.source(&extra)).await,
        )
    }

    /// user-lookup, its GET door open to a Bearer token verified through the JWKS of auth
    /// on `auth_port`.
    async fn lookup(&self, auth_port: u16) -> Spawned {
        spawn::<user_lookup::UserLookup>(self.source(&[
            ("PORT", "0".to_owned()),
            ("WSSE_MODE", "required".to_owned()),
            ("WSSE_USERS", "partner:a-long-service-password".to_owned()),
            ("LOOKUP_ACCEPT_BEARER", "true".to_owned()),
            (
                "JWKS_URL",
                format!("http://127.0.0.1:{auth_port}/.well-known/jwks.json"),
            ),
        ]))
        .await
    }

    async fn user(&self, name: &str) -> Uuid {
        let hash = hub_identity::password::Hasher::new(20000)
            .unwrap()
            .hash("pw")
            .unwrap();
        hub_testkit::seed_user_with(&self.db_url, name, &format!("{name}@example.com"), &hash).await
    }
}

async fn login(auth: &Spawned, name: &str) -> (String, String) {
    let credentials = json!({"username": name, "password": "pw"});
    let (status, body) = json_body(auth.post("/login").json(&credentials).go().await).await;
    assert_eq!(status, 200, "{body}");
    token_pair(&body)
}

async fn refresh(auth: &Spawned, refresh_token: &str) -> (u16, Value) {
    let body = json!({ "refresh_token": refresh_token });
    json_body(auth.post("/token/refresh").json(&body).go().await).await
}

/// session's `POST /api/sessions` with `token`.
async fn session_call(session: &Spawned, token: &str) -> (u16, Value) {
    let request = session.post("/api/sessions").bearer_auth(token);
    json_body(request.json(&json!({"data": {"text": "hi"}})).go().await).await
}

/// images' upload of `name` with `token`.
async fn upload(images: &Spawned, name: &str, token: &str) -> (u16, Value) {
    let part = Part::bytes(PNG.to_vec()).file_name(name.to_owned());
    let request = images.post("/upload_image").bearer_auth(token);
    json_body(request.multipart(Form::new().part("file", part)).go().await).await
}

/// Polls `call` (10 s at most) until it answers `want`.
async fn until_status(want: u16, mut call: impl AsyncFnMut() -> (u16, Value)) {
    eventually(Duration::from_secs(10), async || {
        let (status, body) = call().await;
        (status == want)
            .then_some(())
            .ok_or(format!("{status} {body}"))
    })
    .await;
}

/// An HS256 token for `user_id` ("ana"), signed with a secret no service has.
fn hs256_token(user_id: Uuid) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"user_id": user_id, "username": "ana", "exp": chrono::Utc::now().timestamp() + 60}),
        &jsonwebtoken::EncodingKey::from_secret(b"any-secret-at-all-0123456789abcdef"),
    )
    .unwrap()
}

#[tokio::test]
async fn one_login_serves_session_and_images_until_logout_or_a_reused_refresh_token_revokes_it() {
    let stack = Stack::new().await;
    let auth = stack.auth(0, &generate_signing_pem(), None).await;
    let (session, images) = stack.verifiers(auth.addr.port()).await;
    let ana = stack.user("ana").await;
    let (t1, r1) = login(&auth, "ana").await;

    assert!(matches!(session_call(&session, &t1).await.0, 200 | 201));
    let (status, body) = upload(&images, &format!("{ana}.html"), &t1).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{ana}.png")),
        "{body}"
    );
    let (status, _) = upload(&images, &format!("{}.png", Uuid::new_v4()), &t1).await;
    assert_eq!(status, 403, "another user's avatar");

    // An HS256 token, whatever its secret, is refused by JWKS verifiers.
    let forged = hs256_token(ana);
    assert_eq!(
        session_call(&session, &forged).await,
        (401, json!({"message": "Invalid or expired token"}))
    );
    assert_eq!(upload(&images, &format!("{ana}.png"), &forged).await.0, 401);

    // Refresh: the new token works everywhere; presenting r1 again revokes the login.
    let (status, body) = refresh(&auth, &r1).await;
    assert_eq!(status, 200, "{body}");
    let (t2, _) = token_pair(&body);
    assert_eq!(session_call(&session, &t2).await.0, 200);
    assert_eq!(refresh(&auth, &r1).await.0, 401);
    let revoked = (401, json!({"message": "Token has been revoked"}));
    let invalid_at_images = (401, json!({"error": "Invalid token"}));
    assert_eq!(session_call(&session, &t2).await, revoked);
    assert_eq!(session_call(&session, &t1).await, revoked);
    assert_eq!(
        upload(&images, &format!("{ana}.png"), &t2).await,
        invalid_at_images
    );

    // Logout: session and images refuse the token at once (images answers a revoked
    // token as an invalid one, its existing answer).
    let (t3, _) = login(&auth, "ana").await;
    assert_eq!(session_call(&session, &t3).await.0, 200);
    assert_eq!(upload(&images, &format!("{ana}.png"), &t3).await.0, 200);
    let (status, _) = json_body(auth.post("/logout").bearer_auth(&t3).go().await).await;
    assert_eq!(status, 200);
    assert_eq!(session_call(&session, &t3).await, revoked);
    assert_eq!(
        upload(&images, &format!("{ana}.png"), &t3).await,
        invalid_at_images
    );

    // A password change (whoever writes it) revokes every token of the user everywhere.
    let (t4, _) = login(&auth, "ana").await;
    hub_testkit::change_password(&stack.db_url, ana).await;
    assert_eq!(session_call(&session, &t4).await, revoked);
    assert_eq!(
        upload(&images, &format!("{ana}.png"), &t4).await,
        invalid_at_images
    );
}

#[tokio::test]
async fn a_key_rotation_keeps_tokens_of_both_keys_valid_until_the_old_key_is_retired() {
    let stack = Stack::new().await;
    let (old, new) = (generate_signing_pem(), generate_signing_pem());
    let old_public = SigningKey::from_pem(&old).unwrap().public().to_pem();
    let mut auth = stack.auth(0, &old, None).await;
    let port = auth.addr.port();
    let (session, images) = stack.verifiers(port).await;
    let ana = stack.user("ana").await;
    let avatar = format!("{ana}.png");

    let (old_token, old_refresh) = login(&auth, "ana").await;
    assert!(matches!(
        session_call(&session, &old_token).await.0,
        200 | 201
    ));

    // Step 2 of the procedure: the new key signs, the old one is still published.
    auth.stop().await.unwrap();
    let mut auth = stack.auth(port, &new, Some(old_public)).await;
    let (new_token, _) = login(&auth, "ana").await;
    // session has only the old key cached: the new kid makes it re-fetch (at most once
    // a second here).
    until_status(200, async || session_call(&session, &new_token).await).await;
    for token in [&old_token, &new_token] {
        assert_eq!(session_call(&session, token).await.0, 200);
        assert_eq!(upload(&images, &avatar, token).await.0, 200);
    }
    // The refresh token from before the rotation gets a token of the new key.
    let (status, body) = refresh(&auth, &old_refresh).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        jsonwebtoken::decode_header(&token_pair(&body).0)
            .unwrap()
            .kid,
        jsonwebtoken::decode_header(&new_token).unwrap().kid
    );

    // Step 3: the old key is retired; once the verifiers' cache has aged, its tokens
    // are refused and the new key's still accepted.
    auth.stop().await.unwrap();
    let _auth = stack.auth(port, &new, None).await;
    until_status(401, async || session_call(&session, &old_token).await).await;
    until_status(401, async || upload(&images, &avatar, &old_token).await).await;
    assert_eq!(session_call(&session, &new_token).await.0, 200);
    assert_eq!(upload(&images, &avatar, &new_token).await.0, 200);
}

/// The lookup's `Authorization: Bearer` (with WS-Security required) verifies through the
/// same JWKS: auth's EdDSA token opens the GET lookup; none, or an HS256 token, does not.
#[tokio::test]
async fn the_lookup_accepts_auths_eddsa_token_through_the_jwks() {
    let stack = Stack::new().await;
    let auth = stack.auth(0, &generate_signing_pem(), None).await;
    let lookup = stack.lookup(auth.addr.port()).await;
    let ana = stack.user("ana").await;
    let (token, _) = login(&auth, "ana").await;
    let get = |bearer: Option<String>| {
        let mut req = lookup.req(Method::GET, "/user/soap?username=ana");
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        async move {
            let resp = req.go().await;
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    let (status, body) = get(Some(token.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&ana.to_string()), "{body}");
    assert_eq!(get(None).await.0, 401);
    let forged = hs256_token(ana);
    let (status, body) = get(Some(forged)).await;
    assert_eq!(status, 401);
    assert!(body.contains("FailedAuthentication"), "{body}");

    // Logged out at auth: refused at once, as an invalid token; another login opens it.
    let (kept, _) = login(&auth, "ana").await;
    let (status, _) = json_body(auth.post("/logout").bearer_auth(&token).go().await).await;
    assert_eq!(status, 200);
    let (status, body) = get(Some(token)).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("FailedAuthentication"), "{body}");
    assert_eq!(get(Some(kept.clone())).await.0, 200);
    // A password change revokes that one too.
    hub_testkit::change_password(&stack.db_url, ana).await;
    assert_eq!(get(Some(kept)).await.0, 401);
}

/// Deactivation by an administrator and a login revoked from the logins list, at auth:
/// session, images and user-lookup refuse the tokens at once; reactivation brings none
/// back.
#[tokio::test]
async fn a_deactivated_account_and_a_revoked_login_are_refused_at_every_service() {
    let stack = Stack::new().await;
    let auth = stack.auth(0, &generate_signing_pem(), None).await;
    let (session, images) = stack.verifiers(auth.addr.port()).await;
    let lookup = stack.lookup(auth.addr.port()).await;
    let ana = stack.user("ana").await;
    stack.user("root").await;
    let env: HashMap<String, String> = [("DATABASE_URL".to_owned(), stack.db_url.clone())].into();
    let env = move |k: &str| env.get(k).cloned();
    auth::admin::users(&["grant-admin".to_owned(), "root".to_owned()], &env)
        .await
        .unwrap();
    let (admin, _) = login(&auth, "root").await;
    let looked_up = |token: String| {
        let req = lookup
            .req(Method::GET, "/user/soap?username=ana")
            .bearer_auth(token);
        async move { req.go().await.status().as_u16() }
    };
    let works = async |t: &str| {
        assert!(matches!(session_call(&session, t).await.0, 200 | 201));
        assert_eq!(upload(&images, &format!("{ana}.png"), t).await.0, 200);
        assert_eq!(looked_up(t.to_owned()).await, 200);
    };
    let refused = async |t: &str| {
        assert_eq!(
            session_call(&session, t).await,
            (401, json!({"message": "Token has been revoked"}))
        );
        assert_eq!(
            upload(&images, &format!("{ana}.png"), t).await,
            (401, json!({"error": "Invalid token"}))
        );
        assert_eq!(looked_up(t.to_owned()).await, 401);
    };

    // A login revoked from another login's list.
    let (kept, _) = login(&auth, "ana").await;
    let (lost, _) = login(&auth, "ana").await;
    works(&lost).await;
    let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(&lost).unwrap();
    let path = format!("/api/account/logins/{}", claims["sid"].as_str().unwrap());
    let resp = auth
        .req(Method::DELETE, &path)
        .bearer_auth(&kept)
        .go()
        .await;
    assert_eq!(resp.status(), 204);
    refused(&lost).await;
    works(&kept).await;

    // Deactivated: every token of the user, at every service.
    let resp = auth
        .post(&format!("/api/admin/users/{ana}/deactivate"))
        .bearer_auth(&admin)
        .go()
        .await;
    assert_eq!(resp.status(), 200);
    refused(&kept).await;
    let (status, _) = json_body(
        auth.post("/login")
            .json(&json!({"username": "ana", "password": "pw"}))
            .go()
            .await,
    )
    .await;
    assert_eq!(status, 403);

    // Reactivated: the old token stays refused, a new login works everywhere.
    let resp = auth
        .post(&format!("/api/admin/users/{ana}/reactivate"))
        .bearer_auth(&admin)
        .go()
        .await;
    assert_eq!(resp.status(), 200);
    refused(&kept).await;
    let (fresh, _) = login(&auth, "ana").await;
    works(&fresh).await;
}
