//! Harness: each test gets its own database, queue and server on port 0.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use hub_testkit::{Go as _, ProcessBacking, ServiceProcess};
use reqwest::Method;
use sqlx::{Connection as _, PgConnection};
use user_soap::UserSoap;

pub const USER_NS: &str = "http://example.com/user";

/// The front-end's content type for the SOAP 1.1 envelope.
pub const TEXT_XML: &str = "text/xml; charset=utf-8";

pub struct TestApp {
    /// The service on port 0: `addr`, `base`, `http`, `running` (through `Deref`).
    pub service: hub_testkit::Spawned,
    pub db_url: String,
    pub queue: String,
}

hub_testkit::test_app!(TestApp);

/// `fields` as elements, each written by `element(name, value)`.
fn elements(fields: &[(&str, &str)], element: impl Fn(&str, &str) -> String) -> String {
    fields.iter().map(|(k, v)| element(k, v)).collect()
}

/// The front-end's envelope (docs/LEGACY.md, user-soap), fields escaped by the caller.
pub fn legacy_envelope(fields: &[(&str, &str)]) -> String {
    let body = elements(fields, |k, v| format!("      <user:{k}>{v}</user:{k}>\n"));
    format!(
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:user=\"{USER_NS}\">\n  <soapenv:Header/>\n  <soapenv:Body>\n    <user:RegisterUser>\n{body}    </user:RegisterUser>\n  </soapenv:Body>\n</soapenv:Envelope>"
    )
}

/// The same registration as a SOAP 1.2 envelope with a default namespace on the wrapper.
pub fn soap12_envelope(fields: &[(&str, &str)]) -> String {
    let body = elements(fields, |k, v| format!("<{k}>{v}</{k}>"));
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\"><env:Body><RegisterUser xmlns=\"{USER_NS}\">{body}</RegisterUser></env:Body></env:Envelope>"
    )
}

/// A valid registration whose unique fields derive from `tag`.
pub fn user_fields(tag: &str) -> Vec<(String, String)> {
    vec![
        ("username".into(), format!("user_{tag}")),
        ("password".into(), "s3cret pw".into()),
        ("first_name".into(), "Ana".into()),
        ("last_name".into(), "Peña".into()),
        ("dni".into(), format!("D{}", &tag[..tag.len().min(15)])),
        ("email".into(), format!("{tag}@example.com")),
        ("city".into(), "Málaga".into()),
    ]
}

pub fn pairs(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Twelve hex digits, unique per call: the unique part of a test user.
pub fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// `POST {base}/register` of the front-end's envelope of `fields`, to be sent.
pub fn register_request(
    http: &reqwest::Client,
    base: &str,
    fields: &[(String, String)],
) -> reqwest::RequestBuilder {
    http.post(format!("{base}/register"))
        .header("content-type", TEXT_XML)
        .body(legacy_envelope(&pairs(fields)))
}

/// Asserts that `body` holds `part`, showing the body when it does not.
#[track_caller]
pub fn assert_has(body: &str, part: &str) {
    assert!(body.contains(part), "{body}");
}

/// What every test instance is given besides its database and queue.
const SETTINGS: &[(&str, &str)] = &[
    ("HOST", "127.0.0.1"),
    ("PORT", "0"),
    ("PASSWORD_PBKDF2_ITERATIONS", "20000"),
    // Tests register from 127.0.0.1; the limit has its own test.
    ("REGISTER_MAX_PER_ADDRESS", "1000000"),
    ("OUTBOX_POLL_MS", "200"),
    ("OUTBOX_PUBLISH_TIMEOUT_MS", "2000"),
];

/// The user-soap binary as its own process on `backing`'s database and queue, with
/// `extra` settings.
pub async fn process(backing: &ProcessBacking, extra: &[(&str, &str)]) -> ServiceProcess {
    let bin = env!("CARGO_BIN_EXE_user-soap");
    ServiceProcess::spawn(bin, &backing.envs(extra), "/user-soap/health").await
}

impl TestApp {
    pub async fn spawn_with(extra: &[(&str, &str)]) -> Self {
        let backing = ProcessBacking::new("usersoap").await;
        let source = hub_testkit::config_source(&backing.envs(SETTINGS), extra);
        let service = hub_testkit::spawn::<UserSoap>(source).await;
        Self {
            service,
            db_url: backing.db_url,
            queue: backing.queue,
        }
    }

    /// `POST /register` with `body` as `content_type`, to be completed and sent.
    pub fn request(
        &self,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::RequestBuilder {
        self.req(Method::POST, "/register")
            .header("content-type", content_type)
            .body(body)
    }

    pub async fn post(
        &self,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.request(content_type, body).go().await
    }

    pub async fn register11(&self, fields: &[(&str, &str)]) -> (u16, String, String) {
        self.register_as(TEXT_XML, fields).await
    }

    /// The front-end's envelope of `fields`, posted as `content_type`.
    pub async fn register_as(
        &self,
        content_type: &str,
        fields: &[(&str, &str)],
    ) -> (u16, String, String) {
        parts(self.post(content_type, legacy_envelope(fields)).await).await
    }

    pub async fn users(&self) -> i64 {
        hub_testkit::count(&self.db_url, r#"SELECT count(*) FROM "user""#).await
    }

    pub async fn db(&self) -> PgConnection {
        PgConnection::connect(&self.db_url).await.unwrap()
    }

    pub async fn take_messages(&self) -> Vec<hub_testkit::Message> {
        hub_testkit::wait_outbox_drained(&self.db_url, Duration::from_secs(20)).await;
        hub_testkit::take_messages(&self.queue).await
    }
}

pub use hub_testkit::parts;

/// The id the original's clients extract with `/<us:id>(.*?)<\/us:id>/`.
pub fn extract_id(body: &str) -> Option<String> {
    let start = body.find("<us:id>")? + "<us:id>".len();
    let end = body[start..].find("</us:id>")?;
    Some(body[start..start + end].to_owned())
}
