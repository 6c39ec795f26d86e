//! `hub-icount N [ENDPOINT...]`: each benchmarked endpoint's requests sent straight to its
//! service's own router, in-process, for an instruction count (bench/icount.sh runs it
//! under callgrind; bench/README.md, "Instructions per request").
//!
//! Each service is built as it serves (`Service::connect`, then
//! [`hub_runtime::service::router`]: its routes, the probes and the shared HTTP layers) on
//! one current-thread tokio runtime, with its background tasks (relays, consumers,
//! samplers, pruners) never started, against the real backing servers named by the
//! environment (bench/icount.sh gives it a throwaway database, MongoDB database and
//! bucket). It seeds one user, its token, its session and one image, then per endpoint
//! sends a warm-up, and then N requests through `tower::ServiceExt::oneshot` (no sockets)
//! inside [`icount_window`], the one function callgrind counts in
//! (`--toggle-collect`), with a dump before and after each call. Before each window it prints
//! `window ID LABEL`, so the dumps can be named in order; after it, the window's wall time.
//! Every answer's status is checked: a wrong one stops the run (exit 1).

use std::{net::SocketAddr, process::ExitCode, time::Instant};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::ConnectInfo,
    http::{Request, StatusCode, header},
};
use hub_runtime::{
    config::{Env, ProcessEnv},
    service::{self, Service, Settings},
    telemetry,
};
use tokio::runtime::Runtime;
use tower::ServiceExt as _;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The peer every request comes from (the server loop sets it from the socket).
const PEER: ([u8; 4], u16) = ([127, 0, 0, 1], 40_000);
/// The seeded user.
const USER: &str = "bench_login";
const PASSWORD: &str = "bench-password";
/// A multipart boundary for the uploads.
const BOUNDARY: &str = "hubicountboundary";

/// The endpoints, in the order they are measured: (id, label as bench/run.sh names it).
const ENDPOINTS: [(&str, &str); 8] = [
    ("login", "auth POST /login"),
    ("register", "user-soap POST /register"),
    ("lookup_get", "user-lookup GET /user/soap"),
    ("lookup_soap", "user-lookup POST /user/soap (SOAP)"),
    ("session_post", "session POST /api/sessions"),
    ("last_connection", "connected GET /last-connection"),
    ("list_images", "images GET /list_images"),
    ("upload_image", "images POST /upload_image (64×64 PNG)"),
];

type Answer = Result<(StatusCode, Bytes), String>;

/// Sends `req` to `router` and reads the whole answer.
async fn send(router: &Router, mut req: Request<Body>) -> Answer {
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(PEER)));
    let Ok(resp) = router.clone().oneshot(req).await;
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .map_err(|e| format!("reading an answer: {e}"))?;
    Ok((status, body))
}

/// The measured requests, and only them: callgrind counts instructions from its entry to
/// its return (`--toggle-collect`) and dumps before and after it. Not
/// generic and never inlined, so it is one symbol the options can name.
#[inline(never)]
fn icount_window(rt: &Runtime, router: &Router, requests: Vec<Request<Body>>) -> Vec<Answer> {
    rt.block_on(async {
        let mut answers = Vec::with_capacity(requests.len());
        for req in requests {
            answers.push(send(router, req).await);
        }
        answers
    })
}

/// A service's settings: the environment, with `PORT` its own default.
fn settings<S: Service>() -> Result<Settings<S::Config>, String> {
    Settings::<S::Config>::from_source(&ProcessEnv as &dyn Env, S::PORT)
        .map_err(|e| format!("{}: {e}", S::NAME))
}

/// `S` built as it serves, without its background tasks: its whole router.
async fn build<S: Service>() -> Result<Router, String> {
    let settings = settings::<S>()?;
    let state = S::connect(&settings.service)
        .await
        .map_err(|e| format!("{}: {e:#}", S::NAME))?;
    let local = SocketAddr::from(([127, 0, 0, 1], S::PORT));
    Ok(service::router(&state, &settings, local))
}

