//! The WS-Security variables: `WSSE_MODE`, `WSSE_USERS`, `WSSE_MAX_SKEW_SECS`,
//! `WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP`, and the guard they make.

use std::{collections::HashMap, sync::Arc, time::Duration};

use hub_config::{ConfigError, Vars};
use hub_runtime::http::client_ip::ProxyTrust;
use secrecy::SecretString;

use super::{
    guard::Guard,
    ports::{BearerCheck, NonceStore},
};

/// `WSSE_MODE`: whether requests must authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// No WS-Security processing at all: today's behaviour, byte for byte.
    #[default]
    Off,
    /// Credentials are checked when present; requests without any pass.
    Optional,
    /// Every SOAP request must authenticate.
    Required,
}

/// The service credentials: user name to password. Its `Debug` shows only how many.
#[derive(Clone, Default)]
pub struct Credentials(HashMap<String, SecretString>);

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({} users)", self.0.len())
    }
}

impl Credentials {
    /// Reads `user:password` entries separated by newlines or commas (so neither may
    /// appear in a password; a user name cannot hold `:`), each trimmed of surrounding
    /// whitespace. Errors name the entry by its position, never its content.
    pub fn parse(var: &str, raw: &str) -> Result<Self, ConfigError> {
        let mut users = HashMap::new();
        let entries = raw
            .split(['\n', ','])
            .map(str::trim)
            .filter(|e| !e.is_empty());
        for (i, entry) in entries.enumerate() {
            let n = i + 1;
            let (user, password) = entry.split_once(':').ok_or_else(|| {
                ConfigError::invalid(var, format!("entry {n} is not user:password"))
            })?;
            let (user, password) = (user.trim_end(), password.trim_start());
            if user.is_empty() || password.is_empty() {
                return Err(ConfigError::invalid(
                    var,
                    format!("entry {n} has an empty user or password"),
                ));
            }
            if users
                .insert(user.to_owned(), SecretString::from(password.to_owned()))
                .is_some()
            {
                return Err(ConfigError::invalid(
                    var,
                    format!("entry {n} repeats a user"),
                ));
            }
        }
        if users.is_empty() {
            return Err(ConfigError::invalid(var, "holds no user:password entry"));
        }
        Ok(Self(users))
    }

    pub(super) fn password(&self, user: &str) -> Option<&SecretString> {
        self.0.get(user)
    }
}

/// The WS-Security settings of a SOAP service.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `WSSE_MODE`: `off` (default), `optional` or `required`.
    pub mode: Mode,
    /// `WSSE_USERS` (a secret; also `WSSE_USERS_FILE`): `user:password` entries,
    /// separated by newlines or commas. Required unless the mode is `off`.
    pub users: Arc<Credentials>,
    /// `WSSE_MAX_SKEW_SECS` (default 300): how far a `Created` may lie from our clock;
    /// also how long a nonce is remembered.
    pub max_skew: Duration,
    /// `WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP` (default false): accept a password sent as
    /// text (`#PasswordText`, or HTTP Basic where a door takes it) on a request that did
    /// not come over TLS. Off, such a request is refused: the password crossed the
    /// network readable by anyone on the path.
    pub allow_text_over_http: bool,
}

impl Settings {
    /// Reads `WSSE_MODE`, `WSSE_USERS`, `WSSE_MAX_SKEW_SECS` and
    /// `WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP`.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let mode = match vars
            .string("WSSE_MODE")
            .map(|m| m.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("off") => Mode::Off,
            Some("optional") => Mode::Optional,
            Some("required") => Mode::Required,
            Some(_) => {
                return Err(ConfigError::invalid(
                    "WSSE_MODE",
                    "off, optional or required",
                ));
            }
        };
        let max_skew = vars.seconds_or("WSSE_MAX_SKEW_SECS", Duration::from_secs(300))?;
        if max_skew > Duration::from_secs(86_400) {
            return Err(ConfigError::invalid(
                "WSSE_MAX_SKEW_SECS",
                "must be at most 86400 (one day)",
            ));
        }
        let users = match (mode, vars.secret("WSSE_USERS")?) {
            (Mode::Off, _) => Credentials::default(),
            (_, None) => {
                return Err(ConfigError::Missing(
                    "WSSE_USERS (or WSSE_USERS_FILE), required when WSSE_MODE is not off".into(),
                ));
            }
            (_, Some(raw)) => Credentials::parse("WSSE_USERS", &raw)?,
        };
        Ok(Self {
            mode,
            users: Arc::new(users),
            max_skew,
            allow_text_over_http: vars.bool_or("WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP", false)?,
        })
    }

    /// The guard to [`install`](super::install), or `None` when the mode is `off`.
    /// `nonces`: the replay cache; `bearer`: the check of `Authorization: Bearer` tokens
    /// accepted instead of a UsernameToken, if they are; `proxies`: the service's
    /// `TRUSTED_PROXIES`, the only ones believed when they say a request came over TLS.
    pub fn guard(
        &self,
        nonces: Arc<dyn NonceStore>,
        bearer: Option<Arc<dyn BearerCheck>>,
        proxies: Arc<ProxyTrust>,
    ) -> Option<Guard> {
        (self.mode != Mode::Off).then(|| Guard::new(self, nonces, bearer, proxies))
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;

    #[test]
    fn credentials_are_read_without_echoing_them() {
        let c = Credentials::parse("WSSE_USERS", "a:p:with:colons, b:q\n").unwrap();
        assert_eq!(c.password("a").unwrap().expose_secret(), "p:with:colons");
        assert_eq!(c.password("b").unwrap().expose_secret(), "q");
        assert_eq!(format!("{c:?}"), "Credentials(2 users)");
        for bad in ["nopassword-secret", "a:", ":p", "a:x,a:y", " , "] {
            let e = Credentials::parse("WSSE_USERS", bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains("WSSE_USERS") && !e.contains("secret"), "{e}");
        }
    }

    #[test]
    fn settings_default_off_and_need_users_when_on() {
        let none = |_: &str| None;
        assert_eq!(
            Settings::from_vars(&Vars::new(&none)).unwrap().mode,
            Mode::Off
        );
        let on = |k: &str| (k == "WSSE_MODE").then(|| "Required".to_owned());
        assert!(
            Settings::from_vars(&Vars::new(&on))
                .unwrap_err()
                .to_string()
                .contains("WSSE_USERS")
        );
        let bad = |k: &str| (k == "WSSE_MODE").then(|| "on".to_owned());
        assert!(Settings::from_vars(&Vars::new(&bad)).is_err());
        assert!(
            !Settings::from_vars(&Vars::new(&none))
                .unwrap()
                .allow_text_over_http
        );
        let allow =
            |k: &str| (k == "WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP").then(|| "true".to_owned());
        assert!(
            Settings::from_vars(&Vars::new(&allow))
                .unwrap()
                .allow_text_over_http
        );
        let typo =
            |k: &str| (k == "WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP").then(|| "yes please".to_owned());
        assert!(
            Settings::from_vars(&Vars::new(&typo))
                .unwrap_err()
                .to_string()
                .contains("WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP")
        );
    }
}
