//! `auth locks`: the operator's view of the login throttle, run as
//! `auth locks [list]` or `auth locks clear (--account <username or email> |
//! --login <string> | --address <ip> | --key <key>)` with the service's own
//! `DATABASE_URL` (or `POSTGRESQL_*` / `PG_*`) settings.

use std::net::IpAddr;

use hub_db::PgSettings;
use hub_runtime::config::{Env, Vars};

use crate::{
    login::throttle_user_key,
    store::{throttle, users},
};

/// The usage text, printed for `auth locks --help` and any misuse.
pub const USAGE: &str = "\
usage: auth locks [list]
       auth locks clear --account <username or email>
       auth locks clear --login <login string as typed>
       auth locks clear --address <ip>
       auth locks clear --key <key as listed>

list:   every account, login string and client address locked out now, and until when
clear:  lifts a lockout and forgets its failures; --account also clears the account's
        username and email as login strings";

/// Why the command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The arguments do not say what to do (exit 2).
    #[error("{0}\n\n{USAGE}")]
    Usage(String),
    /// A setting is missing or invalid (exit 2).
    #[error(transparent)]
    Config(#[from] hub_runtime::config::ConfigError),
    /// PostgreSQL failed (exit 1).
    #[error("database: {0}")]
    Db(String),
}

impl AdminError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) | Self::Config(_) => 2,
            Self::Db(_) => 1,
        }
    }
}

fn db(e: impl std::fmt::Display) -> AdminError {
    AdminError::Db(e.to_string())
}

/// Runs `auth locks <args>` against the database `env` names; returns what to print.
pub async fn locks(args: &[String], env: &dyn Env) -> Result<String, AdminError> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if matches!(args.as_slice(), ["--help" | "-h" | "help"]) {
        return Ok(USAGE.to_owned());
    }
    let settings = PgSettings::from_vars(&Vars::new(env))?;
    let pool = settings.connect("auth-admin").await.map_err(db)?;
    let mut conn = pool.acquire().await.map_err(db)?;
    let out = match args.as_slice() {
        [] | ["list"] => list(&throttle::locks(&mut conn).await.map_err(db)?),
        ["clear", flag, value] => {
            let keys = keys_for(&mut conn, flag, value).await?;
            let n = throttle::unlock(&mut conn, &keys).await.map_err(db)?;
            format!("cleared {n} lock(s)")
        }
        _ => return Err(AdminError::Usage("unknown arguments".into())),
    };
    drop(conn);
    pool.close().await;
    Ok(out)
}

/// The throttle keys an operator's `clear` names.
async fn keys_for(
    conn: &mut sqlx::PgConnection,
    flag: &str,
    value: &str,
) -> Result<Vec<String>, AdminError> {
    Ok(match flag {
        "--account" => {
            let user = users::find_by_login(conn, value)
                .await
                .map_err(db)?
                .ok_or_else(|| AdminError::Usage(format!("no account has the login {value:?}")))?;
            vec![
                format!("account:{}", user.id),
                throttle_user_key(&user.username),
                throttle_user_key(&user.email),
            ]
        }
        "--login" => vec![throttle_user_key(value)],
        "--address" => {
            let ip: IpAddr = value
                .parse()
                .map_err(|_| AdminError::Usage(format!("not an IP address: {value:?}")))?;
            vec![format!("addr:{ip}")]
        }
        "--key" => vec![value.to_owned()],
        other => return Err(AdminError::Usage(format!("unknown option {other:?}"))),
    })
}

/// One line per lock: what is locked (the username for an account), until when.
fn list(locks: &[throttle::Lock]) -> String {
    if locks.is_empty() {
        return "no locks".to_owned();
    }
    let mut out = format!(
        "{:<72} {:>8} {:<20} {:>8}\n",
        "key", "failures", "until (UTC)", "left (s)"
    );
    for lock in locks {
        let what = match &lock.username {
            Some(name) => format!("{} ({name})", lock.key),
            None => lock.key.clone(),
        };
        out.push_str(&format!(
            "{what:<72} {:>8} {:<20} {:>8}\n",
            lock.failures, lock.until, lock.seconds_left
        ));
    }
    out.trim_end().to_owned()
}
