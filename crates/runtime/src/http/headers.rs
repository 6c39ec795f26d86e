//! Reading the request headers several services need, one way for all of them.

use axum::http::{HeaderMap, header};

/// The media type of `headers`' Content-Type: lower-cased, without parameters.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|media| media.trim().to_ascii_lowercase())
}

/// Whether `headers` declare a JSON body: `application/json` or `application/*+json`,
/// any parameters (Flask's `is_json`, `express.json()`'s default type).
pub fn declares_json(headers: &HeaderMap) -> bool {
    media_type(headers).is_some_and(|media| {
        media == "application/json"
            || (media.starts_with("application/") && media.ends_with("+json"))
    })
}

/// The token of `Authorization: Bearer <token>`: the scheme in any case (RFC 9110
/// §11.1), the token trimmed; `None` when the header is absent, not text, of another
/// scheme or empty. (auth keeps its original's stricter legacy rule on `/profile`.)
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn json_is_application_json_or_a_json_suffix_whatever_the_case_and_parameters() {
        let with = |ct: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            h
        };
        assert!(declares_json(&with("application/json")));
        assert!(declares_json(&with("Application/JSON; charset=utf-8")));
        assert!(declares_json(&with("application/vnd.api+json")));
        assert!(!declares_json(&with("text/json")));
        assert!(!declares_json(&with("text/plain")));
        assert!(!declares_json(&HeaderMap::new()));
        assert_eq!(
            media_type(&with(" Text/XML ; charset=utf-8")).as_deref(),
            Some("text/xml")
        );
    }
}
