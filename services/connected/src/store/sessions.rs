//! The `sessions` collection (MongoDB), written by the session service, read here.

use chrono::{DateTime, Utc};
use mongodb::{
    Collection,
    bson::{Bson, Document, doc},
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

/// `{$ifNull}` would take a non-date too; this takes the first field that is a date.
fn first_date(fields: &[&str]) -> Bson {
    let branches: Vec<Bson> = fields
        .iter()
        .map(|f| {
            Bson::Document(doc! {
                "case": { "$eq": [{ "$type": format!("${f}") }, "date"] },
                "then": format!("${f}"),
            })
        })
        .collect();
    Bson::Document(doc! { "$switch": { "branches": branches, "default": Bson::Null } })
}

/// The user's most recent session by [`Session::last_connection`], if any has a
/// timestamp. Legacy data may hold several documents per user (the original had no
/// unique index), and a plain `find` cannot sort by "this field, else that one", so
/// this is one aggregation: the `userId` match (indexed by the session service), the
/// sort key computed per document, sort, limit 1.
pub async fn latest(
    sessions: &Collection<Session>,
    user_id: &str,
) -> Result<Option<Session>, mongodb::error::Error> {
    let key = first_date(&["lastLoginAt", "updatedAt", "createdAt"]);
    let pipeline: [Document; 6] = [
        doc! { "$match": { "userId": user_id } },
        // Only what is read: `data` may be large and is never needed here.
        doc! { "$project": { "_id": 0, "userId": 1, "lastLoginAt": 1, "updatedAt": 1, "createdAt": 1 } },
        doc! { "$addFields": { "_lastConnection": key } },
        doc! { "$match": { "_lastConnection": { "$type": "date" } } },
        doc! { "$sort": { "_lastConnection": -1 } },
        doc! { "$limit": 1 },
    ];
    let mut cursor = sessions.aggregate(pipeline).with_type::<Session>().await?;
    if cursor.advance().await? {
        Ok(Some(cursor.deserialize_current()?))
    } else {
        Ok(None)
    }
}
