//! Starts the auth service: config, telemetry, build, serve until SIGINT/SIGTERM.

use std::process::ExitCode;

use auth::{App, Config};

#[tokio::main]
async fn main() -> ExitCode {
    hub_runtime::service::main("auth", Config::from_env, |config, shutdown| async move {
        App::build(config).await?.run(shutdown).await
    })
    .await
}
