//! MongoDB plumbing for the services that keep sessions (session, connected).
//!
//! The driver's defaults wait 30 s to select a server, so a MongoDB outage would turn
//! into hung requests. Here server selection and connecting are bounded (1 s by
//! default), so an outage becomes a quick error that the edge answers with 503, and
//! the driver's own monitoring reconnects when the server returns: no restart needed.
//!
//! On a replica set, `MONGODB_WRITE_CONCERN=majority` makes every write wait until a
//! majority of the members has it, so a write acknowledged to a client survives the
//! primary's loss; retryable writes (the driver's default, never turned off here) retry
//! a single-document write once on the new primary. While no primary is available the
//! errors count as [`is_unavailable`] (503).

use std::time::Duration;

use hub_config::{ConfigError, Vars};
use mongodb::{
    Client, Database,
    bson::doc,
    error::{Error, ErrorKind},
    options::{Acknowledgment, ClientOptions, WriteConcern},
};
use secrecy::{ExposeSecret, SecretString};

/// Where MongoDB is and how long to wait for it.
#[derive(Debug, Clone)]
pub struct MongoSettings {
    /// `MONGODB_URI` (preferred) or `MONGO_URI` (the originals'); required.
    pub uri: SecretString,
    /// `MONGODB_DATABASE`; default: the database named in the URI path, else `test`
    /// (Mongoose's default, so a URI that worked for the originals finds the same data).
    pub database: Option<String>,
    /// `MONGODB_TIMEOUT_MS`, default 1000: server selection and connect bound, i.e. how
    /// long a request waits before a MongoDB outage becomes a 503.
    pub timeout: Duration,
    /// `MONGODB_OPERATION_TIMEOUT_MS`, default 5000: bound on one operation once a
    /// server is selected (the driver bounds connecting; this bounds a server that
    /// accepts but does not answer). Applied by the services around each call.
    pub operation_timeout: Duration,
    /// `MONGODB_STARTUP_TIMEOUT_SECS`, default 30: how long start-up waits for the server.
    pub startup_timeout: Duration,
    /// `MONGODB_MAX_POOL_SIZE`, default 10.
    pub max_pool_size: u32,
    /// `MONGODB_WRITE_CONCERN`: `majority`, or how many members must have a write
    /// (at least 1). Unset (default): the URI's `w`, else the server's default, as
    /// before. When set, the server also gives up waiting after `operation_timeout`
    /// (`wtimeout`), so a write whose concern cannot be met answers 503 in time.
    pub write_concern: Option<Acknowledgment>,
}

impl MongoSettings {
    /// Reads the `MONGODB_*` / `MONGO_URI` variables.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let (var, uri) = vars
            .first_secret_of(&["MONGODB_URI", "MONGO_URI"])?
            .ok_or_else(|| ConfigError::Missing("MONGODB_URI (or MONGO_URI)".into()))?;
        if !(uri.starts_with("mongodb://") || uri.starts_with("mongodb+srv://")) {
            return Err(ConfigError::invalid(
                var,
                "must start with mongodb:// or mongodb+srv://",
            ));
        }
        let max_pool_size = vars.positive_or("MONGODB_MAX_POOL_SIZE", 10u32)?;
        Ok(Self {
            uri: uri.into(),
            database: vars.string("MONGODB_DATABASE"),
            timeout: vars.millis_or("MONGODB_TIMEOUT_MS", Duration::from_secs(1))?,
            operation_timeout: vars
                .millis_or("MONGODB_OPERATION_TIMEOUT_MS", Duration::from_secs(5))?,
            startup_timeout: vars
                .seconds_or("MONGODB_STARTUP_TIMEOUT_SECS", Duration::from_secs(30))?,
            max_pool_size,
            write_concern: write_concern_from_vars(vars)?,
        })
    }

    /// The write concern to set on the client, if configured.
    pub fn write_concern(&self) -> Option<WriteConcern> {
        self.write_concern.as_ref().map(|w| {
            WriteConcern::builder()
                .w(w.clone())
                .w_timeout(self.operation_timeout)
                .build()
        })
    }
}

