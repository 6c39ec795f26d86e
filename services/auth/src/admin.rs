//! The operator's commands, run with the service's own `DATABASE_URL` (or
//! `POSTGRESQL_*` / `PG_*`) settings:
//!
//! * `auth locks`: the login throttle, as `auth locks [list]` or `auth locks clear
//!   (--account <username or email> | --login <string> | --address <ip> | --key <key>)`.
//! * `auth tokens revoke --account <username or email>`: every token the account holds
//!   stops working now.
//! * `auth users grant-admin <username or email>` / `auth users revoke-admin <...>` /
//!   `auth users admins`: the admin role (the only way to make the first administrator;
//!   registration never grants it), and who holds it; `auth users replay-deletions
//!   <file>`: after a restore, the deletions of the log deleted again.
//! * `auth keys generate` / `auth keys public`: a new Ed25519 signing key (PEM), and the
//!   public key and `kid` of the one read on standard input (no database).

use std::net::IpAddr;

use clap::{CommandFactory as _, Parser, Subcommand, error::ErrorKind};
use hub_db::PgSettings;
use hub_runtime::{
    config::{Env, Vars},
    http::client_ip::{self, ProxyTrust},
};

use crate::{
    account,
    login::{throttle_address_key, throttle_user_key},
    store::{self, throttle, users},
};

/// The operator's commands, as clap parses them: `auth <command> ...`. Each command's
/// function below ([`locks`], [`tokens`], [`keys`]) takes the words after its name.
#[derive(Debug, Parser)]
#[command(
    name = "auth",
    about = "The auth service. Without a command it runs the service (settings from the \
             environment); with one, it runs an operator's command against the same \
             settings and exits: 0 done, 1 database error, 2 usage or settings error.",
    long_about = None,
    override_usage = "auth                       (runs the service)\n       auth <COMMAND> [ARGS]...   (an operator's command)"
)]
pub enum Command {
    /// The login throttle: who is locked out, and lifting a lockout.
    #[command(override_usage = LOCKS_USAGE)]
    Locks {
        /// What to do (default: list).
        #[command(subcommand)]
        action: Option<Locks>,
    },
    /// Revoking every token of an account.
    #[command(override_usage = TOKENS_USAGE)]
    Tokens {
        /// What to do.
        #[command(subcommand)]
        action: Tokens,
    },
    /// The admin role: granting, revoking, listing who holds it.
    #[command(override_usage = USERS_USAGE)]
    Users {
        /// What to do.
        #[command(subcommand)]
        action: Users,
    },
    /// Ed25519 signing keys for JWT_SIGNING_KEY (no database).
    #[command(override_usage = KEYS_USAGE)]
    Keys {
        /// What to do.
        #[command(subcommand)]
        action: Keys,
    },
}

/// `auth locks ...`.
#[derive(Debug, Subcommand)]
pub enum Locks {
    /// Every account, login string and client address locked out now, and until when.
    List,
    /// Lifts a lockout and forgets its failures.
    Clear(Clear),
}

/// `auth locks clear`: exactly one of its options.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct Clear {
    /// The account, and also its username and email as login strings.
    #[arg(long, value_name = "username or email", allow_hyphen_values = true)]
    pub account: Option<String>,
    /// A login string, any spelling.
    #[arg(long, value_name = "login string", allow_hyphen_values = true)]
    pub login: Option<String>,
    /// What the address is counted under (an IPv6 address: its CLIENT_IPV6_PREFIX prefix).
    #[arg(long, value_name = "ip or CIDR prefix", allow_hyphen_values = true)]
    pub address: Option<String>,
    /// A key as `auth locks` lists it.
    #[arg(long, value_name = "key as listed", allow_hyphen_values = true)]
    pub key: Option<String>,
}

/// `auth tokens ...`.
#[derive(Debug, Subcommand)]
pub enum Tokens {
    /// Every access token and refresh token the account holds stops working now, on every
    /// service that checks revocation (auth, session); the user logs in again.
    Revoke {
        /// The account.
        #[arg(long, value_name = "username or email", allow_hyphen_values = true)]
        account: String,
    },
}

/// `auth users ...`.
#[derive(Debug, Subcommand)]
pub enum Users {
    /// Makes the account an administrator: its next login or refresh carries the `admin`
    /// role, which the `/api/admin/users` routes require.
    GrantAdmin {
        /// The account.
        #[arg(value_name = "username or email", allow_hyphen_values = true)]
        account: String,
    },
    /// Takes the admin role away: the admin routes refuse the account's tokens at once
    /// (they check the stored role on every request); its other uses go on.
    RevokeAdmin {
        /// The account.
        #[arg(value_name = "username or email", allow_hyphen_values = true)]
        account: String,
    },
    /// Every administrator, one per line.
    Admins,
    /// After a restore: deletes again every account of a deletion log (one `<user id>
    /// [<time>]` per line, as `scripts/backup.sh restore` writes it) that the restored
    /// database still holds, as auth deletes an account (with its `UserDeleted` for session
    /// and images); the ones already gone are counted and left. Run before the services
    /// serve (docs/OPERATIONS.md, "Backup and restore").
    ReplayDeletions {
        /// The deletion log.
        #[arg(value_name = "file")]
        file: std::path::PathBuf,
    },
}

