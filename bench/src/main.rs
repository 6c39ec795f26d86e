//! Limits for bench/run.sh, printed as `key=value` lines.
//!
//! * `hub-bench argon2id MEMORY_KIB ITERATIONS PARALLELISM SECONDS THREADS`: how many
//!   Argon2id hashes at that cost (the services' `PASSWORD_ARGON2_*`) per second this
//!   machine does on THREADS threads: the ceiling of `POST /login` (one hash per login of a
//!   current hash) and `POST /register` (one per registration).
//! * `hub-bench pbkdf2 ITERATIONS SECONDS THREADS`: the same for PBKDF2-HMAC-SHA256 (the
//!   ceiling when the services run with `PASSWORD_HASH=pbkdf2-sha256`).
//! * `hub-bench empty PORT`: an axum server answering `GET /` with an empty 200, the
//!   HTTP ceiling of the stack on this machine.
//! * `hub-bench s3put BYTES SECONDS CONCURRENCY`: how many `PutObject`s of BYTES per
//!   second the S3 server takes through aws-sdk-s3, with the images service's own client
//!   settings and bucket variables (`S3_ENDPOINT`, `AWS_*`): the ceiling of
//!   `POST /upload_image`, which stores each file with at least one such call.
//!   With a FILE instead of BYTES, its bytes (the image `POST /upload_image` is sent).
//! * `hub-bench imagegen WIDTH HEIGHT FILE`: writes a photo-like JPEG (gradients and
//!   grain, quality 90) of WIDTH × HEIGHT to FILE, for the upload runs.
//! * `hub-bench reencode FILE SECONDS THREADS`: how many times per second the images
//!   service's own decode + re-encode (`images::process::process`: the same library and
//!   settings, the default pixel limit and variant sizes) runs on FILE on THREADS
//!   threads: the ceiling of `POST /upload_image` before S3.
//! * `hub-bench s3clean`: deletes the bench bucket and its objects.
//! * `hub-bench mongo SECONDS CONCURRENCY`: how many session upserts per second MongoDB
//!   takes straight from the driver (`MONGODB_URI`, `MONGODB_DATABASE`): the ceiling of
//!   `POST /api/sessions`, which does one such upsert (plus a user check in PostgreSQL).
//! * `hub-bench mongofind SECONDS CONCURRENCY`: how many reads of one user's session
//!   MongoDB answers per second straight from the driver: the same `find` by `userId`
//!   with the same projection that `GET /last-connection` does after its SELECT.
//! * `hub-bench mongoclean`: drops the bench MongoDB database.
//! * `hub-bench tokens COUNT USER_ID USERNAME FILE`: writes COUNT lines `<sid> <token>` to
//!   FILE: access tokens of the user, each in a login (`sid`) of its own, signed by auth's
//!   own issuer (`hub_identity::issuer::Issuer`) with auth's key (`JWT_ALGORITHM`,
//!   `JWT_SIGNING_KEY(_FILE)`), as a login signs them. bench/run.sh inserts the logins and
//!   logs each token out once: every `POST /logout` of the run revokes a live login.
//! * `hub-bench publish QUEUE COUNT DOMAIN`: publishes COUNT `UserRegistered` events (the
//!   envelope user-soap's relay publishes, persistent, confirmed by the broker) to QUEUE,
//!   each for a recipient of its own, `u<n>@DOMAIN`: notifications mails each a welcome.
//! * `hub-bench smtp BYTES SECONDS CONCURRENCY DOMAIN`: how many mails of BYTES the SMTP
//!   server at `SMTP_HOST`/`SMTP_PORT` (plain SMTP, as the bench's catcher speaks) accepts
//!   per second from lettre, the library and pooled transport notifications sends with, on
//!   CONCURRENCY tasks, each mail to a recipient of its own, `raw<task>-<n>@DOMAIN`: the
//!   ceiling of notifications' mails per second.

