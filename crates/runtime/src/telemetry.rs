//! The one logging initializer.
//!
//! `RUST_LOG` filters (default `info`), output is human-readable unless
//! `LOG_FORMAT=json`. Passwords, tokens and secrets are never logged: handlers skip
//! them in `#[instrument]` and the config types wrap them in `SecretString`.

use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt, util::SubscriberInitExt};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line, for log shippers.
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

/// Installs the global subscriber. Safe to call more than once (later calls are no-ops),
/// which lets tests start several services in one process.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,lapin=warn,tower_http=info"));
    let registry = tracing_subscriber::registry().with(filter);
    // try_init fails only when a subscriber is already installed.
    let _ = match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true),
            )
            .try_init(),
        // Colour only on a terminal: log files and collectors get plain text.
        LogFormat::Pretty => registry
            .with(fmt::layer().with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout())))
            .try_init(),
    };
}
