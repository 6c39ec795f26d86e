//! Opening a RabbitMQ connection and declaring queues, shared by the relay and the
//! consumer.
//!
//! * `AMQP_URL` holds one broker URL, or several separated by commas (the nodes of a
//!   cluster, or a proxy and its fallbacks): [`Brokers::connect`] tries them in order,
//!   starting after the one that failed last, so a reconnect goes to a surviving node.
//!   With one URL nothing changes. Logs and errors name a broker by `host:port` only:
//!   the URLs carry credentials.
//! * `RABBITMQ_QUEUE_TYPE` ([`QueueType`]) says how every queue the hub declares is
//!   declared: `classic` (the default) exactly as the originals did, durable with no
//!   arguments; `quorum` durable with `x-queue-type=quorum`, replicated across a
//!   cluster's nodes.

use std::time::Duration;

use hub_config::{ConfigError, Vars};
use lapin::{
    Channel, Connection, ConnectionProperties,
    options::{ConfirmSelectOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable},
    uri::AMQPUri,
};
use secrecy::{ExposeSecret, SecretString};

/// The largest AMQP frame the hub proposes when `AMQP_URL` sets no `frame_max`
/// (the broker may lower it; it never raises it).
///
/// lapin keeps a receive and a send buffer of 32 frames per connection, zero-filled
/// once the frame size is negotiated: at RabbitMQ's default of 128 KiB that is 8 MiB
/// per connection, most of an idle service's memory (bench/results/2026-11-26.md).
/// The hub's events are JSON objects under 1 KiB; a larger body is split across
/// frames, so a smaller frame costs nothing but a frame header per 16 KiB.
pub const DEFAULT_FRAME_MAX: u32 = 16 * 1024;

/// The brokers in `url` (one URL, or several separated by commas), as lapin's URIs,
/// each with [`DEFAULT_FRAME_MAX`] unless it sets `frame_max`. The error never repeats
/// a URL: it may carry a password.
pub fn uris(url: &SecretString) -> Result<Vec<AMQPUri>, String> {
    parse(url).map_err(|reason| format!("AMQP_URL: {reason}"))
}

/// [`uris`], its error being only the reason.
fn parse(url: &SecretString) -> Result<Vec<AMQPUri>, String> {
    let parts: Vec<&str> = url.expose_secret().split(',').map(str::trim).collect();
    let n = parts.len();
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let mut uri: AMQPUri = part.parse().map_err(|_| {
                if n > 1 {
                    format!("address {} of {n} is not a valid AMQP URL", i + 1)
                } else {
                    "not a valid AMQP URL".to_owned()
                }
            })?;
            uri.query.frame_max.get_or_insert(DEFAULT_FRAME_MAX);
            Ok(uri)
        })
        .collect()
}

/// `host:port` of a broker: how logs and errors name it (never the credentials).
pub fn address(uri: &AMQPUri) -> String {
    format!("{}:{}", uri.authority.host, uri.authority.port)
}

/// The broker URL(s) (`AMQP_URL`, or the legacy `RABBITMQ_*` variables), checked at
/// start-up the way [`Brokers::connect`] will read them, so a malformed URL stops the
/// service with a clear error instead of failing every reconnection.
pub fn url_from_vars(vars: &Vars<'_>) -> Result<SecretString, ConfigError> {
    let url = vars.amqp_url()?;
    parse(&url).map_err(|reason| ConfigError::invalid("AMQP_URL", reason))?;
    Ok(url)
}

/// Which of `AMQP_URL`'s brokers a relay or a consumer tries next: one per task,
/// kept across its reconnections.
#[derive(Debug, Default)]
pub struct Brokers {
    /// The broker of the last attempt (connected or failed).
    last: Option<usize>,
}

impl Brokers {
    /// Connects to one of the brokers in `url`, naming the connection `name` in the
    /// broker's management views. The first call starts with the first broker; later
    /// ones (reconnections) start with the broker after the last one tried, so the
    /// broker whose connection just failed is tried last. Each attempt is bounded by
    /// `timeout`; the error lists every broker's failure by `host:port`.
    pub async fn connect(
        &mut self,
        url: &SecretString,
        name: &str,
        timeout: Duration,
    ) -> Result<Connection, String> {
        let uris = uris(url)?;
        let n = uris.len();
        let start = self.last.map_or(0, |i| (i + 1) % n);
        let mut failures = Vec::new();
        for k in 0..n {
            let i = (start + k) % n;
            let uri = uris[i].clone();
            let addr = address(&uri);
            self.last = Some(i);
            let props = ConnectionProperties::default().with_connection_name(name.into());
            match bounded(timeout, Connection::connect_uri(uri, props)).await {
                Ok(conn) => {
                    if n > 1 {
                        tracing::info!(broker = %addr, connection = name, "connected to the broker");
                    }
                    return Ok(conn);
                }
                Err(e) => failures.push(format!("{addr}: {e}")),
            }
        }
        Err(failures.join("; "))
    }

    /// [`connect`](Self::connect)s, then opens a channel with publisher confirms on,
    /// each step bounded by `timeout`. The connection must outlive the channel.
    pub(crate) async fn open_confirmed(
        &mut self,
        url: &SecretString,
        name: &str,
        timeout: Duration,
    ) -> Result<(Connection, Channel), String> {
        let conn = self.connect(url, name, timeout).await?;
        let channel = bounded(timeout, conn.create_channel()).await?;
        bounded(
            timeout,
            channel.confirm_select(ConfirmSelectOptions::default()),
        )
        .await?;
        Ok((conn, channel))
    }
}

