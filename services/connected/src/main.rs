//! Starts the connected service: config, telemetry, build, serve until SIGINT/SIGTERM.

use std::process::ExitCode;

use connected::{App, Config};

#[tokio::main]
async fn main() -> ExitCode {
    hub_runtime::service::main(
        "connected",
        Config::from_env,
        |config, shutdown| async move { App::build(config).await?.run(shutdown).await },
    )
    .await
}
