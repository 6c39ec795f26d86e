//! The chaos run's mixed load and its cluster plumbing (tests/tests/chaos.rs), shared with
//! the rolling upgrade (tests/tests/upgrade.rs): the load generator (register, log in, look
//! up, write a session, read the last connection, upload an avatar, through HAProxy) with
//! its ledger of acknowledged writes, the instances of a service on HAProxy's backend
//! ports, and scripts/cluster.sh driven from a test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

use std::{
    collections::HashMap,
    process::Command,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use hub_testkit::{ServiceProcess, eventually, service_binary};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A registration in SOAP 1.2 (the other tests mostly speak 1.1).
pub const REGISTER: &str = r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:u="http://example.com/user"><env:Body><u:RegisterUser><u:username>{u}</u:username><u:password>pw {u}</u:password><u:first_name>Eva</u:first_name><u:last_name>Núñez</u:last_name><u:dni>{u}</u:dni><u:email>{u}@example.org</u:email><u:city>Cádiz</u:city></u:RegisterUser></env:Body></env:Envelope>"#;

/// A 1x1 transparent GIF.
pub const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";

/// The instances of each service listen on its historical port plus these (HAProxy's
/// backends, scripts/cluster.sh `INSTANCE_OFFSETS`).
pub const OFFSETS: [u16; 2] = [10_000, 11_000];

/// Runs `scripts/cluster.sh args`, echoing its lines; panics with its output on failure.
pub fn cluster(args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg(crate::root().join("scripts/cluster.sh"))
        .args(args)
        .output()
        .expect("run scripts/cluster.sh");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    for line in stdout.lines() {
        eprintln!("chaos: [cluster.sh {}] {line}", args.join(" "));
    }
    assert!(
        out.status.success(),
        "cluster.sh {} failed: {stdout}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// [`cluster`] off the runtime's threads (the load keeps running meanwhile).
pub async fn cluster_async(args: Vec<String>) -> String {
    tokio::task::spawn_blocking(move || {
        cluster(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap()
}

/// `export NAME='value'` lines of `cluster.sh env`, as a map.
pub fn cluster_env() -> HashMap<String, String> {
    cluster(&["env"])
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect()
}

/// One request as the load saw it; times from the start of the run.
pub struct Sample {
    /// The step of the load (`register`, `login`, ...).
    pub endpoint: &'static str,
    /// When it was sent.
    pub start: Duration,
    /// When its answer (or error) came.
    pub end: Duration,
    /// Whether the status was one the step accepts.
    pub ok: bool,
    /// The status code, or the transport error.
    pub outcome: String,
}

/// What the load did and what the services acknowledged.
#[derive(Default)]
pub struct Ledger {
    /// Every request, in the order they ended.
    pub samples: Mutex<Vec<Sample>>,
    /// (username, id) of each registration answered 200.
    pub registered: Mutex<Vec<(String, String)>>,
    /// User ids of logins answered 200.
    pub logins: Mutex<Vec<String>>,
    /// (user id, mark) of session writes answered 200/201: `data.mark` must be stored.
    pub session_writes: Mutex<Vec<(String, String)>>,
    /// URLs of uploads answered 200.
    pub uploads: Mutex<Vec<String>>,
}

impl Ledger {
    /// Sends `req`, records the outcome; the body when the status is one of `ok`.
    pub async fn call(
        &self,
        t0: Instant,
        endpoint: &'static str,
        req: reqwest::RequestBuilder,
        ok: &[u16],
    ) -> Option<String> {
        let start = t0.elapsed();
        let (good, outcome, body) = match req.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = resp.text().await.unwrap_or_default();
                (ok.contains(&status), status.to_string(), body)
            }
            Err(e) => (false, format!("transport error: {e}"), String::new()),
        };
        self.samples.lock().unwrap().push(Sample {
            endpoint,
            start,
            end: t0.elapsed(),
            ok: good,
            outcome,
        });
        good.then_some(body)
    }
}

/// One client of the bounded pool: a new user per round, each step through the proxy.
pub async fn client(
    n_client: usize,
    http: reqwest::Client,
    ledger: Arc<Ledger>,
    t0: Instant,
    stop: CancellationToken,
) {
    let base = |port: u16| format!("http://127.0.0.1:{port}");
    let mut n = 0u64;
    while !stop.is_cancelled() {
        n += 1;
        let user = format!(
            "ch{n_client}x{n}{}",
            &Uuid::new_v4().simple().to_string()[..6]
        );
        let req = http
            .post(format!("{}/register", base(5002)))
            .header("content-type", "application/soap+xml; charset=utf-8")
            .body(REGISTER.replace("{u}", &user));
        let Some(body) = ledger.call(t0, "register", req, &[200]).await else {
            continue;
        };
        let id = crate::between(&body, "<us:id>", "</us:id>")
            .expect("a registration reply carries the id")
            .to_owned();
        ledger
            .registered
            .lock()
            .unwrap()
            .push((user.clone(), id.clone()));
        let req = http
            .post(format!("{}/login", base(5001)))
            .json(&json!({"username": user, "password": format!("pw {user}")}));
        let Some(body) = ledger.call(t0, "login", req, &[200]).await else {
            continue;
        };
        ledger.logins.lock().unwrap().push(id.clone());
        let token = serde_json::from_str::<Value>(&body).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let req = http.get(format!("{}/user/soap?username={user}", base(5016)));
        ledger.call(t0, "lookup", req, &[200]).await;
        let mark = Uuid::new_v4().simple().to_string();
        let req = http
            .post(format!("{}/api/sessions", base(5004)))
            .bearer_auth(&token)
            .json(&json!({"data": {"mark": mark}}));
        if ledger.call(t0, "session", req, &[200, 201]).await.is_some() {
            ledger.session_writes.lock().unwrap().push((id, mark));
        }
        // 404 until the consumer has recorded the login: an answer, not an error.
        let req = http.get(format!("{}/last-connection?username={user}", base(5020)));
        ledger.call(t0, "last-connection", req, &[200, 404]).await;
        if n.is_multiple_of(3) {
            let form = reqwest::multipart::Form::new().part(
                "file",
                reqwest::multipart::Part::bytes(GIF).file_name(format!("{user}.gif")),
            );
            let req = http
                .post(format!("{}/upload_image", base(5015)))
                .multipart(form);
            if let Some(body) = ledger.call(t0, "upload", req, &[200]).await {
                let url = serde_json::from_str::<Value>(&body).unwrap()["url"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                ledger.uploads.lock().unwrap().push(url);
            }
        }
    }
}

/// The instances of one service (two), with what the run needs to restart one.
pub struct Instances {
    /// The service (services.toml).
    pub name: String,
    /// Its historical port (HAProxy's front end); instance `i` is on `port + OFFSETS[i]`.
    pub port: u16,
    /// Its health path.
    pub health: String,
    /// The environment every instance starts with.
    pub env: Vec<(String, String)>,
    /// The running instances, by index.
    pub procs: Vec<ServiceProcess>,
    /// Logs of instances killed by the run (read before they were dropped).
    pub dead_logs: Vec<String>,
}

impl Instances {
    /// Starts instance `i` (this checkout's binary) on its backend port.
    pub async fn start_one(&self, i: usize) -> ServiceProcess {
        self.start_with(i, &service_binary(&self.name)).await
    }

    /// Starts instance `i` from `bin` (another release's build of the service).
    pub async fn start_with(&self, i: usize, bin: &str) -> ServiceProcess {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        ServiceProcess::spawn_on(self.port + OFFSETS[i], bin, &env, &self.health).await
    }
}

/// HAProxy's view: (proxy, server) → status, from its statistics CSV.
pub async fn proxy_servers(
    http: &reqwest::Client,
    stats: &str,
) -> HashMap<(String, String), String> {
    let Ok(resp) = http.get(format!("{stats};csv")).send().await else {
        return HashMap::new();
    };
    resp.text()
        .await
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f.len() > 17).then(|| ((f[0].to_owned(), f[1].to_owned()), f[17].to_owned()))
        })
        .collect()
}

/// Waits until HAProxy sends traffic to `server` of `proxy` again.
pub async fn proxy_up(http: &reqwest::Client, stats: &str, proxy: &str, server: &str) {
    let key = (proxy.to_owned(), server.to_owned());
    eventually(Duration::from_secs(20), async || {
        match proxy_servers(http, stats).await.get(&key) {
            Some(s) if s == "UP" => Ok(()),
            other => Err(format!("{proxy}/{server} is {other:?}")),
        }
    })
    .await;
}

/// The 99th percentile of `v` (nearest rank), zero when empty.
pub fn p99(mut v: Vec<Duration>) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort_unstable();
    v[(v.len() * 99).div_ceil(100).saturating_sub(1)]
}

/// Stops the cluster on drop if this run started it.
pub struct ClusterGuard {
    /// Whether to stop it.
    pub stop: bool,
}

impl Drop for ClusterGuard {
    fn drop(&mut self) {
        if self.stop {
            let _ = Command::new("bash")
                .arg(crate::root().join("scripts/cluster.sh"))
                .arg("down")
                .status();
        }
    }
}
