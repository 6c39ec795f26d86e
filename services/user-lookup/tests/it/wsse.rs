//! WS-Security UsernameToken and Bearer tokens on user-lookup, against a real
//! PostgreSQL (the replay cache), with raw envelopes: every fault, the clock-skew
//! bounds, the once-only nonce across two instances, the Bearer alternative on SOAP and
//! GET, and default off (nothing changes). Real clients: tests/tests/it/wsse.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use crate::app::{LookupApp as _, SOAP11, SOAP12, TestApp};
use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use chrono::{SecondsFormat, Utc};
use hub_identity::jwt::{Claims, JwtKeys};
use hub_soap::wsse::{self, BASE64_BINARY, PASSWORD_DIGEST, PASSWORD_TEXT, WSSE_NS, WSU_NS};
use hub_testkit::{Go as _, parts, soap::assert_wsse_fault};
use reqwest::Method;
use sqlx::{Connection as _, PgConnection};
use uuid::Uuid;

const PASSWORD: &str = "pa:ss wörd<&>";
const SECRET: &str = "bearer-test-secret-0123456789abcdef";

/// The tests send PasswordText over plain HTTP to 127.0.0.1, which this allows.
const TEXT_OVER_HTTP: (&str, &str) = ("WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP", "true");

/// user-lookup requiring WS-Security, with two users.
async fn required() -> TestApp {
    TestApp::spawn_with(&[
        ("WSSE_MODE", "required"),
        ("WSSE_USERS", &format!("svc:{PASSWORD}\nother:x")),
        TEXT_OVER_HTTP,
    ])
    .await
}

/// `getUserByUsername` for `user` in `ns` (1.1 or 1.2), with `header` in the Header.
fn envelope(ns: &str, header: &str, user: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="{ns}"><s:Header>{header}</s:Header><s:Body><w:getUserByUsername xmlns:w="http://www.example.org/webservice"><w:username>{user}</w:username></w:getUserByUsername></s:Body></s:Envelope>"#
    )
}

fn content_type(ns: &str) -> &'static str {
    if ns == SOAP12 {
        "application/soap+xml; charset=utf-8"
    } else {
        "text/xml; charset=utf-8"
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A `Security` header (mandatory, as node-soap can send it) around `token`.
fn security(token: &str) -> String {
    format!(
        r#"<wsse:Security s:mustUnderstand="1" xmlns:wsse="{WSSE_NS}" xmlns:wsu="{WSU_NS}">{token}</wsse:Security>"#
    )
}

fn text_token(user: &str, password: &str) -> String {
    security(&format!(
        r#"<wsse:UsernameToken><wsse:Username>{user}</wsse:Username><wsse:Password Type="{PASSWORD_TEXT}">{}</wsse:Password></wsse:UsernameToken>"#,
        escape(password)
    ))
}

fn now_text(offset_secs: i64) -> String {
    (Utc::now() + chrono::TimeDelta::seconds(offset_secs))
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A digest token with `nonce` and `created` as given.
fn digest_token_at(user: &str, password: &str, nonce: &[u8], created: &str) -> String {
    security(&format!(
        r#"<wsse:UsernameToken><wsse:Username>{user}</wsse:Username><wsse:Password Type="{PASSWORD_DIGEST}">{}</wsse:Password><wsse:Nonce EncodingType="{BASE64_BINARY}">{}</wsse:Nonce><wsu:Created>{created}</wsu:Created></wsse:UsernameToken>"#,
        wsse::password_digest(nonce, created, password),
        BASE64.encode(nonce)
    ))
}

/// A fresh digest token (new nonce, created now).
fn digest_token(user: &str, password: &str) -> String {
    digest_token_at(user, password, Uuid::new_v4().as_bytes(), &now_text(0))
}

async fn soap(app: &TestApp, ns: &str, header: &str, user: &str) -> (u16, String, String) {
    soap_with(app, ns, header, user, None).await
}

async fn soap_with(
    app: &TestApp,
    ns: &str,
    header: &str,
    user: &str,
    bearer: Option<&str>,
) -> (u16, String, String) {
    let mut request = app
        .post("/user/soap")
        .header("content-type", content_type(ns))
        .body(envelope(ns, header, user));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    parts(request.go().await).await
}

/// [`soap`] with the HTTP headers `http` (e.g. a proxy's `X-Forwarded-Proto`).
async fn soap_via(
    app: &TestApp,
    ns: &str,
    header: &str,
    http: &[(&str, &str)],
) -> (u16, String, String) {
    let mut request = app
        .post("/user/soap")
        .header("content-type", content_type(ns))
        .body(envelope(ns, header, "ana"));
    for (name, value) in http {
        request = request.header(*name, *value);
    }
    parts(request.go().await).await
}

fn found(id: Uuid, (status, _, body): &(u16, String, String)) {
    assert_eq!(*status, 200, "{body}");
    assert!(body.contains(&format!("<web:id>{id}</web:id>")), "{body}");
}

#[tokio::test]
async fn off_by_default_nothing_changes_and_a_security_header_is_not_understood() {
    let app = TestApp::spawn().await;
    let id = app.insert("ana").await;
    let (status, _, body) = soap(&app, SOAP11, &text_token("svc", PASSWORD), "ana").await;
    assert_eq!(status, 500);
    assert!(
        body.contains("<faultcode>soapenv:MustUnderstand</faultcode>"),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "Header block {{{WSSE_NS}}}Security is not understood"
        )),
        "{body}"
    );
    assert!(!body.contains("xmlns:wsse"), "{body}");
    found(id, &soap(&app, SOAP11, "", "ana").await);
    found(id, &parts(app.get("/user/lookup?username=ana").await).await);
}

