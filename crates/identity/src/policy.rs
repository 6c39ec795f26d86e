//! The password policy every door that sets a password applies (user-soap's SOAP and
//! JSON registration, auth's change and reset): one place, one set of settings.
//!
//! * Length, in Unicode characters (NIST SP 800-63B §5.1.1.2: at least 8, and at least
//!   64 accepted): `PASSWORD_MIN_LENGTH` (default 8) to `PASSWORD_MAX_LENGTH` (default
//!   128, at most [`MAX_LENGTH_CEILING`]). Nothing else about composition is imposed.
//! * Optionally, a breached-password check through the k-anonymity range API of Have I
//!   Been Pwned's Pwned Passwords (`GET <url>/range/<first 5 hex of SHA-1>`): only
//!   those five characters leave the process; the answer lists the suffixes of every
//!   breached hash with that prefix, and the match is made here. On with
//!   `PASSWORD_BREACH_CHECK_URL` (e.g. `https://api.pwnedpasswords.com`); whether an
//!   API that cannot be reached (timeout `PASSWORD_BREACH_CHECK_TIMEOUT_MS`, default
//!   2000, a non-200 answer, an unreadable one) accepts the password or refuses it is
//!   `PASSWORD_BREACH_CHECK_UNREACHABLE` (`accept`, the default, or `refuse`).
//!
//! A refusal ([`Refusal`]) is the client's to fix and says what to do; an API that
//! cannot be reached with `refuse` set is [`PolicyError::Unavailable`] (the server's
//! trouble: 503). No password, nor any part of its hash, is ever logged.

use std::time::Duration;

use hub_config::{ConfigError, Vars};
use sha1::{Digest, Sha1};

/// The highest `PASSWORD_MAX_LENGTH` accepted: user-soap refuses longer passwords as
/// input anyway, and hashing cost grows with length.
pub const MAX_LENGTH_CEILING: usize = 1024;

/// The most bytes read from the range API (a real answer is about 30 KiB, 40 with
/// padding): a stand-in that streams forever cannot hold memory.
const MAX_RANGE_BYTES: usize = 1 << 20;

/// What an unreachable breach API means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// Accept the password (logged as a warning).
    Accept,
    /// Refuse to set any password until the API answers ([`PolicyError::Unavailable`]).
    Refuse,
}

/// The optional breached-password check.
#[derive(Debug, Clone)]
pub struct BreachCheck {
    /// The API's base address; the request is `<url>/range/<prefix>`.
    url: String,
    /// What an unreachable API means.
    unreachable: Unreachable,
    /// Bounded by `PASSWORD_BREACH_CHECK_TIMEOUT_MS`, no redirects.
    http: reqwest::Client,
}

/// The policy. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    min_chars: usize,
    max_chars: usize,
    breach: Option<BreachCheck>,
}

/// Why a password is refused: the client's to fix. Its text completes "Invalid
/// password: ..." and "Password ...".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Fewer characters than `PASSWORD_MIN_LENGTH`.
    #[error("must be at least {0} characters")]
    TooShort(usize),
    /// More characters than `PASSWORD_MAX_LENGTH`.
    #[error("must be at most {0} characters")]
    TooLong(usize),
    /// The breach API lists it.
    #[error("appears in a list of breached passwords; choose another")]
    Breached,
}

/// Why a password was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The policy refuses it.
    #[error("password refused: {0}")]
    Refused(#[from] Refusal),
    /// The breach API could not be reached and `PASSWORD_BREACH_CHECK_UNREACHABLE` is
    /// `refuse`. The text says why (never the password nor its hash).
    #[error("the breached-password check is unavailable: {0}")]
    Unavailable(String),
}

impl Default for PasswordPolicy {
    /// 8 to 128 characters, no breach check.
    fn default() -> Self {
        Self {
            min_chars: 8,
            max_chars: 128,
            breach: None,
        }
    }
}

impl PasswordPolicy {
    /// A policy of `min_chars..=max_chars` characters without the breach check.
    pub fn new(min_chars: usize, max_chars: usize) -> Self {
        Self {
            min_chars,
            max_chars,
            breach: None,
        }
    }

    /// The same policy with the breach check against `url`.
    pub fn with_breach_check(
        mut self,
        url: &str,
        unreachable: Unreachable,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        self.breach = Some(BreachCheck {
            url: url.trim_end_matches('/').to_owned(),
            unreachable,
            http,
        });
        Ok(self)
    }

