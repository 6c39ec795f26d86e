//! user-soap's envelopes, requests and reads only the `it` binary uses
//! ([`SoapHelpers`]); the harness and what the `faults` binary shares are in
//! `harness.rs`.

use std::time::Duration;

use hub_testkit::{ProcessBacking, ServiceProcess};

pub use crate::harness::{SoapApp, TEXT_XML, TestApp, legacy_envelope, pairs, user_fields};
use crate::harness::{USER_NS, elements};
pub use hub_testkit::parts;

/// The same registration as a SOAP 1.2 envelope with a default namespace on the wrapper.
pub fn soap12_envelope(fields: &[(&str, &str)]) -> String {
    let body = elements(fields, |k, v| format!("<{k}>{v}</{k}>"));
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\"><env:Body><RegisterUser xmlns=\"{USER_NS}\">{body}</RegisterUser></env:Body></env:Envelope>"
    )
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

/// Three registrations per client address, the address taken from `X-Forwarded-For`
/// (the tests' client, 127.0.0.1, is the trusted proxy): the per-address limit's tests.
pub const THREE_PER_FORWARDED_ADDRESS: [(&str, &str); 2] = [
    ("REGISTER_MAX_PER_ADDRESS", "3"),
    ("TRUSTED_PROXIES", "127.0.0.1"),
];

/// Two instances of the service on one database (the first's), both with `settings`:
/// for limits and once-only rules that hold across instances.
pub async fn two_instances(settings: &[(&str, &str)]) -> (TestApp, TestApp) {
    let a = TestApp::spawn_with(settings).await;
    let mut beside = settings.to_vec();
    beside.push(("DATABASE_URL", a.db_url.as_str()));
    let b = TestApp::spawn_with(&beside).await;
    (a, b)
}

/// Asserts that `body` holds `part`, showing the body when it does not.
#[track_caller]
pub fn assert_has(body: &str, part: &str) {
    assert!(body.contains(part), "{body}");
}

/// The user-soap binary as its own process on `backing`'s database and queue, with
/// `extra` settings.
pub async fn process(backing: &ProcessBacking, extra: &[(&str, &str)]) -> ServiceProcess {
    let bin = env!("CARGO_BIN_EXE_user-soap");
    ServiceProcess::spawn(bin, &backing.envs(extra), "/user-soap/health").await
}

/// user-soap's rows and events, on the test's instance.
pub trait SoapHelpers {
    /// Rows in `"user"`.
    async fn users(&self) -> i64;
    /// Every event the service published, once the outbox has drained.
    async fn take_messages(&self) -> Vec<hub_testkit::Message>;
}

impl SoapHelpers for TestApp {
    async fn users(&self) -> i64 {
        hub_testkit::count(&self.db_url, r#"SELECT count(*) FROM "user""#).await
    }

    async fn take_messages(&self) -> Vec<hub_testkit::Message> {
        self.wait_outbox_drained(Duration::from_secs(20)).await;
        hub_testkit::take_messages(&self.queue).await
    }
}

/// The id the original's clients extract with `/<us:id>(.*?)<\/us:id>/`.
pub fn extract_id(body: &str) -> Option<String> {
    let start = body.find("<us:id>")? + "<us:id>".len();
    let end = body[start..].find("</us:id>")?;
    Some(body[start..start + end].to_owned())
}
