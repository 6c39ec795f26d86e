//! Prometheus metrics for every service, at `GET /metrics` (added by [`crate::http::wrap`]).
//!
//! One process-wide recorder (the `metrics` facade with the Prometheus exporter), so
//! any crate records with the `metrics` macros without passing a registry around:
//!
//! | metric | kind | labels | from |
//! |---|---|---|---|
//! | `http_requests_total` | counter | `route` (matched pattern, or `unmatched`), `method` (standard, or `other`), `status` | every request |
//! | `http_request_duration_seconds` | histogram | `route`, `method`, `status` | every request |
//! | `http_requests_in_flight` | gauge | `route` | every request |
//! | `http_connections_refused_total` | counter | `reason` (`client_share`) | the server loop, a connection closed at accept |
//! | `db_pool_connections` | gauge | `pool`, `state` (`in_use`, `idle`) | `hub-db`, sampled at scrape |
//! | `db_pool_max_connections` | gauge | `pool` | `hub-db` (`DB_MAX_CONNECTIONS`), at scrape |
//! | `outbox_pending`, `outbox_oldest_pending_seconds` | gauge | | the outbox relay |
//! | `outbox_published_total`, `outbox_publish_failures_total` | counter | | the outbox relay (zero from start) |
//! | `consumer_messages_total` | counter | `queue`, `outcome` | the consumer (zero from start) |
//! | `notifications_total` | counter | `template`, `outcome` | notifications, per mail handled |
//! | `consumer_redeliveries_total`, `consumer_reconnects_total` | counter | `queue` | the consumer (zero from start) |
//! | `consumer_queue_depth`, `consumer_dead_letter_depth` | gauge | `queue` (the consumed one) | the consumer, at each (re)connect and every 5 s (the DLQ's zero from start) |
//! | `process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_virtual_memory_bytes`, `process_open_fds`, `process_max_fds`, `process_start_time_seconds` | counter / gauge | | this process, from `/proc` at scrape (Linux) |
//! | `soap_faults_total` | counter | `code` (`Client`, `Sender`, `Server`, `Receiver`, ...) | `hub-soap`, every fault answered |
//! | `hub_build_info` | gauge (1) | `service`, `version`, `commit` | [`set_build_info`] |
//!
//! Every metric has HELP text ([`describe`]), so `promtool check metrics` passes.
//! Gauges that are cheap to read but change constantly (pool sizes, process figures)
//! are sampled when Prometheus scrapes, through [`on_scrape`] hooks.

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
            process::start();
            Some(handle)
        })
        .as_ref()
}

/// HELP text (and unit) for every metric any crate of the hub records.
fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "http_requests_total",
        "HTTP requests answered, by matched route, method and status."
    );
    describe_histogram!(
        "http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by matched route, method and status."
    );
    describe_gauge!(
        "http_requests_in_flight",
        "HTTP requests being served now, by matched route."
    );
    describe_counter!(
        "http_connections_refused_total",
        "Connections closed at accept, by reason (client_share: the client held its MAX_CONNECTIONS_PER_CLIENT)."
    );
    describe_gauge!(
        "db_pool_connections",
        "PostgreSQL pool connections, by pool and state (in_use, idle)."
    );
    describe_gauge!(
        "db_pool_max_connections",
        "PostgreSQL pool size limit (DB_MAX_CONNECTIONS), by pool."
    );
    describe_gauge!(
        "outbox_pending",
        "Events in the outbox not yet confirmed by RabbitMQ."
    );
    describe_gauge!(
        "outbox_oldest_pending_seconds",
        Unit::Seconds,
        "Age of the oldest event not yet confirmed by RabbitMQ."
    );
    describe_counter!(
        "outbox_published_total",
        "Events the outbox relay published and RabbitMQ confirmed."
    );
    describe_counter!(
        "outbox_publish_failures_total",
        "Outbox relay publish attempts that failed (retried later)."
    );
    describe_counter!(
        "notifications_total",
        "Mails of the notifications service by template and outcome (sent, duplicate, deferred, smtp_unavailable, smtp_refused, bad_recipient)."
    );
    describe_counter!(
        "consumer_messages_total",
        "Messages the consumer finished, by queue and outcome (processed, skipped, retried, dead_lettered)."
    );
    describe_counter!(
        "consumer_redeliveries_total",
        "Messages RabbitMQ delivered again, by queue."
    );
    describe_counter!(
        "consumer_reconnects_total",
        "Times the consumer lost RabbitMQ and reconnected, by queue."
    );
    describe_gauge!(
        "consumer_queue_depth",
        "Messages ready in the consumed queue, sampled at each (re)connect and every 5 s."
    );
    describe_gauge!(
        "consumer_dead_letter_depth",
        "Messages in the dead-letter queue of the consumed queue (label queue), sampled at each (re)connect and every 5 s."
    );
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
    describe_counter!(
        "soap_faults_total",
        "SOAP Faults answered, by code as sent (Client/Sender: the caller's mistake; Server/Receiver: ours; VersionMismatch; MustUnderstand)."
    );
    describe_gauge!(
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
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        metrics::gauge!("process_start_time_seconds").set(started);
        super::on_scrape(sample);
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
