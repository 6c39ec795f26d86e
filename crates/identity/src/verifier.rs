//! Token verification for the services that trust auth's tokens (session, images, user-lookup).
//!
//! Two modes, chosen by configuration ([`VerifierConfig::from_vars`]):
//!
//! * **JWKS** (`JWKS_URL` set): EdDSA tokens, checked against the public keys auth
//!   publishes at `GET /.well-known/jwks.json`. The service holds no key that could sign
//!   a token. Keys are fetched on first use with a timeout, kept for `JWKS_CACHE_SECS`,
//!   re-fetched when a token names a `kid` not in the cache (a rotation), but at most
//!   once per `JWKS_REFETCH_MIN_SECS` whatever the tokens say, so forged `kid`s cannot
//!   make the service hammer auth; one fetch at a time; the document is bounded
//!   ([`MAX_JWKS_BYTES`], [`MAX_JWKS_KEYS`]). When a re-fetch fails, the keys already
//!   held stay in use. An HS256 token is never accepted in this mode, whatever its key.
//! * **HS256** (otherwise): the shared `SECRET_KEY` / `JWT_SECRET`, as today, for
//!   deployments where an original service still verifies tokens.

use std::{
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use hub_config::{ConfigError, Vars};
use secrecy::SecretString;

use crate::{
    jwt::{JwtKeys, TokenError, Verified},
    keys::{self, KeySet},
};

/// The largest JWKS document read.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// The most keys kept from one JWKS document.
pub const MAX_JWKS_KEYS: usize = 16;

/// How a service verifies tokens.
#[derive(Debug, Clone)]
pub enum VerifierConfig {
    /// The shared secret (HS256).
    Hs256(SecretString),
    /// auth's published public keys (EdDSA).
    Jwks(JwksSettings),
}

/// Where and how often the public keys are fetched.
#[derive(Debug, Clone)]
pub struct JwksSettings {
    /// `JWKS_URL`, e.g. `http://auth:5001/.well-known/jwks.json`.
    pub url: String,
    /// `JWKS_TIMEOUT_MS` (default 2000): one fetch, connection to last byte.
    pub timeout: Duration,
    /// `JWKS_CACHE_SECS` (default 300): keys older than this are re-fetched (the old
    /// ones stay in use if that fails), so a key auth no longer publishes stops being
    /// accepted within this time.
    pub max_age: Duration,
    /// `JWKS_REFETCH_MIN_SECS` (default 10): the shortest time between two fetches.
    pub min_refetch: Duration,
}

impl VerifierConfig {
    /// [`VerifierConfig::from_vars`] when a way to verify is configured (`JWKS_URL`, or
    /// `SECRET_KEY` / `JWT_SECRET`), else `None`: for services where tokens are optional.
    pub fn from_vars_if_set(vars: &Vars<'_>) -> Result<Option<Self>, ConfigError> {
        let configured = vars.string("JWKS_URL").is_some()
            || vars
                .first_secret_of(&["SECRET_KEY", "JWT_SECRET"])?
                .is_some();
        configured.then(|| Self::from_vars(vars)).transpose()
    }

    /// JWKS when `JWKS_URL` is set (a `SECRET_KEY`/`JWT_SECRET` also set is then
    /// unused, and a warning says to remove it); otherwise HS256 with the secret, which
    /// is then required (see [`crate::jwt::secret_from_env`]).
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let Some(url) = vars.string("JWKS_URL") else {
            return crate::jwt::secret_from_env(vars).map(Self::Hs256);
        };
        if url.starts_with("https://") {
            return Err(ConfigError::invalid(
                "JWKS_URL",
                "https is not built in: give auth's address inside the deployment's network \
                 (http://auth:5001/.well-known/jwks.json), or a TLS-terminating proxy's http side",
            ));
        }
        if url.strip_prefix("http://").is_none_or(str::is_empty) {
            return Err(ConfigError::invalid(
                "JWKS_URL",
                "must be an http:// URL, e.g. http://auth:5001/.well-known/jwks.json",
            ));
        }
        if let Some((name, _)) = vars.first_secret_of(&["SECRET_KEY", "JWT_SECRET"])? {
            tracing::warn!(
                variable = name,
                "JWKS_URL is set, so tokens are verified with auth's public keys and this secret \
                 is unused; remove it from this service"
            );
        }
        Ok(Self::Jwks(JwksSettings {
            url,
            timeout: vars.millis_or("JWKS_TIMEOUT_MS", Duration::from_secs(2))?,
            max_age: vars.seconds_or("JWKS_CACHE_SECS", Duration::from_secs(300))?,
            min_refetch: vars.seconds_or("JWKS_REFETCH_MIN_SECS", Duration::from_secs(10))?,
        }))
    }
}

