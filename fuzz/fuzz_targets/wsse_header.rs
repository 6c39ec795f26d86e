//! WS-Security (hub_soap::wsse) through its public entry points: a SOAP request's
//! `Security` header checked by `Guard::check`, HTTP Basic by `Guard::check_basic`, the
//! `WSSE_USERS` text by `Credentials::parse`. Refusals are fine, panics are not. The
//! first byte picks which, and the Content-Type.
//!
//! The replay cache is reached only by a token that authenticates; its pool points at a
//! closed local port, so that rare input answers a ServerError fault quickly.
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
    xml::Limits,
};

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
});

static GUARD: LazyLock<Guard> = LazyLock::new(|| {
    RUNTIME.block_on(async {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .acquire_timeout(Duration::from_millis(20))
            .connect_lazy("postgres://fuzz@127.0.0.1:9/fuzz")
            .expect("lazy pool");
        let settings = Settings {
            mode: Mode::Required,
            users: Arc::new(Credentials::parse("WSSE_USERS", "svc:s3cret,other:x").expect("users")),
            max_skew: Duration::from_secs(86_400),
            allow_text_over_http: true,
        };
        settings
            .guard(pool, None, Arc::new(ProxyTrust::default()))
            .expect("a guard when the mode is not off")
    })
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let guard = &*GUARD;
    let peer: Option<SocketAddr> = Some(([127, 0, 0, 1], 40000).into());
    match selector % 4 {
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
        // A SOAP 1.1 or 1.2 request with (or without) a Security header.
        version => {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(if version == 2 {
                    "text/xml; charset=utf-8"
                } else {
                    "application/soap+xml; charset=utf-8"
                }),
            );
            let Ok(request) =
                envelope::parse_understanding(rest, &headers, &Limits::default(), wsse::UNDERSTOOD)
            else {
                return;
            };
            if let Err(fault) = RUNTIME.block_on(guard.check(&request, &headers, peer)) {
                let _ = fault.into_response();
            }
        }
    }
});
