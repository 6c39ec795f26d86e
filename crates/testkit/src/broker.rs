//! Messages read back from RabbitMQ queues.

use lapin::{
    Channel, Connection, ConnectionProperties,
    options::{BasicGetOptions, QueueDeclareOptions, QueueDeleteOptions},
    types::FieldTable,
};
use serde_json::Value;

use crate::amqp_url;

/// A message read back from a queue.
#[derive(Debug, Clone)]
pub struct Message {
    /// The JSON body.
    pub body: Value,
    /// AMQP `message_id`.
    pub message_id: Option<String>,
    /// AMQP `correlation_id`.
    pub correlation_id: Option<String>,
    /// AMQP `content_type`.
    pub content_type: Option<String>,
    /// AMQP `delivery_mode`.
    pub delivery_mode: Option<u8>,
    /// AMQP `app_id`: the service that produced the event.
    pub app_id: Option<String>,
}

impl Message {
    /// The envelope's `event`.
    pub fn event(&self) -> &str {
        self.body["event"].as_str().unwrap_or_default()
    }
}

/// A connection to the broker and a channel on it, with the durable `queue` declared.
pub async fn queue_channel(queue: &str) -> (Connection, Channel) {
    let opts = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    declared_channel(&amqp_url(), queue, opts).await
}

/// A connection to the broker at `url` and a channel on it, with `queue` declared with `opts`.
async fn declared_channel(
    url: &str,
    queue: &str,
    opts: QueueDeclareOptions,
) -> (Connection, Channel) {
    let conn = Connection::connect(url, ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.queue_declare(queue.into(), opts, FieldTable::default())
        .await
        .unwrap();
    (conn, ch)
}

/// Every message now in `queue`, then deletes the queue. Call after the outbox has
/// drained: then nothing more is on its way.
pub async fn take_messages(queue: &str) -> Vec<Message> {
    let (conn, ch) = queue_channel(queue).await;
    drain(conn, ch, queue).await
}

/// [`take_messages`] from the broker at `url`, for a queue that exists already, of any
/// type (declared passively: a classic declaration of a quorum queue would be refused).
pub async fn take_messages_from(url: &str, queue: &str) -> Vec<Message> {
    let opts = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let (conn, ch) = declared_channel(url, queue, opts).await;
    drain(conn, ch, queue).await
}

async fn drain(conn: Connection, ch: Channel, queue: &str) -> Vec<Message> {
    let mut out = Vec::new();
    while let Some(msg) = ch
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
    {
        let props = &msg.delivery.properties;
        out.push(Message {
            body: serde_json::from_slice(&msg.delivery.data).unwrap(),
            message_id: props.message_id().as_ref().map(|s| s.to_string()),
            correlation_id: props.correlation_id().as_ref().map(|s| s.to_string()),
            content_type: props.content_type().as_ref().map(|s| s.to_string()),
            delivery_mode: *props.delivery_mode(),
            app_id: props.app_id().as_ref().map(|s| s.to_string()),
        });
    }
    let _ = ch
        .queue_delete(queue.into(), QueueDeleteOptions::default())
        .await;
    let _ = conn.close(0, "done".into()).await;
    out
}