/// A token verifier, cheap to clone.
#[derive(Clone)]
pub enum Verifier {
    /// HS256 with the shared secret.
    Hs256(Box<JwtKeys>),
    /// EdDSA with auth's published keys.
    Jwks(Arc<JwksClient>),
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.mode())
    }
}

/// The HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the JWKS HTTP client: {0}")]
pub struct ClientError(#[source] reqwest::Error);

impl Verifier {
    /// The verifier `config` describes. Fetches nothing yet.
    pub fn new(config: &VerifierConfig) -> Result<Self, ClientError> {
        Ok(match config {
            // Verification only: the lifetime is the issuer's business.
            VerifierConfig::Hs256(secret) => {
                Self::Hs256(Box::new(JwtKeys::new(secret, Duration::from_secs(3600))))
            }
            VerifierConfig::Jwks(settings) => Self::Jwks(Arc::new(JwksClient::new(settings)?)),
        })
    }

    /// `HS256` or `EdDSA (JWKS)`, for logs.
    pub fn mode(&self) -> &'static str {
        match self {
            Self::Hs256(_) => "HS256",
            Self::Jwks(_) => "EdDSA (JWKS)",
        }
    }

    /// Verifies `token` (see [`crate::jwt::JwtKeys::verify`] for the checks).
    pub async fn verify(&self, token: &str) -> Result<Verified, TokenError> {
        match self {
            Self::Hs256(keys) => keys.verify_session(token),
            Self::Jwks(client) => client.verify(token).await,
        }
    }
}