    /// Reads `PASSWORD_MIN_LENGTH`, `PASSWORD_MAX_LENGTH`, `PASSWORD_BREACH_CHECK_URL`,
    /// `PASSWORD_BREACH_CHECK_UNREACHABLE` and `PASSWORD_BREACH_CHECK_TIMEOUT_MS`.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let min: usize = vars.positive_or("PASSWORD_MIN_LENGTH", 8)?;
        let max: usize = vars.positive_or("PASSWORD_MAX_LENGTH", 128)?;
        if max > MAX_LENGTH_CEILING {
            return Err(ConfigError::invalid(
                "PASSWORD_MAX_LENGTH",
                format!("must be at most {MAX_LENGTH_CEILING}"),
            ));
        }
        if max < min {
            return Err(ConfigError::invalid(
                "PASSWORD_MAX_LENGTH",
                "must be at least PASSWORD_MIN_LENGTH",
            ));
        }
        let policy = Self::new(min, max);
        let Some(url) = vars.string("PASSWORD_BREACH_CHECK_URL") else {
            return Ok(policy);
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::invalid(
                "PASSWORD_BREACH_CHECK_URL",
                "must be an http:// or https:// address",
            ));
        }
        let unreachable = match vars
            .string_or("PASSWORD_BREACH_CHECK_UNREACHABLE", "accept")
            .to_ascii_lowercase()
            .as_str()
        {
            "accept" => Unreachable::Accept,
            "refuse" => Unreachable::Refuse,
            _ => {
                return Err(ConfigError::invalid(
                    "PASSWORD_BREACH_CHECK_UNREACHABLE",
                    "expected accept or refuse",
                ));
            }
        };
        let timeout = vars.millis_or("PASSWORD_BREACH_CHECK_TIMEOUT_MS", Duration::from_secs(2))?;
        policy
            .with_breach_check(&url, unreachable, timeout)
            .map_err(|e| ConfigError::invalid("PASSWORD_BREACH_CHECK_URL", e.to_string()))
    }

    /// The shortest length accepted.
    pub fn min_chars(&self) -> usize {
        self.min_chars
    }

    /// The length rule alone (no I/O).
    pub fn check_length(&self, password: &str) -> Result<(), Refusal> {
        let chars = password.chars().count();
        if chars < self.min_chars {
            return Err(Refusal::TooShort(self.min_chars));
        }
        if chars > self.max_chars {
            return Err(Refusal::TooLong(self.max_chars));
        }
        Ok(())
    }

    /// The whole policy: the length, then, if configured, the breach API.
    pub async fn check(&self, password: &str) -> Result<(), PolicyError> {
        self.check_length(password)?;
        let Some(breach) = &self.breach else {
            return Ok(());
        };
        let (prefix, suffix) = sha1_split(password);
        match breach.lists(&prefix, &suffix).await {
            Ok(true) => Err(Refusal::Breached.into()),
            Ok(false) => Ok(()),
            Err(why) => match breach.unreachable {
                Unreachable::Accept => {
                    tracing::warn!(error = %why, "breached-password check unavailable; password accepted (PASSWORD_BREACH_CHECK_UNREACHABLE=accept)");
                    Ok(())
                }
                Unreachable::Refuse => {
                    tracing::warn!(error = %why, "breached-password check unavailable; password refused (PASSWORD_BREACH_CHECK_UNREACHABLE=refuse)");
                    Err(PolicyError::Unavailable(why))
                }
            },
        }
    }
}

