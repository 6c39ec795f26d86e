//! Distributed traces: our `tracing` spans exported as OpenTelemetry spans over OTLP,
//! and the W3C trace context carried from an HTTP request through the outbox and the
//! AMQP message to the consumer, so that a request and the work it causes in another
//! service are one trace.
//!
//! Off unless `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` is
//! set (and not disabled by `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`).
//! Off, there is no OpenTelemetry layer at all: every function here is then a cheap
//! no-op, nothing is propagated and the outbox stores no trace context. On, the
//! exporter speaks OTLP over HTTP/protobuf, and the SDK's standard variables apply
//! (`OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_TRACES_SAMPLER`,
//! `OTEL_BSP_*`, ...). Spans are batched and sent from the exporter's own thread.
//!
//! What crosses a process boundary is the `traceparent` header of W3C Trace Context
//! (`00-<trace id>-<span id>-<flags>`), nothing else: baggage and `tracestate` are not
//! carried.

use std::{
    collections::HashMap,
    sync::{
        OnceLock,
        atomic::{AtomicBool, Ordering},
    },
};

use opentelemetry::{
    Context,
    propagation::TextMapPropagator,
    trace::{TraceContextExt, TracerProvider as _},
};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing::{Span, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{Layer, registry::LookupSpan};

/// The W3C Trace Context header (and AMQP header, and outbox column) name.
pub const TRACEPARENT: &str = "traceparent";

static ENABLED: AtomicBool = AtomicBool::new(false);
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Whether spans are being exported (a layer from [`layer`] is installed).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Where to send spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// From the `OTEL_EXPORTER_OTLP_*` variables, resolved by the SDK (the generic
    /// endpoint gets `/v1/traces` appended, the traces endpoint is used as given).
    FromEnv,
    /// This URL, used as given (e.g. `http://127.0.0.1:4318/v1/traces`).
    Url(String),
}

impl Endpoint {
    /// [`Endpoint::FromEnv`] when the environment asks for traces, else `None`.
    pub fn from_env() -> Option<Self> {
        Self::from_source(&|k| std::env::var(k).ok())
    }

    /// [`Endpoint::from_env`] over any variable source.
    pub fn from_source(var: &dyn Fn(&str) -> Option<String>) -> Option<Self> {
        let set = |k: &str| var(k).is_some_and(|v| !v.trim().is_empty());
        let disabled = var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim() == "true")
            || var("OTEL_TRACES_EXPORTER").is_some_and(|v| v.trim() == "none");
        (!disabled
            && (set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") || set("OTEL_EXPORTER_OTLP_ENDPOINT")))
        .then_some(Self::FromEnv)
    }
}

/// The OpenTelemetry layer for `service`, exporting to `endpoint`; `None` (and a
/// message on stderr, since logging is not up yet) when the exporter cannot be built.
/// Only the first call in a process installs a provider; later calls get `None`.
pub fn layer<S>(service: &'static str, endpoint: &Endpoint) -> Option<impl Layer<S> + use<S>>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    if PROVIDER.get().is_some() {
        return None;
    }
    let builder = opentelemetry_otlp::SpanExporter::builder().with_http();
    let builder = match endpoint {
        Endpoint::FromEnv => builder,
        Endpoint::Url(url) => builder.with_endpoint(url.clone()),
    };
    let exporter = match builder.build() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{service}: traces disabled, the OTLP exporter cannot be built: {e}");
            return None;
        }
    };
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service).build())
        .build();
    let tracer = provider.tracer(service);
    if PROVIDER.set(provider).is_err() {
        return None;
    }
    ENABLED.store(true, Ordering::Relaxed);
    Some(
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            // Our spans carry no source locations worth exporting; thread ids neither.
            .with_location(false)
            .with_threads(false),
    )
}

/// Sends every finished span now (tests, and before exit).
pub fn flush() {
    if let Some(p) = PROVIDER.get() {
        let _ = p.force_flush();
    }
}

/// Flushes and stops the exporter; spans ended afterwards are dropped.
pub fn shutdown() {
    if let Some(p) = PROVIDER.get() {
        let _ = p.shutdown();
    }
}

/// Makes `span` (not yet entered) the child of the trace context in `traceparent`, if
/// that is a valid W3C `traceparent`; otherwise `span` starts a new trace. Returns the
/// span's trace id (32 hex digits) for log correlation, `None` when tracing is off.
///
/// A malformed header is ignored, as the W3C specification asks: the request is
/// served, in a trace of its own.
pub fn continue_trace(span: &Span, traceparent: Option<&str>) -> Option<String> {
    if !enabled() {
        return None;
    }
    if let Some(value) = traceparent {
        let carrier = HashMap::from([(TRACEPARENT.to_owned(), value.to_owned())]);
        let parent = TraceContextPropagator::new().extract(&carrier);
        if parent.span().span_context().is_valid() {
            // Fails only when the span was already entered: then it keeps its own trace.
            let _ = span.set_parent(parent);
        }
    }
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

/// The `traceparent` naming `span` as the parent, for a message or row that continues
/// its trace elsewhere; `None` when tracing is off or the span is not sampled in.
pub fn traceparent(span: &Span) -> Option<String> {
    if !enabled() {
        return None;
    }
    inject(&span.context())
}

/// The `traceparent` of the current span (see [`traceparent`]).
pub fn current_traceparent() -> Option<String> {
    traceparent(&Span::current())
}

fn inject(cx: &Context) -> Option<String> {
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(cx, &mut carrier);
    carrier.remove(TRACEPARENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_are_off_unless_an_endpoint_is_configured_and_not_disabled() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(name, _)| *name == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(Endpoint::from_source(&env(&[])), None);
        assert_eq!(
            Endpoint::from_source(&env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")])),
            None
        );
        assert_eq!(
            Endpoint::from_source(&env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")])),
            Some(Endpoint::FromEnv)
        );
        assert_eq!(
            Endpoint::from_source(&env(&[(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://c:4318/v1/traces"
            )])),
            Some(Endpoint::FromEnv)
        );
        for off in [
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ] {
            let pairs: &'static [(&str, &str)] = Box::leak(Box::new([
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                off,
            ]));
            assert_eq!(Endpoint::from_source(&env(pairs)), None, "{off:?}");
        }
    }

    #[test]
    fn with_tracing_off_nothing_is_propagated() {
        let span = tracing::info_span!("off");
        assert_eq!(
            continue_trace(
                &span,
                Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            ),
            None
        );
        assert_eq!(traceparent(&span), None);
    }
}
