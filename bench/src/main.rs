//! Limits for bench/run.sh, printed as `key=value` lines.
//!
//! * `hub-bench pbkdf2 ITERATIONS SECONDS THREADS`: how many current-format password
//!   derivations per second this machine does on THREADS threads: the ceiling of
//!   `POST /login` (one derivation per login) and `POST /register` (one per registration).
//! * `hub-bench empty PORT`: an axum server answering `GET /` with an empty 200, the
//!   HTTP ceiling of the stack on this machine.

use std::{
    process::ExitCode,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use hub_identity::password::Hasher;

fn arg<T: std::str::FromStr>(args: &[String], i: usize, name: &str) -> Result<T, String> {
    args.get(i)
        .ok_or(format!("missing {name}"))?
        .parse()
        .map_err(|_| format!("bad {name}"))
}

fn pbkdf2(args: &[String]) -> Result<(), String> {
    let iterations: u32 = arg(args, 2, "ITERATIONS")?;
    let seconds: f64 = arg(args, 3, "SECONDS")?;
    let threads: usize = arg(args, 4, "THREADS")?;
    let hasher = Hasher::new(iterations).map_err(|e| e.to_string())?;
    let done = AtomicU64::new(0);
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while Instant::now() < until {
                    std::hint::black_box(hasher.hash("bench-password"));
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    println!("pbkdf2_iterations={iterations}");
    println!("pbkdf2_threads={threads}");
    println!("pbkdf2_per_sec={:.2}", n as f64 / elapsed);
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

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("pbkdf2") => pbkdf2(&args),
        Some("empty") => empty(&args).await,
        _ => {
            Err("usage: hub-bench pbkdf2 ITERATIONS SECONDS THREADS | hub-bench empty PORT".into())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hub-bench: {e}");
            ExitCode::from(2)
        }
    }
}
