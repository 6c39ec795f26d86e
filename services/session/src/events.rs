//! The `auth-events` consumer: a `UserLoggedIn` records the login in the user's session,
//! a `UserDeleted` deletes the user's session documents.
//!
//! The generic machinery (reconnect, ack after the write, retries, dead-lettering) is
//! `hub_events::consumer`; this is only what a message means here.

use chrono::{DateTime, Utc};
use hub_events::{
    catalogue::{UserDeleted, UserLoggedIn},
    consumer::{HandleError, Handled, Handler, Message},
};
use serde::Deserialize;
use serde_json::Value;

use crate::store::sessions::Sessions;

/// The originals' envelope, `{"event","data","timestamp"}`.
#[derive(Debug, Deserialize)]
struct Envelope {
    event: String,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    timestamp: Option<String>,
}

/// Applies `UserLoggedIn` and `UserDeleted` to the sessions collection; acks every other
/// event unread (`UserLoginFailed`, `TestEvent`, anything added later).
#[derive(Debug, Clone)]
pub struct LoginRecorder {
    /// Where sessions live.
    pub sessions: Sessions,
    /// PostgreSQL: whether a login's user still exists once its session is written.
    pub pool: sqlx::PgPool,
}

/// What a message asks of session.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    /// `UserLoggedIn`: record the login.
    Login(Login),
    /// `UserDeleted`: delete the user's session documents (by `userId`).
    Deleted(String),
}

/// What a `UserLoggedIn` message says: whose login, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Login {
    /// The user's id, as the session's `userId`.
    pub user_id: String,
    /// The event's `timestamp`.
    pub at: DateTime<Utc>,
}

/// Reads a message: `Ok(None)` for events this consumer ignores, `Err` for poison.
pub fn parse(body: &[u8]) -> Result<Option<SessionEvent>, HandleError> {
    let envelope: Envelope = serde_json::from_slice(body)
        .map_err(|e| HandleError::Poison(format!("not an event envelope: {e}")))?;
    if envelope.event == "UserDeleted" {
        let data: UserDeleted = serde_json::from_value(envelope.data).map_err(|e| {
            HandleError::Poison(format!("UserDeleted data has the wrong shape: {e}"))
        })?;
        return Ok(Some(SessionEvent::Deleted(data.user_id.to_string())));
    }
    if envelope.event != "UserLoggedIn" {
        return Ok(None);
    }
    let data: UserLoggedIn = serde_json::from_value(envelope.data)
        .map_err(|e| HandleError::Poison(format!("UserLoggedIn data has the wrong shape: {e}")))?;
    // Python's isoformat() with an offset is RFC 3339 (with or without microseconds).
    let at = envelope
        .timestamp
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .ok_or_else(|| {
            HandleError::Poison("UserLoggedIn timestamp missing or not ISO-8601 with offset".into())
        })?
        .with_timezone(&Utc);
    Ok(Some(SessionEvent::Login(Login {
        user_id: data.user_id.to_string(),
        at,
    })))
}

fn store_error(e: &crate::store::StoreError) -> HandleError {
    if e.is_unavailable() {
        HandleError::Unavailable(e.to_string())
    } else {
        HandleError::Failed(e.to_string())
    }
}

impl LoginRecorder {
    /// Deletes every session document of `user_id` (idempotent: a redelivery deletes
    /// nothing more).
    async fn forget(&self, user_id: &str) -> Result<u64, HandleError> {
        self.sessions
            .delete(user_id)
            .await
            .map_err(|e| store_error(&e))
    }

    /// Whether `user_id` is still in `"user"`.
    async fn exists(&self, user_id: &str) -> Result<bool, HandleError> {
        let Ok(id) = user_id.parse::<uuid::Uuid>() else {
            return Ok(false);
        };
        match hub_identity::revocation::standing(&self.pool, id, None).await {
            Ok(standing) => Ok(standing.is_some()),
            Err(e) if hub_db::is_unavailable(&e) => Err(HandleError::Unavailable(e.to_string())),
            Err(e) => Err(HandleError::Failed(e.to_string())),
        }
    }
}

