//! The MongoDB `sessions` collection, in the original's document shape.
//!
//! One document per user, as the Express service wrote it with Mongoose
//! (`timestamps: true`, `versionKey`):
//! `{_id: ObjectId, userId: "<uuid>", data: <any>, createdAt: Date, updatedAt: Date, __v: 0}`.
//! We add `lastLoginAt` (Date, the latest `UserLoggedIn`, read by the connected service)
//! and `loginEventIds` (the ids of the last few applied login events, so a redelivered
//! event changes nothing). Every write is a single-document operation: compose runs
//! MongoDB standalone, without transactions.
//!
//! On a replica set each write carries the client's write concern
//! (`MONGODB_WRITE_CONCERN=majority`): a call returns only once the write is acknowledged
//! that way, so a session the client was told about survives a failover. The
//! single-document writes are retryable (the driver retries one once on the new
//! primary); `delete`'s `delete_many` is not (MongoDB retries no multi-document write):
//! during a failover it answers 503 and the client repeats the DELETE.

use std::{future::IntoFuture, time::Duration};

use chrono::{DateTime, SecondsFormat, Utc};
use mongodb::{
    Collection, IndexModel,
    bson::{self, Bson, Document, doc, oid::ObjectId},
    options::{IndexOptions, ReturnDocument},
};
use serde::{Deserialize, Serialize};

use super::StoreError;

/// The collection name (Mongoose's plural of the model `Session`).
pub const COLLECTION: &str = "sessions";

/// How many applied login event ids a document remembers. Redeliveries come within
/// seconds of the original; 20 covers far more logins than can race.
const REMEMBERED_EVENTS: i32 = 20;

/// A stored session, tolerant of legacy documents (any field but `userId` may be missing).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SessionDoc {
    /// `_id`, an ObjectId for every document Mongoose or we wrote.
    #[serde(rename = "_id")]
    pub id: Bson,
    /// `userId`: the JWT's `user_id`.
    #[serde(rename = "userId")]
    pub user_id: String,
    /// `data`: whatever the client stored.
    #[serde(default)]
    pub data: Option<Bson>,
    /// `createdAt`.
    #[serde(rename = "createdAt", default)]
    pub created_at: Option<bson::DateTime>,
    /// `updatedAt`.
    #[serde(rename = "updatedAt", default)]
    pub updated_at: Option<bson::DateTime>,
    /// `lastLoginAt`: the latest login reported by auth.
    #[serde(rename = "lastLoginAt", default)]
    pub last_login_at: Option<bson::DateTime>,
    /// `__v`: Mongoose's version key.
    #[serde(rename = "__v", default)]
    pub version: Option<Bson>,
}

/// A session as the original returned it (Mongoose `toJSON`): `_id` as a hex string,
/// dates as ISO-8601 with milliseconds and `Z`, absent fields left out.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Session)]
pub struct SessionJson {
    /// The document's ObjectId, 24 hex digits.
    #[serde(rename = "_id")]
    id: String,
    /// The owner's user id (the JWT's `user_id`).
    #[serde(rename = "userId")]
    user_id: String,
    /// Whatever the client stored (any JSON value).
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<serde_json::Value>,
    /// `2025-07-05T23:40:01.123Z`.
    #[serde(rename = "createdAt", skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime, nullable = false)]
    created_at: Option<String>,
    /// When `data` last changed, as `createdAt`.
    #[serde(rename = "updatedAt", skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime, nullable = false)]
    updated_at: Option<String>,
    /// The latest login reported by auth, as `createdAt`; absent before the first.
    #[serde(rename = "lastLoginAt", skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime, nullable = false)]
    last_login_at: Option<String>,
    /// Mongoose's version key, `0`.
    #[serde(rename = "__v", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>, nullable = false)]
    version: Option<serde_json::Value>,
}

/// `2025-07-05T23:40:01.123Z`, as JavaScript's `Date#toJSON`.
pub fn iso_millis(d: bson::DateTime) -> String {
    DateTime::<Utc>::from_timestamp_millis(d.timestamp_millis())
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

impl From<SessionDoc> for SessionJson {
    fn from(d: SessionDoc) -> Self {
        Self {
            id: match d.id {
                Bson::ObjectId(oid) => oid.to_hex(),
                Bson::String(s) => s,
                other => other.to_string(),
            },
            user_id: d.user_id,
            data: d.data.map(Bson::into_relaxed_extjson),
            created_at: d.created_at.map(iso_millis),
            updated_at: d.updated_at.map(iso_millis),
            last_login_at: d.last_login_at.map(iso_millis),
            version: d.version.map(Bson::into_relaxed_extjson),
        }
    }
}

/// What [`Sessions::ensure_unique_user_index`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexOutcome {
    /// The unique index exists (created now or before).
    Created,
    /// Several documents share a `userId` (the original had no index): not created.
    DuplicateUsers,
    /// An index on `userId` already exists under another name or with other options.
    OtherIndexExists,
}

