//! `registry`: services.toml for the shell scripts (scripts/lib/registry.sh builds and
//! runs it; see there).
//!
//!   registry services [FILE]   one line per service, in file order:
//!                              `name port health protocol`
//!
//! FILE defaults to the services.toml of the checkout the binary was built from. A file
//! that does not parse, or breaks a rule of [`hub_registry::parse`], prints
//! `registry: FILE: why` on stderr and exits 1 (nothing on stdout); wrong arguments
//! print the usage and exit 2.

use std::{io::Write as _, path::PathBuf, process::ExitCode};

const USAGE: &str =
    "usage: registry services [FILE]   (FILE: default the checkout's services.toml)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let file = match args.as_slice() {
        [cmd] if cmd == "services" => default_file(),
        [cmd, file] if cmd == "services" => PathBuf::from(file),
        [flag] if flag == "--help" || flag == "-h" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let services = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read: {e}"))
        .and_then(|text| hub_registry::parse(&text));
    match services {
        Ok(services) => {
            let text: String = services.iter().map(|s| s.line() + "\n").collect();
            // A closed pipe (`| head`) is the reader's choice, not an error of ours.
            let _ = std::io::stdout().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("registry: {}: {e}", file.display());
            ExitCode::FAILURE
        }
    }
}

/// services.toml at the root of the workspace this crate belongs to.
fn default_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(hub_registry::FILE)
}
