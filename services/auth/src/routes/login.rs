//! `POST /login`.

use std::net::{IpAddr, SocketAddr};

use axum::{
    Json,
    body::Bytes,
    extract::{ConnectInfo, State},
    http::{HeaderMap, header},
};
use hub_events::{
    catalogue::{UserLoggedIn, UserLoginFailed},
    outbox,
};
use hub_identity::password::Verification;
use hub_runtime::http::RequestId;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::{
    error::{ApiError, ApiResult},
    state::AppState,
    store::{throttle, users},
};

/// `POST /login` body.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documentation only: the handler parses the body itself, for precise errors
pub struct LoginRequest {
    /// Username or email.
    username: String,
    /// The password.
    password: String,
}

/// `POST /login` answer.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documentation only: the handler answers with `json!`
pub struct TokenResponse {
    /// HS256 JWT with `user_id`, `username`, `exp`, `iat`.
    token: String,
}

/// Logs a user in by username or email; answers `{"token"}` or 401.
///
/// Every attempt records an event in the outbox (`UserLoggedIn` in the same
/// transaction as a legacy-hash upgrade, or `UserLoginFailed`), so the broker's state
/// never affects the answer or its latency.
#[utoipa::path(
    post,
    path = "/login",
    request_body(content = LoginRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 400, description = "Malformed body or missing field", body = super::Message),
        (status = 401, description = "Invalid credentials", body = super::Message),
        (status = 415, description = "Body not declared as JSON", body = super::Message),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = super::Message),
        (status = 503, description = "Database unavailable", body = super::Message),
    )
)]
#[tracing::instrument(name = "login", skip_all)]
pub async fn login(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let (login, password) = credentials(&headers, &body)?;

    // Throttle before any hashing: a blocked key costs one indexed read.
    let address = client_address(&headers, peer, state.throttle.trust_forwarded_for);
    let user_key = throttle_user_key(&login);
    let addr_key = format!("addr:{address}");
    {
        let mut conn = state.pool.acquire().await?;
        if let Some(secs) =
            throttle::blocked_for(&mut conn, &[user_key.clone(), addr_key.clone()]).await?
        {
            tracing::info!(retry_after = secs, "login throttled");
            return Err(ApiError::TooManyAttempts(secs));
        }
    }

    // PostgreSQL text cannot hold NUL, so such a login names no user; skip the query
    // (it would fail) but not the hashing work.
    let user = if login.contains('\0') {
        None
    } else {
        let mut conn = state.pool.acquire().await?;
        users::find_by_login(&mut conn, &login).await?
    };

    let stored = user.as_ref().map(|u| u.password.clone());
    let pw = password.clone();
    let verdict = state
        .hashing
        .run(move |h| h.verify(pw.expose_secret(), stored.as_deref()))
        .await?;

    match (verdict, user) {
        (Verification::Valid { needs_rehash }, Some(user)) => {
            let upgrade = needs_rehash && state.rehash_on_login;
            let upgraded = if upgrade {
                Some(
                    state
                        .hashing
                        .run(move |h| h.hash(password.expose_secret()))
                        .await?,
                )
            } else {
                None
            };
            let token = state
                .jwt
                .sign(&state.jwt.claims_for(user.id, &user.username))
                .map_err(|e| ApiError::Internal(e.into()))?;

            let mut tx = state.pool.begin().await?;
            if let Some(new_hash) = upgraded
                && !users::replace_password(&mut tx, user.id, &user.password, &new_hash).await?
            {
                tracing::debug!("password changed concurrently; upgrade skipped");
            }
            let event = UserLoggedIn {
                user_id: user.id,
                username: user.username,
                email: user.email,
            };
            outbox::enqueue(&mut tx, &state.queue, &event, Some(&request_id)).await?;
            throttle::clear(&mut tx, &user_key).await?;
            tx.commit().await?;
            tracing::info!(user.id = %user.id, password.upgraded = upgrade, "login succeeded");
            Ok(Json(json!({ "token": token })))
        }
        _ => {
            // Counters and event commit together: a failure is counted iff it is recorded.
            let mut tx = state.pool.begin().await?;
            throttle::record_failure(&mut tx, &user_key, state.throttle.per_user).await?;
            throttle::record_failure(&mut tx, &addr_key, state.throttle.per_address).await?;
            let event = UserLoginFailed {
                username: login,
                reason: "Invalid credentials",
            };
            outbox::enqueue(&mut tx, &state.queue, &event, Some(&request_id)).await?;
            tx.commit().await?;
            tracing::info!("login failed");
            Err(ApiError::InvalidCredentials)
        }
    }
}

