//! WS-Security on user-soap, against the real service and PostgreSQL: one registration
//! policy on both doors (the JSON door takes the SOAP door's credentials as HTTP Basic,
//! required in `required` mode, checked in `optional`, ignored when off), and a password
//! as text (a `#PasswordText` token, or Basic) only over TLS as a trusted proxy reports
//! it, or with `WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP`. The faults themselves, replay and
//! the clock: user-lookup's `tests/wsse.rs` (the same guard); real clients:
//! `tests/tests/it/wsse.rs`. Attempts to get past it: `tests/hostile.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use crate::app::{
    SoapApp as _, SoapHelpers as _, TestApp, legacy_envelope, pairs, parts, soap12_envelope, tag,
    user_fields,
};
use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use chrono::{SecondsFormat, Utc};
use hub_soap::wsse::{self, PASSWORD_DIGEST, PASSWORD_TEXT, WSSE_NS, WSU_NS};
use hub_testkit::Go as _;
use reqwest::Method;
use serde_json::{Map, Value};

const USER: &str = "partner";
const PASSWORD: &str = "pa:ss wörd<&>";
const HTTPS: (&str, &str) = ("x-forwarded-proto", "https");

/// `WSSE_MODE=mode` with the credentials, and `extra`.
async fn with_mode(mode: &str, extra: &[(&str, &str)]) -> TestApp {
    let users = format!("{USER}:{PASSWORD}\nother:x");
    let base = [("WSSE_MODE", mode), ("WSSE_USERS", users.as_str())];
    TestApp::spawn_with(&[&base[..], extra].concat()).await
}

fn json(fields: &[(String, String)]) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect::<Map<_, _>>(),
    )
}

