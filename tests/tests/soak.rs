//! Soak: the seven services as real processes under mixed load from concurrent clients
//! (register over SOAP, log in, look up, write a session, read the last connection,
//! upload and list avatars). Promises checked at the end: zero 5xx and zero transport
//! errors, zero lost or duplicated events (every registration stored once and mailed
//! once, by notifications through the backing SMTP server; every login recorded by the
//! session consumer), and no growth of any service's RSS after
//! the warm-up: the peak of the run's last half within 10 % (or 2 MiB, allocator noise on
//! a short run) of the peak of the half before it. Uploads cycle through four names per
//! client (`SOAK_UPLOAD_NAMES`), all stored once before the clock starts: `/list_images`
//! reads the whole bucket, and a bucket that grows all along makes images' memory grow
//! with it (docs/RELIABILITY.md, "images' memory"), which is not what this measures.
//!
//! CI runs it short (`SOAK_SECS`, default 10; `SOAK_CLIENTS`, default 8). Longer:
//! `scripts/soak.sh --minutes 10 --clients 32` prints the figures (docs/RELIABILITY.md).
//! It is load, so scripts/test.sh runs it alone, after the parallel tests.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use hub_testkit::{ServiceProcess, rss_kib, service_binary};
use mongodb::bson::doc;
use serde_json::{Value, json};
use uuid::Uuid;

const REGISTER: &str = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:u="http://example.com/user"><soapenv:Body><u:RegisterUser><u:username>{u}</u:username><u:password>pw {u}</u:password><u:first_name>Ana</u:first_name><u:last_name>Peña</u:last_name><u:dni>{u}</u:dni><u:email>{u}@example.com</u:email><u:city>Málaga</u:city></u:RegisterUser></soapenv:Body></soapenv:Envelope>"#;

/// A 1x1 PNG (images decodes every upload).
const PNG: &[u8] = hub_testkit::TINY_PNG;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Outcome counters: (endpoint, status class) → count.
#[derive(Default)]
struct Tally(std::sync::Mutex<BTreeMap<(String, String), u64>>);

impl Tally {
    fn add(&self, endpoint: &str, outcome: String) {
        *self
            .0
            .lock()
            .unwrap()
            .entry((endpoint.to_owned(), outcome))
            .or_default() += 1;
    }
}

async fn call(tally: &Tally, endpoint: &str, req: reqwest::RequestBuilder) -> Option<Value> {
    match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            tally.add(endpoint, status.to_string());
            let text = resp.text().await.unwrap_or_default();
            (status < 300).then(|| serde_json::from_str(&text).unwrap_or(Value::String(text)))
        }
        Err(e) => {
            tally.add(endpoint, format!("transport error: {e}"));
            None
        }
    }
}

