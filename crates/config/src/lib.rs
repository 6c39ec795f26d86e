//! Environment-only configuration helpers.
//!
//! Every service reads its settings once at start-up, through these helpers, so a
//! bad value stops the service with an error that names the variable. The variable
//! names of the original services (`DATABASE_URL`, `POSTGRESQL_*`, `PG_*`,
//! `RABBITMQ_*`, ...) are accepted so existing deployments keep working.

use std::{fmt::Display, str::FromStr, time::Duration};

use secrecy::SecretString;

/// A configuration problem, always naming the variable(s) involved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("missing required environment variable {0}")]
    Missing(String),
    /// A variable is set but its value cannot be used.
    #[error("invalid value for environment variable {var}: {reason}")]
    Invalid {
        /// The variable name.
        var: String,
        /// Why the value is unusable (never the value itself: it may be a secret).
        reason: String,
    },
}

impl ConfigError {
    /// Builds an [`ConfigError::Invalid`].
    pub fn invalid(var: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            var: var.to_owned(),
            reason: reason.into(),
        }
    }
}

/// A source of variables: the process environment in production, a map in tests.
pub trait Env {
    /// The raw value of `name`, if set.
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// The variables that hold secrets (or URLs that embed them). Each may instead be read
/// from a file named by `<NAME>_FILE` (Docker and Kubernetes mount secrets as files),
/// and none may hold the `.env.example` placeholder.
pub const SECRET_VARS: &[&str] = &[
    "SECRET_KEY",
    "JWT_SECRET",
    "DATABASE_URL",
    "POSTGRESQL_PASSWORD",
    "PG_PASSWORD",
    "AMQP_URL",
    "RABBITMQ_PASSWORD",
    "MONGODB_URI",
    "MONGO_URI",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    // WS-Security service credentials (user:password pairs) of the SOAP services.
    "WSSE_USERS",
    // auth's Ed25519 signing key (PEM), and the public keys published beside it: PEM is
    // multi-line, so both are easiest to mount as files.
    "JWT_SIGNING_KEY",
    "JWT_ADDITIONAL_PUBLIC_KEYS",
    // notifications' SMTP password.
    "SMTP_PASSWORD",
];

/// [`ProcessEnv`], plus the secrets read from `<NAME>_FILE` files for the names in
/// [`SECRET_VARS`] that are not set directly.
#[derive(Debug, Clone, Default)]
pub struct SecretFiles {
    files: std::collections::HashMap<&'static str, String>,
}

impl SecretFiles {
    /// Reads every `<NAME>_FILE` of [`SECRET_VARS`] from `env` (a variable set directly
    /// wins; setting both is an error), then refuses a secret that is still the
    /// `.env.example` placeholder. An unreadable file is an error naming its variable.
    pub fn read(env: &dyn Env) -> Result<Self, ConfigError> {
        let mut files = std::collections::HashMap::new();
        for &name in SECRET_VARS {
            let file_var = format!("{name}_FILE");
            let Some(path) = env.get(&file_var).filter(|p| !p.trim().is_empty()) else {
                continue;
            };
            if env.get(name).is_some_and(|v| !v.is_empty()) {
                return Err(ConfigError::invalid(
                    &file_var,
                    format!("{name} is also set; set one of them"),
                ));
            }
            let content = std::fs::read_to_string(path.trim()).map_err(|e| {
                ConfigError::invalid(&file_var, format!("cannot read the file: {}", e.kind()))
            })?;
            // Files usually end with a newline that is not part of the secret.
            files.insert(name, content.trim_end_matches(['\n', '\r']).to_owned());
        }
        let this = Self { files };
        for &name in SECRET_VARS {
            if this
                .value(env, name)
                .is_some_and(|v| v.to_ascii_lowercase().contains("change_me"))
            {
                return Err(ConfigError::invalid(
                    name,
                    "is still the placeholder from .env.example; set a real secret",
                ));
            }
        }
        Ok(this)
    }