/// The cached public keys of one JWKS URL.
pub struct JwksClient {
    settings: JwksSettings,
    http: reqwest::Client,
    cache: RwLock<Cache>,
    /// Held while fetching: one fetch at a time.
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Cache {
    keys: KeySet,
    /// When `keys` were fetched (never, while `None`).
    fetched: Option<Instant>,
    /// When the last fetch started, successful or not.
    attempted: Option<Instant>,
}

impl JwksClient {
    /// A client for `settings.url`; nothing is fetched until a token needs it.
    pub fn new(settings: &JwksSettings) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(ClientError)?;
        Ok(Self {
            settings: settings.clone(),
            http,
            cache: RwLock::new(Cache::default()),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    /// Verifies an EdDSA `token` with the key its `kid` names, fetching the keys first
    /// if they are unknown or old (within the bounds in the module docs).
    /// [`TokenError::Unavailable`] when no key was ever fetched and fetching fails.
    pub async fn verify(&self, token: &str) -> Result<Verified, TokenError> {
        let kid = keys::kid_of(token)?;
        let (known, stale) = self.lookup(&kid);
        if !known {
            let _one = self.fetching.lock().await;
            // Another request may have fetched while this one waited.
            if !self.lookup(&kid).0 && self.may_fetch() {
                self.refresh().await;
            }
        } else if stale && let Ok(_one) = self.fetching.try_lock() {
            // Old keys: this request refreshes them (others go on with the cache).
            if self.lookup(&kid).1 && self.may_fetch() {
                self.refresh().await;
            }
        }
        let cache = self.read();
        if cache.fetched.is_none() {
            return Err(TokenError::Unavailable);
        }
        cache.keys.verify(token)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        self.cache
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `kid` is cached, and whether the cache is older than `JWKS_CACHE_SECS`.
    fn lookup(&self, kid: &str) -> (bool, bool) {
        let cache = self.read();
        let stale = cache
            .fetched
            .is_none_or(|at| at.elapsed() >= self.settings.max_age);
        (cache.keys.contains(kid), stale)
    }

    /// Whether `JWKS_REFETCH_MIN_SECS` has passed since the last fetch started.
    fn may_fetch(&self) -> bool {
        self.read()
            .attempted
            .is_none_or(|at| at.elapsed() >= self.settings.min_refetch)
    }

    /// Fetches the document and replaces the cached keys; on failure keeps them.
    async fn refresh(&self) {
        let started = Instant::now();
        {
            let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
            cache.attempted = Some(started);
        }
        match self.fetch().await {
            Ok(keys) => {
                tracing::info!(url = %self.settings.url, keys = ?keys, "JWKS fetched");
                let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
                cache.keys = keys;
                cache.fetched = Some(started);
            }
            Err(why) => tracing::warn!(
                url = %self.settings.url,
                error = %why,
                "JWKS fetch failed; keeping the keys already held"
            ),
        }
    }

    async fn fetch(&self) -> Result<KeySet, String> {
        let mut resp = self
            .http
            .get(&self.settings.url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("HTTP status {}", resp.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!("document larger than {MAX_JWKS_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        KeySet::from_jwks(&body, MAX_JWKS_KEYS).map_err(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<VerifierConfig, ConfigError> {
        let env = hub_config::fixed(pairs);
        VerifierConfig::from_vars(&Vars::new(&env))
    }

    #[test]
    fn jwks_url_selects_eddsa_and_otherwise_the_secret_is_required() {
        assert!(config(&[]).unwrap_err().to_string().contains("SECRET_KEY"));
        assert!(matches!(
            config(&[("SECRET_KEY", &"k".repeat(40))]).unwrap(),
            VerifierConfig::Hs256(_)
        ));
        let VerifierConfig::Jwks(s) =
            config(&[("JWKS_URL", "http://auth:5001/.well-known/jwks.json")]).unwrap()
        else {
            panic!("JWKS expected");
        };
        assert_eq!(
            (s.timeout, s.max_age, s.min_refetch),
            (
                Duration::from_secs(2),
                Duration::from_secs(300),
                Duration::from_secs(10)
            )
        );
        for bad in ["https://auth/.well-known/jwks.json", "auth:5001", "http://"] {
            let err = config(&[("JWKS_URL", bad)]).unwrap_err().to_string();
            assert!(err.contains("JWKS_URL"), "{bad}: {err}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_jwks_makes_tokens_unverifiable_not_invalid_and_is_not_hammered() {
        // A port nothing listens on: bind, note the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = JwksClient::new(&JwksSettings {
            url: format!("http://127.0.0.1:{port}/.well-known/jwks.json"),
            timeout: Duration::from_millis(500),
            max_age: Duration::from_secs(300),
            min_refetch: Duration::from_secs(60),
        })
        .unwrap();
        let signer = keys::SigningKey::from_pem(&keys::generate_signing_pem()).unwrap();
        let claims = crate::jwt::claims_for(Duration::from_secs(60), uuid::Uuid::new_v4(), "a");
        let token = signer.sign(&claims, None).unwrap();
        assert_eq!(client.verify(&token).await, Err(TokenError::Unavailable));
        let first = client.read().attempted;
        assert_eq!(client.verify(&token).await, Err(TokenError::Unavailable));
        assert_eq!(
            client.read().attempted,
            first,
            "no second fetch within the minimum interval"
        );
        // The header is checked before anything is fetched.
        assert_eq!(client.verify("garbage").await, Err(TokenError::Invalid));
    }
}
