//! Starts the user-lookup service: config, telemetry, build, serve until SIGINT/SIGTERM.

use std::process::ExitCode;

use hub_runtime::{shutdown, telemetry};
use tokio_util::sync::CancellationToken;
use user_lookup::{App, Config};

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init(telemetry::LogFormat::from_env());
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "invalid configuration");
            return ExitCode::from(2);
        }
    };
    let token = CancellationToken::new();
    tokio::spawn(shutdown::cancel_on_signal(token.clone()));
    let result = async { App::build(config).await?.run(token).await }.await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(
                error = format!("{e:#}"),
                "user-lookup stopped with an error"
            );
            ExitCode::FAILURE
        }
    }
}
