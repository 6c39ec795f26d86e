//! A handler takes [`JsonBody<T>`]: `T` is the body type its OpenAPI document names,
//! built from the object field by field ([`FromJsonObject`]); the service's error type
//! answers a body that is not a JSON object ([`JsonBodyError`]). Every status and text
//! stays the service's (`Missing field: x`, `Invalid x: is required`, ...), which
//! serde's messages would not be.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value};

use super::headers::declares_json;

/// A JSON object, as [`FromJsonObject::from_object`] receives it.
pub type JsonObject = Map<String, Value>;

/// Why a request body is not a JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAnObject {
    /// The Content-Type does not declare JSON ([`declares_json`]).
    NotJson,
    /// Declared as JSON, but empty or only white space.
    Empty,
    /// Declared as JSON, but not JSON.
    Malformed,
    /// A JSON array.
    Array,
    /// A JSON string, number, boolean or `null`.
    Scalar,
}

/// A service's error, as it answers a request body that is not a JSON object.
pub trait JsonBodyError: IntoResponse + Sized {
    /// The error for a body that is not a JSON object holding `fields` (for the text:
    /// `username and password`), or `None` to read the body as `{}` (as `express.json()`
    /// ignored a body not declared as JSON).
    fn not_an_object(why: NotAnObject, fields: &str) -> Option<Self>;
}

/// A request body type read from a JSON object, field by field.
pub trait FromJsonObject: Sized {
    /// The service's error.
    type Error: JsonBodyError;

    /// What the object holds, as error texts name it (`username and password`).
    const FIELDS: &'static str;

    /// The value read from `object`, with the service's error for a field that is wrong.
    fn from_object(object: JsonObject) -> Result<Self, Self::Error>;
}

/// Extractor: the request body read as a `T`. The body is read first (the body limit's
/// 413 comes before anything else), then [`read`].
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonBody<T>(pub T);

impl<T: FromJsonObject, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let declared_json = declares_json(req.headers());
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        read(declared_json, &body)
            .map(Self)
            .map_err(IntoResponse::into_response)
    }
}

/// Reads `body` as a `T`; `declared_json` is whether its Content-Type declares JSON
/// ([`declares_json`]). Anything but an object goes to [`JsonBodyError::not_an_object`].
///
/// A leading UTF-8 byte order mark is skipped, as both originals did (Python's
/// `json.loads` and Express's decoder drop it; RFC 8259 §8.1 lets a parser ignore it).
/// UTF-16 and UTF-32 bodies are malformed: JSON between systems is UTF-8 (RFC 8259
/// §8.1), and Express refused them too (declared in docs/COMPATIBILITY.md).
pub fn read<T: FromJsonObject>(declared_json: bool, body: &[u8]) -> Result<T, T::Error> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let why = if !declared_json {
        NotAnObject::NotJson
    } else if body.iter().all(u8::is_ascii_whitespace) {
        NotAnObject::Empty
    } else {
        match serde_json::from_slice(body) {
            Ok(Value::Object(object)) => return T::from_object(object),
            Ok(Value::Array(_)) => NotAnObject::Array,
            Ok(_) => NotAnObject::Scalar,
            Err(_) => NotAnObject::Malformed,
        }
    };
    match T::Error::not_an_object(why, T::FIELDS) {
        Some(error) => Err(error),
        None => T::from_object(JsonObject::new()),
    }
}

/// Why a field is not the string a body type requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldError {
    /// Absent or `null`.
    Missing,
    /// Of another type.
    NotAString,
}

/// The string field `name` of `object`.
pub fn string_field<'a>(object: &'a JsonObject, name: &str) -> Result<&'a str, FieldError> {
    match object.get(name) {
        None | Some(Value::Null) => Err(FieldError::Missing),
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(FieldError::NotAString),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Says what it got.
    #[derive(Debug, PartialEq)]
    struct Echo(JsonObject);

    impl FromJsonObject for Echo {
        type Error = NotAnObject;
        const FIELDS: &'static str = "a";

        fn from_object(object: JsonObject) -> Result<Self, NotAnObject> {
            Ok(Self(object))
        }
    }

    impl JsonBodyError for NotAnObject {
        fn not_an_object(why: NotAnObject, fields: &str) -> Option<Self> {
            assert_eq!(fields, "a");
            (why != NotAnObject::Array).then_some(why)
        }
    }

    impl IntoResponse for NotAnObject {
        fn into_response(self) -> Response {
            axum::http::StatusCode::BAD_REQUEST.into_response()
        }
    }

    #[test]
    fn only_a_declared_json_object_is_read_and_the_rest_says_why() {
        let got = |declared, body: &str| read::<Echo>(declared, body.as_bytes());
        assert_eq!(got(false, "{}"), Err(NotAnObject::NotJson));
        assert_eq!(got(true, " \n"), Err(NotAnObject::Empty));
        assert_eq!(got(true, "{"), Err(NotAnObject::Malformed));
        assert_eq!(got(true, "null"), Err(NotAnObject::Scalar));
        assert_eq!(
            got(true, "[1]"),
            Ok(Echo(JsonObject::new())),
            "read as {{}}"
        );
        let Ok(Echo(object)) = got(true, r#"{"a":"x","b":null,"c":1}"#) else {
            panic!("an object is read");
        };
        assert_eq!(string_field(&object, "a"), Ok("x"));
        assert_eq!(string_field(&object, "b"), Err(FieldError::Missing));
        assert_eq!(string_field(&object, "z"), Err(FieldError::Missing));
        assert_eq!(string_field(&object, "c"), Err(FieldError::NotAString));
    }

    #[test]
    fn a_utf8_byte_order_mark_is_skipped_and_utf16_is_malformed() {
        let Ok(Echo(object)) = read::<Echo>(true, b"\xEF\xBB\xBF{\"a\":\"x\"}") else {
            panic!("a body after a BOM is read");
        };
        assert_eq!(string_field(&object, "a"), Ok("x"));
        assert_eq!(read::<Echo>(true, b"\xEF\xBB\xBF"), Err(NotAnObject::Empty));
        let utf16: Vec<u8> = "\u{feff}{\"a\":\"x\"}"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(read::<Echo>(true, &utf16), Err(NotAnObject::Malformed));
    }
}
