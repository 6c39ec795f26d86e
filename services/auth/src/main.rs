//! Starts the auth service: config, telemetry, build, serve until SIGINT/SIGTERM; or,
//! as `auth locks ...`, `auth tokens ...`, `auth users ...` or `auth keys ...`, an operator's command
//! (`auth::admin`, parsed by clap; `--help` after any of them, or `auth --help`).

// mimalloc instead of glibc's malloc: allocation was a quarter of user-lookup's
// user-space time under load (bench/results/2026-11-26.md, "Fixes").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // Lossy: an argument that is not UTF-8 names no account, option or command anyway.
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let env = &hub_runtime::config::ProcessEnv;
    match args.split_first() {
        Some((flag, [])) if flag == "--help" || flag == "-h" => {
            use std::io::Write as _;
            let _ = write!(std::io::stdout(), "{}", auth::admin::help());
            std::process::ExitCode::SUCCESS
        }
        Some((command, rest)) if command == "locks" => {
            admin("locks", |rt| rt.block_on(auth::admin::locks(rest, env)))
        }
        Some((command, rest)) if command == "tokens" => {
            admin("tokens", |rt| rt.block_on(auth::admin::tokens(rest, env)))
        }
        Some((command, rest)) if command == "users" => {
            admin("users", |rt| rt.block_on(auth::admin::users(rest, env)))
        }
        Some((command, rest)) if command == "keys" => {
            admin("keys", |_| auth::admin::keys(rest, &mut std::io::stdin()))
        }
        _ => hub_runtime::service::run::<auth::Auth>(),
    }
}

/// `auth <command> ...` (see `auth::admin`): prints the answer, exits 0, 1 or 2.
fn admin(
    command: &str,
    run: impl FnOnce(&tokio::runtime::Runtime) -> Result<String, auth::admin::AdminError>,
) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("auth {command}: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match run(&runtime) {
        Ok(out) => {
            // A closed pipe (`| head`) is not an error of ours.
            use std::io::Write as _;
            let _ = writeln!(std::io::stdout(), "{out}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("auth {command}: {e}");
            std::process::ExitCode::from(e.exit_code())
        }
    }
}