#[tokio::test]
async fn mixed_load_on_every_service_loses_nothing_and_does_not_grow() {
    let secs = env_or("SOAK_SECS", 10);
    let clients = env_or("SOAK_CLIENTS", 8);
    // Names each client's uploads cycle through; 0: a new name every time, so the bucket
    // grows all along (to see what that does to images' memory).
    let upload_names = env_or("SOAK_UPLOAD_NAMES", 4);
    let db_url = hub_testkit::create_database("soak").await;
    let auth_queue = hub_testkit::queue_name("soak-auth");
    let user_queue = hub_testkit::queue_name("soak-user");
    let mongo_db = hub_testkit::mongo_database("soak");
    let bucket = hub_testkit::bucket_name("soak");
    let secret = format!("soak-secret-{}", Uuid::new_v4().simple());
    let (amqp, mongo_uri) = (hub_testkit::amqp_url(), hub_testkit::mongodb_uri());
    let s3 = hub_testkit::env("S3_ENDPOINT");
    let common = [
        ("DATABASE_URL", db_url.as_str()),
        ("SECRET_KEY", secret.as_str()),
        ("AMQP_URL", amqp.as_str()),
        ("MONGODB_URI", mongo_uri.as_str()),
        ("MONGODB_DATABASE", mongo_db.as_str()),
        ("PASSWORD_PBKDF2_ITERATIONS", "20000"),
        // Cheap hashing, as the other tests use: a 19 MiB Argon2id buffer freed a little
        // late by the allocator would move auth's peak RSS by a hash's size between the
        // halves the leak check compares, which is not a leak.
        ("PASSWORD_ARGON2_MEMORY_KIB", "1024"),
        ("PASSWORD_ARGON2_ITERATIONS", "1"),
        // Every client registers from 127.0.0.1.
        ("REGISTER_MAX_PER_ADDRESS", "1000000000"),
        ("OUTBOX_POLL_MS", "200"),
        ("RUST_LOG", "warn"),
    ];
    // Each binary with `common` and its own settings, healthy on its legacy path.
    let spawn = async |name: &str, own: &[(&str, &str)]| {
        let envs: Vec<(&str, &str)> = common.iter().chain(own).copied().collect();
        let health = hub_checks::services()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} is not in services.toml"))
            .health;
        ServiceProcess::spawn(&service_binary(name), &envs, &health).await
    };
    let auth_settings = [
        ("RABBITMQ_QUEUE", auth_queue.as_str()),
        ("LOGIN_MAX_FAILURES_PER_ADDRESS", "1000000"),
    ];
    let auth = spawn("auth", &auth_settings).await;
    let soap = spawn("user-soap", &[("RABBITMQ_QUEUE", &user_queue)]).await;
    let lookup = spawn("user-lookup", &[]).await;
    let session = spawn("session", &[("RABBITMQ_QUEUE", &auth_queue)]).await;
    let connected = spawn("connected", &[]).await;
    let images_settings = [
        ("S3_ENDPOINT", s3.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_BUCKET_NAME", &bucket),
        // Uploads replace a few names per client (below), so the bucket, and with it every
        // `/list_images` answer, stops growing after the first rounds: what grows after
        // the warm-up is then the process, not the data it lists.
        ("UPLOAD_ANONYMOUS_REPLACE", "true"),
    ];
    let images = spawn("images", &images_settings).await;
    // notifications takes user-soap's events: a welcome mail per registration, through
    // the backing SMTP server (scripts/backing.sh), which files each mail under its
    // recipient in HUB_MAIL_DIR.
    let (smtp_host, smtp_port) = (hub_testkit::env("SMTP_HOST"), hub_testkit::env("SMTP_PORT"));
    let mail_dir = std::path::PathBuf::from(hub_testkit::env("HUB_MAIL_DIR"));
    let notifications_settings = [
        ("NOTIFICATIONS_QUEUES", user_queue.as_str()),
        ("SMTP_HOST", &smtp_host),
        ("SMTP_PORT", &smtp_port),
        ("SMTP_TLS", "none"),
    ];
    let notifications = spawn("notifications", &notifications_settings).await;
    let services = [
        ("auth", &auth),
        ("user-soap", &soap),
        ("user-lookup", &lookup),
        ("session", &session),
        ("connected", &connected),
        ("images", &images),
        ("notifications", &notifications),
    ];

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    // Every name the uploads will cycle through, stored once before the clock starts: the
    // bucket is at its final size from the start, so the warm-up reading is not taken
    // while the listing is still growing.
    let seeding: Vec<_> = (0..clients)
        .map(|client| {
            let (http, images) = (http.clone(), images.base.clone());
            tokio::spawn(async move {
                for k in 0..upload_names {
                    let form = reqwest::multipart::Form::new().part(
                        "file",
                        reqwest::multipart::Part::bytes(PNG)
                            .file_name(format!("soak-{client}-{k}.png")),
                    );
                    let answer = http
                        .post(format!("{images}/upload_image"))
                        .multipart(form)
                        .send()
                        .await
                        .map(|a| a.status());
                    assert!(
                        answer.as_ref().is_ok_and(|s| s.is_success()),
                        "seeding the bucket: {answer:?}"
                    );
                }
            })
        })
        .collect();
    for task in seeding {
        task.await.unwrap();
    }
    let tally = Arc::new(Tally::default());
    // The most images one `/list_images` answer held: the listing reads every page, so its
    // size follows the bucket's, and images' memory with it.
    let listed_max = Arc::new(AtomicU64::new(0));
    let registered = Arc::new(AtomicU64::new(0));
    let usernames = Arc::new(std::sync::Mutex::new(Vec::new()));
    let logged_in = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let end = started + Duration::from_secs(secs);
    let warm = started + Duration::from_secs(secs / 3);
    let urls =
        Arc::new([&soap, &auth, &lookup, &session, &connected, &images].map(|p| p.base.clone()));
    let mut workers = Vec::new();
    for client in 0..clients {
        let (http, tally, urls) = (http.clone(), Arc::clone(&tally), Arc::clone(&urls));
        let (registered, logged_in) = (Arc::clone(&registered), Arc::clone(&logged_in));
        let usernames = Arc::clone(&usernames);
        let listed_max = Arc::clone(&listed_max);
        workers.push(tokio::spawn(async move {
            let [soap, auth, lookup, session, connected, images] = &*urls;
            let mut n = 0u64;
            while Instant::now() < end {
                n += 1;
                let user = format!(
                    "soak{client}x{n}{}",
                    &Uuid::new_v4().simple().to_string()[..6]
                );
                let req = http
                    .post(format!("{soap}/register"))
                    .header("content-type", "text/xml; charset=utf-8")
                    .body(REGISTER.replace("{u}", &user));
                if call(&tally, "register", req).await.is_none() {
                    continue;
                }
                registered.fetch_add(1, Ordering::Relaxed);
                usernames.lock().unwrap().push(user.clone());
                let req = http
                    .post(format!("{auth}/login"))
                    .json(&json!({"username": user, "password": format!("pw {user}")}));
                let Some(body) = call(&tally, "login", req).await else {
                    continue;
                };
                logged_in.fetch_add(1, Ordering::Relaxed);
                let token = body["token"].as_str().unwrap_or_default().to_owned();
                let req = http.get(format!("{lookup}/user/soap?username={user}"));
                call(&tally, "lookup", req).await;
                let req = http
                    .post(format!("{session}/api/sessions"))
                    .bearer_auth(&token)
                    .json(&json!({"data": {"n": n}}));
                call(&tally, "session", req).await;
                let req = http.get(format!("{connected}/last-connection?username={user}"));
                call(&tally, "last-connection", req).await;
                if n.is_multiple_of(4) {
                    let form = reqwest::multipart::Form::new().part(
                        "file",
                        reqwest::multipart::Part::bytes(PNG).file_name(match upload_names {
                            0 => format!("{user}.png"),
                            names => format!("soak-{client}-{}.png", n / 4 % names),
                        }),
                    );
                    let req = http.post(format!("{images}/upload_image")).multipart(form);
                    call(&tally, "upload", req).await;
                    let req = http.get(format!("{images}/list_images"));
                    if let Some(list) = call(&tally, "list", req).await {
                        let n = list["urls"].as_array().map_or(0, Vec::len) as u64;
                        listed_max.fetch_max(n, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    // RSS of every service every `SOAK_SAMPLE_SECS` (default: a tenth of the run, at
    // most 30 s), with the listing's size at that moment: printed as the run goes, and kept
    // as CSV in `SOAK_RSS_CSV` when set (scripts/soak.sh plots it). The check compares the
    // peaks of the two halves after the warm-up, so one reading taken at a busy instant
    // (a burst of listings) is not mistaken for growth.
    let pids: Vec<u32> = services.iter().map(|(_, p)| p.pid()).collect();
    let sample_every = Duration::from_secs(env_or("SOAK_SAMPLE_SECS", (secs / 10).clamp(1, 30)));
    let mut samples: Vec<(Duration, Vec<u64>, u64)> = Vec::new();
    let mut sample = || {
        let at = started.elapsed();
        let rss: Vec<u64> = pids.iter().map(|&pid| rss_kib(pid)).collect();
        let listed = listed_max.load(Ordering::Relaxed);
        let row: Vec<String> = rss.iter().map(u64::to_string).collect();
        eprintln!(
            "soak: t={:>5} s RSS KiB {} listed {listed}",
            at.as_secs(),
            row.join(" ")
        );
        samples.push((at, rss, listed));
    };
    let mut next_sample = started;
    while Instant::now() < end {
        if Instant::now() >= next_sample {
            sample();
            next_sample += sample_every;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sample();
    for w in workers {
        w.await.unwrap();
    }
    sample();
    let elapsed = started.elapsed();
    let mut csv = format!(
        "seconds,{},listed_images\n",
        services.map(|(name, _)| name).join(",")
    );
    for (at, rss, listed) in &samples {
        let row: Vec<String> = rss.iter().map(u64::to_string).collect();
        csv.push_str(&format!("{},{},{listed}\n", at.as_secs(), row.join(",")));
    }
    if let Ok(path) = std::env::var("SOAK_RSS_CSV") {
        std::fs::write(&path, &csv).unwrap_or_else(|e| panic!("writing {path}: {e}"));
    }
    // Per service, the highest reading of each half after the warm-up.
    let (warm_at, mid_at) = (warm - started, (warm - started + elapsed) / 2);
    let peak = |from: Duration, to: Duration| -> Vec<u64> {
        (0..pids.len())
            .map(|i| {
                samples
                    .iter()
                    .filter(|(at, ..)| *at >= from && *at < to)
                    .map(|(_, rss, _)| rss[i])
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    };
    let rss_warm = peak(warm_at, mid_at);
    let rss_end = peak(mid_at, elapsed + Duration::from_secs(1));

    // Figures first, so a failure still shows them (`--no-capture` prints them on success).
    let counts = tally.0.lock().unwrap().clone();
    let total: u64 = counts.values().sum();
    eprintln!(
        "soak: {clients} clients, {:.1} s, {total} requests, {:.1} req/s; registrations {}, logins {}",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        registered.load(Ordering::Relaxed),
        logged_in.load(Ordering::Relaxed),
    );
    for ((endpoint, outcome), n) in &counts {
        eprintln!("soak:   {endpoint:<16} {outcome:<6} {n}");
    }
    for (i, (name, _)) in services.iter().enumerate() {
        eprintln!(
            "soak:   RSS {name:<12} peak after warm-up {:>6} KiB, in the last half {:>6} KiB",
            rss_warm[i], rss_end[i]
        );
    }
    eprintln!(
        "soak:   largest /list_images answer: {} images",
        listed_max.load(Ordering::Relaxed)
    );

    let bad: Vec<_> = counts
        .iter()
        .filter(|((_, outcome), _)| !outcome.starts_with('2'))
        .collect();
    assert!(
        bad.is_empty(),
        "non-2xx answers or transport errors: {bad:?}"
    );
    let registrations = registered.load(Ordering::Relaxed);
    let logins = logged_in.load(Ordering::Relaxed);
    assert!(
        registrations > 0 && logins == registrations,
        "{registrations} / {logins}"
    );

    // Zero lost events: every registration mailed exactly once (published by user-soap's
    // outbox, consumed by notifications, sent over SMTP) ... The mails are awaited as long
    // as they keep coming: a minute without a new one ends the wait.
    hub_testkit::wait_outbox_drained(&db_url, Duration::from_secs(60)).await;
    let db = sqlx::PgPool::connect(&db_url).await.unwrap();
    let (mut sent, mut last_progress) = (0i64, Instant::now());
    while sent < registrations as i64 {
        let now: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM notification WHERE template = 'welcome' AND sent_at IS NOT NULL",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        if now > sent {
            (sent, last_progress) = (now, Instant::now());
        }
        assert!(
            last_progress.elapsed() < Duration::from_secs(60),
            "only {sent} of {registrations} welcome mails sent, none for a minute"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let usernames = std::mem::take(&mut *usernames.lock().unwrap());
    let mut mails_per_user: BTreeMap<usize, u64> = BTreeMap::new();
    for user in &usernames {
        let folder = mail_dir.join(format!("{user}@example.com"));
        let mails = std::fs::read_dir(&folder).map_or(0, |entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .count()
        });
        *mails_per_user.entry(mails).or_default() += 1;
        let _ = std::fs::remove_dir_all(&folder);
    }
    eprintln!("soak:   welcome mails per registered user: {mails_per_user:?} (mails: users)");
    assert_eq!(
        mails_per_user.keys().copied().collect::<Vec<_>>(),
        [1],
        "every registered user gets exactly one welcome mail"
    );
    // ... every registration stored once ...
    let users: i64 = sqlx::query_scalar(r#"SELECT count(*) FROM "user""#)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(users as u64, registrations, "registrations stored");
    assert_eq!(
        usernames.len() as u64,
        registrations,
        "registrations answered"
    );
    db.close().await;

    // ... and every login consumed by session: each user's session has its login time.
    let mongo = mongodb::Client::with_uri_str(&mongo_uri).await.unwrap();
    let sessions = mongo
        .database(&mongo_db)
        .collection::<mongodb::bson::Document>("sessions");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let recorded = sessions
            .count_documents(doc! { "lastLoginAt": { "$exists": true } })
            .await
            .unwrap();
        if recorded == logins {
            break;
        }
        assert!(
            recorded <= logins,
            "{recorded} sessions for {logins} logins"
        );
        assert!(
            Instant::now() < deadline,
            "only {recorded} of {logins} logins reached the session consumer"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = mongo.database(&mongo_db).drop().await;

    for (i, (name, _)) in services.iter().enumerate() {
        let (warm, end) = (rss_warm[i], rss_end[i]);
        assert!(
            warm > 0 && end > 0,
            "{name}: no RSS reading in one half (more samples: SOAK_SAMPLE_SECS)"
        );
        assert!(
            end <= warm + warm / 10 || end <= warm + 2048,
            "{name}: RSS grew from a peak of {warm} KiB after warm-up to {end} KiB in the last half"
        );
    }
}
