//! Starts the images service: config, telemetry, build, serve until SIGINT/SIGTERM.

use std::process::ExitCode;

use images::{App, Config};

// mimalloc instead of glibc's malloc: allocation was a quarter of user-lookup's
// user-space time under load (bench/results/2026-11-26.md, "Fixes").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    hub_runtime::service::main("images", Config::from_env, |config, shutdown| async move {
        App::build(config).await?.run(shutdown).await
    })
    .await
}