/// `MONGODB_WRITE_CONCERN`: `majority` or a number of members (at least 1; 0, an
/// unacknowledged write, would answer success before the write is done).
fn write_concern_from_vars(vars: &Vars<'_>) -> Result<Option<Acknowledgment>, ConfigError> {
    let Some(value) = vars.string("MONGODB_WRITE_CONCERN") else {
        return Ok(None);
    };
    match value.as_str() {
        "majority" => Ok(Some(Acknowledgment::Majority)),
        n => match n.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(Some(Acknowledgment::Nodes(n))),
            _ => Err(ConfigError::invalid(
                "MONGODB_WRITE_CONCERN",
                "must be majority or a number of members (at least 1)",
            )),
        },
    }
}

/// A setup error (never includes the URI: it may carry a password).
#[derive(Debug, thiserror::Error)]
pub enum MongoError {
    /// The URI cannot be parsed (or an SRV record cannot be resolved).
    #[error("MONGODB_URI is not a usable MongoDB URI ({0})")]
    BadUri(ErrorKindName),
    /// The server did not answer within the start-up bound.
    #[error("MongoDB unreachable after {0:?}")]
    Unreachable(Duration),
}

/// The name of a driver error kind, without its message (which may echo the URI).
#[derive(Debug)]
pub struct ErrorKindName(&'static str);

impl std::fmt::Display for ErrorKindName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// A client with bounded selection and connect timeouts, the configured write concern
/// (inherited by every database and collection), and the configured database.
/// Building it does not wait for the server (the driver connects in the background).
pub async fn connect(
    settings: &MongoSettings,
    app_name: &str,
) -> Result<(Client, Database), MongoError> {
    let mut options = ClientOptions::parse(settings.uri.expose_secret())
        .await
        .map_err(|e| MongoError::BadUri(kind_name(&e)))?;
    options.app_name = Some(app_name.to_owned());
    options.server_selection_timeout = Some(settings.timeout);
    options.connect_timeout = Some(settings.timeout);
    options.max_pool_size = Some(settings.max_pool_size);
    if let Some(wc) = settings.write_concern() {
        options.write_concern = Some(wc);
    }
    // Retryable writes are the driver's default; only the URI can turn them off.
    if options.retry_writes == Some(false) {
        tracing::warn!(
            "the MongoDB URI sets retryWrites=false: a write interrupted by a primary \
             failover fails (503) instead of being retried once on the new primary"
        );
    }
    let name = settings
        .database
        .clone()
        .or_else(|| options.default_database.clone())
        .unwrap_or_else(|| "test".to_owned());
    let client = Client::with_options(options).map_err(|e| MongoError::BadUri(kind_name(&e)))?;
    let db = client.database(&name);
    Ok((client, db))
}

/// Closes the client behind `db` at shutdown. Immediate: the HTTP drain and the
/// background tasks are over by then, so no operation is in flight to wait for.
pub async fn close(db: &Database) {
    db.client().clone().shutdown().immediate(true).await;
}

/// Waits (bounded by `deadline`) until the server answers a ping.
pub async fn wait_ready(db: &Database, deadline: Duration) -> Result<(), MongoError> {
    hub_retry::until_ready(
        deadline,
        hub_retry::Backoff::STARTUP,
        || ping(db),
        |e| {
            tracing::warn!(error.kind = %kind_name(e), "MongoDB not ready, retrying");
            true
        },
    )
    .await
    .map_err(|_| MongoError::Unreachable(deadline))
}

/// `{ping: 1}`: the health check.
pub async fn ping(db: &Database) -> Result<(), Error> {
    db.run_command(doc! { "ping": 1 }).await.map(drop)
}

/// [`ping`] for a health endpoint, bounded by `within`: true when MongoDB answers in
/// time. A failure is logged (WARN, the error's kind only: a driver message may echo
/// parts of the connection string) and never reaches the body.
pub async fn healthy(db: &Database, within: Duration) -> bool {
    match tokio::time::timeout(within, ping(db)).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error.kind = %kind_name(&e), "health check: MongoDB unavailable");
            false
        }
        Err(_) => {
            tracing::warn!(
                within_ms = within.as_millis(),
                "health check: MongoDB timed out"
            );
            false
        }
    }
}