#[tokio::test]
async fn a_soap12_must_understand_fault_names_each_block_not_understood() {
    let app = TestApp::spawn().await;
    app.insert("ana").await;
    let headers = format!(
        r#"{}<x:Trace xmlns:x="urn:trace" s:mustUnderstand="true"/><x:Info xmlns:x="urn:trace" s:mustUnderstand="false"/><x:Other xmlns:x="urn:trace" s:mustUnderstand="1" s:role="urn:somebody-else"/>"#,
        text_token("svc", PASSWORD)
    );
    let (status, _, body) = soap(&app, SOAP12, &headers, "ana").await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("<env:Value>env:MustUnderstand</env:Value>"),
        "{body}"
    );
    assert_eq!(
        hub_testkit::soap::not_understood(&body),
        [
            format!("{{{WSSE_NS}}}Security"),
            "{urn:trace}Trace".to_owned()
        ],
        "one NotUnderstood per mandatory block addressed to us, none for the others: {body}"
    );
    // SOAP 1.1 has no NotUnderstood header: its fault is as it was.
    let (status, _, body) = soap(&app, SOAP11, &headers, "ana").await;
    assert_eq!(status, 500);
    assert!(
        !body.contains("NotUnderstood") && !body.contains(":Header"),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "<faultcode>soapenv:MustUnderstand</faultcode><faultstring xml:lang=\"en\">Header block {{{WSSE_NS}}}Security is not understood</faultstring>"
        )),
        "{body}"
    );
}

