//! Starts the user-lookup service: config, telemetry, build, serve until SIGINT/SIGTERM.

use std::process::ExitCode;

use user_lookup::{App, Config};

#[tokio::main]
async fn main() -> ExitCode {
    hub_runtime::service::main(
        "user-lookup",
        Config::from_env,
        |config, shutdown| async move { App::build(config).await?.run(shutdown).await },
    )
    .await
}