/// `auth keys ...`.
#[derive(Debug, Subcommand)]
pub enum Keys {
    /// Prints a new Ed25519 private key (PKCS#8 PEM) for JWT_SIGNING_KEY.
    Generate,
    /// Reads a private key on standard input; prints its kid and its public key (for
    /// JWT_ADDITIONAL_PUBLIC_KEYS).
    Public,
}

/// The usage lines of `auth locks` (clap's `Usage:`, and the end of every misuse message).
const LOCKS_USAGE: &str = "\
auth locks [list]
       auth locks clear --account <username or email>
       auth locks clear --login <login string, any spelling>
       auth locks clear --address <ip or CIDR prefix>
       auth locks clear --key <key as listed>";

/// The usage line of `auth tokens`.
const TOKENS_USAGE: &str = "auth tokens revoke --account <username or email>";

/// The usage lines of `auth users`.
const USERS_USAGE: &str = "\
auth users grant-admin <username or email>
       auth users revoke-admin <username or email>
       auth users admins
       auth users replay-deletions <file>";

/// The usage lines of `auth keys`.
const KEYS_USAGE: &str = "\
auth keys generate
       auth keys public < private-key.pem";

/// `auth --help`: the commands, and that none runs the service.
pub fn help() -> String {
    Command::command().render_help().to_string()
}

/// Parses `auth <name> <args>`: the command, or what to print for `--help` / `help`
/// (`Ok(Err(text))`), or the misuse (exit 2) with the command's usage.
fn parse(name: &str, usage: &str, args: &[String]) -> Result<Result<Command, String>, AdminError> {
    let words = ["auth", name]
        .into_iter()
        .chain(args.iter().map(String::as_str));
    match Command::try_parse_from(words) {
        Ok(command) => Ok(Ok(command)),
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            Ok(Err(e.render().to_string().trim_end().to_owned()))
        }
        // `auth keys` alone: clap would print the whole help as the error.
        Err(e) if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            Err(misuse("what to do is missing", name, usage))
        }
        Err(e) => {
            // clap's message without its own usage and footer: ours follows.
            let text = e.render().to_string();
            let why: Vec<&str> = text
                .trim_end()
                .split("\n\n")
                .filter(|p| !p.starts_with("Usage:") && !p.starts_with("For more information"))
                .collect();
            let why = why.join("\n\n");
            Err(misuse(
                why.strip_prefix("error: ").unwrap_or(&why),
                name,
                usage,
            ))
        }
    }
}

/// Wrong arguments to `auth <name>`: why, then the command's usage lines.
fn misuse(why: &str, name: &str, usage: &str) -> AdminError {
    AdminError::Misuse(format!(
        "{why}\n\nusage: {usage}\n\nMore: auth {name} --help"
    ))
}

/// Why the command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The arguments name what does not exist (exit 2).
    #[error("{0}\n\nusage: {LOCKS_USAGE}")]
    Usage(String),
    /// The arguments are wrong, or what they name cannot be used; the text says why (and
    /// for wrong arguments, how to call the command) (exit 2).
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
    let action = match parse("locks", LOCKS_USAGE, args)? {
        Ok(Command::Locks { action }) => action.unwrap_or(Locks::List),
        Ok(_) => return Err(other_command("locks")),
        Err(help) => return Ok(help),
    };
    let vars = Vars::new(env);
    let settings = PgSettings::from_vars(&vars)?;
    let clients = ProxyTrust::from_vars(&vars)?;
    let pool = settings.connect("auth-admin").await.map_err(db)?;
    let mut conn = pool.acquire().await.map_err(db)?;
    let out = match action {
        Locks::List => list(&throttle::locks(&mut conn).await.map_err(db)?),
        Locks::Clear(what) => {
            let keys = keys_for(&mut conn, &clients, &what).await?;
            let n = throttle::unlock(&mut conn, &keys).await.map_err(db)?;
            format!("cleared {n} lock(s)")
        }
    };
    drop(conn);
    pool.close().await;
    Ok(out)
}

