//! All database access of the session service; handlers hold no queries.

pub mod sessions;

use std::time::Duration;

/// A MongoDB failure, or an operation that outlived its bound.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The driver's error.
    #[error("MongoDB: {0}")]
    Mongo(#[from] mongodb::error::Error),
    /// No answer within the operation bound.
    #[error("MongoDB did not answer within {0:?}")]
    TimedOut(Duration),
    /// An upsert asked for the document after the write and got none (a bug).
    #[error("upsert returned no document")]
    UpsertReturnedNothing,
    /// A stored document does not have the sessions schema.
    #[error("malformed session document: {0}")]
    Malformed(#[from] mongodb::bson::de::Error),
}

impl StoreError {
    /// True when MongoDB is down or unreachable (the edge answers 503).
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Mongo(e) => hub_mongo::is_unavailable(e),
            Self::TimedOut(_) => true,
            Self::Malformed(_) | Self::UpsertReturnedNothing => false,
        }
    }
}
