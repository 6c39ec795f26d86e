//! A service binary run as its own OS process.

use std::{
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use uuid::Uuid;

use crate::{amqp_url, create_database, eventually, in_flight, queue_name};

/// The path of a service binary built beside the running test (`target/<profile>/<name>`),
/// or in `HUB_SERVICE_BIN_DIR` when that is set (scripts/soak.sh --release: the release
/// build). Building a workspace's tests builds every service binary, since each service
/// has integration tests that start it.
pub fn service_binary(name: &str) -> String {
    let dir = match std::env::var_os("HUB_SERVICE_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let exe = std::env::current_exe().unwrap();
            // target/<profile>/deps/<test binary>
            exe.parent().and_then(|d| d.parent()).unwrap().to_owned()
        }
    };
    let bin = dir.join(name);
    assert!(
        bin.exists(),
        "{} is not built: run `cargo build -p {name}` (scripts/test.sh builds everything)",
        bin.display()
    );
    bin.to_string_lossy().into_owned()
}

/// The resident set size of process `pid`, in KiB (Linux `/proc`).
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// The peak resident set size of process `pid` so far, in KiB (`VmHWM`: the kernel's
/// high-water mark, so no peak between two samples is missed).
pub fn peak_rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM:")
}

/// A KiB figure of `/proc/<pid>/status` (0 when the process or the field is gone).
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// What a service process that keeps users and publishes their events (auth, user-soap)
/// starts on: a database and a queue of its own, a fresh signing secret, the broker.
pub struct ProcessBacking {
    /// A fresh database ([`create_database`]).
    pub db_url: String,
    /// A fresh queue name ([`queue_name`]).
    pub queue: String,
    /// `process-secret-<uuid>`.
    pub secret: String,
    /// [`amqp_url`].
    pub amqp: String,
    /// `<queue>.account`: the account events' queue (`RABBITMQ_ACCOUNT_QUEUE`), so a
    /// test's mail events stay out of the shared `account-events`.
    pub account_queue: String,
}

impl ProcessBacking {
    /// A database and a queue named after `prefix`, and a new secret.
    pub async fn new(prefix: &str) -> Self {
        let queue = queue_name(prefix);
        Self {
            db_url: create_database(prefix).await,
            account_queue: format!("{queue}.account"),
            queue,
            secret: format!("process-secret-{}", Uuid::new_v4().simple()),
            amqp: amqp_url(),
        }
    }

    /// `DATABASE_URL`, `SECRET_KEY`, `AMQP_URL`, `RABBITMQ_QUEUE` and
    /// `RABBITMQ_ACCOUNT_QUEUE`, then `extra`, for
    /// [`ServiceProcess::spawn`].
    pub fn envs<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut envs = vec![
            ("DATABASE_URL", self.db_url.as_str()),
            ("SECRET_KEY", self.secret.as_str()),
            ("AMQP_URL", self.amqp.as_str()),
            ("RABBITMQ_QUEUE", self.queue.as_str()),
            ("RABBITMQ_ACCOUNT_QUEUE", self.account_queue.as_str()),
        ];
        envs.extend_from_slice(extra);
        envs
    }
}

/// A service binary running as its own OS process, for tests of what only a real
/// process shows: signals, exit codes, what reaches its log.
pub struct ServiceProcess {
    child: std::process::Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    log: PathBuf,
}

impl ServiceProcess {
    /// Starts `bin` on a free port with `envs` (plus `HOST`, `PORT`), its stdout and
    /// stderr going to a log file, and waits (30 s at most) until `health` answers 200.
    pub async fn spawn(bin: &str, envs: &[(&str, &str)], health: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::spawn_on(port, bin, envs, health).await
    }

    /// [`ServiceProcess::spawn`] on a given port (a load balancer's fixed backend address).
    pub async fn spawn_on(port: u16, bin: &str, envs: &[(&str, &str)], health: &str) -> Self {
        let log = std::env::temp_dir().join(format!("hub-process-{}.log", Uuid::new_v4()));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(bin)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(envs.iter().copied())
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let mut process = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(format!("{}{health}", process.base)).send().await
                && r.status() == 200
            {
                return process;
            }
            if let Some(status) = process.child.try_wait().unwrap() {
                panic!("{bin} exited with {status}: {}", process.log());
            }
            assert!(
                Instant::now() < deadline,
                "{bin} not healthy: {}",
                process.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`TERM`, `KILL`, ...) with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Polls `/metrics` until at least `n` requests to `route` are being served.
    pub async fn wait_in_flight(&self, route: &str, n: u32, within: Duration) {
        let http = reqwest::Client::new();
        eventually(within, async || {
            match in_flight(&http, &self.base, route).await {
                now if now >= f64::from(n) => Ok(()),
                now => Err(format!(
                    "{n} requests to {route} never in flight (last {now})"
                )),
            }
        })
        .await;
    }

    /// Waits (bounded) for the process to exit; returns its exit code (None: killed by
    /// a signal).
    pub async fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        eventually(within, async || match self.child.try_wait().unwrap() {
            Some(status) => Ok(status.code()),
            None => Err(format!("still running: {}", self.log())),
        })
        .await
    }

    /// Everything the process wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