    fn value(&self, env: &dyn Env, name: &str) -> Option<String> {
        env.get(name)
            .filter(|v| !v.is_empty())
            .or_else(|| self.files.get(name).cloned())
    }

    /// The process environment with these files behind it.
    pub fn over<'a>(&'a self, env: &'a dyn Env) -> impl Env + 'a {
        move |name: &str| self.value(env, name)
    }
}

impl<F: Fn(&str) -> Option<String>> Env for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// A fixed set of variables (tests, tools): each of `pairs` by name, a later pair
/// overriding an earlier one, nothing else set.
pub fn fixed(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k: &str| map.get(k).cloned()
}

/// Typed reading of variables from an [`Env`].
///
/// Empty values count as unset: `FOO=` in a compose file means "not configured".
pub struct Vars<'a> {
    env: &'a dyn Env,
}

impl<'a> Vars<'a> {
    /// Reads from `env`.
    pub fn new(env: &'a dyn Env) -> Self {
        Self { env }
    }

    /// The trimmed value of the first of `names` that is set and non-empty, with its name.
    pub fn first_of(&self, names: &[&'static str]) -> Option<(&'static str, String)> {
        names.iter().find_map(|name| {
            self.env
                .get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .map(|v| (*name, v))
        })
    }

    /// The value of `name`, if set and non-empty.
    pub fn string(&self, name: &'static str) -> Option<String> {
        self.first_of(&[name]).map(|(_, v)| v)
    }

    /// The value of `name`, or `default`.
    pub fn string_or(&self, name: &'static str, default: &str) -> String {
        self.string(name).unwrap_or_else(|| default.to_owned())
    }

    /// The parsed value of `name`, or `default` when unset.
    pub fn parse_or<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.string(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse()
                .map_err(|e: T::Err| ConfigError::invalid(name, e.to_string())),
        }
    }

    /// A number of at least 1 (a count, a size, a limit), or `default` when unset.
    pub fn positive_or<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + From<u8>,
        T::Err: Display,
    {
        let value = self.parse_or(name, default)?;
        if value < T::from(1) {
            return Err(ConfigError::invalid(name, "must be at least 1"));
        }
        Ok(value)
    }

    /// A duration given in whole seconds, or `default`; zero is refused.
    pub fn seconds_or(
        &self,
        name: &'static str,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        let secs: u64 = self.parse_or(name, default.as_secs())?;
        if secs == 0 {
            return Err(ConfigError::invalid(name, "must be at least 1 second"));
        }
        Ok(Duration::from_secs(secs))
    }

    /// A duration given in milliseconds, or `default`; zero is refused.
    pub fn millis_or(
        &self,
        name: &'static str,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        let ms: u64 = self.parse_or(name, default.as_millis().try_into().unwrap_or(u64::MAX))?;
        if ms == 0 {
            return Err(ConfigError::invalid(name, "must be at least 1 millisecond"));
        }
        Ok(Duration::from_millis(ms))
    }

    /// A boolean (`1/true/yes/on` or `0/false/no/off`), or `default`.
    pub fn bool_or(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.string(name).map(|v| v.to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => Ok(true),
            Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => Ok(false),
            Some(_) => Err(ConfigError::invalid(name, "expected true or false")),
        }
    }

