//! The `sessions` collection (MongoDB), written by the session service, read here.

use chrono::{DateTime, Utc};
use mongodb::{
    Collection,
    bson::{Bson, doc},
};
use serde::{Deserialize, Deserializer};

/// The collection's name (Mongoose's plural of the original's `Session` model).
pub const COLLECTION: &str = "sessions";

/// A session document, as far as this service reads it. The original session service
/// wrote `{_id, userId, data, createdAt, updatedAt, __v}`; the port adds `lastLoginAt`,
/// set at every login. A field that is missing or not a BSON date reads as `None`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Session {
    /// The user's id (`"user".id` as a string; the JWT's `user_id`).
    #[serde(rename = "userId")]
    pub user_id: String,
    /// When the user last logged in (only documents written by the port have it).
    #[serde(rename = "lastLoginAt", default, deserialize_with = "date_or_none")]
    pub last_login_at: Option<DateTime<Utc>>,
    /// When the document last changed (Mongoose `timestamps`; the original updated
    /// the document at every login).
    #[serde(rename = "updatedAt", default, deserialize_with = "date_or_none")]
    pub updated_at: Option<DateTime<Utc>>,
    /// When the document was created: the user's first login.
    #[serde(rename = "createdAt", default, deserialize_with = "date_or_none")]
    pub created_at: Option<DateTime<Utc>>,
}

impl Session {
    /// When this session last saw its user log in: `lastLoginAt`, else `updatedAt`,
    /// else `createdAt`.
    pub fn last_connection(&self) -> Option<DateTime<Utc>> {
        self.last_login_at.or(self.updated_at).or(self.created_at)
    }
}

fn date_or_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(match Bson::deserialize(d)? {
        Bson::DateTime(t) => DateTime::from_timestamp_millis(t.timestamp_millis()),
        _ => None,
    })
}

/// At most this many documents are read for one user. The session service keeps one
/// per user (unique index); legacy data may hold a few duplicates, never thousands.
const MAX_DOCUMENTS: i64 = 1000;

/// The user's most recent session by [`Session::last_connection`], if any has a
/// timestamp. Legacy data may hold several documents per user (the original had no
/// unique index), and a `find` cannot sort by "this field, else that one", so the
/// user's documents (normally one) are read with only the date fields and the latest
/// is picked here. An aggregation computing the key in MongoDB did the same work with
/// 30-55 % less throughput (bench/results/2026-11-26.md, "Fixes").
pub async fn latest(
    sessions: &Collection<Session>,
    user_id: &str,
) -> Result<Option<Session>, mongodb::error::Error> {
    let mut cursor = sessions
        .find(doc! { "userId": user_id })
        // Only what is read: `data` may be large and is never needed here.
        .projection(
            doc! { "_id": 0, "userId": 1, "lastLoginAt": 1, "updatedAt": 1, "createdAt": 1 },
        )
        .limit(MAX_DOCUMENTS)
        .await?;
    let mut latest: Option<Session> = None;
    while cursor.advance().await? {
        let session = cursor.deserialize_current()?;
        if let Some(at) = session.last_connection()
            && latest
                .as_ref()
                .and_then(Session::last_connection)
                .is_none_or(|best| at > best)
        {
            latest = Some(session);
        }
    }
    Ok(latest)
}