/// Server error codes that mean "no writable primary right now" or "the write concern
/// was not met in time", not a bad operation: `NotWritablePrimary` (10107),
/// `NotPrimaryNoSecondaryOk` (13435), `NotPrimaryOrSecondary` (13436), `LegacyNotPrimary`
/// (10058), `InterruptedAtShutdown` (11600), `InterruptedDueToReplStateChange` (11602),
/// `PrimarySteppedDown` (189), `ShutdownInProgress` (91), `WriteConcernFailed` (64, the
/// `wtimeout` expired: too few members answer).
const UNAVAILABLE_CODES: [i32; 9] = [10107, 13435, 13436, 10058, 11600, 11602, 189, 91, 64];

/// True when the error means "MongoDB unavailable" (no server selectable, connection
/// refused or lost, pool cleared, no primary during a failover, write concern not met
/// in time) rather than a bad operation: the edge answers 503.
pub fn is_unavailable(e: &Error) -> bool {
    matches!(
        *e.kind,
        ErrorKind::ServerSelection { .. }
            | ErrorKind::Io(_)
            | ErrorKind::ConnectionPoolCleared { .. }
            | ErrorKind::DnsResolve { .. }
            | ErrorKind::Shutdown
    ) || e.contains_label("RetryableWriteError")
        || e.contains_label("TransientTransactionError")
        || server_code(e).is_some_and(|code| UNAVAILABLE_CODES.contains(&code))
}

/// The server's error code, for command and write errors (e.g. 11000 duplicate key).
pub fn server_code(e: &Error) -> Option<i32> {
    match &*e.kind {
        ErrorKind::Command(c) => Some(c.code),
        ErrorKind::Write(mongodb::error::WriteFailure::WriteError(w)) => Some(w.code),
        ErrorKind::Write(mongodb::error::WriteFailure::WriteConcernError(w)) => Some(w.code),
        _ => None,
    }
}

/// True for a unique-index violation (`E11000 duplicate key`).
pub fn is_duplicate_key(e: &Error) -> bool {
    server_code(e) == Some(11000)
}