impl Handler for LoginRecorder {
    async fn handle(&self, message: &Message) -> Result<Handled, HandleError> {
        let login = match parse(&message.body)? {
            None => return Ok(Handled::Skipped),
            Some(SessionEvent::Deleted(user_id)) => {
                let deleted = self.forget(&user_id).await?;
                tracing::info!(user.id = %user_id, deleted, "deleted user's sessions removed");
                return Ok(Handled::Processed);
            }
            Some(SessionEvent::Login(login)) => login,
        };
        // A login racing the account's deletion: its event may arrive after the
        // `UserDeleted` was applied. Written first, checked after: either this check sees
        // the user gone and removes the session, or the deletion commits after it, and its
        // `UserDeleted`, applied later, removes it.
        let recorded = self
            .sessions
            .record_login(&login.user_id, login.at, &message.id)
            .await;
        if !self.exists(&login.user_id).await? {
            self.forget(&login.user_id).await?;
            tracing::info!(user.id = %login.user_id, "login of a deleted user: session removed");
            return Ok(Handled::Skipped);
        }
        match recorded {
            Ok(true) => {
                tracing::info!(user.id = %login.user_id, "login recorded in session");
                Ok(Handled::Processed)
            }
            Ok(false) => {
                tracing::debug!(user.id = %login.user_id, "login event already applied");
                Ok(Handled::Skipped)
            }
            Err(e) => Err(store_error(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_user_logged_in_from_auth_is_read_with_its_python_timestamp() {
        let body = br#"{"event": "UserLoggedIn", "data": {"user_id": "6f1c2e9b-1e8a-4012-8456-789abcdef012", "username": "ana", "email": "a@x"}, "timestamp": "2025-07-05T23:40:01.123456+00:00"}"#;
        let Some(SessionEvent::Login(login)) = parse(body).unwrap() else {
            panic!("a login")
        };
        assert_eq!(login.user_id, "6f1c2e9b-1e8a-4012-8456-789abcdef012");
        assert_eq!(login.at.to_rfc3339(), "2025-07-05T23:40:01.123456+00:00");
        // Python omits the fraction on a whole second.
        let body = br#"{"event":"UserLoggedIn","data":{"user_id":"6f1c2e9b-1e8a-4012-8456-789abcdef012","username":"a","email":"e"},"timestamp":"2025-07-05T23:40:01+00:00"}"#;
        assert!(parse(body).unwrap().is_some());
    }

    /// A rolling upgrade runs this consumer beside producers of the next release
    /// (docs/ARCHITECTURE.md, "Upgrades"): the fields and event types they add must
    /// neither stop an event it knows nor dead-letter one it does not.
    #[test]
    fn a_newer_releases_fields_and_event_types_are_read_or_ignored() {
        let login = br#"{"event":"UserLoggedIn","version":2,"data":{"user_id":"6f1c2e9b-1e8a-4012-8456-789abcdef012","username":"a","email":"e","roles":["admin"],"address":"192.0.2.1","method":"passkey"},"timestamp":"2025-07-05T23:40:01+00:00","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}"#;
        assert!(matches!(parse(login), Ok(Some(SessionEvent::Login(_)))));
        let deleted = br#"{"event":"UserDeleted","data":{"user_id":"6f1c2e9b-1e8a-4012-8456-789abcdef012","by_admin":true},"timestamp":"2025-07-05T23:40:01+00:00"}"#;
        assert!(matches!(parse(deleted), Ok(Some(SessionEvent::Deleted(_)))));
        let unknown = br#"{"event":"UserRenamed","data":{"user_id":"6f1c2e9b-1e8a-4012-8456-789abcdef012","username":"b"},"timestamp":"2025-07-05T23:40:01+00:00"}"#;
        assert_eq!(parse(unknown).unwrap(), None);
    }

    #[test]
    fn other_events_are_ignored_and_broken_ones_are_poison() {
        let failed = br#"{"event":"UserLoginFailed","data":{"username":null,"reason":"Invalid credentials"},"timestamp":"2025-07-05T23:40:01.1+00:00"}"#;
        assert_eq!(parse(failed).unwrap(), None);
        let deleted = br#"{"event":"UserDeleted","data":{"user_id":"6f1c2e9b-1e8a-4012-8456-789abcdef012"},"timestamp":"2025-07-05T23:40:01.1+00:00"}"#;
        assert_eq!(
            parse(deleted).unwrap(),
            Some(SessionEvent::Deleted(
                "6f1c2e9b-1e8a-4012-8456-789abcdef012".into()
            ))
        );
        for body in [
            &b"not json"[..],
            br#"{"data":{}}"#,
            br#"[1]"#,
            br#"{"event":"UserDeleted","data":{"user_id":"nope"}}"#,
            br#"{"event":"UserLoggedIn","data":{"user_id":"nope","username":"a","email":"e"},"timestamp":"2025-07-05T23:40:01+00:00"}"#,
            br#"{"event":"UserLoggedIn","data":{"user_id":"6f1c2e9b-1e8a-4012-8456-789abcdef012","username":"a","email":"e"}}"#,
            br#"{"event":"UserLoggedIn","data":{"user_id":"6f1c2e9b-1e8a-4012-8456-789abcdef012","username":"a","email":"e"},"timestamp":"2025-07-05T23:40:01"}"#,
        ] {
            assert!(matches!(parse(body), Err(HandleError::Poison(_))), "{}", String::from_utf8_lossy(body));
        }
    }
}
