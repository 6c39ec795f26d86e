//! Starts the images service: config, telemetry, build, serve until SIGINT/SIGTERM.

use std::process::ExitCode;

use images::{App, Config};

#[tokio::main]
async fn main() -> ExitCode {
    hub_runtime::service::main("images", Config::from_env, |config, shutdown| async move {
        App::build(config).await?.run(shutdown).await
    })
    .await
}