use std::{
    process::ExitCode,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use hub_identity::password::{Argon2Cost, Hasher, MIN_ITERATIONS};

fn arg<T: std::str::FromStr>(args: &[String], i: usize, name: &str) -> Result<T, String> {
    args.get(i)
        .ok_or(format!("missing {name}"))?
        .parse()
        .map_err(|_| format!("bad {name}"))
}

/// Hashes with `hasher` on `threads` threads for `seconds`: hashes per second, and
/// how many failed.
fn hash_rate(hasher: Hasher, seconds: f64, threads: usize) -> (f64, u64) {
    let done = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while Instant::now() < until {
                    match std::hint::black_box(hasher.hash("bench-password")) {
                        Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                        Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            });
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    (
        done.load(Ordering::Relaxed) as f64 / elapsed,
        failed.load(Ordering::Relaxed),
    )
}

fn pbkdf2(args: &[String]) -> Result<(), String> {
    let iterations: u32 = arg(args, 2, "ITERATIONS")?;
    let seconds: f64 = arg(args, 3, "SECONDS")?;
    let threads: usize = arg(args, 4, "THREADS")?;
    let hasher = Hasher::new(iterations).map_err(|e| e.to_string())?;
    let (rate, _) = hash_rate(hasher, seconds, threads);
    println!("pbkdf2_iterations={iterations}");
    println!("pbkdf2_threads={threads}");
    println!("pbkdf2_per_sec={rate:.2}");
    Ok(())
}

fn argon2id(args: &[String]) -> Result<(), String> {
    let memory: u32 = arg(args, 2, "MEMORY_KIB")?;
    let iterations: u32 = arg(args, 3, "ITERATIONS")?;
    let parallelism: u32 = arg(args, 4, "PARALLELISM")?;
    let seconds: f64 = arg(args, 5, "SECONDS")?;
    let threads: usize = arg(args, 6, "THREADS")?;
    let cost = Argon2Cost::new(memory, iterations, parallelism).map_err(|e| e.to_string())?;
    let hasher = Hasher::argon2id(cost, MIN_ITERATIONS).map_err(|e| e.to_string())?;
    let (rate, failed) = hash_rate(hasher, seconds, threads);
    println!("argon2id_cost=m={memory},t={iterations},p={parallelism}");
    println!("argon2id_threads={threads}");
    println!("argon2id_per_sec={rate:.2}");
    println!("argon2id_errors={failed}");
    Ok(())
}

async fn empty(args: &[String]) -> Result<(), String> {
    let port: u16 = arg(args, 2, "PORT")?;
    let app = axum::Router::new().route("/", axum::routing::get(|| async {}));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}

async fn s3put(args: &[String]) -> Result<(), String> {
    let size: usize = arg(args, 2, "BYTES").unwrap_or(0);
    let seconds: f64 = arg(args, 3, "SECONDS")?;
    let concurrency: usize = arg(args, 4, "CONCURRENCY")?;
    let env = hub_runtime::config::ProcessEnv;
    let cfg = images::config::S3Config::from_vars(&hub_runtime::config::Vars::new(&env))
        .map_err(|e| e.to_string())?;
    let store = images::store::Store::new(&cfg);
    store.ensure_bucket().await.map_err(|e| e.to_string())?;
    let body = match args.get(2).filter(|a| std::path::Path::new(a).is_file()) {
        // The image file the wrk script uploads.
        Some(file) => std::fs::read(file).map_err(|e| format!("{file}: {e}"))?,
        // A PNG signature and filler.
        None => {
            let mut body = b"\x89PNG\r\n\x1a\n".to_vec();
            body.resize(size.max(body.len()), b'x');
            body
        }
    };
    let size = body.len();
    let body = bytes::Bytes::from(body);
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for task in 0..concurrency {
        let (store, body) = (store.clone(), body.clone());
        // One key per task: moto fails concurrent writes of one key.
        let key = format!("bench-raw-{task}.png");
        tasks.push(tokio::spawn(async move {
            let (mut done, mut failed) = (0u64, 0u64);
            while Instant::now() < until {
                // Each key is written again and again: unconditional writes, as the
                // service makes with UPLOAD_ANONYMOUS_REPLACE (bench/run.sh).
                let write = images::access::Write::Replace;
                match store.put(&key, "image/png", body.clone(), write).await {
                    Ok(()) => done += 1,
                    Err(e) => {
                        if failed == 0 {
                            eprintln!("hub-bench s3put: {e}");
                        }
                        failed += 1;
                    }
                }
            }
            (done, failed)
        }));
    }
    let (mut done, mut failed) = (0u64, 0u64);
    for task in tasks {
        let (d, f) = task.await.map_err(|e| e.to_string())?;
        done += d;
        failed += f;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!("s3put_bytes={size}");
    println!("s3put_errors={failed}");
    println!("s3put_per_sec={:.2}", done as f64 / elapsed);
    Ok(())
}

/// A photo-like JPEG: smooth gradients with grain, so it compresses as a photo does.
fn imagegen(args: &[String]) -> Result<(), String> {
    let width: u32 = arg(args, 2, "WIDTH")?;
    let height: u32 = arg(args, 3, "HEIGHT")?;
    let file: String = arg(args, 4, "FILE")?;
    let mut x: u32 = 0x9E37_79B9;
    let img = image::RgbImage::from_fn(width, height, |px, py| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let grain = x % 24;
        let r = (px * 200 / width.max(1) + grain) as u8;
        let g = (py * 200 / height.max(1) + grain) as u8;
        let b = ((px + py) * 100 / (width + height).max(1) + grain) as u8;
        image::Rgb([r, g, b])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .map_err(|e| e.to_string())?;
    std::fs::write(&file, &out).map_err(|e| format!("{file}: {e}"))?;
    println!("imagegen_bytes={}", out.len());
    Ok(())
}

/// The service's decode + re-encode of FILE, on THREADS threads for SECONDS.
fn reencode(args: &[String]) -> Result<(), String> {
    let file: String = arg(args, 2, "FILE")?;
    let seconds: f64 = arg(args, 3, "SECONDS")?;
    let threads: usize = arg(args, 4, "THREADS")?;
    let bytes = std::fs::read(&file).map_err(|e| format!("{file}: {e}"))?;
    let images::magic::Sniff::Image(mime) = images::magic::sniff(&bytes, true) else {
        return Err(format!("{file}: not an accepted image"));
    };
    let limits = images::process::PixelLimits {
        max_pixels: images::config::DEFAULT_MAX_PIXELS,
        max_side: 16_384,
    };
    let done = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while Instant::now() < until {
                    match images::process::process(&bytes, mime, limits, &[64, 128, 256]) {
                        Ok(out) => {
                            std::hint::black_box(out);
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    println!("reencode_errors={}", failed.load(Ordering::Relaxed));
    println!(
        "reencode_per_sec={:.2}",
        done.load(Ordering::Relaxed) as f64 / elapsed
    );
    Ok(())
}

/// Deletes every object of the bench bucket, then the bucket (moto keeps them in memory).
async fn s3clean() -> Result<(), String> {
    let env = hub_runtime::config::ProcessEnv;
    let cfg = images::config::S3Config::from_vars(&hub_runtime::config::Vars::new(&env))
        .map_err(|e| e.to_string())?;
    let store = images::store::Store::new(&cfg);
    for key in store.list_keys().await.map_err(|e| e.to_string())? {
        store
            .client()
            .delete_object()
            .bucket(store.bucket())
            .key(key)
            .send()
            .await
            .map_err(|e| e.to_string())?;
    }
    store
        .client()
        .delete_bucket()
        .bucket(store.bucket())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// `hub-bench mongo SECONDS CONCURRENCY`: how many session writes per second MongoDB
/// takes straight from the driver: the same upsert by `userId` that
/// `POST /api/sessions` does (one `findOneAndUpdate` with `upsert`), with CONCURRENCY
/// tasks on one client, against `MONGODB_URI` / `MONGODB_DATABASE`.
async fn mongo(args: &[String]) -> Result<(), String> {
    use mongodb::bson::{Document, doc};
    let seconds: f64 = arg(args, 2, "SECONDS")?;
    let concurrency: usize = arg(args, 3, "CONCURRENCY")?;
    let (_client, db) = mongo_database().await?;
    let sessions = db.collection::<Document>("bench_sessions_limit");
    let upserts = sessions.clone();
    let (done, errors, elapsed) = drive(seconds, concurrency, move |task, n| {
        let sessions = upserts.clone();
        async move {
            let user = format!("bench-user-{task}");
            let now = mongodb::bson::DateTime::now();
            let update = doc! {
                "$set": { "data": { "n": n as i64 }, "updatedAt": now },
                "$setOnInsert": { "userId": &user, "createdAt": now, "__v": 0 },
            };
            sessions
                .find_one_and_update(doc! { "userId": &user }, update)
                .upsert(true)
                .await
                .is_ok()
        }
    })
    .await?;
    let _ = sessions.drop().await;
    println!("mongo_errors={errors}");
    println!("mongo_upserts_per_sec={:.2}", done as f64 / elapsed);
    Ok(())
}

/// `hub-bench mongofind SECONDS CONCURRENCY`: the read half of `GET /last-connection`
/// straight from the driver. One session document (the shape the session service
/// writes) is inserted in a scratch collection with the same `userId` index, then
/// CONCURRENCY tasks repeat the endpoint's `find` (same filter, projection and limit)
/// and read the cursor to its end.
async fn mongofind(args: &[String]) -> Result<(), String> {
    use mongodb::{
        IndexModel,
        bson::{Document, doc},
    };
    let seconds: f64 = arg(args, 2, "SECONDS")?;
    let concurrency: usize = arg(args, 3, "CONCURRENCY")?;
    let (_client, db) = mongo_database().await?;
    let sessions = db.collection::<Document>("bench_sessions_find_limit");
    sessions
        .create_index(IndexModel::builder().keys(doc! { "userId": 1 }).build())
        .await
        .map_err(|e| format!("create index: {e}"))?;
    let now = mongodb::bson::DateTime::now();
    sessions
        .insert_one(doc! {
            "userId": "bench-user", "data": {}, "createdAt": now, "updatedAt": now,
            "lastLoginAt": now, "__v": 0,
        })
        .await
        .map_err(|e| format!("insert: {e}"))?;
    let reads = sessions.clone();
    let (done, errors, elapsed) = drive(seconds, concurrency, move |_, _| {
        let sessions = reads.clone();
        async move {
            let read = async {
                let mut cursor = sessions
                    .find(doc! { "userId": "bench-user" })
                    .projection(doc! { "_id": 0, "userId": 1, "lastLoginAt": 1, "updatedAt": 1, "createdAt": 1 })
                    .limit(1000)
                    .await?;
                let mut n = 0;
                while cursor.advance().await? {
                    std::hint::black_box(cursor.current());
                    n += 1;
                }
                Ok::<_, mongodb::error::Error>(n)
            };
            matches!(read.await, Ok(1))
        }
    })
    .await?;
    let _ = sessions.drop().await;
    println!("mongofind_errors={errors}");
    println!("mongo_finds_per_sec={:.2}", done as f64 / elapsed);
    Ok(())
}

/// Runs `op(task, n)` back to back on CONCURRENCY tasks for SECONDS (`n` counts each
/// task's calls); returns how many calls succeeded, how many failed, and the seconds
/// actually taken.
async fn drive<F, Fut>(seconds: f64, concurrency: usize, op: F) -> Result<(u64, u64, f64), String>
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = (0..concurrency)
        .map(|task| {
            let op = op.clone();
            tokio::spawn(async move {
                let (mut done, mut errors) = (0u64, 0u64);
                while Instant::now() < until {
                    if op(task, done + errors).await {
                        done += 1;
                    } else {
                        errors += 1;
                    }
                }
                (done, errors)
            })
        })
        .collect();
    let (mut done, mut errors) = (0, 0);
    for t in tasks {
        let (d, e) = t.await.map_err(|e| e.to_string())?;
        done += d;
        errors += e;
    }
    Ok((done, errors, started.elapsed().as_secs_f64()))
}

/// A client on `MONGODB_URI` and the database `MONGODB_DATABASE` (default `bench`).
async fn mongo_database() -> Result<(mongodb::Client, mongodb::Database), String> {
    let uri = std::env::var("MONGODB_URI").map_err(|_| "MONGODB_URI is not set".to_owned())?;
    let db = std::env::var("MONGODB_DATABASE").unwrap_or_else(|_| "bench".to_owned());
    let client = mongodb::Client::with_uri_str(&uri)
        .await
        .map_err(|e| format!("MongoDB client: {e}"))?;
    let database = client.database(&db);
    Ok((client, database))
}

async fn mongoclean() -> Result<(), String> {
    let uri = std::env::var("MONGODB_URI").map_err(|_| "MONGODB_URI is not set".to_owned())?;
    let db =
        std::env::var("MONGODB_DATABASE").map_err(|_| "MONGODB_DATABASE is not set".to_owned())?;
    let client = mongodb::Client::with_uri_str(&uri)
        .await
        .map_err(|e| format!("MongoDB client: {e}"))?;
    client
        .database(&db)
        .drop()
        .await
        .map_err(|e| format!("drop {db}: {e}"))
}

/// `hub-bench tokens COUNT USER_ID USERNAME FILE`: access tokens in logins of their own.
fn tokens(args: &[String]) -> Result<(), String> {
    use std::io::Write;
    let count: u64 = arg(args, 2, "COUNT")?;
    let user_id: uuid::Uuid = arg(args, 3, "USER_ID")?;
    let username: String = arg(args, 4, "USERNAME")?;
    let file: String = arg(args, 5, "FILE")?;
    let env = hub_runtime::config::ProcessEnv;
    let issuer = hub_identity::issuer::Issuer::from_vars(&hub_runtime::config::Vars::new(&env))
        .map_err(|e| e.to_string())?;
    let out = std::fs::File::create(&file).map_err(|e| format!("{file}: {e}"))?;
    let mut out = std::io::BufWriter::new(out);
    for _ in 0..count {
        let sid = uuid::Uuid::new_v4();
        let token = issuer
            .sign(&issuer.claims_for(user_id, &username), Some(sid))
            .map_err(|e| e.to_string())?;
        writeln!(out, "{sid} {token}").map_err(|e| format!("{file}: {e}"))?;
    }
    out.flush().map_err(|e| format!("{file}: {e}"))?;
    println!("tokens={count}");
    Ok(())
}

/// `hub-bench publish QUEUE COUNT DOMAIN`: COUNT welcome events for notifications.
async fn publish(args: &[String]) -> Result<(), String> {
    use lapin::{
        BasicProperties, Connection, ConnectionProperties,
        options::{BasicPublishOptions, ConfirmSelectOptions},
    };
    let queue: String = arg(args, 2, "QUEUE")?;
    let count: u64 = arg(args, 3, "COUNT")?;
    let domain: String = arg(args, 4, "DOMAIN")?;
    let url = std::env::var("AMQP_URL").map_err(|_| "AMQP_URL is not set".to_owned())?;
    let conn = Connection::connect(&url, ConnectionProperties::default())
        .await
        .map_err(|e| format!("RabbitMQ: {e}"))?;
    let channel = conn.create_channel().await.map_err(|e| e.to_string())?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    // Declared as the consumer declares it (classic, durable), so either may come first.
    hub_events::broker::declare(&channel, &queue, hub_events::broker::QueueType::Classic).await?;
    let mut confirms = Vec::new();
    for n in 0..count {
        let event = hub_events::catalogue::UserRegistered {
            id: uuid::Uuid::new_v4(),
            username: format!("bench{n}"),
            first_name: "Bench".into(),
            last_name: "Mark".into(),
            dni: format!("bench{n}"),
            email: format!("u{n}@{domain}"),
            city: "Bench".into(),
        };
        let body = hub_events::catalogue::envelope(&event, chrono::Utc::now())
            .map_err(|e| e.to_string())?;
        let confirm = channel
            .basic_publish(
                "".into(),
                queue.as_str().into(),
                BasicPublishOptions::default(),
                body.as_bytes(),
                BasicProperties::default()
                    .with_message_id(uuid::Uuid::new_v4().to_string().into())
                    .with_content_type("application/json".into())
                    .with_delivery_mode(2),
            )
            .await
            .map_err(|e| e.to_string())?;
        confirms.push(confirm);
    }
    let mut nacked = 0u64;
    for confirm in confirms {
        if !confirm.await.map_err(|e| e.to_string())?.is_ack() {
            nacked += 1;
        }
    }
    let _ = conn.close(0, "done".into()).await;
    println!("published={}", count - nacked);
    println!("publish_errors={nacked}");
    Ok(())
}

/// `hub-bench smtp BYTES SECONDS CONCURRENCY DOMAIN`: the SMTP server's raw accept rate.
async fn smtp(args: &[String]) -> Result<(), String> {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let size: usize = arg(args, 2, "BYTES")?;
    let seconds: f64 = arg(args, 3, "SECONDS")?;
    let concurrency: usize = arg(args, 4, "CONCURRENCY")?;
    let domain: String = arg(args, 5, "DOMAIN")?;
    let host = std::env::var("SMTP_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port: u16 = std::env::var("SMTP_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(25);
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .build();
    let from: lettre::message::Mailbox = "Hub <no-reply@localhost>"
        .parse()
        .map_err(|e| format!("sender: {e}"))?;
    // A text body that brings the whole message, headers included, to about BYTES.
    let text = "x".repeat(size.saturating_sub(300).max(1));
    let (done, errors, elapsed) = drive(seconds, concurrency, move |task, n| {
        let (transport, text, domain) = (transport.clone(), text.clone(), domain.clone());
        let from = from.clone();
        async move {
            let mail = Message::builder()
                .from(from)
                .to(match format!("raw{task}-{n}@{domain}").parse() {
                    Ok(to) => to,
                    Err(_) => return false,
                })
                .subject("Bench")
                .body(text);
            match mail {
                Ok(mail) => transport.send(mail).await.is_ok(),
                Err(_) => false,
            }
        }
    })
    .await?;
    println!("smtp_errors={errors}");
    println!("smtp_per_sec={:.2}", done as f64 / elapsed);
    Ok(())
}

// The services' allocator, so the limits run on the same stack as the services.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("pbkdf2") => pbkdf2(&args),
        Some("argon2id") => argon2id(&args),
        Some("empty") => empty(&args).await,
        Some("s3put") => s3put(&args).await,
        Some("s3clean") => s3clean().await,
        Some("imagegen") => imagegen(&args),
        Some("reencode") => reencode(&args),
        Some("mongo") => mongo(&args).await,
        Some("mongofind") => mongofind(&args).await,
        Some("mongoclean") => mongoclean().await,
        Some("tokens") => tokens(&args),
        Some("publish") => publish(&args).await,
        Some("smtp") => smtp(&args).await,
        _ => Err(
            "usage: hub-bench argon2id MEMORY_KIB ITERATIONS PARALLELISM SECONDS THREADS | hub-bench pbkdf2 ITERATIONS SECONDS THREADS | hub-bench empty PORT | hub-bench s3put BYTES|FILE SECONDS CONCURRENCY | hub-bench imagegen WIDTH HEIGHT FILE | hub-bench reencode FILE SECONDS THREADS | hub-bench s3clean | hub-bench mongo SECONDS CONCURRENCY | hub-bench mongofind SECONDS CONCURRENCY | hub-bench mongoclean | hub-bench tokens COUNT USER_ID USERNAME FILE | hub-bench publish QUEUE COUNT DOMAIN | hub-bench smtp BYTES SECONDS CONCURRENCY DOMAIN"
                .into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hub-bench: {e}");
            ExitCode::from(2)
        }
    }
}
