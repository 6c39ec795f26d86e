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

    /// A secret (a password, a key, a URL that embeds one), trimmed, if set and
    /// non-empty: the variable `name`, or else the content of the file `<NAME>_FILE`
    /// names (Docker and Kubernetes mount secrets as files; the file's trailing line
    /// breaks are dropped). Every secret is read through here, so each honours
    /// `<NAME>_FILE` without being listed anywhere. Errors name the variable, never the
    /// value nor the file's path: both `name` and `<NAME>_FILE` set, an unreadable file,
    /// or a value still holding the `.env.example` placeholder (`CHANGE_ME`).
    pub fn secret(&self, name: &str) -> Result<Option<String>, ConfigError> {
        let direct = self.env.get(name).filter(|v| !v.is_empty());
        let file_var = format!("{name}_FILE");
        let raw = match self.env.get(&file_var).filter(|p| !p.trim().is_empty()) {
            None => direct,
            Some(_) if direct.is_some() => {
                return Err(ConfigError::invalid(
                    &file_var,
                    format!("{name} is also set; set one of them"),
                ));
            }
            Some(path) => {
                let content = std::fs::read_to_string(path.trim()).map_err(|e| {
                    ConfigError::invalid(&file_var, format!("cannot read the file: {}", e.kind()))
                })?;
                // Files usually end with a newline that is not part of the secret.
                Some(content.trim_end_matches(['\n', '\r']).to_owned())
            }
        };
        if raw
            .as_deref()
            .is_some_and(|v| v.to_ascii_lowercase().contains("change_me"))
        {
            return Err(ConfigError::invalid(
                name,
                "is still the placeholder from .env.example; set a real secret",
            ));
        }
        Ok(raw.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()))
    }

    /// The first of `names` whose [`secret`](Self::secret) is set, with its name (the
    /// originals' alternative names of one secret). Every one of them is read, so a
    /// conflict or a placeholder in a later name is refused as well.
    pub fn first_secret_of(
        &self,
        names: &[&'static str],
    ) -> Result<Option<(&'static str, String)>, ConfigError> {
        let mut first = None;
        for &name in names {
            if let Some(value) = self.secret(name)? {
                first = first.or(Some((name, value)));
            }
        }
        Ok(first)
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
    /// The URL and the passwords are [secrets](Self::secret).
    pub fn postgres_url(&self) -> Result<SecretString, ConfigError> {
        if let Some(url) = self.secret("DATABASE_URL")? {
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
        // Each password read as a secret by its full name, so a reader of the source (the
        // Kubernetes manifests' check) finds it.
        for (prefix, password) in [
            ("POSTGRESQL", self.secret("POSTGRESQL_PASSWORD")?),
            ("PG", self.secret("PG_PASSWORD")?),
        ] {
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
                let auth = match password {
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
    /// The URL and the password are [secrets](Self::secret).
    pub fn amqp_url(&self) -> Result<SecretString, ConfigError> {
        if let Some(url) = self.secret("AMQP_URL")? {
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
        let password = self
            .secret("RABBITMQ_PASSWORD")?
            .unwrap_or_else(|| "guest".to_owned());
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

    /// A scratch file holding `content`, in a folder of this test's own (tests run in
    /// parallel in one process); removed with the folder by the caller.
    fn secret_file(test: &str, content: &str) -> (std::path::PathBuf, String) {
        let dir = std::env::temp_dir().join(format!("hub-config-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("secret");
        std::fs::write(&file, content).unwrap();
        let path = file.to_str().unwrap().to_owned();
        (dir, path)
    }

    #[test]
    fn secrets_are_read_from_files_and_placeholders_are_refused() {
        let (dir, path) = secret_file("known", "from-a-file-0123456789abcdef\n");
        let path = path.as_str();

        let e = env(&[("SECRET_KEY_FILE", path)]);
        let vars = Vars::new(&e);
        assert_eq!(
            vars.secret("SECRET_KEY").unwrap().unwrap(),
            "from-a-file-0123456789abcdef"
        );

        let both = env(&[("SECRET_KEY_FILE", path), ("SECRET_KEY", "x")]);
        assert!(
            Vars::new(&both)
                .secret("SECRET_KEY")
                .unwrap_err()
                .to_string()
                .contains("SECRET_KEY_FILE")
        );
        let missing = env(&[("AMQP_URL_FILE", "/nonexistent/secret")]);
        let err = Vars::new(&missing).amqp_url().unwrap_err().to_string();
        assert!(
            err.contains("AMQP_URL_FILE") && !err.contains("nonexistent"),
            "{err}"
        );

        for (var, value) in [
            ("SECRET_KEY", "CHANGE_ME_TO_A_LONG_RANDOM_VALUE"),
            ("DATABASE_URL", "postgres://app:change_me@db/app"),
        ] {
            let e = env(&[(var, value)]);
            let vars = Vars::new(&e);
            let err = match var {
                "DATABASE_URL" => vars.postgres_url().map(drop),
                _ => vars.secret(var).map(drop),
            }
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

    /// No list of secret names: a secret no code has read before gets `<NAME>_FILE`, and
    /// the same rules, from being read with `Vars::secret`.
    #[test]
    fn any_secret_read_as_one_honours_its_file_variable() {
        const NAME: &str = "A_SECRET_NOBODY_LISTED";
        let (dir, path) = secret_file("unlisted", "  s3cret from a file \r\n");
        let from_file = env(&[("A_SECRET_NOBODY_LISTED_FILE", &path)]);
        assert_eq!(
            Vars::new(&from_file).secret(NAME).unwrap().as_deref(),
            Some("s3cret from a file")
        );
        // A plain read of the same name is not a secret's: no file is consulted.
        assert_eq!(Vars::new(&from_file).string("A_SECRET_NOBODY_LISTED"), None);

        let direct = env(&[(NAME, " direct ")]);
        assert_eq!(
            Vars::new(&direct).secret(NAME).unwrap().as_deref(),
            Some("direct")
        );
        let neither = env(&[(NAME, ""), ("A_SECRET_NOBODY_LISTED_FILE", " ")]);
        assert_eq!(Vars::new(&neither).secret(NAME).unwrap(), None);

        let both = env(&[(NAME, "x"), ("A_SECRET_NOBODY_LISTED_FILE", &path)]);
        let err = Vars::new(&both).secret(NAME).unwrap_err().to_string();
        assert!(
            err.contains("A_SECRET_NOBODY_LISTED_FILE") && err.contains("also set"),
            "{err}"
        );
        assert!(!err.contains(&path) && !err.contains("s3cret"), "{err}");

        std::fs::write(&path, "change_me\n").unwrap();
        let err = Vars::new(&from_file).secret(NAME).unwrap_err().to_string();
        assert!(err.contains(NAME) && err.contains("placeholder"), "{err}");

        std::fs::remove_dir_all(&dir).unwrap();
        let err = Vars::new(&from_file).secret(NAME).unwrap_err().to_string();
        assert!(
            err.contains("A_SECRET_NOBODY_LISTED_FILE") && !err.contains(&path),
            "{err}"
        );
    }

    #[test]
    fn alternative_secret_names_take_the_first_set_and_check_them_all() {
        let e = env(&[("JWT_SECRET", "second"), ("SECRET_KEY", "first")]);
        assert_eq!(
            Vars::new(&e)
                .first_secret_of(&["SECRET_KEY", "JWT_SECRET"])
                .unwrap(),
            Some(("SECRET_KEY", "first".to_owned()))
        );
        let e = env(&[("JWT_SECRET", "second")]);
        assert_eq!(
            Vars::new(&e)
                .first_secret_of(&["SECRET_KEY", "JWT_SECRET"])
                .unwrap(),
            Some(("JWT_SECRET", "second".to_owned()))
        );
        let e = env(&[("SECRET_KEY", "first"), ("JWT_SECRET", "CHANGE_ME")]);
        let err = Vars::new(&e)
            .first_secret_of(&["SECRET_KEY", "JWT_SECRET"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("JWT_SECRET") && err.contains("placeholder"),
            "{err}"
        );
    }

    #[test]
    fn secret_parts_of_a_url_are_secrets_too() {
        let (dir, path) = secret_file("parts", "p@ss\n");
        let e = env(&[
            ("PG_HOST", "db"),
            ("PG_DATABASE", "app"),
            ("PG_PASSWORD_FILE", &path),
        ]);
        let url = Vars::new(&e).postgres_url().unwrap();
        assert_eq!(
            url.expose_secret(),
            "postgres://postgres:p%40ss@db:5432/app"
        );
        let e = env(&[("RABBITMQ_HOST", "mq"), ("RABBITMQ_PASSWORD_FILE", &path)]);
        let url = Vars::new(&e).amqp_url().unwrap();
        assert_eq!(url.expose_secret(), "amqp://guest:p%40ss@mq:5672/%2f");
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