/// `POST /api/users` of a fresh user with `basic` credentials (if any) and the HTTP
/// headers `http`: status, `WWW-Authenticate`, JSON body.
async fn json_register(
    app: &TestApp,
    basic: Option<(&str, &str)>,
    http: &[(&str, &str)],
) -> (u16, Option<String>, Value) {
    let mut request = app
        .req(Method::POST, "/api/users")
        .json(&json(&user_fields(&tag())));
    if let Some((user, password)) = basic {
        request = request.basic_auth(user, Some(password));
    }
    for (name, value) in http {
        request = request.header(*name, *value);
    }
    let resp = request.go().await;
    let status = resp.status().as_u16();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(resp.headers()["content-type"], "application/json");
    (status, challenge, resp.json().await.unwrap())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A `Security` header with a text token (no `mustUnderstand`, as zeep sends it).
fn text_token(password: &str) -> String {
    format!(
        r#"<wsse:Security xmlns:wsse="{WSSE_NS}"><wsse:UsernameToken><wsse:Username>{USER}</wsse:Username><wsse:Password Type="{PASSWORD_TEXT}">{}</wsse:Password></wsse:UsernameToken></wsse:Security>"#,
        escape(password)
    )
}

/// A `Security` header with a fresh digest token.
fn digest_token() -> String {
    let nonce = uuid::Uuid::new_v4();
    let created = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
    format!(
        r#"<wsse:Security xmlns:wsse="{WSSE_NS}" xmlns:wsu="{WSU_NS}"><wsse:UsernameToken><wsse:Username>{USER}</wsse:Username><wsse:Password Type="{PASSWORD_DIGEST}">{}</wsse:Password><wsse:Nonce>{}</wsse:Nonce><wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"#,
        wsse::password_digest(nonce.as_bytes(), &created, PASSWORD),
        BASE64.encode(nonce.as_bytes())
    )
}

/// `POST /register` of a fresh user with `security` in the Header, in SOAP 1.1 or
/// (`v12`) 1.2, with the HTTP headers `http`.
async fn soap_register(
    app: &TestApp,
    v12: bool,
    security: &str,
    http: &[(&str, &str)],
) -> (u16, String, String) {
    let fields = user_fields(&tag());
    let (content_type, envelope) = if v12 {
        let envelope = soap12_envelope(&pairs(&fields)).replace(
            "<env:Body>",
            &format!("<env:Header>{security}</env:Header><env:Body>"),
        );
        ("application/soap+xml; charset=utf-8", envelope)
    } else {
        let envelope = legacy_envelope(&pairs(&fields)).replace(
            "<soapenv:Header/>",
            &format!("<soapenv:Header>{security}</soapenv:Header>"),
        );
        ("text/xml; charset=utf-8", envelope)
    };
    let mut request = app.request(content_type, envelope);
    for (name, value) in http {
        request = request.header(*name, *value);
    }
    parts(request.go().await).await
}

/// The WS-Security fault `code` in SOAP 1.1 or (`v12`) 1.2
/// ([`hub_testkit::soap::assert_wsse_fault`]), the password nowhere in it.
#[track_caller]
fn assert_wsse_fault(v12: bool, answer: &(u16, String, String), code: &str) {
    hub_testkit::soap::assert_wsse_fault(v12, answer, code);
    let body = &answer.2;
    assert!(
        !body.contains(PASSWORD) && !body.contains("pa:ss"),
        "{body}"
    );
}

const REQUIRED: &str =
    "Authentication required: send HTTP Basic credentials (the WS-Security users)";
const INVALID: &str = "Invalid credentials";
const NEEDS_HTTPS: &str = "HTTP Basic credentials are accepted only over HTTPS";
const CHALLENGE: &str = r#"Basic realm="user-soap", charset="UTF-8""#;

#[tokio::test]
async fn required_closes_the_json_door_to_all_but_the_soap_doors_credentials() {
    // The test client, 127.0.0.1, is the deployment's TLS-terminating proxy.
    let app = with_mode("required", &[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    let refused = [
        // (credentials, HTTP headers, status, error)
        (None, vec![HTTPS], 401, REQUIRED),
        (Some((USER, "wrong")), vec![HTTPS], 401, INVALID),
        (Some(("ghost", PASSWORD)), vec![HTTPS], 401, INVALID),
        (Some(("other", PASSWORD)), vec![HTTPS], 401, INVALID),
        // Right, but in the clear: refused whatever the password.
        (Some((USER, PASSWORD)), vec![], 403, NEEDS_HTTPS),
        (Some((USER, "wrong")), vec![], 403, NEEDS_HTTPS),
        (
            Some((USER, PASSWORD)),
            vec![("x-forwarded-proto", "http")],
            403,
            NEEDS_HTTPS,
        ),
        // Another scheme is not a credential of ours.
        (
            None,
            vec![HTTPS, ("authorization", "Bearer x.y.z")],
            401,
            REQUIRED,
        ),
        (
            None,
            vec![HTTPS, ("authorization", "Basic !!!")],
            401,
            INVALID,
        ),
        (
            None,
            vec![HTTPS, ("authorization", "Basic bm9jb2xvbg==")],
            401,
            INVALID,
        ),
    ];
    for (basic, http, status, error) in refused {
        let (got, challenge, body) = json_register(&app, basic, &http).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(error)),
            "{basic:?} {http:?}: {body}"
        );
        assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
        let expected = (status == 401).then(|| CHALLENGE.to_owned());
        assert_eq!(challenge, expected, "{basic:?} {http:?}");
        assert!(!body.to_string().contains("pa:ss"), "{body}");
    }
    assert_eq!(app.users().await, 0, "nothing was registered");
    assert_eq!(
        hub_testkit::count(&app.db_url, "SELECT count(*) FROM outbox").await,
        0,
        "and no event written"
    );
    // Checked before the body is read: a bad body without credentials is a 401.
    let resp = app
        .req(Method::POST, "/api/users")
        .header("content-type", "application/json")
        .body("{not json")
        .go()
        .await;
    assert_eq!(resp.status(), 401);

    // The SOAP door's credentials, over TLS: registered.
    let (status, challenge, body) = json_register(&app, Some((USER, PASSWORD)), &[HTTPS]).await;
    assert_eq!((status, challenge), (201, None), "{body}");
    assert_eq!(body["message"], "User registered successfully");
    assert_eq!(app.users().await, 1);
}

#[tokio::test]
async fn the_setting_allows_basic_over_plain_http() {
    let app = with_mode(
        "required",
        &[("WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP", "true")],
    )
    .await;
    let (status, _, body) = json_register(&app, Some((USER, PASSWORD)), &[]).await;
    assert_eq!(status, 201, "{body}");
    let (status, _, body) = json_register(&app, None, &[]).await;
    assert_eq!((status, body["error"].as_str()), (401, Some(REQUIRED)));
    assert_eq!(app.users().await, 1);
}

#[tokio::test]
async fn optional_checks_basic_credentials_when_sent_and_off_ignores_them() {
    let app = with_mode("optional", &[]).await;
    let (status, _, body) = json_register(&app, None, &[]).await;
    assert_eq!(status, 201, "anonymous, as over SOAP: {body}");
    let (status, _, body) = json_register(&app, Some((USER, "wrong")), &[]).await;
    assert_eq!((status, body["error"].as_str()), (403, Some(NEEDS_HTTPS)));
    let (status, _, body) = json_register(&app, None, &[("authorization", "Bearer x.y.z")]).await;
    assert_eq!(status, 201, "another scheme is as good as none: {body}");
    assert_eq!(app.users().await, 2);

    let allowed = with_mode(
        "optional",
        &[("WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP", "true")],
    )
    .await;
    let (status, _, body) = json_register(&allowed, Some((USER, "wrong")), &[]).await;
    assert_eq!((status, body["error"].as_str()), (401, Some(INVALID)));
    let (status, _, body) = json_register(&allowed, Some((USER, PASSWORD)), &[]).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(allowed.users().await, 1);

    // Off (the default): the door is as it was, whatever Authorization says.
    let off = TestApp::spawn().await;
    let (status, _, body) = json_register(&off, Some(("nobody", "nothing")), &[]).await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn password_text_needs_tls_from_a_trusted_proxy_or_the_setting() {
    let proxied = with_mode("required", &[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    for v12 in [false, true] {
        let before = proxied.users().await;
        // Plain HTTP: refused before the password is looked at, right or wrong.
        for password in [PASSWORD, "wrong"] {
            for http in [&[][..], &[("x-forwarded-proto", "http")]] {
                let answer = soap_register(&proxied, v12, &text_token(password), http).await;
                assert_wsse_fault(v12, &answer, "UnsupportedSecurityToken");
                assert!(
                    answer
                        .2
                        .contains("a PasswordText is accepted only over HTTPS"),
                    "{}",
                    answer.2
                );
            }
        }
        assert_eq!(proxied.users().await, before, "nothing registered");
        // Over TLS, as the trusted proxy says: registered; a digest needs no TLS.
        let (status, _, body) = soap_register(&proxied, v12, &text_token(PASSWORD), &[HTTPS]).await;
        assert_eq!(status, 200, "{body}");
        assert_wsse_fault(
            v12,
            &soap_register(&proxied, v12, &text_token("wrong"), &[HTTPS]).await,
            "FailedAuthentication",
        );
        let (status, _, body) = soap_register(&proxied, v12, &digest_token(), &[]).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(proxied.users().await, 4);

    // The same header from a peer that is no trusted proxy says nothing.
    let direct = with_mode("required", &[("TRUSTED_PROXIES", "10.0.0.0/8")]).await;
    for v12 in [false, true] {
        let answer = soap_register(&direct, v12, &text_token(PASSWORD), &[HTTPS]).await;
        assert_wsse_fault(v12, &answer, "UnsupportedSecurityToken");
    }
    assert_eq!(direct.users().await, 0);

    // The setting allows plain HTTP.
    let allowed = with_mode(
        "required",
        &[("WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP", "true")],
    )
    .await;
    for v12 in [false, true] {
        let (status, _, body) = soap_register(&allowed, v12, &text_token(PASSWORD), &[]).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(allowed.users().await, 2);
}
