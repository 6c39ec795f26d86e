//! Codes that confirm an email address (migration `user_updated_email_verification`,
//! table `email_confirmation`): mailed at registration (user-soap) and for an email
//! change or a resend (auth); written once here for both.
//!
//! A code is 160 random bits (base64url, 27 characters), so only its SHA-256 is stored
//! and no attempt counter is needed: it cannot be guessed. Using it deletes its row in
//! one statement, so it works once across every instance.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
use hub_config::{ConfigError, Vars};
use sha2::{Digest as _, Sha256};

/// The confirmation settings, read alike by every service that issues codes.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `EMAIL_CODE_TTL_SECS` (default 86 400, a day): how long a mailed code works.
    pub ttl: Duration,
    /// `EMAIL_CODE_RESEND_SECS` (default 60): the least time between two codes for the
    /// same user and purpose; a request sooner mails nothing.
    pub resend_interval: Duration,
    /// `RABBITMQ_ACCOUNT_QUEUE` (default `account-events`): where the events that ask
    /// notifications for a mail go.
    pub queue: String,
}

impl Settings {
    /// Reads the variables above.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            ttl: vars.seconds_or("EMAIL_CODE_TTL_SECS", Duration::from_secs(86_400))?,
            resend_interval: vars.seconds_or("EMAIL_CODE_RESEND_SECS", Duration::from_secs(60))?,
            queue: vars.string_or("RABBITMQ_ACCOUNT_QUEUE", "account-events"),
        })
    }
}

/// What a code confirms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The account's current email (verification).
    Registration,
    /// A new address, which becomes the account's email once confirmed.
    EmailChange,
}

impl Purpose {
    /// The `purpose` column's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::EmailChange => "email_change",
        }
    }

    /// From the `purpose` column's value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "registration" => Some(Self::Registration),
            "email_change" => Some(Self::EmailChange),
            _ => None,
        }
    }
}

/// A new code: its text (mailed, never stored nor logged) and its digest (stored).
pub fn new_code() -> (String, Vec<u8>) {
    let mut raw = [0u8; 20];
    crate::password::fill_random(&mut raw);
    let code = B64URL.encode(raw);
    let digest = digest(&code);
    (code, digest)
}

/// The stored form of a code: SHA-256 of its text (surrounding spaces, which a pasted
/// code may carry, removed).
pub fn digest(code: &str) -> Vec<u8> {
    Sha256::digest(code.trim().as_bytes()).to_vec()
}

#[cfg(feature = "postgres")]
pub use store::*;

#[cfg(feature = "postgres")]
mod store {
    use std::time::Duration;

    use chrono::{DateTime, Utc};
    use sqlx::PgConnection;
    use uuid::Uuid;

    use super::{Purpose, new_code};

    /// A code issued: its text, to mail, and when it expires.
    pub struct Issued {
        /// The code (never log it).
        pub code: String,
        /// Whole minutes until it expires (the mail's wording).
        pub expires_in_minutes: u32,
    }

    impl std::fmt::Debug for Issued {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Issued { .. }")
        }
    }

    /// Issues a code for `user_id` and `purpose` confirming `email`, valid for `ttl`,
    /// replacing the pending one unless that one is younger than `min_interval` (then
    /// `None`: nothing issued, the earlier mail stands). One statement, so two requests
    /// at once on any instances issue at most one code per interval. Call it in the
    /// transaction that records the event which mails the code.
    pub async fn issue(
        conn: &mut PgConnection,
        user_id: Uuid,
        purpose: Purpose,
        email: &str,
        ttl: Duration,
        min_interval: Duration,
    ) -> Result<Option<Issued>, sqlx::Error> {
        let (code, digest) = new_code();
        let ttl_secs = ttl.as_secs_f64();
        let issued = sqlx::query_scalar!(
            r#"INSERT INTO email_confirmation (user_id, purpose, email, code_digest, expires_at)
               VALUES ($1, $2, $3, $4, clock_timestamp() + make_interval(secs => $5))
               ON CONFLICT (user_id, purpose) DO UPDATE
                 SET email = EXCLUDED.email, code_digest = EXCLUDED.code_digest,
                     created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
                 WHERE email_confirmation.created_at <= clock_timestamp() - make_interval(secs => $6)
               RETURNING true AS "issued!""#,
            user_id,
            purpose.as_str(),
            email,
            digest,
            ttl_secs,
            min_interval.as_secs_f64(),
        )
        .fetch_optional(conn)
        .await?;
        Ok(issued.map(|_| Issued {
            code,
            expires_in_minutes: u32::try_from(ttl.as_secs().div_ceil(60)).unwrap_or(u32::MAX),
        }))
    }

    /// A code used: whose, for what, and the address it confirms.
    #[derive(Debug, Clone)]
    pub struct Used {
        /// The user.
        pub user_id: Uuid,
        /// What it confirms.
        pub purpose: Purpose,
        /// The address it was mailed to.
        pub email: String,
    }

    /// Uses the code whose digest is `digest`: deletes its row and returns it, if it
    /// exists and has not expired. Of two uses at once on any instances, one gets it;
    /// call it in the transaction that applies it (a rollback gives the code back).
    pub async fn take(conn: &mut PgConnection, digest: &[u8]) -> Result<Option<Used>, sqlx::Error> {
        let row = sqlx::query!(
            r#"DELETE FROM email_confirmation WHERE code_digest = $1
               RETURNING user_id, purpose, email, expires_at > clock_timestamp() AS "live!""#,
            digest,
        )
        .fetch_optional(conn)
        .await?;
        Ok(row.filter(|r| r.live).and_then(|r| {
            Some(Used {
                user_id: r.user_id,
                purpose: Purpose::parse(&r.purpose)?,
                email: r.email,
            })
        }))
    }

    /// The pending email change of `user_id`, if any: the new address and until when
    /// its code works.
    pub async fn pending_change(
        conn: &mut PgConnection,
        user_id: Uuid,
    ) -> Result<Option<(String, DateTime<Utc>)>, sqlx::Error> {
        let row = sqlx::query!(
            r#"SELECT email, expires_at FROM email_confirmation
               WHERE user_id = $1 AND purpose = 'email_change' AND expires_at > clock_timestamp()"#,
            user_id,
        )
        .fetch_optional(conn)
        .await?;
        Ok(row.map(|r| (r.email, r.expires_at)))
    }

    /// Serialises, until the transaction ends, every writer that gives some account the
    /// email `email` (registration, an email change), whichever instance it runs on:
    /// the unique indexes see only rows registered by this port, so two legacy rows
    /// changing to the same address, or a change racing a registration, could otherwise
    /// both pass their check. Keyed by the address's canonical form.
    pub async fn lock_address(conn: &mut PgConnection, email: &str) -> Result<(), sqlx::Error> {
        sqlx::query_scalar!(
            r#"SELECT true AS "locked!"
               FROM pg_advisory_xact_lock(hashtextextended('user-email:' || identity_canonical($1), 0))"#,
            email,
        )
        .fetch_one(conn)
        .await?;
        Ok(())
    }

    /// Deletes the codes that expired (any instance may: idempotent); returns how many.
    pub async fn prune(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
        let done =
            sqlx::query!("DELETE FROM email_confirmation WHERE expires_at <= clock_timestamp()")
                .execute(conn)
                .await?;
        Ok(done.rows_affected())
    }
}
