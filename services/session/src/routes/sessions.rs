//! `/api/sessions`: the caller's own session document.

use axum::{
    Json,
    extract::{FromRequestParts, Path, State},
    http::{StatusCode, request::Parts},
    response::{IntoResponse, Response},
};
use hub_runtime::http::json_body::{
    FromJsonObject, JsonBody, JsonBodyError, JsonObject, NotAnObject,
};
use mongodb::bson::Bson;
use serde_json::{Value, json};

use crate::{
    error::{ApiError, ApiResult},
    routes::caller::{Caller, CallerFailures},
    state::AppState,
    store::sessions::{SessionDoc, SessionJson, SetText},
};

/// Deepest `data` accepted (BSON allows 100 levels; the margin is for our own nesting).
const MAX_DEPTH: usize = 64;

hub_runtime::error_responses! {
    /// What the routes of `/api/sessions/{userId}` may answer besides their own rows.
    pub OwnSessionFailures(super::Message): CallerFailures {
        403 => "No token provided",
        404 => "Session not found: the caller has none, or the path is not the caller's own id",
    }
}

/// `POST /api/sessions` body.
#[derive(utoipa::ToSchema)]
pub struct CreateSession {
    /// Any JSON value, stored as the session's `data` (replacing the old one); `{}` if
    /// missing. Keys must not start with `$` or hold `.` or NUL; at most 64 levels deep.
    data: Option<serde_json::Value>,
}

impl FromJsonObject for CreateSession {
    type Error = ApiError;
    const FIELDS: &'static str = "data";

    fn from_object(mut object: JsonObject) -> ApiResult<Self> {
        Ok(Self {
            data: object.remove("data"),
        })
    }
}

/// `PUT /api/sessions/{userId}` body.
#[derive(utoipa::ToSchema)]
pub struct UpdateSession {
    /// Only `text` is read.
    #[schema(nullable = false)]
    data: Option<UpdateSessionData>,
}

/// `data` of `UpdateSession`.
#[derive(utoipa::ToSchema)]
pub struct UpdateSessionData {
    /// Stored as `data.text` when truthy (JavaScript's rules); else nothing changes.
    text: Option<serde_json::Value>,
}

impl FromJsonObject for UpdateSession {
    type Error = ApiError;
    const FIELDS: &'static str = "data";

    /// A `data` that is not an object has no `text`.
    fn from_object(mut object: JsonObject) -> ApiResult<Self> {
        let data = match object.remove("data") {
            Some(Value::Object(mut data)) => Some(UpdateSessionData {
                text: data.remove("text"),
            }),
            _ => None,
        };
        Ok(Self { data })
    }
}

/// A body as `express.json()` read it: only a JSON content type is parsed (any other
/// body is ignored, as there); an empty body is no body, and an array has no fields;
/// malformed JSON, or a top-level value that is neither an object nor an array, is a
/// 400 (the original answered an HTML page with a stack trace).
impl JsonBodyError for ApiError {
    fn not_an_object(why: NotAnObject, _fields: &str) -> Option<Self> {
        match why {
            NotAnObject::NotJson | NotAnObject::Empty | NotAnObject::Array => None,
            NotAnObject::Malformed => Some(Self::BadRequest("Malformed JSON body".into())),
            NotAnObject::Scalar => Some(Self::BadRequest(
                "Request body must be a JSON object".into(),
            )),
        }
    }
}

/// The caller, once the path's `{userId}` is its own (404 otherwise, as a missing
/// session): checked before the body is read.
pub struct Owner(Caller);

impl FromRequestParts<AppState> for Owner {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let caller = Caller::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Path(user_id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        caller
            .must_own(&user_id)
            .map_err(IntoResponse::into_response)?;
        Ok(Self(caller))
    }
}

/// The answer of `POST /api/sessions` and `PUT /api/sessions/{userId}` (fields in the
/// original's order).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SessionMessage {
    /// `Session created` or `Session updated`.
    message: &'static str,
    /// The session after the change.
    session: SessionJson,
}

/// The answer of `GET /api/sessions/verify` (fields in the original's order).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SessionValid {
    /// `Session is valid`.
    message: &'static str,
    /// The caller's id.
    #[serde(rename = "userId")]
    user_id: String,
    /// The caller's session.
    session: SessionJson,
}

