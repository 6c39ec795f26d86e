//! WS-Security (hub_soap::wsse) through its public entry points: a SOAP request's
//! `Security` header checked by `Guard::check`, HTTP Basic by `Guard::check_basic`, the
//! `WSSE_USERS` text by `Credentials::parse`. Refusals are fine, panics are not. The
//! first byte picks which, and the Content-Type.
//!
//! The replay cache is reached only by a token that authenticates; here it is a store that
//! says every nonce is new (the PostgreSQL one is tested against a real server in the
//! services' tests), so such input goes on through the rest of the check.
#![no_main]

use std::{
    net::SocketAddr,
    sync::{Arc, LazyLock},
    time::Duration,
};

use axum::{
    http::{HeaderMap, HeaderValue, header},
    response::IntoResponse as _,
};
use hub_runtime::http::client_ip::ProxyTrust;
use hub_soap::{
    envelope,
    wsse::{self, Credentials, Guard, Mode, Settings},
    xml::{self, Limits},
};

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
});

static GUARD: LazyLock<Guard> = LazyLock::new(|| {
    RUNTIME.block_on(async {
        let settings = Settings {
            mode: Mode::Required,
            users: Arc::new(Credentials::parse("WSSE_USERS", "svc:s3cret,other:x").expect("users")),
            max_skew: Duration::from_secs(86_400),
            allow_text_over_http: true,
        };
        settings
            .guard(
                Arc::new(EveryNonceNew),
                None,
                Arc::new(ProxyTrust::default()),
            )
            .expect("a guard when the mode is not off")
    })
});

/// A replay cache in which every nonce is a first use.
struct EveryNonceNew;

impl wsse::NonceStore for EveryNonceNew {
    fn first_use<'a>(
        &'a self,
        _username: &'a str,
        _nonce: &'a [u8],
        _until: chrono::DateTime<chrono::Utc>,
    ) -> wsse::BoxFuture<'a, Result<bool, hub_soap::ServerError>> {
        Box::pin(async { Ok(true) })
    }

    fn prune_task(
        &self,
        _margin: Duration,
        _shutdown: tokio_util::sync::CancellationToken,
    ) -> hub_runtime::service::Task {
        Box::pin(async {})
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let guard = &*GUARD;
    let peer: Option<SocketAddr> = Some(([127, 0, 0, 1], 40000).into());
    match selector % 5 {
        // HTTP Basic, the door without an envelope.
        0 => {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_bytes(rest) {
                headers.insert(header::AUTHORIZATION, value);
            }
            let _ = guard.check_basic(&headers, peer).map_err(|r| r.fault());
        }
        // The WSSE_USERS secret.
        1 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                let _ = Credentials::parse("WSSE_USERS", text);
            }
        }
        // A SOAP 1.1 request whose UsernameToken (and Timestamp) are made of the input's
        // fields, separated by NUL bytes: user, password, nonce, created, expires, type.
        4 => {
            let fields: Vec<&str> = rest
                .split(|b| *b == 0)
                .map(|f| std::str::from_utf8(f).unwrap_or(""))
                .collect();
            let field = |i: usize| xml::escape(fields.get(i).copied().unwrap_or(""));
            let kind = if field(5).len() % 2 == 0 {
                wsse::PASSWORD_TEXT
            } else {
                wsse::PASSWORD_DIGEST
            };
            let mut token = format!(
                "<wsse:UsernameToken><wsse:Username>{}</wsse:Username><wsse:Password Type=\"{kind}\">{}</wsse:Password>",
                field(0),
                field(1)
            );
            if !field(2).is_empty() {
                token += &format!("<wsse:Nonce>{}</wsse:Nonce>", field(2));
            }
            if !field(3).is_empty() {
                token += &format!("<wsu:Created>{}</wsu:Created>", field(3));
            }
            token += "</wsse:UsernameToken>";
            if !field(4).is_empty() {
                token += &format!(
                    "<wsu:Timestamp><wsu:Created>{}</wsu:Created><wsu:Expires>{}</wsu:Expires></wsu:Timestamp>",
                    field(3),
                    field(4)
                );
            }
            let body = format!(
                "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Header><wsse:Security xmlns:wsse=\"{}\" xmlns:wsu=\"{}\">{token}</wsse:Security></s:Header><s:Body><u:Op xmlns:u=\"urn:u\"/></s:Body></s:Envelope>",
                wsse::WSSE_NS,
                wsse::WSU_NS
            );
            check_envelope(guard, body.as_bytes(), "text/xml; charset=utf-8", peer);
        }
        // A SOAP 1.1 or 1.2 request with (or without) a Security header.
        version => {
            let content_type = if version == 2 {
                "text/xml; charset=utf-8"
            } else {
                "application/soap+xml; charset=utf-8"
            };
            check_envelope(guard, rest, content_type, peer);
        }
    }
});

/// Parses `body` as a request understanding `Security`, then lets the guard check it.
fn check_envelope(
    guard: &Guard,
    body: &[u8],
    content_type: &'static str,
    peer: Option<SocketAddr>,
) {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let Ok(request) =
        envelope::parse_understanding(body, &headers, &Limits::default(), wsse::UNDERSTOOD)
    else {
        return;
    };
    if let Err(fault) = RUNTIME.block_on(guard.check(&request, &headers, peer)) {
        let _ = fault.into_response();
    }
}
