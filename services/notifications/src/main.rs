//! Starts the notifications service: config, telemetry, build, serve until SIGINT/SIGTERM.

// mimalloc, as every service (bench/results/2026-11-26.md, "Fixes").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    hub_runtime::service::run::<notifications::Notifications>()
}