/// Runs `auth tokens <args>` against the database `env` names; returns what to print.
pub async fn tokens(args: &[String], env: &dyn Env) -> Result<String, AdminError> {
    let login = match parse("tokens", TOKENS_USAGE, args)? {
        Ok(Command::Tokens {
            action: Tokens::Revoke { account },
        }) => account,
        Ok(_) => return Err(other_command("tokens")),
        Err(help) => return Ok(help),
    };
    let login = login.as_str();
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

/// Runs `auth users <args>` against the database `env` names; returns what to print.
pub async fn users(args: &[String], env: &dyn Env) -> Result<String, AdminError> {
    let action = match parse("users", USERS_USAGE, args)? {
        Ok(Command::Users { action }) => action,
        Ok(_) => return Err(other_command("users")),
        Err(help) => return Ok(help),
    };
    let vars = Vars::new(env);
    let settings = PgSettings::from_vars(&vars)?;
    let queues = crate::config::deletion_queues(&vars);
    let pool = settings.connect("auth-admin").await.map_err(db)?;
    let out = match action {
        Users::ReplayDeletions { file } => replay_deletions(&pool, &queues, &file).await,
        Users::GrantAdmin { account } | Users::RevokeAdmin { account }
            if account.contains('\0') =>
        {
            Err(AdminError::Misuse(format!(
                "no account has the login {account:?}"
            )))
        }
        Users::GrantAdmin { account } => set_admin(&pool, &account, true).await,
        Users::RevokeAdmin { account } => set_admin(&pool, &account, false).await,
        Users::Admins => {
            let admins = account::admin::holders(&pool, account::admin::ADMIN)
                .await
                .map_err(db)?;
            Ok(if admins.is_empty() {
                "no administrators".to_owned()
            } else {
                admins
                    .iter()
                    .map(|(id, name)| format!("{name} ({id})"))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
    };
    pool.close().await;
    out
}

/// `replay-deletions <file>`: each id of the log deleted again if the database holds it.
async fn replay_deletions(
    pool: &sqlx::PgPool,
    queues: &account::deletion::Queues,
    file: &std::path::Path,
) -> Result<String, AdminError> {
    use account::deletion::{By, DeletionError, delete_on};
    let text = std::fs::read_to_string(file)
        .map_err(|e| AdminError::Misuse(format!("cannot read {}: {e}", file.display())))?;
    // The whole log read first: a bad line deletes nothing.
    let mut ids = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some(word) = line.split_whitespace().next() else {
            continue;
        };
        ids.push(uuid::Uuid::parse_str(word).map_err(|_| {
            AdminError::Misuse(format!(
                "{} line {}: not a user id: {word:?}",
                file.display(),
                n + 1
            ))
        })?);
    }
    let (mut deleted, mut gone) = (0u64, 0u64);
    for id in ids {
        match delete_on(pool, queues, id, By::User, Some("replay-deletions".into())).await {
            Ok(_) => deleted += 1,
            Err(DeletionError::NotFound) => gone += 1,
            Err(e) => return Err(db(e)),
        }
    }
    Ok(format!(
        "deleted {deleted} account(s) again; {gone} already gone"
    ))
}

/// `grant-admin` / `revoke-admin` of `login`.
async fn set_admin(pool: &sqlx::PgPool, login: &str, grant: bool) -> Result<String, AdminError> {
    let (id, changed) = account::admin::set_role(pool, login, account::admin::ADMIN, grant)
        .await
        .map_err(db)?
        .ok_or_else(|| AdminError::Misuse(format!("no account has the login {login:?}")))?;
    Ok(match (grant, changed) {
        (true, true) => {
            format!("{login} ({id}) is now an administrator (from its next login or refresh)")
        }
        (true, false) => format!("{login} ({id}) was already an administrator"),
        (false, true) => format!("{login} ({id}) is no longer an administrator"),
        (false, false) => format!("{login} ({id}) was not an administrator"),
    })
}

/// Runs `auth keys <args>`; `stdin` is read by `public`. Returns what to print.
pub fn keys(args: &[String], stdin: &mut dyn std::io::Read) -> Result<String, AdminError> {
    let action = match parse("keys", KEYS_USAGE, args)? {
        Ok(Command::Keys { action }) => action,
        Ok(_) => return Err(other_command("keys")),
        Err(help) => return Ok(help),
    };
    match action {
        Keys::Generate => Ok(hub_identity::keys::generate_signing_pem()
            .trim_end()
            .to_owned()),
        Keys::Public => {
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
    }
}

/// What `parse(name, ..)` never returns, since it parses `auth <name> ...`: another command.
fn other_command(name: &str) -> AdminError {
    AdminError::Misuse(format!("not an `auth {name}` command"))
}

/// The throttle keys an operator's `clear` names. A login string's key is its canonical
/// form's, and also its lower-cased form's where that differs (the key the previous
/// release wrote); an address's is what it is counted under now, and also the address
/// alone where that differs (the previous release's key for an IPv6 address).
async fn keys_for(
    conn: &mut sqlx::PgConnection,
    clients: &ProxyTrust,
    what: &Clear,
) -> Result<Vec<String>, AdminError> {
    let mut keys = match what {
        Clear {
            account: Some(value),
            ..
        } => {
            let user = users::find_by_login(conn, value)
                .await
                .map_err(db)?
                .ok_or_else(|| AdminError::Usage(format!("no account has the login {value:?}")))?;
            let mut keys = vec![format!("account:{}", user.id)];
            keys.extend(login_keys(conn, &user.username).await?);
            keys.extend(login_keys(conn, &user.email).await?);
            keys
        }
        Clear {
            login: Some(value), ..
        } => login_keys(conn, value).await?,
        Clear {
            address: Some(value),
            ..
        } => {
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
        Clear {
            key: Some(value), ..
        } => vec![value.to_owned()],
        // clap requires exactly one of the four.
        Clear { .. } => return Err(AdminError::Usage("clear what?".into())),
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