/// The result of [`Sessions::set_text`].
#[derive(Debug)]
pub enum SetText {
    /// Stored; the document after the change.
    Updated(Box<SessionDoc>),
    /// The user has no session.
    NotFound,
    /// The stored `data` is a scalar or an array, which has no `text` to set.
    NotAnObject,
}

/// The `sessions` collection with a bound on every operation.
#[derive(Debug, Clone)]
pub struct Sessions {
    db: mongodb::Database,
    coll: Collection<SessionDoc>,
    timeout: Duration,
}

impl Sessions {
    /// Wraps `db.sessions`; `timeout` bounds each operation.
    pub fn new(db: &mongodb::Database, timeout: Duration) -> Self {
        Self {
            db: db.clone(),
            coll: db.collection(COLLECTION),
            timeout,
        }
    }

    /// The health check: `{ping: 1}` within the operation timeout (a failure is logged).
    pub async fn healthy(&self) -> bool {
        hub_mongo::healthy(&self.db, self.timeout).await
    }

    async fn bounded<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        F: IntoFuture<Output = Result<T, mongodb::error::Error>>,
    {
        match tokio::time::timeout(self.timeout, op.into_future()).await {
            Ok(res) => Ok(res?),
            Err(_) => Err(StoreError::TimedOut(self.timeout)),
        }
    }

    /// Creates the unique index on `userId` (idempotent). Legacy data can prevent it;
    /// the outcome says how, and the caller decides.
    pub async fn ensure_unique_user_index(&self) -> Result<IndexOutcome, StoreError> {
        let index = IndexModel::builder()
            .keys(doc! { "userId": 1 })
            .options(
                IndexOptions::builder()
                    .unique(true)
                    .name("userId_unique".to_owned())
                    .build(),
            )
            .build();
        // Building an index scans the collection: allow it more than one request's bound.
        match tokio::time::timeout(
            self.timeout * 12,
            self.coll.create_index(index).into_future(),
        )
        .await
        {
            Ok(Ok(_)) => Ok(IndexOutcome::Created),
            Ok(Err(e)) if hub_mongo::is_duplicate_key(&e) => Ok(IndexOutcome::DuplicateUsers),
            // IndexOptionsConflict / IndexKeySpecsConflict: someone already indexed userId
            // under another name or with other options.
            Ok(Err(e)) if matches!(hub_mongo::server_code(&e), Some(85 | 86)) => {
                Ok(IndexOutcome::OtherIndexExists)
            }
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(StoreError::TimedOut(self.timeout * 12)),
        }
    }

    /// The user's session.
    pub async fn find(&self, user_id: &str) -> Result<Option<SessionDoc>, StoreError> {
        self.bounded(self.coll.find_one(doc! { "userId": user_id }))
            .await
    }

    /// Creates the user's session with `data`, or replaces the data of the existing
    /// one. Returns the document and whether it was created.
    pub async fn upsert(
        &self,
        user_id: &str,
        data: Bson,
    ) -> Result<(SessionDoc, bool), StoreError> {
        let now = bson::DateTime::now();
        let doc = self
            .bounded(
                self.coll
                    .find_one_and_update(
                        doc! { "userId": user_id },
                        doc! {
                            "$set": { "data": data, "updatedAt": now },
                            "$setOnInsert": { "createdAt": now, "__v": 0 },
                        },
                    )
                    .upsert(true)
                    .return_document(ReturnDocument::After),
            )
            .await?
            .ok_or(StoreError::UpsertReturnedNothing)?;
        // `createdAt` is only written on insert, with this request's clock reading: equal
        // means this call created the document (two creations in the same millisecond
        // for the same user would both say "created", which is harmless).
        let created = doc.created_at == Some(now);
        Ok((doc, created))
    }

