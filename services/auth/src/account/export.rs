//! The account export (issue 23, item 7): everything stored about a user, in one JSON
//! document, from every store.
//!
//! PostgreSQL is auth's own ([`deletion::stored_in_postgres`]). Sessions (MongoDB) and
//! images (S3) stay with the services that hold their credentials (least privilege: auth
//! gets neither); auth asks them, server to server, as the user: `GET
//! <SESSION_URL>/api/sessions/<id>` and `GET <IMAGES_URL>/api/images/<id>`, with an access
//! token it signs for the occasion ([`EXPORT_TOKEN_TTL`], no roles; the caller's own
//! login when the user exports, so it stands exactly as long as that login; no login for
//! an administrator's export). Both calls run at once, each bounded by
//! `EXPORT_TIMEOUT_MS` (connection to last byte, no redirects) and
//! [`MAX_PART_BYTES`]. A session that answers 404 means the user has none (`null`); any
//! other failure of either (unreachable, a timeout, 5xx, a refused token) fails the whole
//! export with [`ExportError::Unavailable`] naming the store: never a partial document
//! presented as complete.

use std::time::Duration;

use hub_runtime::config::{ConfigError, Vars};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    account::deletion::{self, DeletionError},
    state::AppState,
};

/// How long the export's access token lives: long enough for its two calls (each within
/// `EXPORT_TIMEOUT_MS`), short enough to be worthless once they are done.
pub const EXPORT_TOKEN_TTL: Duration = Duration::from_secs(60);

/// The most bytes read from one answer (a session document is at most 16 MiB of BSON).
pub const MAX_PART_BYTES: usize = 32 * 1024 * 1024;

/// Where the other stores' services are, and how long to wait for them.
#[derive(Debug, Clone)]
pub struct ExportConfig {
    /// `SESSION_URL` (default `http://127.0.0.1:5004`): the session service.
    pub session_url: String,
    /// `IMAGES_URL` (default `http://127.0.0.1:5015`): the images service.
    pub images_url: String,
    /// `EXPORT_TIMEOUT_MS` (default 5000): one call to either, connection to last byte.
    pub timeout: Duration,
}

impl ExportConfig {
    /// Reads `SESSION_URL`, `IMAGES_URL` and `EXPORT_TIMEOUT_MS`.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let timeout = vars.millis_or("EXPORT_TIMEOUT_MS", Duration::from_secs(5))?;
        if timeout >= EXPORT_TOKEN_TTL {
            return Err(ConfigError::invalid(
                "EXPORT_TIMEOUT_MS",
                format!(
                    "must be shorter than the export token's {} s",
                    EXPORT_TOKEN_TTL.as_secs()
                ),
            ));
        }
        Ok(Self {
            session_url: base_url(vars, "SESSION_URL", "http://127.0.0.1:5004")?,
            images_url: base_url(vars, "IMAGES_URL", "http://127.0.0.1:5015")?,
            timeout,
        })
    }
}

/// An `http://` base address without its trailing `/` (TLS is not built into the
/// services' HTTP client: inside the deployment's network, or a proxy's http side).
fn base_url(vars: &Vars<'_>, name: &'static str, default: &str) -> Result<String, ConfigError> {
    let url = vars.string_or(name, default);
    if url.strip_prefix("http://").is_none_or(str::is_empty) {
        return Err(ConfigError::invalid(
            name,
            "must be an http:// address inside the deployment's network, e.g. http://session:5004",
        ));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// The client that reads the other stores, and where they are. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Stores {
    http: reqwest::Client,
    session_url: String,
    images_url: String,
}

impl Stores {
    /// A client bounded by `config.timeout`, following no redirects.
    pub fn new(config: &ExportConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            session_url: config.session_url.clone(),
            images_url: config.images_url.clone(),
        })
    }
}

