//! Starts the auth service: config, telemetry, build, serve until SIGINT/SIGTERM; or,
//! as `auth locks ...`, the operator's login-throttle command (`auth::admin`).

// mimalloc instead of glibc's malloc: allocation was a quarter of user-lookup's
// user-space time under load (bench/results/2026-11-26.md, "Fixes").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.split_first() {
        Some((command, rest)) if command == "locks" => admin(rest),
        _ => hub_runtime::service::run::<auth::Auth>(),
    }
}

/// `auth locks ...` (see `auth::admin`): prints the answer, exits 0, 1 or 2.
fn admin(args: &[String]) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("auth locks: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(auth::admin::locks(args, &hub_runtime::config::ProcessEnv)) {
        Ok(out) => {
            // A closed pipe (`| head`) is not an error of ours.
            use std::io::Write as _;
            let _ = writeln!(std::io::stdout(), "{out}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("auth locks: {e}");
            std::process::ExitCode::from(e.exit_code())
        }
    }
}
