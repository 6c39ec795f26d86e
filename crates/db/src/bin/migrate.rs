//! `migrate`: migrates the database the environment names (`DATABASE_URL`, or the
//! originals' `POSTGRESQL_*` / `PG_*`) with the services' own migrator,
//! [`hub_db::migrator`], exactly as every service does at start-up
//! ([`hub_db::PgSettings::connect`]: wait for the server, then migrate under sqlx's
//! advisory lock). scripts/sqlx-prepare.sh runs it on its scratch database.
//!
//! Prints `migrate: N migrations applied or already there`; exit 2 for a missing or
//! invalid setting, 1 when PostgreSQL fails. The URL is never printed.

use std::process::ExitCode;

use hub_config::{ProcessEnv, Vars};
use hub_db::PgSettings;

fn main() -> ExitCode {
    if std::env::args_os().len() > 1 {
        eprintln!(
            "usage: migrate   (no arguments: migrates the database DATABASE_URL names; see hub-db)"
        );
        return ExitCode::from(2);
    }
    let settings = match PgSettings::from_vars(&Vars::new(&ProcessEnv)) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("migrate: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("migrate: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let migrated = runtime.block_on(async {
        let pool = settings.connect("hub-migrate").await?;
        pool.close().await;
        Ok::<_, hub_db::DbError>(())
    });
    match migrated {
        Ok(()) => {
            let n = hub_db::migrator().iter().count();
            println!("migrate: {n} migrations applied or already there");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("migrate: {e}");
            ExitCode::FAILURE
        }
    }
}