/// A stable name for the error's kind, safe to log (no message, so no URI or data).
pub fn kind_name(e: &Error) -> ErrorKindName {
    ErrorKindName(match *e.kind {
        ErrorKind::InvalidArgument { .. } => "invalid argument",
        ErrorKind::Authentication { .. } => "authentication",
        ErrorKind::BsonDeserialization(_) => "bson deserialization",
        ErrorKind::BsonSerialization(_) => "bson serialization",
        ErrorKind::Command(_) => "command",
        ErrorKind::DnsResolve { .. } => "dns resolve",
        ErrorKind::Io(_) => "io",
        ErrorKind::ConnectionPoolCleared { .. } => "connection pool cleared",
        ErrorKind::InvalidResponse { .. } => "invalid response",
        ErrorKind::ServerSelection { .. } => "server selection",
        ErrorKind::Write(_) => "write",
        ErrorKind::Transaction { .. } => "transaction",
        ErrorKind::Shutdown => "shutdown",
        _ => "other",
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use mongodb::bson;

    fn settings(vars: &[(&str, &str)]) -> Result<MongoSettings, ConfigError> {
        let env = hub_config::fixed(vars);
        MongoSettings::from_vars(&Vars::new(&env))
    }

    #[test]
    fn the_uri_is_required_and_names_both_variables() {
        let err = settings(&[]).unwrap_err().to_string();
        assert!(
            err.contains("MONGODB_URI") && err.contains("MONGO_URI"),
            "{err}"
        );
    }

    #[test]
    fn the_originals_mongo_uri_is_accepted() {
        let s = settings(&[("MONGO_URI", "mongodb://h:27017/CatalogServiceDB")]).unwrap();
        assert_eq!(s.uri.expose_secret(), "mongodb://h:27017/CatalogServiceDB");
        assert_eq!(s.timeout, Duration::from_secs(1));
        assert_eq!(s.operation_timeout, Duration::from_secs(5));
    }

    #[test]
    fn a_non_mongodb_uri_is_refused_without_echoing_it() {
        let err = settings(&[("MONGODB_URI", "http://user:hunter2@h")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("MONGODB_URI") && !err.contains("hunter2"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn the_database_comes_from_the_override_then_the_uri_then_test() {
        let uri = "mongodb://127.0.0.1:1/fromuri";
        let s = settings(&[("MONGODB_URI", uri)]).unwrap();
        assert_eq!(connect(&s, "t").await.unwrap().1.name(), "fromuri");
        let s = settings(&[("MONGODB_URI", uri), ("MONGODB_DATABASE", "over")]).unwrap();
        assert_eq!(connect(&s, "t").await.unwrap().1.name(), "over");
        let s = settings(&[("MONGODB_URI", "mongodb://127.0.0.1:1")]).unwrap();
        assert_eq!(connect(&s, "t").await.unwrap().1.name(), "test");
    }

    #[tokio::test]
    async fn the_write_concern_is_unset_by_default_and_reaches_every_collection_when_set() {
        let uri = "mongodb://127.0.0.1:1/x";
        let s = settings(&[("MONGODB_URI", uri)]).unwrap();
        assert_eq!(s.write_concern, None);
        let (_, db) = connect(&s, "t").await.unwrap();
        assert_eq!(db.collection::<bson::Document>("c").write_concern(), None);

        // The URI's own `w` stays when the setting is unset.
        let s = settings(&[("MONGODB_URI", "mongodb://127.0.0.1:1/x?w=2")]).unwrap();
        let (_, db) = connect(&s, "t").await.unwrap();
        let wc = db
            .collection::<bson::Document>("c")
            .write_concern()
            .cloned();
        assert_eq!(wc.and_then(|w| w.w), Some(Acknowledgment::Nodes(2)));

        for (value, w) in [
            ("majority", Acknowledgment::Majority),
            ("3", Acknowledgment::Nodes(3)),
        ] {
            let s = settings(&[
                ("MONGODB_URI", "mongodb://127.0.0.1:1/x?w=1"),
                ("MONGODB_WRITE_CONCERN", value),
                ("MONGODB_OPERATION_TIMEOUT_MS", "4000"),
            ])
            .unwrap();
            let (_, db) = connect(&s, "t").await.unwrap();
            let wc = db
                .collection::<bson::Document>("c")
                .write_concern()
                .cloned()
                .unwrap();
            assert_eq!(wc.w, Some(w));
            assert_eq!(wc.w_timeout, Some(Duration::from_secs(4)));
        }
    }

    #[test]
    fn a_write_concern_that_acknowledges_nothing_or_is_unknown_is_refused() {
        for value in ["0", "-1", "majorty", "all"] {
            let err = settings(&[
                ("MONGODB_URI", "mongodb://h/x"),
                ("MONGODB_WRITE_CONCERN", value),
            ])
            .unwrap_err()
            .to_string();
            assert!(err.contains("MONGODB_WRITE_CONCERN"), "{value}: {err}");
        }
    }

    #[test]
    fn no_writable_primary_and_an_unmet_write_concern_count_as_unavailable() {
        let command = |code: i32| -> Error {
            let c: mongodb::error::CommandError =
                bson::from_document(doc! { "code": code, "codeName": "x", "errmsg": "m" }).unwrap();
            ErrorKind::Command(c).into()
        };
        for code in [10107, 13435, 11602, 189, 91] {
            assert!(is_unavailable(&command(code)), "{code}");
        }
        // A bad operation is not an outage.
        assert!(!is_unavailable(&command(2)));
        assert!(!is_unavailable(&command(11000)));
        let wce = |code: i32| -> Error {
            let w: mongodb::error::WriteConcernError =
                bson::from_document(doc! { "code": code, "codeName": "x", "errmsg": "m" }).unwrap();
            ErrorKind::Write(mongodb::error::WriteFailure::WriteConcernError(w)).into()
        };
        assert!(is_unavailable(&wce(64)));
        // `w` larger than the replica set: a configuration mistake, not an outage.
        assert!(!is_unavailable(&wce(100)));
    }

    #[tokio::test]
    async fn an_unreachable_server_fails_fast_and_counts_as_unavailable() {
        let s = settings(&[("MONGODB_URI", "mongodb://127.0.0.1:1/x")]).unwrap();
        let (_, db) = connect(&s, "t").await.unwrap();
        let t = std::time::Instant::now();
        let err = ping(&db).await.unwrap_err();
        assert!(is_unavailable(&err), "{err}");
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    }
}