fn request(method: &str, uri: &str, content_type: Option<&str>, body: Body) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(ct) = content_type {
        builder = builder.header(header::CONTENT_TYPE, ct);
    }
    builder.body(body).unwrap_or_default()
}

fn with_token(mut req: Request<Body>, token: &str) -> Request<Body> {
    if let Ok(v) = format!("Bearer {token}").parse() {
        req.headers_mut().insert(header::AUTHORIZATION, v);
    }
    req
}

/// The registration of `username` (SOAP, as bench/wrk/register.lua sends it); `tag`
/// makes the DNI and e-mail unique.
fn register(username: &str, tag: &str) -> Request<Body> {
    let body = format!(
        r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:user="http://example.com/user"><soapenv:Body><user:RegisterUser><user:username>{username}</user:username><user:password>{PASSWORD}</user:password><user:first_name>Bench</user:first_name><user:last_name>Mark</user:last_name><user:dni>{tag}</user:dni><user:email>{tag}@bench.example.com</user:email><user:city>Bench</user:city></user:RegisterUser></soapenv:Body></soapenv:Envelope>"#
    );
    request(
        "POST",
        "/register",
        Some("text/xml; charset=utf-8"),
        Body::from(body),
    )
}

fn login() -> Request<Body> {
    let body = format!(r#"{{"username":"{USER}","password":"{PASSWORD}"}}"#);
    request("POST", "/login", Some("application/json"), Body::from(body))
}

fn upload(name: &str, png: &[u8], token: &str) -> Request<Body> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(png);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    with_token(
        request("POST", "/upload_image", Some(&ct), Body::from(body)),
        token,
    )
}