/// `POST /api/sessions` `{"data": <any>}`: creates the caller's session (201
/// `{"message":"Session created","session"}`) or replaces its data (200
/// `{"message":"Session updated","session"}`). A missing `data` stores `{}`.
#[utoipa::path(
    post,
    path = "/api/sessions",
    security(("bearer" = [])),
    request_body(
        content = CreateSession,
        content_type = "application/json",
        description = "A body not declared as JSON, or none, is ignored (as express.json() did) and stores `{}`",
    ),
    responses(
        (status = 200, description = "Session updated (data replaced)", body = SessionMessage),
        (status = 201, description = "Session created", body = SessionMessage),
        (status = 400, description = "Malformed JSON, or data MongoDB cannot store", body = super::Message),
        CallerFailures,
    )
)]
#[tracing::instrument(name = "session.upsert", skip_all, fields(user.id = %caller.user_id))]
pub async fn create_or_update(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(req): JsonBody<CreateSession>,
) -> ApiResult<(StatusCode, Json<SessionMessage>)> {
    let data = req.data.unwrap_or_else(|| json!({}));
    let (doc, created) = state
        .sessions
        .upsert(&caller.key(), to_bson(&data)?)
        .await?;
    let (status, message) = if created {
        (StatusCode::CREATED, "Session created")
    } else {
        (StatusCode::OK, "Session updated")
    };
    Ok((
        status,
        Json(SessionMessage {
            message,
            session: SessionJson::from(doc),
        }),
    ))
}

/// `GET /api/sessions/verify`: 200 `{"message":"Session is valid","userId","session"}`
/// when the token is valid and the caller has a session, else 404.
#[utoipa::path(
    get,
    path = "/api/sessions/verify",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The token is valid and the caller has a session", body = SessionValid),
        (status = 404, description = "Session not found", body = super::Message),
        CallerFailures,
    )
)]
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<SessionValid>> {
    let doc = session_of(&state, &caller).await?;
    Ok(Json(SessionValid {
        message: "Session is valid",
        user_id: caller.key(),
        session: SessionJson::from(doc),
    }))
}

/// `GET /api/sessions/{userId}`: the caller's session, as the original rendered it.
#[utoipa::path(
    get,
    path = "/api/sessions/{userId}",
    security(("bearer" = [])),
    params(("userId" = String, Path, description = "The caller's own user id (anything else ⇒ 404, as a missing session)")),
    responses(
        (status = 200, description = "The caller's session", body = SessionJson),
        OwnSessionFailures,
    )
)]
pub async fn read(
    State(state): State<AppState>,
    Owner(caller): Owner,
) -> ApiResult<Json<SessionJson>> {
    Ok(Json(session_of(&state, &caller).await?.into()))
}

/// The caller's session; 404 when it has none.
async fn session_of(state: &AppState, caller: &Caller) -> ApiResult<SessionDoc> {
    state
        .sessions
        .find(&caller.key())
        .await?
        .ok_or(ApiError::SessionNotFound)
}

/// `PUT /api/sessions/{userId}` `{"data":{"text": <value>}}`: sets `data.text` when
/// the value is truthy (as the original's `data.text || session.data.text`) and, unlike
/// the original, stores it. 200 `{"message":"Session updated","session"}`.
#[utoipa::path(
    put,
    path = "/api/sessions/{userId}",
    security(("bearer" = [])),
    params(("userId" = String, Path, description = "The caller's own user id (anything else ⇒ 404, as a missing session)")),
    request_body(
        content = UpdateSession,
        content_type = "application/json",
        description = "Without a truthy `data.text` (or without a JSON body) the session is answered unchanged",
    ),
    responses(
        (status = 200, description = "Session updated", body = SessionMessage),
        (status = 400, description = "Malformed JSON, or a text MongoDB cannot store", body = super::Message),
        (status = 409, description = "The stored data is not an object, so it has no text to set", body = super::Message),
        OwnSessionFailures,
    )
)]
#[tracing::instrument(name = "session.update", skip_all, fields(user.id = %caller.user_id))]
pub async fn update(
    State(state): State<AppState>,
    Owner(caller): Owner,
    JsonBody(req): JsonBody<UpdateSession>,
) -> ApiResult<Json<SessionMessage>> {
    let text = req.data.and_then(|data| data.text).filter(truthy);
    let doc = match text {
        None => state.sessions.find(&caller.key()).await?,
        Some(text) => match state
            .sessions
            .set_text(&caller.key(), to_bson(&text)?)
            .await?
        {
            SetText::Updated(doc) => Some(*doc),
            SetText::NotFound => None,
            SetText::NotAnObject => return Err(ApiError::DataNotAnObject),
        },
    }
    .ok_or(ApiError::SessionNotFound)?;
    Ok(Json(SessionMessage {
        message: "Session updated",
        session: SessionJson::from(doc),
    }))
}

