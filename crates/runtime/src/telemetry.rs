//! The one logging initializer.
//!
//! `RUST_LOG` filters (default `info`), output is human-readable unless
//! `LOG_FORMAT=json`. Passwords, tokens and secrets are never logged: handlers skip
//! them in `#[instrument]` and the config types wrap them in `SecretString`.
//!
//! In JSON, each line is one flat object (docs/LOGGING.md): `timestamp`, `level`,
//! `target`, `service`, `message`, the event's own fields, and the fields of the spans
//! it happened in (the request span's `request_id`, `method`, `route`) at the top
//! level, never nested, so a log query is `request_id = "..."` whatever logged it.

use std::fmt;

use serde_json::{Map, Value};
use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
    span::{Attributes, Id, Record},
};
use tracing_subscriber::{
    EnvFilter, Layer,
    fmt::{
        FmtContext, FormatEvent, FormatFields,
        format::Writer,
        time::{FormatTime, SystemTime},
    },
    layer::{Context, SubscriberExt},
    registry::LookupSpan,
    util::SubscriberInitExt,
};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One flat JSON object per line, for log shippers.
    Json,
}

impl LogFormat {
    /// `LOG_FORMAT=json` selects JSON; anything else (or unset) is human output.
    pub fn from_env() -> Self {
        match std::env::var("LOG_FORMAT") {
            Ok(v) if v.eq_ignore_ascii_case("json") => Self::Json,
            _ => Self::Pretty,
        }
    }
}

/// Installs the global subscriber for `service`, exporting traces when the
/// environment asks for them (see [`hub_trace`]). Safe to call more than once (later
/// calls are no-ops), which lets tests start several services in one process.
pub fn init(format: LogFormat, service: &'static str) {
    init_with_traces(format, service, hub_trace::Endpoint::from_env());
}

/// [`init`], with traces sent to `traces` (or none) whatever the environment says.
pub fn init_with_traces(
    format: LogFormat,
    service: &'static str,
    traces: Option<hub_trace::Endpoint>,
) {
    if tracing::dispatcher::has_been_set() {
        return;
    }
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,lapin=warn,tower_http=info"));
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(traces.and_then(|t| hub_trace::layer(service, &t)));
    // try_init fails only when a subscriber is already installed.
    let _ = match format {
        LogFormat::Json => registry
            .with(SpanFields)
            .with(tracing_subscriber::fmt::layer().event_format(FlatJson { service }))
            .try_init(),
        // Colour only on a terminal: log files and collectors get plain text.
        LogFormat::Pretty => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout())),
            )
            .try_init(),
    };
}

/// A span's fields as JSON values, kept in the span's extensions for [`FlatJson`].
struct Fields(Map<String, Value>);

/// Records every span's fields (as they are created and recorded later) into
/// [`Fields`].
struct SpanFields;

impl<S> Layer<S> for SpanFields
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = JsonVisitor(Map::new());
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Fields(fields.0));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut extensions = span.extensions_mut();
            if let Some(Fields(map)) = extensions.get_mut::<Fields>() {
                let mut visitor = JsonVisitor(std::mem::take(map));
                values.record(&mut visitor);
                *map = visitor.0;
            }
        }
    }
}

/// One flat JSON object per event.
struct FlatJson {
    service: &'static str,
}

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let meta = event.metadata();
        let mut out = Map::new();
        out.insert("timestamp".into(), timestamp.into());
        out.insert("level".into(), meta.level().as_str().into());
        out.insert("target".into(), meta.target().into());
        out.insert("service".into(), self.service.into());
        let mut fields = JsonVisitor(Map::new());
        event.record(&mut fields);
        out.extend(fields.0);
        // The spans' fields, outermost first; the event's own win on a clash.
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                if let Some(Fields(map)) = span.extensions().get::<Fields>() {
                    for (k, v) in map {
                        out.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
        }
        let line = serde_json::to_string(&out).map_err(|_| fmt::Error)?;
        writeln!(writer, "{line}")
    }
}

/// Collects fields as JSON values: numbers stay numbers.
struct JsonVisitor(Map<String, Value>);

impl JsonVisitor {
    fn insert(&mut self, field: &Field, value: Value) {
        // `otel.*` fields steer the OpenTelemetry export (span name and kind), and are
        // not log data.
        if !field.name().starts_with("otel.") {
            self.0.insert(field.name().into(), value);
        }
    }
}

impl Visit for JsonVisitor {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.insert(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.insert(field, format!("{value:?}").into());
    }
}