    /// A comma-separated list (empty entries dropped), or an empty list.
    pub fn list(&self, name: &'static str) -> Vec<String> {
        self.string(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The listening port: `PORT`, else the service's historical port.
    pub fn port(&self, default: u16) -> Result<u16, ConfigError> {
        self.parse_or("PORT", default)
    }

    /// The listening address: `HOST` (default `0.0.0.0`) and [`Vars::port`].
    pub fn listen_addr(&self, default_port: u16) -> Result<std::net::SocketAddr, ConfigError> {
        let host: std::net::IpAddr = self.parse_or("HOST", std::net::IpAddr::from([0, 0, 0, 0]))?;
        Ok(std::net::SocketAddr::new(host, self.port(default_port)?))
    }

    /// The PostgreSQL URL, from `DATABASE_URL` (preferred; the auth original) or
    /// assembled from `POSTGRESQL_*` (user-soap, user-lookup) or `PG_*` (connected).
    pub fn postgres_url(&self) -> Result<SecretString, ConfigError> {
        if let Some(url) = self.string("DATABASE_URL") {
            // SQLAlchemy-style URLs (`postgresql+psycopg2://`) appear in old .env files.
            let url = match url.split_once("://") {
                Some((scheme, rest)) if scheme.starts_with("postgresql+") => {
                    format!("postgresql://{rest}")
                }
                _ => url,
            };
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(ConfigError::invalid(
                    "DATABASE_URL",
                    "must start with postgres:// or postgresql://",
                ));
            }
            return Ok(url.into());
        }
        for prefix in ["POSTGRESQL", "PG"] {
            let var = |suffix: &str| -> Option<String> {
                let name = format!("{prefix}_{suffix}");
                self.env
                    .get(&name)
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
            };
            if let Some(host) = var("HOST") {
                let port = var("PORT").unwrap_or_else(|| "5432".into());
                let db = var("DATABASE")
                    .ok_or_else(|| ConfigError::Missing(format!("{prefix}_DATABASE")))?;
                let user = var("USER").unwrap_or_else(|| "postgres".into());
                let auth = match var("PASSWORD") {
                    Some(pw) => format!("{}:{}", encode_userinfo(&user), encode_userinfo(&pw)),
                    None => encode_userinfo(&user),
                };
                return Ok(
                    format!("postgres://{auth}@{host}:{port}/{}", encode_userinfo(&db)).into(),
                );
            }
        }
        Err(ConfigError::Missing(
            "DATABASE_URL (or POSTGRESQL_HOST/PG_HOST with the matching _PORT, _DATABASE, _USER, _PASSWORD)"
                .into(),
        ))
    }

    /// The AMQP URL, from `AMQP_URL` (preferred) or `RABBITMQ_HOST`/`RABBITMQ_PORT`
    /// (the originals; `RABBITMQ_USER`/`RABBITMQ_PASSWORD` default to guest as they did).
    pub fn amqp_url(&self) -> Result<SecretString, ConfigError> {
        if let Some(url) = self.string("AMQP_URL") {
            if !(url.starts_with("amqp://") || url.starts_with("amqps://")) {
                return Err(ConfigError::invalid(
                    "AMQP_URL",
                    "must start with amqp:// or amqps://",
                ));
            }
            return Ok(url.into());
        }
        let host = self.string_or("RABBITMQ_HOST", "localhost");
        let port: u16 = self.parse_or("RABBITMQ_PORT", 5672)?;
        let user = self.string_or("RABBITMQ_USER", "guest");
        let password = self.string_or("RABBITMQ_PASSWORD", "guest");
        Ok(format!(
            "amqp://{}:{}@{host}:{port}/%2f",
            encode_userinfo(&user),
            encode_userinfo(&password)
        )
        .into())
    }
}

/// Every byte but RFC 3986's unreserved characters (letters, digits, `-._~`) is
/// percent-encoded, in URLs built from parts.
pub const NOT_UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode_userinfo(raw: &str) -> String {
    percent_encoding::utf8_percent_encode(raw, NOT_UNRESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    use super::fixed as env;

    #[test]
    fn secrets_are_read_from_files_and_placeholders_are_refused() {
        let dir = std::env::temp_dir().join(format!("hub-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("secret_key");
        std::fs::write(&file, "from-a-file-0123456789abcdef\n").unwrap();
        let path = file.to_str().unwrap();

        let e = env(&[("SECRET_KEY_FILE", path)]);
        let files = SecretFiles::read(&e).unwrap();
        let merged = files.over(&e);
        let vars = Vars::new(&merged);
        assert_eq!(
            vars.string("SECRET_KEY").unwrap(),
            "from-a-file-0123456789abcdef"
        );

        let both = env(&[("SECRET_KEY_FILE", path), ("SECRET_KEY", "x")]);
        assert!(
            SecretFiles::read(&both)
                .unwrap_err()
                .to_string()
                .contains("SECRET_KEY_FILE")
        );
        let missing = env(&[("AMQP_URL_FILE", "/nonexistent/secret")]);
        let err = SecretFiles::read(&missing).unwrap_err().to_string();
        assert!(
            err.contains("AMQP_URL_FILE") && !err.contains("nonexistent"),
            "{err}"
        );

        for (var, value) in [
            ("SECRET_KEY", "CHANGE_ME_TO_A_LONG_RANDOM_VALUE"),
            ("DATABASE_URL", "postgres://app:change_me@db/app"),
        ] {
            let err = SecretFiles::read(&env(&[(var, value)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(var) && err.contains("placeholder"), "{err}");
            assert!(
                !err.to_lowercase().contains("change_me"),
                "the value is not echoed: {err}"
            );
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn database_url_wins_and_sqlalchemy_scheme_is_normalised() {
        let e = env(&[
            ("DATABASE_URL", "postgresql+psycopg2://u:p@h/db"),
            ("PG_HOST", "x"),
        ]);
        let url = Vars::new(&e).postgres_url().unwrap();
        assert_eq!(url.expose_secret(), "postgresql://u:p@h/db");
    }

    #[test]
    fn postgresql_prefixed_parts_are_assembled_and_encoded() {
        let e = env(&[
            ("POSTGRESQL_HOST", "db"),
            ("POSTGRESQL_DATABASE", "mydb"),
            ("POSTGRESQL_USER", "app"),
            ("POSTGRESQL_PASSWORD", "p@ss/word"),
        ]);
        let url = Vars::new(&e).postgres_url().unwrap();
        assert_eq!(
            url.expose_secret(),
            "postgres://app:p%40ss%2Fword@db:5432/mydb"
        );
    }

    #[test]
    fn missing_database_settings_name_the_variables() {
        let e = env(&[]);
        let err = Vars::new(&e).postgres_url().unwrap_err().to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
    }

    #[test]
    fn invalid_values_name_the_variable_but_not_the_value() {
        let e = env(&[("PORT", "http")]);
        let err = Vars::new(&e).port(5001).unwrap_err().to_string();
        assert!(err.contains("PORT") && !err.contains("http"), "{err}");
    }

    #[test]
    fn amqp_url_is_built_from_the_legacy_variables() {
        let e = env(&[("RABBITMQ_HOST", "mq"), ("RABBITMQ_PORT", "5673")]);
        let url = Vars::new(&e).amqp_url().unwrap();
        assert_eq!(url.expose_secret(), "amqp://guest:guest@mq:5673/%2f");
    }

    #[test]
    fn empty_values_count_as_unset_and_lists_split_on_commas() {
        let e = env(&[("A", "  "), ("L", "http://a, ,http://b")]);
        let v = Vars::new(&e);
        assert_eq!(v.string("A"), None);
        assert_eq!(v.list("L"), vec!["http://a", "http://b"]);
        assert!(v.bool_or("B", true).unwrap());
    }

    #[test]
    fn positive_numbers_refuse_zero_and_below() {
        let e = env(&[("ZERO", "0"), ("NEG", "-3"), ("TWO", "2")]);
        let v = Vars::new(&e);
        assert_eq!(v.positive_or("UNSET", 5u32).unwrap(), 5);
        assert_eq!(v.positive_or("TWO", 5usize).unwrap(), 2);
        for err in [
            v.positive_or("ZERO", 5u64).unwrap_err(),
            v.positive_or("NEG", 5i32).unwrap_err(),
        ] {
            assert!(err.to_string().ends_with("must be at least 1"), "{err}");
        }
    }
}
