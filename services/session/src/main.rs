//! Starts the session service: config, telemetry, build, serve until SIGINT/SIGTERM.

// mimalloc instead of glibc's malloc: allocation was a quarter of user-lookup's
// user-space time under load (bench/results/2026-11-26.md, "Fixes").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    hub_runtime::service::run::<session::Session>()
}
