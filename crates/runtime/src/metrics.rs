//! Prometheus metrics for every service, at `GET /metrics` (added by [`crate::http::wrap`]).
//!
//! One process-wide recorder (the `metrics` facade with the Prometheus exporter), so
//! any crate records with the `metrics` macros without passing a registry around:
//!
//! Each crate describes the metrics it records (HELP text and unit, `describe_*!`
//! beside the recording code) and registers the description with
//! `hub_metrics::describe`, which hands it to the recorder once [`handle`] has installed
//! it. So no crate lists the others' metrics, and `promtool check metrics` passes. This
//! crate records, and describes:
//!
//! | metric | kind | labels | from |
//! |---|---|---|---|
//! | `http_requests_total` | counter | `route` (matched pattern, or `unmatched`), `method` (standard, or `other`), `status` | every request (`http::metrics`) |
//! | `http_request_duration_seconds` | histogram | `route`, `method`, `status` | every request |
//! | `http_requests_in_flight` | gauge | `route` | every request |
//! | `http_connections_refused_total` | counter | `reason` (`client_share`) | the server loop (`http::server`), a connection closed at accept |
//! | `process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_virtual_memory_bytes`, `process_open_fds`, `process_max_fds`, `process_start_time_seconds` | counter / gauge | | this process, from `/proc` at scrape (Linux) |
//! | `hub_build_info` | gauge (1) | `service`, `version`, `commit` | [`set_build_info`] |
//!
//! The others are `hub-db`'s (`db_pool_*`), `hub-events`' (`outbox_*` from the relay,
//! `consumer_*` from the consumer) and `hub-soap`'s (`soap_faults_total`); the full
//! list is in docs/OPERATIONS.md. Gauges that are cheap to read but change constantly
//! (pool sizes, process figures) are sampled when Prometheus scrapes, through
//! [`on_scrape`] hooks.

use std::sync::OnceLock;

use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Registers a hook that samples gauges before each scrape (see `hub-metrics`).
pub use hub_metrics::on_scrape;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Latency buckets (seconds): from a cached lookup to a slow password hash.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the recorder on first use. `None` if another recorder was installed first
/// (then metrics are not exported, and `/metrics` says so).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .ok()?
                .install_recorder()
                .map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
                .ok()?;
            describe();
            crate::http::describe_metrics();
            process::start();
            hub_metrics::recorder_installed();
            Some(handle)
        })
        .as_ref()
}

/// HELP text of the metrics this module records (the HTTP layers and the server loop
/// describe theirs beside them, each other crate its own, through `hub_metrics::describe`).
fn describe() {
    metrics::describe_gauge!(
        "hub_build_info",
        "Always 1: the service, version and commit of this build."
    );
}

/// `hub_build_info{service, version, commit} 1`. The commit is `HUB_GIT_COMMIT` at build
/// time (the Dockerfile and scripts/run.sh pass it), else `unknown`.
pub fn set_build_info(service: &'static str) {
    metrics::gauge!(
        "hub_build_info",
        "service" => service,
        "version" => env!("CARGO_PKG_VERSION"),
        "commit" => option_env!("HUB_GIT_COMMIT").unwrap_or("unknown"),
    )
    .set(1.0);
}

/// The process's own figures, in the names every Prometheus client library uses, read
/// from `/proc/self` when Prometheus scrapes (nothing on other systems).
mod process {
    use std::time::{SystemTime, UNIX_EPOCH};

    /// Linux reports CPU times in USER_HZ ticks, 100 per second on every architecture
    /// Linux runs these services on.
    const TICKS_PER_SECOND: f64 = 100.0;

    pub(super) fn start() {
        describe();
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        metrics::gauge!("process_start_time_seconds").set(started);
        super::on_scrape(sample);
    }

    fn describe() {
        use metrics::{Unit, describe_counter, describe_gauge};
        describe_counter!(
            "process_cpu_seconds_total",
            Unit::Seconds,
            "User and system CPU time the process has used (whole seconds)."
        );
        describe_gauge!(
            "process_resident_memory_bytes",
            Unit::Bytes,
            "Resident memory size of the process."
        );
        describe_gauge!(
            "process_virtual_memory_bytes",
            Unit::Bytes,
            "Virtual memory size of the process."
        );
        describe_gauge!("process_open_fds", "Open file descriptors of the process.");
        describe_gauge!(
            "process_max_fds",
            "The process's limit on open file descriptors."
        );
        describe_gauge!(
            "process_start_time_seconds",
            Unit::Seconds,
            "When the process started, seconds since the Unix epoch."
        );
    }

    fn sample() {
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
            // Fields after the command name, which is in parentheses and may hold spaces.
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map(|(_, rest)| rest.split_whitespace().collect())
                .unwrap_or_default();
            let field = |n: usize| fields.get(n).and_then(|f| f.parse::<f64>().ok());
            // `rest` starts at field 3 (state): utime is field 14, stime 15, vsize 23.
            if let (Some(utime), Some(stime)) = (field(11), field(12)) {
                metrics::counter!("process_cpu_seconds_total")
                    .absolute(((utime + stime) / TICKS_PER_SECOND) as u64);
            }
            if let Some(vsize) = field(20) {
                metrics::gauge!("process_virtual_memory_bytes").set(vsize);
            }
        }
        if let Ok(status) = std::fs::read_to_string("/proc/self/status")
            && let Some(kib) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        {
            metrics::gauge!("process_resident_memory_bytes").set(kib * 1024.0);
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            metrics::gauge!("process_open_fds").set(fds.count() as f64);
        }
        if let Ok(limits) = std::fs::read_to_string("/proc/self/limits")
            && let Some(max) = limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|v| v.parse::<f64>().ok())
        {
            metrics::gauge!("process_max_fds").set(max);
        }
    }
}

/// `GET /metrics`: Prometheus text exposition format.
pub async fn render() -> Response {
    let Some(handle) = handle() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder unavailable\n",
        )
            .into_response();
    };
    hub_metrics::sample();
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}
