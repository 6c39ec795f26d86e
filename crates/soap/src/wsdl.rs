//! Serving a checked-in WSDL with its address set to the public URL.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use hub_config::{ConfigError, Vars};

/// The base URL the checked-in WSDL files use in their `*:address location`s. The
/// served copy replaces it, and only it, with the public base URL.
pub const PLACEHOLDER_BASE: &str = "http://localhost:0";

/// `PUBLIC_BASE_URL`: the base written into served WSDLs, when configured.
pub fn configured_base(vars: &Vars<'_>) -> Result<Option<String>, ConfigError> {
    match vars.string("PUBLIC_BASE_URL") {
        Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => Err(
            ConfigError::invalid("PUBLIC_BASE_URL", "must start with http:// or https://"),
        ),
        other => Ok(other),
    }
}

/// The public base URL for addresses: the configured one, else derived from the
/// request (`X-Forwarded-Proto`/`X-Forwarded-Host` from a proxy, else `Host`). A host
/// header with anything but host-name characters is ignored, so a crafted header
/// cannot inject markup into the WSDL.
pub fn public_base(configured: Option<&str>, headers: &HeaderMap, fallback_host: &str) -> String {
    if let Some(base) = configured {
        return base.trim_end_matches('/').to_owned();
    }
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or("").trim().to_owned())
    };
    let sane_host = |h: &String| {
        !h.is_empty()
            && h.len() <= 255
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
    };
    let host = get("x-forwarded-host")
        .filter(sane_host)
        .or_else(|| get("host").filter(sane_host))
        .unwrap_or_else(|| fallback_host.to_owned());
    let scheme = match get("x-forwarded-proto").as_deref() {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

/// Where a service's served WSDL says it lives: `PUBLIC_BASE_URL` when configured, else
/// what each request's headers say (see [`public_base`]), else the bound address.
#[derive(Debug, Clone)]
pub struct Address {
    configured: Option<Arc<str>>,
    local_host: Arc<str>,
}

impl Address {
    /// `configured` is [`configured_base`]'s answer; `local` the bound address.
    pub fn new(configured: Option<&str>, local: SocketAddr) -> Self {
        Self {
            configured: configured.map(Into::into),
            local_host: local.to_string().into(),
        }
    }

    /// `200 text/xml`: `template` addressed to this request's public base.
    pub fn serve(&self, template: &str, headers: &HeaderMap) -> Response {
        let base = public_base(self.configured.as_deref(), headers, &self.local_host);
        response(template, &base)
    }
}

/// The WSDL `template` with its placeholder base replaced by `base`.
pub fn render(template: &str, base: &str) -> String {
    template.replace(PLACEHOLDER_BASE, &crate::xml::escape(base))
}

/// `200 text/xml` with the rendered WSDL.
pub fn response(template: &str, base: &str) -> Response {
    (
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        render(template, base),
    )
        .into_response()
}

/// Whether the query string asks for the WSDL (`?wsdl`, `?WSDL`, `?wsdl=`).
pub fn is_wsdl_query(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&').any(|p| {
            p.split('=')
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case("wsdl"))
        })
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_public_base_comes_from_config_then_proxy_then_host() {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("svc:5002"));
        assert_eq!(
            public_base(Some("https://api.example.com/"), &h, "x"),
            "https://api.example.com"
        );
        assert_eq!(public_base(None, &h, "x"), "http://svc:5002");
        h.insert(
            "x-forwarded-host",
            HeaderValue::from_static("api.example.com"),
        );
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert_eq!(public_base(None, &h, "x"), "https://api.example.com");
        let mut evil = HeaderMap::new();
        evil.insert("host", HeaderValue::from_static("a\"><x/>"));
        assert_eq!(
            public_base(None, &evil, "127.0.0.1:5002"),
            "http://127.0.0.1:5002"
        );
    }

    #[test]
    fn only_the_placeholder_is_replaced() {
        let t = r#"<soap:address location="http://localhost:0/register"/><x>http://other</x>"#;
        assert_eq!(
            render(t, "https://h"),
            r#"<soap:address location="https://h/register"/><x>http://other</x>"#
        );
    }

    #[test]
    fn wsdl_queries_are_recognised() {
        assert!(is_wsdl_query(Some("wsdl")));
        assert!(is_wsdl_query(Some("WSDL")));
        assert!(is_wsdl_query(Some("a=1&wsdl=")));
        assert!(!is_wsdl_query(Some("username=wsdl")));
        assert!(!is_wsdl_query(None));
    }
}
