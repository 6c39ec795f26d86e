//! Opening a RabbitMQ connection, shared by the relay and the consumer.

use hub_config::{ConfigError, Vars};
use lapin::{Connection, ConnectionProperties, uri::AMQPUri};
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

/// `url` as lapin's URI, with [`DEFAULT_FRAME_MAX`] unless the URL sets `frame_max`.
/// The error never repeats the URL: it may carry a password.
pub fn uri(url: &SecretString) -> Result<AMQPUri, String> {
    let mut uri: AMQPUri = url
        .expose_secret()
        .parse()
        .map_err(|_| "AMQP_URL is not a valid AMQP URL".to_owned())?;
    uri.query.frame_max.get_or_insert(DEFAULT_FRAME_MAX);
    Ok(uri)
}

/// The broker URL (`AMQP_URL`, or the legacy `RABBITMQ_*` variables), checked at start-up
/// the way [`connect`] will read it, so a malformed URL stops the service with a clear
/// error instead of failing every reconnection.
pub fn url_from_vars(vars: &Vars<'_>) -> Result<SecretString, ConfigError> {
    let url = vars.amqp_url()?;
    uri(&url).map_err(|_| ConfigError::invalid("AMQP_URL", "not a valid AMQP URL"))?;
    Ok(url)
}

/// Connects to `url`, naming the connection `name` in the broker's management views.
pub async fn connect(url: &SecretString, name: String) -> Result<Connection, String> {
    let props = ConnectionProperties::default().with_connection_name(name.into());
    Connection::connect_uri(uri(url)?, props)
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposes_a_small_frame_unless_the_url_sets_one() {
        let plain = uri(&"amqp://u:p@mq:5672/%2f".into()).unwrap();
        assert_eq!(plain.query.frame_max, Some(DEFAULT_FRAME_MAX));
        assert_eq!(plain.authority.host, "mq");
        let set = uri(&"amqp://u:p@mq:5672/%2f?frame_max=131072".into()).unwrap();
        assert_eq!(set.query.frame_max, Some(131_072));
    }

    #[test]
    fn a_malformed_url_is_a_configuration_error_without_its_password() {
        let env = |k: &str| {
            (k == "AMQP_URL").then(|| "amqp://user:s3cret@mq/%2f?frame_max=big".to_owned())
        };
        let e = url_from_vars(&Vars::new(&env)).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid value for environment variable AMQP_URL: not a valid AMQP URL"
        );
        let env = |k: &str| (k == "AMQP_URL").then(|| "amqp://u:p@mq:5672/%2f".to_owned());
        assert!(url_from_vars(&Vars::new(&env)).is_ok());
    }

    #[test]
    fn a_bad_url_is_reported_without_its_password() {
        let e = uri(&"amqp://user:s3cret@".into()).unwrap_err();
        assert!(!e.contains("s3cret"), "{e}");
        let e = uri(&"amqp://user:s3cret@mq/%2f?frame_max=big".into()).unwrap_err();
        assert!(!e.contains("s3cret"), "{e}");
    }
}