    /// Sets `data.text` (persisted: the original changed it in memory only). A session
    /// whose `data` is missing or null gets `data = {text}`.
    pub async fn set_text(&self, user_id: &str, text: Bson) -> Result<SetText, StoreError> {
        let now = bson::DateTime::now();
        // `$type` also matches array elements, so arrays are excluded explicitly.
        let not_array = doc! { "data": { "$not": { "$type": "array" } } };
        let attempts = [
            (
                doc! { "userId": user_id, "$and": [{ "data": { "$type": "object" } }, not_array.clone()] },
                doc! { "$set": { "data.text": text.clone(), "updatedAt": now } },
            ),
            (
                doc! {
                    "userId": user_id,
                    "$and": [
                        { "$or": [{ "data": { "$exists": false } }, { "data": { "$type": "null" } }] },
                        not_array,
                    ],
                },
                doc! { "$set": { "data": { "text": text }, "updatedAt": now } },
            ),
        ];
        for (filter, update) in attempts {
            let updated = self
                .bounded(
                    self.coll
                        .find_one_and_update(filter, update)
                        .return_document(ReturnDocument::After),
                )
                .await?;
            if let Some(doc) = updated {
                return Ok(SetText::Updated(Box::new(doc)));
            }
        }
        Ok(match self.find(user_id).await? {
            None => SetText::NotFound,
            Some(_) => SetText::NotAnObject,
        })
    }

    /// Deletes the user's session (every document for the user, should legacy data
    /// hold several). Returns how many were deleted.
    pub async fn delete(&self, user_id: &str) -> Result<u64, StoreError> {
        let res = self
            .bounded(self.coll.delete_many(doc! { "userId": user_id }))
            .await?;
        Ok(res.deleted_count)
    }

    /// Records a login: `lastLoginAt` becomes `at` unless a later login is already
    /// recorded, creating the session (`data: {}`) if the user has none. Idempotent on
    /// `event_id`: an event already applied changes nothing. Returns whether anything
    /// changed.
    pub async fn record_login(
        &self,
        user_id: &str,
        at: DateTime<Utc>,
        event_id: &str,
    ) -> Result<bool, StoreError> {
        let at = bson::DateTime::from_millis(at.timestamp_millis());
        let raw = self.coll.clone_with_type::<Document>();
        // Each step is one atomic single-document operation; a race with another
        // writer (a POST creating the session, another instance applying the same event)
        // sends us round again, and the unique index on userId stops double inserts.
        for _ in 0..3 {
            let now = bson::DateTime::now();
            let applied = self
                .bounded(raw.update_one(
                    doc! { "userId": user_id, "loginEventIds": { "$ne": event_id } },
                    doc! {
                        "$max": { "lastLoginAt": at },
                        "$set": { "updatedAt": now },
                        "$push": { "loginEventIds": { "$each": [event_id], "$slice": -REMEMBERED_EVENTS } },
                    },
                ))
                .await?;
            if applied.matched_count > 0 {
                return Ok(true);
            }
            let seen = self
                .bounded(
                    raw.count_documents(doc! { "userId": user_id, "loginEventIds": event_id })
                        .limit(1),
                )
                .await?;
            if seen > 0 {
                return Ok(false);
            }
            let inserted = tokio::time::timeout(
                self.timeout,
                raw.insert_one(doc! {
                    "_id": ObjectId::new(),
                    "userId": user_id,
                    "data": {},
                    "createdAt": now,
                    "updatedAt": now,
                    "lastLoginAt": at,
                    "loginEventIds": [event_id],
                    "__v": 0,
                })
                .into_future(),
            )
            .await
            .map_err(|_| StoreError::TimedOut(self.timeout))?;
            match inserted {
                Ok(_) => return Ok(true),
                Err(e) if hub_mongo::is_duplicate_key(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::TimedOut(self.timeout))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn documents_render_as_mongoose_to_json() {
        let oid = ObjectId::parse_str("665f1c2e9b1e8a0012345678").unwrap();
        let t = bson::DateTime::from_millis(1_751_758_801_123);
        let doc: SessionDoc = bson::from_document(doc! {
            "_id": oid, "userId": "u1", "data": { "text": "hi", "n": 3 },
            "createdAt": t, "updatedAt": t, "loginEventIds": ["x"], "__v": 0,
        })
        .unwrap();
        let json = serde_json::to_string(&SessionJson::from(doc)).unwrap();
        assert_eq!(
            json,
            r#"{"_id":"665f1c2e9b1e8a0012345678","userId":"u1","data":{"text":"hi","n":3},"createdAt":"2025-07-05T23:40:01.123Z","updatedAt":"2025-07-05T23:40:01.123Z","__v":0}"#
        );
    }

    #[test]
    fn legacy_documents_without_optional_fields_still_render() {
        let doc: SessionDoc =
            bson::from_document(doc! { "_id": ObjectId::new(), "userId": "u" }).unwrap();
        let json = serde_json::to_value(SessionJson::from(doc)).unwrap();
        assert_eq!(json["userId"], "u");
        assert!(json.get("data").is_none() && json.get("createdAt").is_none());
    }
}
