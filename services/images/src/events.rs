//! The `images-events` consumer: a `UserDeleted` deletes the user's objects
//! (`<user_id>.<ext>` and everything under `<user_id>/`; [`Store::delete_user_objects`]).
//!
//! The generic machinery (reconnect, ack after the work, retries, dead-lettering) is
//! `hub_events::consumer`, as for session and notifications; this is only what a message
//! means here. Deleting what is already gone deletes nothing, so a redelivered event is
//! harmless: idempotent without remembering message ids.

use hub_events::{
    catalogue::UserDeleted,
    consumer::{HandleError, Handled, Handler, Message},
};
use serde::Deserialize;
use serde_json::Value;

use crate::store::{Store, StoreError};

/// The originals' envelope, `{"event","data","timestamp"}`.
#[derive(Debug, Deserialize)]
struct Envelope {
    event: String,
    #[serde(default)]
    data: Value,
}

/// Reads a message: the deleted user's id, `Ok(None)` for events this consumer ignores,
/// `Err` for poison.
pub fn parse(body: &[u8]) -> Result<Option<String>, HandleError> {
    let envelope: Envelope = serde_json::from_slice(body)
        .map_err(|e| HandleError::Poison(format!("not an event envelope: {e}")))?;
    if envelope.event != "UserDeleted" {
        return Ok(None);
    }
    let data: UserDeleted = serde_json::from_value(envelope.data)
        .map_err(|e| HandleError::Poison(format!("UserDeleted data has the wrong shape: {e}")))?;
    Ok(Some(data.user_id.to_string()))
}

/// Applies `UserDeleted` to the bucket; acks every other event unread.
#[derive(Clone)]
pub struct DeletionApplier {
    /// The bucket.
    pub store: Store,
}

impl Handler for DeletionApplier {
    async fn handle(&self, message: &Message) -> Result<Handled, HandleError> {
        let Some(user_id) = parse(&message.body)? else {
            return Ok(Handled::Skipped);
        };
        match self.store.delete_user_objects(&user_id).await {
            Ok(deleted) => {
                tracing::info!(user.id = %user_id, deleted, "deleted user's images removed");
                Ok(Handled::Processed)
            }
            Err(e @ StoreError::Unavailable(_)) => Err(HandleError::Unavailable(e.to_string())),
            Err(e) => Err(HandleError::Failed(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The next release's producers may add fields and event types during a rolling
    /// upgrade (docs/ARCHITECTURE.md, "Upgrades"): neither is dead-lettered.
    #[test]
    fn a_newer_releases_fields_and_event_types_are_read_or_ignored() {
        let body = br#"{"event":"UserDeleted","version":2,"data":{"user_id":"6f1c2e9b-1e8a-4012-8456-789abcdef012","by_admin":"7b3e3c5e-8a51-4c55-a1b5-3c1b0f1b2d9e"},"timestamp":"2025-07-05T23:40:01+00:00","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}"#;
        assert_eq!(
            parse(body).unwrap().as_deref(),
            Some("6f1c2e9b-1e8a-4012-8456-789abcdef012")
        );
        let unknown = br#"{"event":"ImagesPurged","data":{"user_id":"6f1c2e9b-1e8a-4012-8456-789abcdef012","count":3}}"#;
        assert_eq!(parse(unknown).unwrap(), None);
    }

    #[test]
    fn user_deleted_is_read_other_events_ignored_and_broken_ones_are_poison() {
        let body = br#"{"event":"UserDeleted","data":{"user_id":"6f1c2e9b-1e8a-4012-8456-789abcdef012"},"timestamp":"2025-07-05T23:40:01.123456+00:00"}"#;
        assert_eq!(
            parse(body).unwrap().as_deref(),
            Some("6f1c2e9b-1e8a-4012-8456-789abcdef012")
        );
        assert_eq!(parse(br#"{"event":"TestEvent","data":{}}"#).unwrap(), None);
        for body in [
            &b"not json"[..],
            br#"{"event":"UserDeleted","data":{"user_id":"../x"}}"#,
            br#"{"event":"UserDeleted"}"#,
        ] {
            assert!(matches!(parse(body), Err(HandleError::Poison(_))));
        }
    }
}
