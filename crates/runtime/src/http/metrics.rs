//! Request metrics: `http_requests_total`, `http_request_duration_seconds` and
//! `http_requests_in_flight`, by matched route, method and final status. Every label
//! takes a bounded set of values whatever clients send: the route is the matched
//! pattern (or `unmatched`), the method one of the standard nine (or `other`), the
//! status one the service produced.

use axum::{
    extract::{MatchedPath, Request},
    middleware::Next,
    response::Response,
};

/// HELP text (and unit) of the request metrics.
pub(super) fn describe() {
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
}

/// Counts the request and its latency by matched route (not path: paths carry ids
/// and would explode the label set), method and final status.
pub(super) async fn record_metrics(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(req.method()).to_owned();
    let started = std::time::Instant::now();
    // Requests being served now; the guard also counts down a request whose future is
    // dropped (client gone, shutdown bound reached).
    let in_flight = metrics::gauge!("http_requests_in_flight", "route" => route.clone());
    in_flight.increment(1.0);
    let _done = InFlight(in_flight);
    let resp = next.run(req).await;
    let labels = [
        ("route", route),
        ("method", method),
        ("status", resp.status().as_u16().to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    resp
}

/// The method as a label: the standard ones by name, anything else `other`. A client
/// may send any token as a method; each new one would be a new series in every
/// request metric (200 made-up methods added 3 400 series).
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Decrements `http_requests_in_flight` when the request ends, however it ends.
struct InFlight(metrics::Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}
