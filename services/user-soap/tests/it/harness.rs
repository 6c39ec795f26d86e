//! user-soap on the testkit's harness: each test gets its own database, queue and
//! server on port 0, against the real PostgreSQL and RabbitMQ started by
//! scripts/backing.sh. What both the `it` and the `faults` binaries use; the rest of the
//! helpers are in `app.rs`.

use hub_testkit::{Go as _, Harness, parts};
use reqwest::Method;
use user_soap::UserSoap;

/// The namespace of the registration's elements.
pub const USER_NS: &str = "http://example.com/user";

/// The front-end's content type for the SOAP 1.1 envelope.
pub const TEXT_XML: &str = "text/xml; charset=utf-8";

/// user-soap running for one test.
pub type TestApp = hub_testkit::TestApp<UserSoap>;

/// `fields` as elements, each written by `element(name, value)`.
pub fn elements(fields: &[(&str, &str)], element: impl Fn(&str, &str) -> String) -> String {
    fields.iter().map(|(k, v)| element(k, v)).collect()
}

/// The front-end's envelope (docs/LEGACY.md, user-soap), fields escaped by the caller.
pub fn legacy_envelope(fields: &[(&str, &str)]) -> String {
    let body = elements(fields, |k, v| format!("      <user:{k}>{v}</user:{k}>\n"));
    format!(
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:user=\"{USER_NS}\">\n  <soapenv:Header/>\n  <soapenv:Body>\n    <user:RegisterUser>\n{body}    </user:RegisterUser>\n  </soapenv:Body>\n</soapenv:Envelope>"
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

/// `fields` borrowed as pairs.
pub fn pairs(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// user-soap's test instance and its registrations.
pub trait SoapApp {
    /// Starts the service with the test settings.
    async fn spawn() -> TestApp {
        Self::spawn_with(&[]).await
    }
    /// Starts the service on its own database and queue, with fast hashing, no
    /// per-address limit (tests register from 127.0.0.1; the limit has its own test) and
    /// a quick outbox relay, overridden by `extra`.
    async fn spawn_with(extra: &[(&str, &str)]) -> TestApp;
    /// `POST /register` with `body` as `content_type`, to be completed and sent.
    fn request(
        &self,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::RequestBuilder;
    /// `POST /register` with `body` as `content_type`.
    async fn send(&self, content_type: &str, body: impl Into<reqwest::Body>) -> reqwest::Response;
    /// The front-end's SOAP 1.1 envelope of `fields`: status, content type and body.
    async fn register11(&self, fields: &[(&str, &str)]) -> (u16, String, String);
    /// The front-end's envelope of `fields`, posted as `content_type`.
    async fn register_as(
        &self,
        content_type: &str,
        fields: &[(&str, &str)],
    ) -> (u16, String, String);
}

impl SoapApp for TestApp {
    async fn spawn_with(extra: &[(&str, &str)]) -> TestApp {
        Harness::new("usersoap")
            .secret("SECRET_KEY")
            .queue("RABBITMQ_QUEUE")
            .also_queue("RABBITMQ_ACCOUNT_QUEUE", "account")
            .set("PASSWORD_PBKDF2_ITERATIONS", "20000")
            .set("PASSWORD_ARGON2_MEMORY_KIB", "1024")
            .set("PASSWORD_ARGON2_ITERATIONS", "1")
            .set("REGISTER_MAX_PER_ADDRESS", "1000000")
            .set("OUTBOX_POLL_MS", "200")
            .set("OUTBOX_PUBLISH_TIMEOUT_MS", "2000")
            .spawn(extra)
            .await
    }

    fn request(
        &self,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::RequestBuilder {
        self.req(Method::POST, "/register")
            .header("content-type", content_type)
            .body(body)
    }

    async fn send(&self, content_type: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.request(content_type, body).go().await
    }

    async fn register11(&self, fields: &[(&str, &str)]) -> (u16, String, String) {
        self.register_as(TEXT_XML, fields).await
    }

    async fn register_as(
        &self,
        content_type: &str,
        fields: &[(&str, &str)],
    ) -> (u16, String, String) {
        parts(self.send(content_type, legacy_envelope(fields)).await).await
    }
}
