//! Distributed traces end to end, with the real binaries as separate processes: a login
//! carrying a W3C `traceparent` and the session update it causes in another service are
//! one trace, exported over OTLP/HTTP to a receiver that decodes it with the
//! OpenTelemetry project's own protobuf definitions (tests/otlp/receiver.py). The chain
//! is checked span by span: caller → auth's `POST /login` → (the login use case) → the
//! outbox relay's publish → session's processing of the message.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use hub_testkit::{ServiceProcess, eventually, service_binary};
use serde_json::{Value, json};
use uuid::Uuid;

/// The receiver as a child process, killed on drop.
struct Receiver {
    child: Child,
    port: u16,
    out: PathBuf,
}

impl Receiver {
    fn start() -> Self {
        let out = std::env::temp_dir().join(format!("hub-otlp-{}.jsonl", Uuid::new_v4()));
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/otlp/receiver.py");
        let mut child = Command::new(hub_testkit::python())
            .arg(script)
            .arg(&out)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("receiver did not start: {line:?}"))
            .parse()
            .unwrap();
        Self { child, port, out }
    }

    fn spans(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.out);
    }
}

fn hex(n: usize) -> String {
    Uuid::new_v4().simple().to_string()[..n].to_owned()
}

#[tokio::test]
async fn a_login_and_the_session_update_it_causes_are_one_trace() {
    let receiver = Receiver::start();
    let endpoint = format!("http://127.0.0.1:{}", receiver.port);
    let db_url = hub_testkit::create_database("traces").await;
    let queue = hub_testkit::queue_name("traces");
    let mongo_db = hub_testkit::mongo_database("traces");
    let (amqp, mongo) = (hub_testkit::amqp_url(), hub_testkit::mongodb_uri());
    let secret = format!("trace-secret-{}", Uuid::new_v4().simple());
    let common = [
        ("DATABASE_URL", db_url.as_str()),
        ("AMQP_URL", &amqp),
        ("RABBITMQ_QUEUE", &queue),
        ("SECRET_KEY", &secret),
        ("LOG_FORMAT", "json"),
        // The SDK's own variables, as an operator sets them.
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let auth = ServiceProcess::spawn(
        &service_binary("auth"),
        &[&common[..], &[("OUTBOX_POLL_MS", "100")]].concat(),
        "/auth/health",
    )
    .await;
    let session = ServiceProcess::spawn(
        &service_binary("session"),
        &[
            &common[..],
            &[
                ("MONGODB_URI", mongo.as_str()),
                ("MONGODB_DATABASE", &mongo_db),
            ],
        ]
        .concat(),
        "/session/health",
    )
    .await;

    let password = format!("pw-{}", hex(12));
    let user = format!("tr{}", hex(10));
    hub_testkit::seed_user_with(
        &db_url,
        &user,
        &format!("{user}@example.com"),
        &hub_identity::password::legacy_hash(&password),
    )
    .await;

    // The caller's trace: what a front-end or a gateway would send.
    let (trace_id, caller_span) = (hex(32), hex(16));
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{}/login", auth.base))
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // session's processing of the message, whose ancestors are the relay's publish and
    // auth's request span, itself the child of the caller's span.
    let spans = eventually(Duration::from_secs(30), async || {
        let spans: Vec<Value> = receiver
            .spans()
            .into_iter()
            .filter(|s| s["trace_id"] == trace_id.as_str())
            .collect();
        // Each service exports its spans in its own batches: wait until the whole chain
        // from session's span up to the caller's has arrived.
        let by_id = |id: &str| spans.iter().find(|s| s["span_id"] == id);
        let mut at = spans
            .iter()
            .find(|s| s["service"] == "session" && s["name"] == format!("{queue} process"))
            .ok_or("session's span has not arrived")?;
        while let Some(parent) = at["parent_span_id"].as_str().and_then(by_id) {
            at = parent;
        }
        let complete = at["parent_span_id"] == caller_span.as_str();
        complete
            .then_some(spans.clone())
            .ok_or("an ancestor span has not arrived")
    })
    .await;
    let by_id = |id: &str| spans.iter().find(|s| s["span_id"] == id);
    let process = spans
        .iter()
        .find(|s| s["service"] == "session" && s["name"] == format!("{queue} process"))
        .unwrap();
    let mut ancestors = vec![];
    let mut at = process;
    while let Some(parent) = by_id(at["parent_span_id"].as_str().unwrap()) {
        ancestors.push((
            parent["service"].as_str().unwrap(),
            parent["name"].as_str().unwrap(),
        ));
        at = parent;
    }
    assert_eq!(
        at["parent_span_id"],
        caller_span.as_str(),
        "the chain must end at the caller's span: {spans:#?}"
    );
    let publish = format!("{queue} publish");
    assert_eq!(
        ancestors.first(),
        Some(&("auth", publish.as_str())),
        "{spans:#?}"
    );
    assert_eq!(
        ancestors.last(),
        Some(&("auth", "POST /login")),
        "{spans:#?}"
    );
    // Span kinds as OTLP numbers them: 2 server, 4 producer, 5 consumer.
    let kind = |service: &str, name: &str| {
        spans
            .iter()
            .find(|s| s["service"] == service && s["name"] == name)
            .map(|s| s["kind"].clone())
    };
    assert_eq!(kind("auth", "POST /login"), Some(json!(2)));
    assert_eq!(kind("auth", &publish), Some(json!(4)));
    assert_eq!(process["kind"], json!(5));

    // The JSON logs name the trace, so a log line leads to the trace and back.
    eventually(Duration::from_secs(10), async || {
        let log = auth.log();
        log.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .any(|l| l["message"] == "request finished" && l["trace_id"] == trace_id.as_str())
            .then_some(())
            .ok_or("no access-log line with the trace id")
    })
    .await;

    // A malformed traceparent is ignored (W3C): the login is served, in a trace of its own.
    let resp = http
        .post(format!("{}/login", auth.base))
        .header("traceparent", "00-not-a-trace-01")
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    drop(session);
}
