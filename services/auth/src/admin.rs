//! The operator's commands, run with the service's own `DATABASE_URL` (or
//! `POSTGRESQL_*` / `PG_*`) settings:
//!
//! * `auth locks`: the login throttle, as `auth locks [list]` or `auth locks clear
//!   (--account <username or email> | --login <string> | --address <ip> | --key <key>)`.
//! * `auth tokens revoke --account <username or email>`: every token the account holds
//!   stops working now.
//! * `auth keys generate` / `auth keys public`: a new Ed25519 signing key (PEM), and the
//!   public key and `kid` of the one read on standard input (no database).

use std::net::IpAddr;

use hub_db::PgSettings;
use hub_runtime::{
    config::{Env, Vars},
    http::client_ip::{self, ProxyTrust},
};

use crate::{
    login::{throttle_address_key, throttle_user_key},
    store::{self, throttle, users},
};

/// The usage text, printed for `auth locks --help` and any misuse.
pub const USAGE: &str = "\
usage: auth locks [list]
       auth locks clear --account <username or email>
       auth locks clear --login <login string, any spelling>
       auth locks clear --address <ip or CIDR prefix>
       auth locks clear --key <key as listed>

list:   every account, login string and client address locked out now, and until when
clear:  lifts a lockout and forgets its failures; --account also clears the account's
        username and email as login strings; --address clears what the address is
        counted under (an IPv6 address: its CLIENT_IPV6_PREFIX prefix)";

/// The usage text of `auth tokens`.
pub const TOKENS_USAGE: &str = "\
usage: auth tokens revoke --account <username or email>

revoke: every access token and refresh token the account holds stops working now, on
        every service that checks revocation (auth, session); the user logs in again";

/// The usage text of `auth keys`.
pub const KEYS_USAGE: &str = "\
usage: auth keys generate
       auth keys public < private-key.pem

generate: prints a new Ed25519 private key (PKCS#8 PEM) for JWT_SIGNING_KEY
public:   reads a private key on standard input; prints its kid and its public key
          (for JWT_ADDITIONAL_PUBLIC_KEYS)";

/// Why the command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The arguments do not say what to do (exit 2).
    #[error("{0}\n\n{USAGE}")]
    Usage(String),
    /// Another command's arguments are wrong; the text includes its usage (exit 2).
    #[error("{0}")]
    Misuse(String),
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
            Self::Usage(_) | Self::Misuse(_) | Self::Config(_) => 2,
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
    let vars = Vars::new(env);
    let settings = PgSettings::from_vars(&vars)?;
    let clients = ProxyTrust::from_vars(&vars)?;
    let pool = settings.connect("auth-admin").await.map_err(db)?;
    let mut conn = pool.acquire().await.map_err(db)?;
    let out = match args.as_slice() {
        [] | ["list"] => list(&throttle::locks(&mut conn).await.map_err(db)?),
        ["clear", flag, value] => {
            let keys = keys_for(&mut conn, &clients, flag, value).await?;
            let n = throttle::unlock(&mut conn, &keys).await.map_err(db)?;
            format!("cleared {n} lock(s)")
        }
        _ => return Err(AdminError::Usage("unknown arguments".into())),
    };
    drop(conn);
    pool.close().await;
    Ok(out)
}

/// Runs `auth tokens <args>` against the database `env` names; returns what to print.
pub async fn tokens(args: &[String], env: &dyn Env) -> Result<String, AdminError> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let login = match args.as_slice() {
        ["--help" | "-h" | "help"] => return Ok(TOKENS_USAGE.to_owned()),
        ["revoke", "--account", login] => *login,
        _ => {
            return Err(AdminError::Misuse(format!(
                "unknown arguments\n\n{TOKENS_USAGE}"
            )));
        }
    };
    let settings = PgSettings::from_vars(&Vars::new(env))?;
    let pool = settings.connect("auth-admin").await.map_err(db)?;
    let mut conn = pool.acquire().await.map_err(db)?;
    let user = users::find_by_login(&mut conn, login)
        .await
        .map_err(db)?
        .ok_or_else(|| AdminError::Misuse(format!("no account has the login {login:?}")))?;
    store::tokens::revoke_all(&mut conn, user.id)
        .await
        .map_err(db)?;
    drop(conn);
    pool.close().await;
    Ok(format!(
        "revoked every token of {} ({})",
        user.username, user.id
    ))
}

/// Runs `auth keys <args>`; `stdin` is read by `public`. Returns what to print.
pub fn keys(args: &[String], stdin: &mut dyn std::io::Read) -> Result<String, AdminError> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["--help" | "-h" | "help"] => Ok(KEYS_USAGE.to_owned()),
        ["generate"] => Ok(hub_identity::keys::generate_signing_pem()
            .trim_end()
            .to_owned()),
        ["public"] => {
            let mut pem = String::new();
            stdin
                .read_to_string(&mut pem)
                .map_err(|e| AdminError::Misuse(format!("cannot read standard input: {e}")))?;
            let key = hub_identity::keys::SigningKey::from_pem(&pem)
                .map_err(|e| AdminError::Misuse(format!("standard input: {e}")))?;
            Ok(format!(
                "# kid {}\n{}",
                key.public().kid(),
                key.public().to_pem().trim_end()
            ))
        }
        _ => Err(AdminError::Misuse(format!(
            "unknown arguments\n\n{KEYS_USAGE}"
        ))),
    }
}

/// The throttle keys an operator's `clear` names. A login string's key is its canonical
/// form's, and also its lower-cased form's where that differs (the key the previous
/// release wrote); an address's is what it is counted under now, and also the address
/// alone where that differs (the previous release's key for an IPv6 address).
async fn keys_for(
    conn: &mut sqlx::PgConnection,
    clients: &ProxyTrust,
    flag: &str,
    value: &str,
) -> Result<Vec<String>, AdminError> {
    let mut keys = match flag {
        "--account" => {
            let user = users::find_by_login(conn, value)
                .await
                .map_err(db)?
                .ok_or_else(|| AdminError::Usage(format!("no account has the login {value:?}")))?;
            let mut keys = vec![format!("account:{}", user.id)];
            keys.extend(login_keys(conn, &user.username).await?);
            keys.extend(login_keys(conn, &user.email).await?);
            keys
        }
        "--login" => login_keys(conn, value).await?,
        "--address" => {
            if let Ok(ip) = value.parse::<IpAddr>() {
                vec![
                    throttle_address_key(&clients.client_key_text(ip)),
                    throttle_address_key(&ip.to_string()),
                ]
            } else if let Ok(net) = value.parse() {
                vec![throttle_address_key(&client_ip::key_text(net))]
            } else {
                return Err(AdminError::Usage(format!(
                    "not an IP address or CIDR prefix: {value:?}"
                )));
            }
        }
        "--key" => vec![value.to_owned()],
        other => return Err(AdminError::Usage(format!("unknown option {other:?}"))),
    };
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// The keys a login string may be counted under (see [`keys_for`]).
async fn login_keys(conn: &mut sqlx::PgConnection, login: &str) -> Result<Vec<String>, AdminError> {
    let lowered = login.to_lowercase();
    if login.contains('\0') {
        return Ok(vec![throttle_user_key(&lowered)]);
    }
    let canonical = users::canonical(conn, login).await.map_err(db)?;
    Ok(vec![
        throttle_user_key(&canonical),
        throttle_user_key(&lowered),
    ])
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
