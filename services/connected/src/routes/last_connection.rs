//! `GET /last-connection?username=`: when the user last logged in.

use axum::{
    Json,
    extract::{Query, State},
};
use chrono::{SecondsFormat, Utc};
use hub_runtime::http::Failure;
use serde::Serialize;

use crate::{
    error::{ApiError, ApiResult},
    relative_time,
    state::AppState,
    store,
};

/// The answer: the original's two keys, then the instant itself.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LastConnection {
    /// The user's id.
    #[serde(rename = "userId")]
    #[schema(format = Uuid)]
    pub user_id: String,
    /// moment's `fromNow()` words, e.g. "5 minutes ago".
    #[serde(rename = "lastConnection")]
    pub last_connection: String,
    /// The instant, RFC 3339 in UTC with milliseconds (what the words are made from).
    #[serde(rename = "lastConnectionAt")]
    #[schema(format = DateTime)]
    pub last_connection_at: String,
}

/// The one `username` value. Missing or empty is the original's 400; a repeated
/// parameter is refused too, rather than guessing which one the caller meant (the
/// original passed both to pg as an array, and proxies may read the other one).
fn username(params: &[(String, String)]) -> ApiResult<&str> {
    let mut values = params.iter().filter(|(k, _)| k == "username");
    match (values.next(), values.next()) {
        (Some(_), Some(_)) => Err(ApiError::RepeatedUsername),
        (Some((_, v)), None) if !v.is_empty() => Ok(v),
        _ => Err(ApiError::MissingUsername),
    }
}

/// 200 `{"userId","lastConnection","lastConnectionAt"}`; 400 without a username; 404
/// for an unknown user or one without sessions; 503 when a database is down.
#[utoipa::path(
    get,
    path = "/last-connection",
    params(("username" = String, Query, description = "The user's username, exactly once")),
    responses(
        (status = 200, description = "When the user last logged in", body = LastConnection),
        (status = 400, description = "`Username must be provided.` (missing or empty) or `Username must be provided only once.`", body = super::ErrorBody),
        (status = 404, description = "`User not found.` or `No sessions found for this user.`", body = super::ErrorBody),
        (status = 500, description = "`An internal server error occurred.`", body = super::ErrorBody),
        (status = 503, description = "PostgreSQL or MongoDB unavailable: `Service temporarily unavailable.`", body = super::ErrorBody),
    )
)]
pub async fn last_connection(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
) -> ApiResult<Json<LastConnection>> {
    let name = username(&params)?;
    // PostgreSQL text cannot hold NUL (the query would fail): nobody has such a name.
    let user_id = if name.contains('\0') {
        None
    } else {
        store::users::find_id(&state.pool, name).await?
    }
    .ok_or(ApiError::UserNotFound)?;
    let user_id = user_id.to_string();
    let session = tokio::time::timeout(
        state.mongo_timeout,
        store::sessions::latest(&state.sessions, &user_id),
    )
    .await
    .map_err(|_| Failure::Unavailable(anyhow::anyhow!("MongoDB query timed out")))??;
    let at = session
        .and_then(|s| s.last_connection())
        .ok_or(ApiError::NoSessions)?;
    Ok(Json(LastConnection {
        user_id,
        last_connection: relative_time::from_now(at, Utc::now()),
        last_connection_at: at.to_rfc3339_opts(SecondsFormat::Millis, true),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_username_must_be_there_once_and_not_empty() {
        assert_eq!(username(&params(&[("username", "ana")])).ok(), Some("ana"));
        assert_eq!(
            username(&params(&[("x", "1"), ("username", " ")])).ok(),
            Some(" ")
        );
        assert!(matches!(
            username(&params(&[])),
            Err(ApiError::MissingUsername)
        ));
        assert!(matches!(
            username(&params(&[("username", "")])),
            Err(ApiError::MissingUsername)
        ));
        assert!(matches!(
            username(&params(&[("username", "a"), ("username", "b")])),
            Err(ApiError::RepeatedUsername)
        ));
        assert!(matches!(
            username(&params(&[("username", ""), ("username", "b")])),
            Err(ApiError::RepeatedUsername)
        ));
    }
}
