//! Harness: each test gets its own database, queue and server on port 0.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use sqlx::{Connection as _, PgConnection};
use user_soap::UserSoap;

pub const USER_NS: &str = "http://example.com/user";

pub struct TestApp {
    /// The service on port 0: `addr`, `base`, `http`, `running` (through `Deref`).
    pub service: hub_testkit::Spawned,
    pub db_url: String,
    pub queue: String,
}

hub_testkit::test_app!(TestApp);

/// The front-end's envelope (docs/LEGACY.md, user-soap), fields escaped by the caller.
pub fn legacy_envelope(fields: &[(&str, &str)]) -> String {
    let body: String = fields
        .iter()
        .map(|(k, v)| format!("      <user:{k}>{v}</user:{k}>\n"))
        .collect();
    format!(
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:user=\"{USER_NS}\">\n  <soapenv:Header/>\n  <soapenv:Body>\n    <user:RegisterUser>\n{body}    </user:RegisterUser>\n  </soapenv:Body>\n</soapenv:Envelope>"
    )
}

/// The same registration as a SOAP 1.2 envelope with a default namespace on the wrapper.
pub fn soap12_envelope(fields: &[(&str, &str)]) -> String {
    let body: String = fields
        .iter()
        .map(|(k, v)| format!("<{k}>{v}</{k}>"))
        .collect();
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

impl TestApp {
    pub async fn spawn_with(extra: &[(&str, &str)]) -> Self {
        let db_url = hub_testkit::create_database("usersoap").await;
        let queue = hub_testkit::queue_name("user-events");
        let source = hub_testkit::config_source(
            &[
                ("DATABASE_URL", db_url.as_str()),
                ("AMQP_URL", &hub_testkit::amqp_url()),
                ("RABBITMQ_QUEUE", queue.as_str()),
                ("HOST", "127.0.0.1"),
                ("PORT", "0"),
                ("PASSWORD_PBKDF2_ITERATIONS", "20000"),
                // Tests register from 127.0.0.1; the limit has its own test.
                ("REGISTER_MAX_PER_ADDRESS", "1000000"),
                ("OUTBOX_POLL_MS", "200"),
                ("OUTBOX_PUBLISH_TIMEOUT_MS", "2000"),
            ],
            extra,
        );
        let service = hub_testkit::spawn::<UserSoap>(source).await;
        Self {
            service,
            db_url,
            queue,
        }
    }

    pub async fn post(
        &self,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.http
            .post(format!("{}/register", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn register11(&self, fields: &[(&str, &str)]) -> (u16, String, String) {
        let resp = self
            .post("text/xml; charset=utf-8", legacy_envelope(fields))
            .await;
        parts(resp).await
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
