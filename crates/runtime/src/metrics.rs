//! Prometheus metrics for every service, at `GET /metrics` (added by [`crate::http::wrap`]).
//!
//! One process-wide recorder (the `metrics` facade with the Prometheus exporter), so
//! any crate records with the `metrics` macros without passing a registry around:
//!
//! | metric | kind | labels | from |
//! |---|---|---|---|
//! | `http_requests_total` | counter | `route` (matched pattern, or `unmatched`), `method`, `status` | every request |
//! | `http_request_duration_seconds` | histogram | `route`, `method`, `status` | every request |
//! | `db_pool_connections` | gauge | `state` (`in_use`, `idle`) | `hub-db`, sampled at scrape |
//! | `outbox_pending`, `outbox_oldest_pending_seconds` | gauge | | the outbox relay |
//! | `outbox_published_total`, `outbox_publish_failures_total` | counter | | the outbox relay |
//!
//! Gauges that are cheap to read but change constantly (pool sizes) are sampled when
//! Prometheus scrapes, through [`on_scrape`] hooks.

use std::sync::{Mutex, OnceLock};

use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

type Hook = Box<dyn Fn() + Send + Sync>;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
static HOOKS: Mutex<Vec<Hook>> = Mutex::new(Vec::new());

/// Latency buckets (seconds): from a cached lookup to a slow password hash.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the recorder on first use. `None` if another recorder was installed first
/// (then metrics are not exported, and `/metrics` says so).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .ok()?
                .install_recorder()
                .map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
                .ok()
        })
        .as_ref()
}

/// Registers `hook` to run before each scrape (to sample gauges).
pub fn on_scrape(hook: impl Fn() + Send + Sync + 'static) {
    if let Ok(mut hooks) = HOOKS.lock() {
        hooks.push(Box::new(hook));
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
    if let Ok(hooks) = HOOKS.lock() {
        for hook in hooks.iter() {
            hook();
        }
    }
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