impl BreachCheck {
    /// Whether the range of `prefix` lists `suffix` with a count above zero (padding
    /// entries have count 0). `Err` says why the API gave no usable answer.
    async fn lists(&self, prefix: &str, suffix: &str) -> Result<bool, String> {
        let url = format!("{}/range/{prefix}", self.url);
        let mut response = self
            .http
            .get(url)
            .header("Add-Padding", "true")
            .send()
            .await
            .map_err(|e| format!("request failed: {}", without_url(&e)))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(format!("answered {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("reading the answer failed: {}", without_url(&e)))?
        {
            if body.len() + chunk.len() > MAX_RANGE_BYTES {
                return Err(format!("answer larger than {MAX_RANGE_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let text = std::str::from_utf8(&body).map_err(|_| "answer not UTF-8".to_owned())?;
        Ok(range_lists(text, suffix))
    }
}

/// The error without its URL (which holds the hash prefix).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection refused or unreachable"
    } else {
        "error"
    };
    kind.to_owned()
}

/// The upper-case hex SHA-1 of `password`, split after five characters.
fn sha1_split(password: &str) -> (String, String) {
    let hex = hex::encode_upper(Sha1::digest(password.as_bytes()));
    let (prefix, suffix) = hex.split_at(5);
    (prefix.to_owned(), suffix.to_owned())
}

/// Whether a range answer (`SUFFIX:COUNT` lines) lists `suffix` with a count above 0.
fn range_lists(answer: &str, suffix: &str) -> bool {
    answer.lines().any(|line| {
        line.trim().split_once(':').is_some_and(|(s, count)| {
            s.eq_ignore_ascii_case(suffix) && count.trim().parse::<u64>().is_ok_and(|n| n > 0)
        })
    })
}

/// The SHA-1 hash prefix the range API is asked for `password` (for tests and
/// stand-ins: it is what leaves the process).
pub fn range_prefix(password: &str) -> String {
    sha1_split(password).0
}

/// The line the range API answers for `password` when it is breached `count` times
/// (for tests and stand-ins).
pub fn range_line(password: &str, count: u64) -> String {
    format!("{}:{count}", sha1_split(password).1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_counts_characters_and_says_the_bound() {
        let p = PasswordPolicy::new(8, 10);
        assert_eq!(p.check_length("1234567"), Err(Refusal::TooShort(8)));
        assert_eq!(p.check_length("12345678"), Ok(()));
        // Eight characters, sixteen bytes.
        assert_eq!(p.check_length("ññññññññ"), Ok(()));
        assert_eq!(p.check_length("12345678901"), Err(Refusal::TooLong(10)));
        assert_eq!(
            format!("Invalid password: {}", Refusal::TooShort(8)),
            "Invalid password: must be at least 8 characters"
        );
    }

    #[test]
    fn the_known_sha1_of_password_splits_after_five_hex_digits() {
        // SHA-1("password") = 5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8
        assert_eq!(range_prefix("password"), "5BAA6");
        assert_eq!(
            range_line("password", 3),
            "1E4C9B93F3F0682250B6CF8331B7EE68FD8:3"
        );
    }

    #[test]
    fn a_range_lists_a_suffix_only_with_a_positive_count() {
        let suffix = "1E4C9B93F3F0682250B6CF8331B7EE68FD8";
        let answer = format!("0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n{suffix}:42\r\n");
        assert!(range_lists(&answer, suffix));
        assert!(range_lists(&answer.to_lowercase(), suffix));
        assert!(!range_lists(&format!("{suffix}:0\r\n"), suffix), "padding");
        assert!(!range_lists(
            "0018A45C4D1DEF81644B54AB7F969B88D65:1",
            suffix
        ));
        assert!(!range_lists("garbage", suffix));
    }

    #[test]
    fn settings_default_to_8_to_128_without_a_breach_check_and_name_themselves() {
        let read = |pairs: &[(&str, &str)]| {
            let env = hub_config::fixed(pairs);
            PasswordPolicy::from_vars(&Vars::new(&env))
        };
        let p = read(&[]).unwrap();
        assert_eq!(
            (p.min_chars, p.max_chars, p.breach.is_none()),
            (8, 128, true)
        );
        for (pairs, var) in [
            (&[("PASSWORD_MIN_LENGTH", "0")][..], "PASSWORD_MIN_LENGTH"),
            (
                &[("PASSWORD_MAX_LENGTH", "2000")][..],
                "PASSWORD_MAX_LENGTH",
            ),
            (
                &[("PASSWORD_MIN_LENGTH", "20"), ("PASSWORD_MAX_LENGTH", "10")][..],
                "PASSWORD_MAX_LENGTH",
            ),
            (
                &[("PASSWORD_BREACH_CHECK_URL", "ftp://x")][..],
                "PASSWORD_BREACH_CHECK_URL",
            ),
            (
                &[
                    ("PASSWORD_BREACH_CHECK_URL", "http://127.0.0.1:9"),
                    ("PASSWORD_BREACH_CHECK_UNREACHABLE", "maybe"),
                ][..],
                "PASSWORD_BREACH_CHECK_UNREACHABLE",
            ),
        ] {
            let err = read(pairs).unwrap_err().to_string();
            assert!(err.contains(var), "{pairs:?}: {err}");
        }
        let p = read(&[
            ("PASSWORD_BREACH_CHECK_URL", "http://127.0.0.1:9/"),
            ("PASSWORD_BREACH_CHECK_UNREACHABLE", "Refuse"),
        ])
        .unwrap();
        let b = p.breach.unwrap();
        assert_eq!(
            (b.url.as_str(), b.unreachable),
            ("http://127.0.0.1:9", Unreachable::Refuse)
        );
    }

    #[tokio::test]
    async fn an_unreachable_api_accepts_or_refuses_as_set() {
        // Port 9 (discard) on loopback: nothing listens, the connection is refused.
        let base = PasswordPolicy::new(8, 128);
        let accept = base
            .clone()
            .with_breach_check(
                "http://127.0.0.1:9",
                Unreachable::Accept,
                Duration::from_secs(2),
            )
            .unwrap();
        assert!(accept.check("long enough pw").await.is_ok());
        let refuse = base
            .with_breach_check(
                "http://127.0.0.1:9",
                Unreachable::Refuse,
                Duration::from_secs(2),
            )
            .unwrap();
        let err = refuse.check("long enough pw").await.unwrap_err();
        assert!(matches!(err, PolicyError::Unavailable(_)), "{err}");
        assert!(!err.to_string().contains("127.0.0.1"), "{err}");
        // The length is checked first, without the API.
        assert!(matches!(
            refuse.check("short").await,
            Err(PolicyError::Refused(Refusal::TooShort(8)))
        ));
    }
}
