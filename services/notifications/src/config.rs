//! Notifications configuration, read once from the environment at start-up.

use std::time::Duration;

use hub_db::PgSettings;
use hub_events::{catalogue::queues, consumer::ConsumerConfig};
use hub_runtime::{
    config::{ConfigError, Vars},
    service::ServiceConfig,
};
use lettre::message::Mailbox;
use secrecy::SecretString;

/// How the SMTP connection is protected (`SMTP_TLS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// `starttls` (the default, port 587): plain connection upgraded with STARTTLS, which
    /// the server must offer (refused otherwise, never sent in clear).
    StartTls,
    /// `tls` (port 465): TLS from the first byte ("implicit TLS", RFC 8314).
    Tls,
    /// `none` (port 25): plain text, for a local catcher or a relay on the same host. No
    /// credentials are sent this way.
    None,
}

/// Where mail goes and how ([`crate::mail`]).
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// `SMTP_HOST` (default `localhost`).
    pub host: String,
    /// `SMTP_PORT` (default by `SMTP_TLS`: 587, 465 or 25).
    pub port: u16,
    /// `SMTP_TLS`: `starttls` (default), `tls` or `none`.
    pub tls: SmtpTls,
    /// `SMTP_USERNAME` and `SMTP_PASSWORD` (or `SMTP_PASSWORD_FILE`): authentication,
    /// both or neither.
    pub credentials: Option<(String, SecretString)>,
    /// `SMTP_FROM` (default `Hub <no-reply@localhost>`): the sender of every mail.
    pub from: Mailbox,
    /// `SMTP_TIMEOUT_MS` (default 10000): bound on a whole send, from connecting to the
    /// server's acceptance (lettre's own timeout bounds only the TCP connect).
    pub timeout: Duration,
    /// `SMTP_TLS_CA_FILE`: a PEM certificate trusted besides the Mozilla roots (a private
    /// relay's own CA), read at start-up.
    pub extra_ca: Option<Vec<u8>>,
}

impl SmtpSettings {
    /// Reads the `SMTP_*` variables.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let tls = match vars.string_or("SMTP_TLS", "starttls").as_str() {
            "starttls" => SmtpTls::StartTls,
            "tls" => SmtpTls::Tls,
            "none" => SmtpTls::None,
            _ => {
                return Err(ConfigError::invalid(
                    "SMTP_TLS",
                    "must be starttls, tls or none",
                ));
            }
        };
        let default_port = match tls {
            SmtpTls::StartTls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        };
        let credentials = match (vars.string("SMTP_USERNAME"), vars.secret("SMTP_PASSWORD")?) {
            (None, None) => None,
            (Some(user), Some(password)) => Some((user, SecretString::from(password))),
            (Some(_), None) => {
                return Err(ConfigError::invalid(
                    "SMTP_PASSWORD",
                    "required with SMTP_USERNAME",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::invalid(
                    "SMTP_USERNAME",
                    "required with SMTP_PASSWORD",
                ));
            }
        };
        if credentials.is_some() && tls == SmtpTls::None {
            return Err(ConfigError::invalid(
                "SMTP_TLS",
                "none would send SMTP_PASSWORD in clear; use starttls or tls",
            ));
        }
        let from = vars
            .string_or("SMTP_FROM", "Hub <no-reply@localhost>")
            .parse::<Mailbox>()
            .map_err(|_| ConfigError::invalid("SMTP_FROM", "not a mail address"))?;
        let port: u16 = vars.positive_or("SMTP_PORT", default_port)?;
        let extra_ca = match vars.string("SMTP_TLS_CA_FILE") {
            None => None,
            Some(path) => Some(
                std::fs::read(&path)
                    .map_err(|_| ConfigError::invalid("SMTP_TLS_CA_FILE", "cannot be read"))?,
            ),
        };
        Ok(Self {
            host: vars.string_or("SMTP_HOST", "localhost"),
            port,
            tls,
            credentials,
            from,
            timeout: vars.millis_or("SMTP_TIMEOUT_MS", Duration::from_secs(10))?,
            extra_ca,
        })
    }
}

/// The per-recipient limit (`NOTIFY_RATE_LIMIT` mails per `NOTIFY_RATE_WINDOW_SECS`).
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// `NOTIFY_RATE_LIMIT` (default 10): mails one address may get within the window.
    pub max: u32,
    /// `NOTIFY_RATE_WINDOW_SECS` (default 3600): the sliding window.
    pub window: Duration,
}