#[tokio::test]
async fn password_text_needs_tls_from_a_trusted_proxy_or_the_setting() {
    let users = format!("svc:{PASSWORD}");
    let required = [("WSSE_MODE", "required"), ("WSSE_USERS", users.as_str())];
    // The test client, 127.0.0.1, is the deployment's proxy.
    let proxied =
        TestApp::spawn_with(&[&required[..], &[("TRUSTED_PROXIES", "127.0.0.1")]].concat()).await;
    let id = proxied.insert("ana").await;
    let https = [("x-forwarded-proto", "https")];
    for ns in [SOAP11, SOAP12] {
        // Plain HTTP: refused before the password is looked at, right or wrong, and
        // its nonce is not spent.
        let with_nonce = security(&format!(
            r#"<wsse:UsernameToken><wsse:Username>svc</wsse:Username><wsse:Password>{}</wsse:Password><wsse:Nonce>{}</wsse:Nonce><wsu:Created>{}</wsu:Created></wsse:UsernameToken>"#,
            escape(PASSWORD),
            BASE64.encode(Uuid::new_v4().as_bytes()),
            now_text(0)
        ));
        for token in [
            text_token("svc", PASSWORD),
            text_token("svc", "wrong"),
            with_nonce,
        ] {
            for http in [
                &[][..],
                &[("x-forwarded-proto", "http")],
                &[("x-forwarded-proto", "https, http")],
            ] {
                let answer = soap_via(&proxied, ns, &token, http).await;
                assert_wsse_fault(ns == SOAP12, &answer, "UnsupportedSecurityToken");
                assert!(
                    answer
                        .2
                        .contains("a PasswordText is accepted only over HTTPS"),
                    "{}",
                    answer.2
                );
                assert!(!answer.2.contains(PASSWORD), "{}", answer.2);
            }
        }
        // The proxy says the client came over TLS: accepted, and checked as ever.
        found(
            id,
            &soap_via(&proxied, ns, &text_token("svc", PASSWORD), &https).await,
        );
        assert_wsse_fault(
            ns == SOAP12,
            &soap_via(&proxied, ns, &text_token("svc", "wrong"), &https).await,
            "FailedAuthentication",
        );
        // A digest is unaffected by the transport.
        found(
            id,
            &soap(&proxied, ns, &digest_token("svc", PASSWORD), "ana").await,
        );
    }
    assert_eq!(
        hub_testkit::count(&proxied.db_url, "SELECT count(*) FROM wsse_nonce").await,
        2,
        "only the two digests' nonces were spent"
    );

    // The same header from a peer that is not a trusted proxy counts for nothing.
    let direct =
        TestApp::spawn_with(&[&required[..], &[("TRUSTED_PROXIES", "10.0.0.0/8")]].concat()).await;
    direct.insert("ana").await;
    for ns in [SOAP11, SOAP12] {
        let answer = soap_via(&direct, ns, &text_token("svc", PASSWORD), &https).await;
        assert_wsse_fault(ns == SOAP12, &answer, "UnsupportedSecurityToken");
    }

    // The setting allows plain HTTP.
    let allowed = TestApp::spawn_with(&[&required[..], &[TEXT_OVER_HTTP]].concat()).await;
    let id = allowed.insert("ana").await;
    for ns in [SOAP11, SOAP12] {
        found(
            id,
            &soap(&allowed, ns, &text_token("svc", PASSWORD), "ana").await,
        );
    }

    // Counted as the client's faults, never ours.
    let metrics = hub_testkit::get_text(&direct.http, &format!("{}/metrics", direct.base)).await;
    assert!(
        !metrics.contains("soap_faults_total{code=\"Server\"}"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("soap_faults_total{code=\"Receiver\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn text_and_digest_tokens_authenticate_in_both_versions() {
    let app = required().await;
    let id = app.insert("ana").await;
    for ns in [SOAP11, SOAP12] {
        found(
            id,
            &soap(&app, ns, &text_token("svc", PASSWORD), "ana").await,
        );
        found(
            id,
            &soap(&app, ns, &digest_token("svc", PASSWORD), "ana").await,
        );
        // Text with a nonce (node-soap's hasNonce), a Timestamp (node-soap's default).
        let header = security(&format!(
            r#"<wsu:Timestamp><wsu:Created>{}</wsu:Created><wsu:Expires>{}</wsu:Expires></wsu:Timestamp><wsse:UsernameToken><wsse:Username>svc</wsse:Username><wsse:Password>{}</wsse:Password><wsse:Nonce>{}</wsse:Nonce><wsu:Created>{}</wsu:Created></wsse:UsernameToken>"#,
            now_text(0),
            now_text(600),
            escape(PASSWORD),
            BASE64.encode(Uuid::new_v4().as_bytes()),
            now_text(0)
        ));
        found(id, &soap(&app, ns, &header, "ana").await);
    }
}

#[tokio::test]
async fn wrong_missing_malformed_and_stale_credentials_get_the_standard_faults() {
    let app = required().await;
    app.insert("ana").await;
    for ns in [SOAP11, SOAP12] {
        for (header, code) in [
            (String::new(), "FailedAuthentication"),
            (text_token("svc", "wrong"), "FailedAuthentication"),
            (text_token("ghost", PASSWORD), "FailedAuthentication"),
            (text_token("other", PASSWORD), "FailedAuthentication"),
            (digest_token("svc", "wrong"), "FailedAuthentication"),
            (security(""), "InvalidSecurity"),
            (
                format!(
                    "{}{}",
                    text_token("svc", PASSWORD),
                    text_token("svc", PASSWORD)
                ),
                "InvalidSecurity",
            ),
            (
                security(&format!(
                    r#"<wsse:UsernameToken><wsse:Username>svc</wsse:Username><wsse:Password Type="{PASSWORD_DIGEST}">x</wsse:Password></wsse:UsernameToken>"#
                )),
                "InvalidSecurity",
            ),
            (
                digest_token_at("svc", PASSWORD, b"stale-nonce", &now_text(-301)),
                "MessageExpired",
            ),
            (
                digest_token_at("svc", PASSWORD, b"future-nonce", &now_text(400)),
                "MessageExpired",
            ),
            (
                security(&format!(
                    r#"<wsu:Timestamp><wsu:Expires>{}</wsu:Expires></wsu:Timestamp><wsse:UsernameToken><wsse:Username>svc</wsse:Username><wsse:Password>{}</wsse:Password></wsse:UsernameToken>"#,
                    now_text(-400),
                    escape(PASSWORD)
                )),
                "MessageExpired",
            ),
        ] {
            let answer = soap(&app, ns, &header, "ana").await;
            assert_wsse_fault(ns == SOAP12, &answer, code);
            assert!(
                !answer.2.contains(PASSWORD) && !answer.2.contains("wrong"),
                "{}",
                answer.2
            );
        }
    }
    // A Security header for another actor is not ours: as good as none.
    let elsewhere = text_token("svc", PASSWORD)
        .replace(r#"s:mustUnderstand="1""#, r#"s:actor="urn:somebody-else""#);
    assert_wsse_fault(
        false,
        &soap(&app, SOAP11, &elsewhere, "ana").await,
        "FailedAuthentication",
    );
    // Counted as the client's faults.
    let metrics = hub_testkit::get_text(&app.http, &format!("{}/metrics", app.base)).await;
    assert!(
        metrics.contains("soap_faults_total{code=\"Client\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("soap_faults_total{code=\"Sender\"}"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("soap_faults_total{code=\"Server\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_nonce_is_accepted_once_across_two_instances() {
    let app = required().await;
    let users = format!("svc:{PASSWORD}\nother:x");
    let second = app
        .instance(&[("WSSE_MODE", "required"), ("WSSE_USERS", &users)])
        .await;
    let id = app.insert("ana").await;
    let header = digest_token("svc", PASSWORD);
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..24 {
        let instance = if i % 2 == 0 { &app } else { &second };
        let request = instance
            .post("/user/soap")
            .header("content-type", "text/xml");
        let request = request.body(envelope(SOAP11, &header, "ana"));
        calls.spawn(async move { parts(request.go().await).await });
    }
    let answers = calls.join_all().await;
    let ok: Vec<_> = answers.iter().filter(|a| a.0 == 200).collect();
    let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    assert_eq!(ok.len(), 1, "exactly one first use: {statuses:?}");
    found(id, ok[0]);
    for refused in answers.iter().filter(|a| a.0 != 200) {
        assert_wsse_fault(false, refused, "FailedAuthentication");
    }
    let mut conn = PgConnection::connect(&app.db_url).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM wsse_nonce")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn expired_nonces_are_pruned() {
    let app = required().await;
    let mut conn = PgConnection::connect(&app.db_url).await.unwrap();
    sqlx::query(
        "INSERT INTO wsse_nonce (username, nonce, expires_at) VALUES
           ('svc', '\\x01', now() - interval '1 hour'), ('svc', '\\x02', now() + interval '1 minute')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        hub_soap_pg::prune(&mut conn, Duration::from_secs(300))
            .await
            .unwrap(),
        1
    );
    let left: Vec<Vec<u8>> = sqlx::query_scalar("SELECT nonce FROM wsse_nonce")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, [vec![2u8]]);
}

#[tokio::test]
async fn optional_mode_lets_anonymous_calls_through_but_checks_any_credentials() {
    let app = TestApp::spawn_with(&[
        ("WSSE_MODE", "optional"),
        ("WSSE_USERS", "svc:pw"),
        TEXT_OVER_HTTP,
    ])
    .await;
    let id = app.insert("ana").await;
    found(id, &soap(&app, SOAP12, "", "ana").await);
    found(
        id,
        &soap(&app, SOAP12, &text_token("svc", "pw"), "ana").await,
    );
    assert_wsse_fault(
        true,
        &soap(&app, SOAP12, &text_token("svc", "nope"), "ana").await,
        "FailedAuthentication",
    );
    found(id, &parts(app.get("/user/lookup?username=ana").await).await);
}

/// A token of `user` (who must exist: a token whose user is gone is refused) expiring
/// `exp_offset` seconds from now, as the original auth minted them (no `iat`, no `sid`).
fn bearer_for(keys: &JwtKeys, user: Uuid, exp_offset: i64) -> String {
    let claims = Claims {
        user_id: user,
        username: "browser".into(),
        exp: Utc::now().timestamp() + exp_offset,
        iat: None,
        roles: Vec::new(),
    };
    keys.sign(&claims).unwrap()
}

/// A token of `user` issued now, of a new login (its `sid`), as auth's `/login` answers.
async fn login(app: &TestApp, keys: &JwtKeys, user: Uuid) -> (String, Uuid) {
    let sid = hub_testkit::open_login(&app.db_url, user).await;
    let token = keys.sign_session(&keys.claims_for(user, "browser"), Some(sid));
    (token.unwrap(), sid)
}

const BEARER: &[(&str, &str)] = &[
    ("WSSE_MODE", "required"),
    ("WSSE_USERS", "svc:pw"),
    ("LOOKUP_ACCEPT_BEARER", "true"),
    ("SECRET_KEY", SECRET),
    TEXT_OVER_HTTP,
];

/// The GET lookup with `token` is refused as the guard refuses an invalid token.
async fn assert_get_refused(app: &TestApp, token: &str) {
    for path in ["/user/lookup?username=ana", "/user/soap?username=ana"] {
        let resp = app.req(Method::GET, path).bearer_auth(token).go().await;
        assert_eq!(
            resp.headers()["www-authenticate"],
            r#"Bearer error="invalid_token""#
        );
        let (status, ct, body) = parts(resp).await;
        assert_eq!(
            (status, ct.as_str()),
            (401, "text/xml; charset=utf-8"),
            "{body}"
        );
        assert!(
            body.contains("<faultcode>wsse:FailedAuthentication</faultcode>"),
            "{body}"
        );
    }
    for ns in [SOAP11, SOAP12] {
        let answer = soap_with(app, ns, "", "ana", Some(token)).await;
        assert_wsse_fault(ns == SOAP12, &answer, "FailedAuthentication");
    }
}

/// The GET and SOAP lookups of `ana` (`id`) with `token` find her.
async fn assert_found_with(app: &TestApp, id: Uuid, token: &str) {
    for path in ["/user/lookup?username=ana", "/user/soap?username=ana"] {
        found(
            id,
            &parts(app.req(Method::GET, path).bearer_auth(token).go().await).await,
        );
    }
    for ns in [SOAP11, SOAP12] {
        found(id, &soap_with(app, ns, "", "ana", Some(token)).await);
    }
}

#[tokio::test]
async fn a_logged_out_bearer_token_is_refused_at_once_on_every_instance() {
    let app = TestApp::spawn_with(BEARER).await;
    let other = app.instance(BEARER).await;
    let id = app.insert("ana").await;
    let keys = JwtKeys::new(&SECRET.to_owned().into(), Duration::from_secs(60));
    let (token, sid) = login(&app, &keys, id).await;
    let (kept, _) = login(&app, &keys, id).await;
    for instance in [&app, &other] {
        assert_found_with(instance, id, &token).await;
    }

    hub_testkit::log_out(&app.db_url, sid).await;
    for instance in [&app, &other] {
        assert_get_refused(instance, &token).await;
        // Beside a valid UsernameToken too: whatever is presented must hold.
        let answer = soap_with(
            instance,
            SOAP12,
            &text_token("svc", "pw"),
            "ana",
            Some(&token),
        )
        .await;
        assert_wsse_fault(true, &answer, "FailedAuthentication");
        // The user's other login is untouched.
        assert_found_with(instance, id, &kept).await;
    }
    // A token whose user is gone is refused the same way.
    assert_get_refused(&app, &bearer_for(&keys, Uuid::new_v4(), 60)).await;
}

#[tokio::test]
async fn a_deactivated_users_bearer_tokens_are_refused_on_every_instance_until_reactivated() {
    let app = TestApp::spawn_with(BEARER).await;
    let other = app.instance(BEARER).await;
    let id = app.insert("ana").await;
    let keys = JwtKeys::new(&SECRET.to_owned().into(), Duration::from_secs(60));
    let (token, _) = login(&app, &keys, id).await;
    let legacy_token = bearer_for(&keys, id, 60);
    hub_testkit::set_deactivated(&app.db_url, id, true).await;
    for instance in [&app, &other] {
        for t in [&token, &legacy_token] {
            assert_get_refused(instance, t).await;
        }
    }
    hub_testkit::set_deactivated(&app.db_url, id, false).await;
    for instance in [&app, &other] {
        assert_found_with(instance, id, &token).await;
    }
}

#[tokio::test]
async fn a_password_change_revokes_every_bearer_token_of_the_user_at_once() {
    let app = TestApp::spawn_with(BEARER).await;
    let id = app.insert("ana").await;
    let bob = app.insert("bob").await;
    let keys = JwtKeys::new(&SECRET.to_owned().into(), Duration::from_secs(60));
    let (login_token, _) = login(&app, &keys, id).await;
    let legacy_token = bearer_for(&keys, id, 60);
    let (bob_token, _) = login(&app, &keys, bob).await;
    for token in [&login_token, &legacy_token] {
        assert_found_with(&app, id, token).await;
    }

    hub_testkit::change_password(&app.db_url, id).await;
    for token in [&login_token, &legacy_token] {
        assert_get_refused(&app, token).await;
    }
    // Another user's token, and a login after the change, still open the lookup.
    assert_found_with(&app, id, &bob_token).await;
    let (new_token, _) = login(&app, &keys, id).await;
    assert_found_with(&app, id, &new_token).await;
}

#[tokio::test]
async fn with_postgresql_unreachable_a_bearer_token_gets_a_503_fault_never_an_answer() {
    let app = TestApp::spawn_with(BEARER).await;
    let id = app.insert("ana").await;
    let (db, through_relay) = hub_testkit::TcpRelay::for_url(&app.db_url).await;
    let mut settings = BEARER.to_vec();
    settings.push(("DATABASE_URL", &through_relay));
    let on_relay = app.instance(&settings).await;
    let keys = JwtKeys::new(&SECRET.to_owned().into(), Duration::from_secs(60));
    let (token, _) = login(&app, &keys, id).await;
    assert_found_with(&on_relay, id, &token).await;

    db.cut().await;
    let (status, _, body) = parts(
        on_relay
            .req(Method::GET, "/user/lookup?username=ana")
            .bearer_auth(&token)
            .go()
            .await,
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("Service temporarily unavailable"), "{body}");
    let (status, _, body) = soap_with(&on_relay, SOAP12, "", "ana", Some(&token)).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("<env:Value>env:Receiver</env:Value>"),
        "{body}"
    );
}

#[tokio::test]
async fn a_bearer_token_stands_in_for_a_username_token() {
    let app = TestApp::spawn_with(&[
        ("WSSE_MODE", "required"),
        ("WSSE_USERS", "svc:pw"),
        ("LOOKUP_ACCEPT_BEARER", "true"),
        ("SECRET_KEY", SECRET),
        TEXT_OVER_HTTP,
    ])
    .await;
    let id = app.insert("ana").await;
    let keys = JwtKeys::new(&SECRET.to_owned().into(), Duration::from_secs(60));
    let good = bearer_for(&keys, id, 60);
    let expired = bearer_for(&keys, id, -10);
    let forged = bearer_for(
        &JwtKeys::new(
            &"another-secret-0123456789abcdefghij".to_owned().into(),
            Duration::from_secs(60),
        ),
        id,
        60,
    );

    // SOAP: the token instead of a UsernameToken; a bad one is the SOAP fault.
    for ns in [SOAP11, SOAP12] {
        found(id, &soap_with(&app, ns, "", "ana", Some(&good)).await);
        for bad in [&expired, &forged] {
            let answer = soap_with(&app, ns, "", "ana", Some(bad)).await;
            assert_wsse_fault(ns == SOAP12, &answer, "FailedAuthentication");
        }
        // Both presented: both must hold.
        let answer = soap_with(&app, ns, &text_token("svc", "pw"), "ana", Some(&expired)).await;
        assert_wsse_fault(ns == SOAP12, &answer, "FailedAuthentication");
        found(
            id,
            &soap_with(&app, ns, &text_token("svc", "pw"), "ana", Some(&good)).await,
        );
    }

    // GET: 401 Fault with a challenge, the contract stays public.
    for path in ["/user/lookup?username=ana", "/user/soap?username=ana"] {
        let resp = app.get(path).await;
        assert_eq!(resp.headers()["www-authenticate"], "Bearer");
        let (status, ct, body) = parts(resp).await;
        assert_eq!(
            (status, ct.as_str()),
            (401, "text/xml; charset=utf-8"),
            "{body}"
        );
        assert!(
            body.contains("<faultcode>wsse:FailedAuthentication</faultcode>"),
            "{body}"
        );
        let resp = app.req(Method::GET, path).bearer_auth(&expired).go().await;
        assert_eq!(
            resp.headers()["www-authenticate"],
            r#"Bearer error="invalid_token""#
        );
        assert_eq!(resp.status(), 401);
        let answer = parts(app.req(Method::GET, path).bearer_auth(&good).go().await).await;
        found(id, &answer);
    }
    let (status, _, wsdl) = parts(app.get("/user/soap?wsdl").await).await;
    assert_eq!(status, 200);
    assert!(wsdl.contains("definitions"), "{wsdl}");
}

#[tokio::test]
async fn required_without_bearer_closes_the_gets_and_settings_are_checked() {
    let app = required().await;
    app.insert("ana").await;
    let resp = app.get("/user/lookup?username=ana").await;
    assert!(resp.headers().get("www-authenticate").is_none());
    let (status, _, body) = parts(resp).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("wsse:FailedAuthentication"), "{body}");

    use hub_runtime::service::ServiceConfig as _;
    let config = |pairs: &'static [(&'static str, &'static str)]| {
        let base = [("DATABASE_URL", "postgres://u:p@h/db")];
        user_lookup::Config::from_source(&hub_testkit::config_source(&base, pairs))
    };
    let err = config(&[("LOOKUP_ACCEPT_BEARER", "true"), ("SECRET_KEY", SECRET)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("LOOKUP_ACCEPT_BEARER"), "{err}");
    let err = config(&[("WSSE_MODE", "required")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("WSSE_USERS"), "{err}");
    let err = config(&[("WSSE_MODE", "required"), ("WSSE_USERS", "svc:CHANGE_ME")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("WSSE_USERS") && err.contains("placeholder"),
        "{err}"
    );
    let ok = config(&[
        ("WSSE_MODE", "required"),
        ("WSSE_USERS", "svc:very-secret-pw"),
    ])
    .unwrap();
    assert!(!format!("{ok:?}").contains("very-secret-pw"));
}