/// A small deterministic PNG (64 × 64 gradient).
fn png() -> Result<Vec<u8>, String> {
    let img = image::RgbImage::from_fn(64, 64, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 4) as u8, ((x + y) * 2) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

/// One seeding request that must answer with a success; its body.
async fn seed(router: &Router, req: Request<Body>, what: &str) -> Result<Bytes, String> {
    let (status, body) = send(router, req).await?;
    if !status.is_success() {
        return Err(format!(
            "seeding ({what}): {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    Ok(body)
}

fn json_field(body: &[u8], key: &str) -> Result<String, String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    match &v[key] {
        serde_json::Value::String(s) => Ok(s.clone()),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        _ => Err(format!("no {key} in {v}")),
    }
}

struct Routers {
    auth: Router,
    user_soap: Router,
    user_lookup: Router,
    session: Router,
    connected: Router,
    images: Router,
}

/// What the endpoints need: the user, a token, its session, one image.
struct Seeded {
    token: String,
    image_name: String,
    png: Vec<u8>,
}

async fn prepare() -> Result<(Routers, Seeded), String> {
    let routers = Routers {
        auth: build::<auth::Auth>().await?,
        user_soap: build::<user_soap::UserSoap>().await?,
        user_lookup: build::<user_lookup::UserLookup>().await?,
        session: build::<session::Session>().await?,
        connected: build::<connected::Connected>().await?,
        images: build::<images::Images>().await?,
    };
    seed(&routers.user_soap, register(USER, "bench0"), "register").await?;
    let body = seed(&routers.auth, login(), "login").await?;
    let token = json_field(&body, "token")?;
    let profile = with_token(request("GET", "/profile", None, Body::empty()), &token);
    let body = seed(&routers.auth, profile, "profile").await?;
    let user_id = json_field(&body, "user_id")?;
    seed(
        &routers.session,
        with_token(session_post(), &token),
        "session",
    )
    .await?;
    let png = png()?;
    let image_name = format!("{user_id}.png");
    seed(&routers.images, upload(&image_name, &png, &token), "upload").await?;
    Ok((
        routers,
        Seeded {
            token,
            image_name,
            png,
        },
    ))
}

fn session_post() -> Request<Body> {
    request(
        "POST",
        "/api/sessions",
        Some("application/json"),
        Body::from(r#"{"data":{"theme":"dark"}}"#),
    )
}

/// Endpoint `id`'s router, its `i`-th request and the status it must answer.
fn endpoint<'r>(
    id: &str,
    r: &'r Routers,
    s: &Seeded,
    i: usize,
) -> Result<(&'r Router, Request<Body>, StatusCode), String> {
    let lookup_soap = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><w:getUserByUsername xmlns:w="http://www.example.org/webservice"><w:username>bench_login</w:username></w:getUserByUsername></s:Body></s:Envelope>"#;
    Ok(match id {
        "login" => (&r.auth, login(), StatusCode::OK),
        // Fixed-width names: every request the same size, run after run.
        "register" => (
            &r.user_soap,
            register(&format!("icr{i:06}"), &format!("icr{i:06}")),
            StatusCode::OK,
        ),
        "lookup_get" => (
            &r.user_lookup,
            request(
                "GET",
                &format!("/user/soap?username={USER}"),
                None,
                Body::empty(),
            ),
            StatusCode::OK,
        ),
        "lookup_soap" => (
            &r.user_lookup,
            request(
                "POST",
                "/user/soap",
                Some("text/xml; charset=utf-8"),
                Body::from(lookup_soap),
            ),
            StatusCode::OK,
        ),
        "session_post" => (
            &r.session,
            with_token(session_post(), &s.token),
            StatusCode::OK,
        ),
        "last_connection" => (
            &r.connected,
            request(
                "GET",
                &format!("/last-connection?username={USER}"),
                None,
                Body::empty(),
            ),
            StatusCode::OK,
        ),
        "list_images" => (
            &r.images,
            request("GET", "/list_images", None, Body::empty()),
            StatusCode::OK,
        ),
        // The owner replaces its own image.
        "upload_image" => (
            &r.images,
            upload(&s.image_name, &s.png, &s.token),
            StatusCode::OK,
        ),
        _ => return Err(format!("unknown endpoint {id}")),
    })
}

fn check(id: &str, answers: Vec<Answer>, expect: StatusCode) -> Result<(), String> {
    for answer in answers {
        let (status, body) = answer?;
        if status != expect {
            return Err(format!(
                "{id}: {status}, expected {expect}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
    }
    Ok(())
}

fn run(args: &[String]) -> Result<(), String> {
    let n: usize = args
        .first()
        .and_then(|a| a.parse().ok())
        .filter(|&n| n > 0)
        .ok_or("usage: hub-icount N [ENDPOINT...]")?;
    let chosen: Vec<&str> = if args.len() > 1 {
        args[1..].iter().map(String::as_str).collect()
    } else {
        ENDPOINTS.iter().map(|(id, _)| *id).collect()
    };
    for id in &chosen {
        if !ENDPOINTS.iter().any(|(e, _)| e == id) {
            return Err(format!("unknown endpoint {id}"));
        }
    }
    let warmup = (n / 10).max(5);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let (routers, seeded) = rt.block_on(async {
        telemetry::init(telemetry::LogFormat::from_env(), "hub-icount");
        prepare().await
    })?;
    let mut next = 0usize; // register's running index: every name new
    for id in chosen {
        let expect = endpoint(id, &routers, &seeded, 0)?.2;
        let router = endpoint(id, &routers, &seeded, 0)?.0;
        let mut batch = |count: usize| -> Result<Vec<Request<Body>>, String> {
            (0..count)
                .map(|_| {
                    next += 1;
                    endpoint(id, &routers, &seeded, next).map(|(_, req, _)| req)
                })
                .collect()
        };
        let warm = batch(warmup)?;
        let measured = batch(n)?;
        let answers = rt.block_on(async {
            let mut answers = Vec::new();
            for req in warm {
                answers.push(send(router, req).await);
            }
            answers
        });
        check(id, answers, expect)?;
        let label = ENDPOINTS
            .iter()
            .find(|(e, _)| *e == id)
            .map_or(id, |(_, label)| label);
        println!("window {id} {label}");
        let started = Instant::now();
        let answers = icount_window(&rt, router, measured);
        let took = started.elapsed();
        check(id, answers, expect)?;
        println!("done {id} n={n} wall_ms={}", took.as_millis());
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hub-icount: {e}");
            ExitCode::FAILURE
        }
    }
}