/// What the service reads besides the skeleton's HTTP settings
/// ([`Settings`](hub_runtime::service::Settings)); each field names its variable and default.
#[derive(Debug, Clone)]
pub struct Config {
    /// PostgreSQL ([`PgSettings`]): `DATABASE_URL` or the originals' parts, required;
    /// `DB_*`. Holds which events were mailed (`notification`).
    pub db: PgSettings,
    /// One consumer per queue of [`queues`](Self::queues): `AMQP_URL`,
    /// `RABBITMQ_QUEUE_TYPE`, `CONSUMER_*` tuning (`CONSUMER_PREFETCH`,
    /// `CONSUMER_MAX_ATTEMPTS`, `CONSUMER_RETRY_BASE_MS`, `CONSUMER_RETRY_MAX_MS`,
    /// `CONSUMER_TIMEOUT_MS`); each queue's dead letters go to `<queue>.dlq`.
    pub consumer: ConsumerConfig,
    /// `NOTIFICATIONS_QUEUES` (comma-separated, default `user-events,account-events`).
    pub queues: Vec<String>,
    /// `NOTIFICATIONS_CONSUMER` (default true): consume events. Off, the service only
    /// answers its probes.
    pub consume_events: bool,
    /// The SMTP server.
    pub smtp: SmtpSettings,
    /// The per-recipient limit.
    pub rate: RateLimit,
    /// `NOTIFY_CLAIM_LEASE_SECS` (default 60): how long an instance that claimed a mail
    /// keeps it before another may take it over (it crashed before sending). Longer than
    /// a send can take (`SMTP_TIMEOUT_MS`).
    pub lease: Duration,
    /// `NOTIFY_RETENTION_HOURS` (default 168): rows of sent mail older than this are
    /// deleted (an event redelivered later would be mailed again: the outbox keeps
    /// published rows as long by default).
    pub retention: Duration,
}

impl ServiceConfig for Config {
    fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let mut queues = vars.list("NOTIFICATIONS_QUEUES");
        if queues.is_empty() {
            queues = vec![
                queues::USER_EVENTS.to_owned(),
                queues::ACCOUNT_EVENTS.to_owned(),
            ];
        }
        let smtp = SmtpSettings::from_vars(vars)?;
        let lease = vars.seconds_or("NOTIFY_CLAIM_LEASE_SECS", Duration::from_secs(60))?;
        if lease <= smtp.timeout {
            return Err(ConfigError::invalid(
                "NOTIFY_CLAIM_LEASE_SECS",
                "must be longer than SMTP_TIMEOUT_MS",
            ));
        }
        Ok(Self {
            db: PgSettings::from_vars(vars)?,
            consumer: ConsumerConfig::from_vars(vars, "notifications", queues::USER_EVENTS)?,
            queues,
            consume_events: vars.bool_or("NOTIFICATIONS_CONSUMER", true)?,
            smtp,
            rate: RateLimit {
                max: vars.positive_or("NOTIFY_RATE_LIMIT", 10)?,
                window: vars.seconds_or("NOTIFY_RATE_WINDOW_SECS", Duration::from_secs(3600))?,
            },
            lease,
            retention: Duration::from_secs(
                3600 * vars.positive_or::<u64>("NOTIFY_RETENTION_HOURS", 168)?,
            ),
        })
    }
}

impl Config {
    /// The consumer of `queue`: the shared settings, its own dead-letter queue.
    pub fn consumer_of(&self, queue: &str) -> ConsumerConfig {
        ConsumerConfig {
            queue: queue.to_owned(),
            dead_letter_queue: format!("{queue}.dlq"),
            ..self.consumer.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut all = vec![("DATABASE_URL", "postgres://u:p@localhost/db")];
        all.extend_from_slice(vars);
        let env = hub_runtime::config::fixed(&all);
        Config::from_vars(&Vars::new(&env))
    }

    #[test]
    fn defaults_consume_both_queues_over_starttls() {
        let c = config(&[]).unwrap();
        assert_eq!(c.queues, ["user-events", "account-events"]);
        assert_eq!(
            c.consumer_of("account-events").dead_letter_queue,
            "account-events.dlq"
        );
        assert_eq!((c.smtp.tls, c.smtp.port), (SmtpTls::StartTls, 587));
        assert!(c.smtp.credentials.is_none());
        assert_eq!(config(&[("SMTP_TLS", "tls")]).unwrap().smtp.port, 465);
    }

    #[test]
    fn nonsense_is_refused_naming_the_variable() {
        for (vars, var) in [
            (&[("SMTP_TLS", "ssl")][..], "SMTP_TLS"),
            (&[("SMTP_USERNAME", "u")][..], "SMTP_PASSWORD"),
            (&[("SMTP_PASSWORD", "p")][..], "SMTP_USERNAME"),
            (
                &[
                    ("SMTP_TLS", "none"),
                    ("SMTP_USERNAME", "u"),
                    ("SMTP_PASSWORD", "p"),
                ][..],
                "SMTP_TLS",
            ),
            (&[("SMTP_FROM", "not an address")][..], "SMTP_FROM"),
            (&[("NOTIFY_RATE_LIMIT", "0")][..], "NOTIFY_RATE_LIMIT"),
            (
                &[("NOTIFY_CLAIM_LEASE_SECS", "5")][..],
                "NOTIFY_CLAIM_LEASE_SECS",
            ),
        ] {
            let err = config(vars).unwrap_err().to_string();
            assert!(err.contains(var), "{vars:?}: {err}");
            assert!(!err.contains("\"p\""), "{err}");
        }
    }
}