/// The throttle key of a login: a digest of the lower-cased name, so any input (NUL,
/// 60 KB of text) makes a short valid key and the table holds no usernames.
fn throttle_user_key(login: &str) -> String {
    use sha2::Digest;
    format!(
        "user:{}",
        hex::encode(sha2::Sha256::digest(login.to_lowercase().as_bytes()))
    )
}

/// The client's address: the peer, or the first `X-Forwarded-For` entry when the
/// deployment says a proxy sets it.
fn client_address(headers: &HeaderMap, peer: SocketAddr, trust_forwarded_for: bool) -> IpAddr {
    if trust_forwarded_for
        && let Some(ip) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|first| first.trim().parse::<IpAddr>().ok())
    {
        return ip;
    }
    peer.ip()
}

/// Reads `{"username", "password"}`, with a clear 4xx for every way it can be wrong.
fn credentials(headers: &HeaderMap, body: &[u8]) -> ApiResult<(String, SecretString)> {
    if !is_json(headers) {
        return Err(ApiError::NotJson);
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::BadRequest("Malformed JSON body".into()))?;
    let Value::Object(mut obj) = value else {
        return Err(ApiError::BadRequest(
            "Request body must be a JSON object with username and password".into(),
        ));
    };
    let mut field = |name: &str| match obj.remove(name) {
        None | Some(Value::Null) => Err(ApiError::BadRequest(format!("Missing field: {name}"))),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ApiError::BadRequest(format!(
            "Field {name} must be a string"
        ))),
    };
    let username = field("username")?;
    let password = field("password")?;
    Ok((username, SecretString::from(password)))
}

/// Flask's `is_json`: `application/json` or `application/*+json`, any parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn json_headers(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        h
    }

    fn err(headers: &HeaderMap, body: &str) -> String {
        credentials(headers, body.as_bytes())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn every_malformed_body_gets_a_specific_message() {
        let h = json_headers("application/json");
        assert_eq!(err(&h, "{"), "Malformed JSON body");
        assert_eq!(err(&h, ""), "Malformed JSON body");
        assert_eq!(
            err(&h, "null"),
            "Request body must be a JSON object with username and password"
        );
        assert_eq!(
            err(&h, "[]"),
            "Request body must be a JSON object with username and password"
        );
        assert_eq!(err(&h, r#"{"password":"x"}"#), "Missing field: username");
        assert_eq!(
            err(&h, r#"{"username":null,"password":"x"}"#),
            "Missing field: username"
        );
        assert_eq!(err(&h, r#"{"username":"u"}"#), "Missing field: password");
        assert_eq!(
            err(&h, r#"{"username":1,"password":"x"}"#),
            "Field username must be a string"
        );
        assert_eq!(
            err(&h, r#"{"username":"u","password":["x"]}"#),
            "Field password must be a string"
        );
    }

    #[test]
    fn content_type_must_be_json() {
        assert_eq!(
            err(&HeaderMap::new(), "{}"),
            "Content-Type must be application/json"
        );
        assert_eq!(
            err(&json_headers("text/plain"), "{}"),
            "Content-Type must be application/json"
        );
        let ok = r#"{"username":"u","password":"p"}"#.as_bytes();
        assert!(credentials(&json_headers("application/json; charset=utf-8"), ok).is_ok());
        assert!(credentials(&json_headers("Application/JSON"), ok).is_ok());
        assert!(credentials(&json_headers("application/vnd.api+json"), ok).is_ok());
    }
}