/// Why there is no export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// No such user, or PostgreSQL failed.
    #[error(transparent)]
    Stored(#[from] DeletionError),
    /// A store could not be read: its name (`sessions`, `images`) and why.
    #[error("{store} could not be read: {why}")]
    Unavailable {
        /// `sessions` or `images`.
        store: &'static str,
        /// What went wrong (never the token nor the data).
        why: String,
    },
    /// The user is deactivated: session and images refuse every token of the user.
    #[error("user deactivated")]
    Deactivated,
    /// The export token could not be signed.
    #[error("token signing failed")]
    Token(#[source] anyhow::Error),
}

/// Everything stored about `user_id`: PostgreSQL's rows (`user`, `logins`,
/// `login_throttle`, `events`, `mails`), `sessions` (session's document, `null` when
/// none) and `images` (every object of the user: key, size, last modified, URL). `sid`:
/// the login the export token belongs to (the caller's own), or none (an administrator's
/// export).
pub async fn export_account(
    state: &AppState,
    user_id: Uuid,
    sid: Option<Uuid>,
) -> Result<Value, ExportError> {
    let mut export = deletion::stored_in_postgres(state, user_id).await?;
    let user = &export["user"];
    if !user["deactivated_at"].is_null() {
        return Err(ExportError::Deactivated);
    }
    let username = user["username"].as_str().unwrap_or_default().to_owned();
    let cut = user["tokens_valid_after"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp());
    let token = export_token(state, user_id, &username, sid, cut)?;
    let stores = &state.stores;
    let (sessions, images) = tokio::join!(
        fetch(
            stores,
            "sessions",
            format!("{}/api/sessions/{user_id}", stores.session_url),
            &token,
            true
        ),
        fetch(
            stores,
            "images",
            format!("{}/api/images/{user_id}", stores.images_url),
            &token,
            false
        ),
    );
    let (sessions, mut images) = (sessions?, images?);
    let objects = images
        .get_mut("objects")
        .map(Value::take)
        .filter(Value::is_array)
        .ok_or_else(|| ExportError::Unavailable {
            store: "images",
            why: "the answer has no objects list".into(),
        })?;
    if let Some(map) = export.as_object_mut() {
        map.insert("sessions".into(), sessions);
        map.insert("images".into(), objects);
    }
    Ok(export)
}

/// A token of `user_id` for [`EXPORT_TOKEN_TTL`]: no roles (the export reads as the user,
/// never as an administrator), in the login `sid` when given.
///
/// Without a login, only the user's `tokens_valid_after` (`cut`, in seconds) revokes it,
/// and only a token issued in a later second than the cut stands (`Standing::admits`);
/// this one is minted after the cut was read, so when the cut falls in this very second
/// (an export right after a reactivation or a password change) its `iat` is the next
/// second, within the verifiers' leeway for `iat`, instead of a 503 for a token refused.
fn export_token(
    state: &AppState,
    user_id: Uuid,
    username: &str,
    sid: Option<Uuid>,
    cut: Option<i64>,
) -> Result<String, ExportError> {
    let mut claims = state.jwt.claims_for(user_id, username);
    let now = claims.iat.unwrap_or_default();
    let iat = match (sid, cut) {
        (None, Some(cut)) if cut >= now => cut.saturating_add(1).min(now + 2),
        _ => now,
    };
    let ttl = i64::try_from(EXPORT_TOKEN_TTL.as_secs()).unwrap_or(60);
    claims.iat = Some(iat);
    claims.exp = iat + ttl;
    claims.roles.clear();
    state
        .jwt
        .sign(&claims, sid)
        .map_err(|e| ExportError::Token(e.into()))
}

/// `GET url` with the token: the JSON answered with 200; `null` for a 404 when
/// `missing_is_none`; anything else is [`ExportError::Unavailable`] for `store`.
async fn fetch(
    stores: &Stores,
    store: &'static str,
    url: String,
    token: &str,
    missing_is_none: bool,
) -> Result<Value, ExportError> {
    let unavailable = |why: String| {
        tracing::warn!(store, error = %why, "export: a store could not be read");
        ExportError::Unavailable { store, why }
    };
    let mut response = stores
        .http
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| unavailable(request_error(&e)))?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND && missing_is_none {
        return Ok(Value::Null);
    }
    if status != reqwest::StatusCode::OK {
        return Err(unavailable(format!(
            "its service answered {}",
            status.as_u16()
        )));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| unavailable(format!("reading the answer failed: {}", request_error(&e))))?
    {
        if body.len() + chunk.len() > MAX_PART_BYTES {
            return Err(unavailable(format!(
                "its answer is larger than {MAX_PART_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|_| unavailable("its answer is not JSON".into()))
}

/// What went wrong with a request, without its URL.
fn request_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "its service did not answer in time".into()
    } else if e.is_connect() {
        "its service cannot be reached".into()
    } else {
        "the request failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<ExportConfig, ConfigError> {
        let env = hub_runtime::config::fixed(pairs);
        ExportConfig::from_vars(&Vars::new(&env))
    }

    #[test]
    fn the_stores_default_to_their_registry_ports_and_bad_settings_name_themselves() {
        let c = read(&[]).unwrap();
        assert_eq!(c.session_url, "http://127.0.0.1:5004");
        assert_eq!(c.images_url, "http://127.0.0.1:5015");
        assert_eq!(c.timeout, Duration::from_secs(5));
        let c = read(&[("SESSION_URL", "http://session:5004/")]).unwrap();
        assert_eq!(c.session_url, "http://session:5004");
        for (var, value) in [
            ("SESSION_URL", "https://session:5004"),
            ("IMAGES_URL", "images:5015"),
            ("IMAGES_URL", "http://"),
            ("EXPORT_TIMEOUT_MS", "60000"),
            ("EXPORT_TIMEOUT_MS", "soon"),
        ] {
            let err = read(&[(var, value)]).unwrap_err().to_string();
            assert!(err.contains(var), "{var}={value}: {err}");
        }
    }
}