/// `op`, bounded by `timeout`; either failure as text.
async fn bounded<T>(
    timeout: Duration,
    op: impl Future<Output = Result<T, lapin::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(timeout, op).await {
        Ok(done) => done.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

/// How the hub declares its queues (`RABBITMQ_QUEUE_TYPE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum QueueType {
    /// `classic` (default): durable, no arguments, byte for byte the originals'
    /// declaration, so their existing queues are reused.
    #[default]
    Classic,
    /// `quorum`: durable with `x-queue-type=quorum` (replicated; RabbitMQ 3.8 or later).
    Quorum,
}

impl QueueType {
    /// Reads `RABBITMQ_QUEUE_TYPE` (`classic` or `quorum`; default `classic`).
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        match vars.string("RABBITMQ_QUEUE_TYPE").as_deref() {
            None | Some("classic") => Ok(Self::Classic),
            Some("quorum") => Ok(Self::Quorum),
            Some(_) => Err(ConfigError::invalid(
                "RABBITMQ_QUEUE_TYPE",
                "must be classic or quorum",
            )),
        }
    }

    /// The setting's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Classic => "classic",
            Self::Quorum => "quorum",
        }
    }

    /// The `queue.declare` arguments: none for classic, `x-queue-type` for quorum.
    pub fn arguments(self) -> FieldTable {
        let mut args = FieldTable::default();
        if self == Self::Quorum {
            args.insert(
                "x-queue-type".into(),
                AMQPValue::LongString("quorum".into()),
            );
        }
        args
    }
}

/// Declares `queue` durable, with `queue_type`'s arguments. The broker refuses to
/// redeclare a queue with another type (`PRECONDITION_FAILED`, and the channel
/// closes); the error then names `RABBITMQ_QUEUE_TYPE` and the way out.
pub async fn declare(
    channel: &Channel,
    queue: &str,
    queue_type: QueueType,
) -> Result<lapin::Queue, String> {
    let opts = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(queue.into(), opts, queue_type.arguments())
        .await
        .map_err(|e| {
            let e = e.to_string();
            if e.contains("x-queue-type") {
                format!(
                    "queue {queue} exists with another type than RABBITMQ_QUEUE_TYPE={} declares \
                     (a queue cannot change type in place; see docs/EVENTS.md, \"Queue types\"): {e}",
                    queue_type.as_str()
                )
            } else {
                e
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k: &str| {
            pairs
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn proposes_a_small_frame_unless_the_url_sets_one() {
        let plain = uris(&"amqp://u:p@mq:5672/%2f".into()).unwrap();
        assert_eq!(plain.len(), 1);
        assert_eq!(plain[0].query.frame_max, Some(DEFAULT_FRAME_MAX));
        assert_eq!(address(&plain[0]), "mq:5672");
        let set = uris(&"amqp://u:p@mq:5672/%2f?frame_max=131072".into()).unwrap();
        assert_eq!(set[0].query.frame_max, Some(131_072));
    }

    #[test]
    fn several_comma_separated_brokers_are_read_in_order() {
        let all = uris(&"amqp://u:p@h1:5672/%2f, amqp://u:p@h2/%2f?frame_max=8192".into()).unwrap();
        let addrs: Vec<String> = all.iter().map(address).collect();
        assert_eq!(addrs, ["h1:5672", "h2:5672"]);
        assert_eq!(all[0].query.frame_max, Some(DEFAULT_FRAME_MAX));
        assert_eq!(all[1].query.frame_max, Some(8192));
    }

    #[test]
    fn a_malformed_url_is_a_configuration_error_without_its_password() {
        let env = vars_of(&[("AMQP_URL", "amqp://user:s3cret@mq/%2f?frame_max=big")]);
        let e = url_from_vars(&Vars::new(&env)).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid value for environment variable AMQP_URL: not a valid AMQP URL"
        );
        let env = vars_of(&[("AMQP_URL", "amqp://u:s3cret@h1/%2f,http://u:s3cret@h2")]);
        let e = url_from_vars(&Vars::new(&env)).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid value for environment variable AMQP_URL: address 2 of 2 is not a valid AMQP URL"
        );
        let env = vars_of(&[("AMQP_URL", "amqp://u:p@mq:5672/%2f")]);
        assert!(url_from_vars(&Vars::new(&env)).is_ok());
        let env = vars_of(&[("AMQP_URL", "amqp://u:p@h1:5672/%2f,amqp://u:p@h2:5672/%2f")]);
        assert!(url_from_vars(&Vars::new(&env)).is_ok());
    }

    #[test]
    fn a_bad_url_is_reported_without_its_password() {
        for url in [
            "amqp://user:s3cret@",
            "amqp://user:s3cret@mq/%2f?frame_max=big",
            "amqp://user:s3cret@mq/%2f,amqp://user:s3cret@",
        ] {
            let e = uris(&url.into()).unwrap_err();
            assert!(!e.contains("s3cret") && e.starts_with("AMQP_URL"), "{e}");
        }
    }

    #[test]
    fn the_queue_type_defaults_to_classic_with_no_arguments() {
        let none = vars_of(&[]);
        assert_eq!(
            QueueType::from_vars(&Vars::new(&none)).unwrap(),
            QueueType::Classic
        );
        assert_eq!(QueueType::Classic.arguments(), FieldTable::default());
        let quorum = vars_of(&[("RABBITMQ_QUEUE_TYPE", "quorum")]);
        let q = QueueType::from_vars(&Vars::new(&quorum)).unwrap();
        assert_eq!(q, QueueType::Quorum);
        assert_eq!(
            q.arguments().inner().get("x-queue-type"),
            Some(&AMQPValue::LongString("quorum".into()))
        );
        let bad = vars_of(&[("RABBITMQ_QUEUE_TYPE", "stream")]);
        let e = QueueType::from_vars(&Vars::new(&bad))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("RABBITMQ_QUEUE_TYPE") && e.contains("classic or quorum"),
            "{e}"
        );
    }
}