/// `DELETE /api/sessions/{userId}`: 200 `{"message":"Session deleted"}` or 404.
#[utoipa::path(
    delete,
    path = "/api/sessions/{userId}",
    security(("bearer" = [])),
    params(("userId" = String, Path, description = "The caller's own user id (anything else ⇒ 404, as a missing session)")),
    responses(
        (status = 200, description = "`{\"message\":\"Session deleted\"}`", body = super::Message),
        OwnSessionFailures,
    )
)]
#[tracing::instrument(name = "session.delete", skip_all, fields(user.id = %caller.user_id))]
pub async fn delete(State(state): State<AppState>, Owner(caller): Owner) -> ApiResult<Json<Value>> {
    if state.sessions.delete(&caller.key()).await? == 0 {
        return Err(ApiError::SessionNotFound);
    }
    Ok(Json(json!({ "message": "Session deleted" })))
}

/// JavaScript truthiness, for the original's `data.text || session.data.text`.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// Client data as BSON, refusing what MongoDB would reject or misread: keys starting
/// with `$`, containing `.` or NUL, nesting deeper than [`MAX_DEPTH`], integers beyond
/// 64 bits.
fn to_bson(v: &Value) -> ApiResult<Bson> {
    check_keys(v, 0)?;
    mongodb::bson::to_bson(v)
        .map_err(|_| ApiError::BadRequest("data holds a number MongoDB cannot store".into()))
}

fn check_keys(v: &Value, depth: usize) -> ApiResult<()> {
    if depth > MAX_DEPTH {
        return Err(ApiError::BadRequest(format!(
            "data is nested deeper than {MAX_DEPTH} levels"
        )));
    }
    match v {
        Value::Object(obj) => {
            for (k, child) in obj {
                if k.starts_with('$') || k.contains('.') || k.contains('\0') {
                    return Err(ApiError::BadRequest(
                        "data keys must not start with $ or contain . or NUL".into(),
                    ));
                }
                check_keys(child, depth + 1)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(|i| check_keys(i, depth + 1)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use axum::http::{HeaderMap, HeaderValue, header};

    use super::*;

    /// The `data` a `POST` reads from `body`, in the object it came in.
    fn json_body(headers: &HeaderMap, body: &[u8]) -> ApiResult<Option<Value>> {
        let declared = hub_runtime::http::declares_json(headers);
        let req: CreateSession = hub_runtime::http::json_body::read(declared, body)?;
        Ok(req.data.map(|data| json!({ "data": data })))
    }

    fn json_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h
    }

    #[test]
    fn bodies_are_read_as_express_json_did() {
        let h = json_headers();
        assert!(json_body(&h, b"{").is_err());
        assert!(json_body(&h, b"42").is_err());
        assert_eq!(json_body(&h, b"").unwrap(), None);
        assert_eq!(
            json_body(&h, br#"{"data":1}"#).unwrap(),
            Some(json!({"data":1}))
        );
        assert_eq!(json_body(&HeaderMap::new(), b"{").unwrap(), None);
    }

    #[test]
    fn truthiness_follows_javascript() {
        for v in [json!(null), json!(false), json!(0), json!(0.0), json!("")] {
            assert!(!truthy(&v), "{v}");
        }
        for v in [json!(true), json!(1), json!("x"), json!([]), json!({})] {
            assert!(truthy(&v), "{v}");
        }
    }

    #[test]
    fn data_mongodb_would_reject_is_a_bad_request() {
        assert!(to_bson(&json!({"$where": 1})).is_err());
        assert!(to_bson(&json!({"a": {"b.c": 1}})).is_err());
        assert!(to_bson(&json!([{"x\u{0}": 1}])).is_err());
        assert!(to_bson(&json!(u64::MAX)).is_err());
        let mut deep = json!(1);
        for _ in 0..=MAX_DEPTH {
            deep = json!([deep]);
        }
        assert!(to_bson(&deep).is_err());
        assert!(to_bson(&json!({"text": "hi", "list": [1, {"k": null}]})).is_ok());
    }
}
