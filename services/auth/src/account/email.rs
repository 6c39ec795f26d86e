//! Email verification and email change: codes mailed through the outbox
//! (`EmailVerificationRequested`, consumed by notifications), stored hashed, used once
//! across instances (`hub_identity::confirmation`), and the notice to the old address
//! (`EmailChanged`).
//!
//! One confirmation route serves both: a code knows what it confirms. It needs no token,
//! so a user whose login waits for the verification (`REQUIRE_VERIFIED_EMAIL`) can use it.

use hub_events::{
    catalogue::{EmailChanged, EmailVerificationRequested, VerificationPurpose},
    outbox,
};
use hub_identity::{
    confirmation::{self, Purpose},
    fields,
    password::Verification,
};
use secrecy::{ExposeSecret as _, SecretString};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{error::ApiError, state::AppState, store::users::User};

/// Whether user `id`'s email is verified (a missing user is not).
pub async fn is_verified(conn: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    let verified = sqlx::query_scalar!(
        r#"SELECT email_verified_at IS NOT NULL AS "verified!" FROM "user" WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(verified.unwrap_or(false))
}

/// Whether an account other than `id` has `email`, exactly, under the canonical form, or
/// as a username (a legacy username may hold `@`; login would confuse them), as
/// registration checks it.
async fn taken(conn: &mut PgConnection, id: Uuid, email: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM "user" WHERE id <> $1
             AND (email = $2 OR identity_canonical(email) = identity_canonical($2)
                  OR identity_canonical(username) = identity_canonical($2))) AS "taken!""#,
        id,
        email,
    )
    .fetch_one(conn)
    .await
}

/// The event that mails `issued` to `email`.
fn verification_event(
    user_id: Uuid,
    username: String,
    email: String,
    issued: confirmation::Issued,
    purpose: VerificationPurpose,
) -> EmailVerificationRequested {
    EmailVerificationRequested {
        user_id,
        username,
        email,
        code: issued.code,
        link: None,
        expires_in_minutes: issued.expires_in_minutes,
        purpose,
    }
}

/// Mails a new verification code to the account whose email is `email`, if there is
/// exactly one such account (canonically) and its email is not verified yet, and no
/// code was mailed to it within `EMAIL_CODE_RESEND_SECS`. The caller answers the same
/// whatever happened, so the answer tells nothing about the address. 400 only for a
/// value that is not an email address.
pub async fn resend(state: &AppState, email: &str, correlation_id: String) -> Result<(), ApiError> {
    let email = fields::checked_email(email).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let settings = state.confirmation.clone();
    hub_db::transaction(&state.pool, move |mut tx| async move {
        let found = sqlx::query!(
            r#"SELECT id, username, email FROM "user"
               WHERE identity_canonical(email) = identity_canonical($1)
                 AND email_verified_at IS NULL
               LIMIT 2"#,
            email,
        )
        .fetch_all(&mut *tx)
        .await?;
        let [user] = found.as_slice() else {
            return Ok(());
        };
        let issued = confirmation::issue(
            &mut tx,
            user.id,
            Purpose::Registration,
            &user.email,
            settings.ttl,
            settings.resend_interval,
        )
        .await?;
        if let Some(issued) = issued {
            let event = verification_event(
                user.id,
                user.username.clone(),
                user.email.clone(),
                issued,
                VerificationPurpose::Registration,
            );
            outbox::enqueue(&mut tx, &settings.queue, &event, Some(&correlation_id)).await?;
            tracing::info!(user.id = %user.id, "email verification code sent again");
        }
        tx.commit().await?;
        Ok(())
    })
    .await
}

/// An email change asked for: the code went to the new address.
#[derive(Debug, Clone)]
pub struct ChangeRequested {
    /// The address the code was mailed to.
    pub new_email: String,
    /// Minutes until the code expires.
    pub expires_in_minutes: u32,
}

/// Asks to change `caller`'s email to `new_email`, proven by the current `password`:
/// checks the address as registration does (its shape, and that no other account has
/// it), stores a code and mails it to the new address. Nothing changes until the code
/// comes back ([`confirm`]). A new request replaces the pending one (its code stops
/// working), at most once per `EMAIL_CODE_RESEND_SECS` (else 429).
pub async fn request_change(
    state: &AppState,
    caller: &User,
    new_email: &str,
    password: SecretString,
    correlation_id: String,
) -> Result<ChangeRequested, ApiError> {
    let new_email = fields::checked_email(new_email).map_err(|e| {
        ApiError::BadRequest(
            e.to_string()
                .replacen("Invalid email", "Invalid new_email", 1),
        )
    })?;
    if new_email == caller.email {
        return Err(ApiError::BadRequest(
            "Invalid new_email: is already the account's email".into(),
        ));
    }
    let stored = caller.password.clone();
    let verdict = state
        .hashing
        .run(move |h| h.verify(password.expose_secret(), Some(&stored)))
        .await?;
    if !matches!(verdict, Verification::Valid { .. }) {
        tracing::info!(user.id = %caller.id, "email change refused: wrong password");
        return Err(ApiError::WrongPassword);
    }

    let settings = state.confirmation.clone();
    let (id, username) = (caller.id, caller.username.clone());
    hub_db::transaction(&state.pool, move |mut tx| async move {
        if taken(&mut tx, id, &new_email).await? {
            return Err(ApiError::EmailTaken);
        }
        let issued = confirmation::issue(
            &mut tx,
            id,
            Purpose::EmailChange,
            &new_email,
            settings.ttl,
            settings.resend_interval,
        )
        .await?
        .ok_or(ApiError::CodeSentRecently(
            settings.resend_interval.as_secs().max(1),
        ))?;
        let expires_in_minutes = issued.expires_in_minutes;
        let event = verification_event(
            id,
            username,
            new_email.clone(),
            issued,
            VerificationPurpose::EmailChange,
        );
        outbox::enqueue(&mut tx, &settings.queue, &event, Some(&correlation_id)).await?;
        tx.commit().await?;
        tracing::info!(user.id = %id, "email change asked for");
        Ok(ChangeRequested {
            new_email,
            expires_in_minutes,
        })
    })
    .await
}

/// A code used.
#[derive(Debug, Clone)]
pub struct Confirmed {
    /// The user.
    pub user_id: Uuid,
    /// What it confirmed.
    pub purpose: Purpose,
    /// The account's email now (verified).
    pub email: String,
}

/// Uses `code`: verifies the account's email, or, for an email change, makes the new
/// address the account's email (verified, since the code was mailed there) and records
/// `EmailChanged`, which mails a notice to the old address.
///
/// Once: of two uses at once, on any instances, one confirms and the other is
/// [`ApiError::InvalidCode`]. An unknown, used or expired code is `InvalidCode`; so is a
/// verification code of an address the account no longer has. An email change whose
/// address another account took meanwhile is [`ApiError::EmailTaken`] (the code is used
/// up): the address is claimed under a lock shared with registration, so of two accounts
/// confirming the same address at once, one gets it.
pub async fn confirm(
    state: &AppState,
    code: &str,
    correlation_id: String,
) -> Result<Confirmed, ApiError> {
    if code.trim().is_empty() {
        return Err(ApiError::BadRequest("Missing field: code".into()));
    }
    let digest = confirmation::digest(code);
    let queue = state.confirmation.queue.clone();
    hub_db::transaction(&state.pool, move |mut tx| async move {
        let Some(used) = confirmation::take(&mut tx, &digest).await? else {
            // An expired row was deleted all the same.
            tx.commit().await?;
            return Err(ApiError::InvalidCode);
        };
        let id = used.user_id;
        match used.purpose {
            Purpose::Registration => {
                let verified = sqlx::query_scalar!(
                    r#"UPDATE "user" SET email_verified_at = coalesce(email_verified_at, clock_timestamp())
                       WHERE id = $1 AND email = $2 RETURNING email"#,
                    id,
                    used.email,
                )
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                let email = verified.ok_or(ApiError::InvalidCode)?;
                tracing::info!(user.id = %id, "email verified");
                Ok(Confirmed {
                    user_id: id,
                    purpose: used.purpose,
                    email,
                })
            }
            Purpose::EmailChange => {
                confirmation::lock_address(&mut tx, &used.email).await?;
                let old = sqlx::query!(
                    r#"SELECT username, email FROM "user" WHERE id = $1 FOR NO KEY UPDATE"#,
                    id
                )
                .fetch_optional(&mut *tx)
                .await?;
                let Some(old) = old else {
                    tx.commit().await?;
                    return Err(ApiError::InvalidCode);
                };
                if taken(&mut tx, id, &used.email).await? {
                    tx.commit().await?;
                    tracing::info!(user.id = %id, "email change refused: address taken meanwhile");
                    return Err(ApiError::EmailTaken);
                }
                let updated = sqlx::query!(
                    r#"UPDATE "user" SET email = $2, email_verified_at = clock_timestamp() WHERE id = $1"#,
                    id,
                    used.email,
                )
                .execute(&mut *tx)
                .await;
                match updated {
                    Ok(_) => {}
                    // A row registered meanwhile under the unique indexes.
                    Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                        return Err(ApiError::EmailTaken);
                    }
                    Err(e) => return Err(e.into()),
                }
                // A verification code of the old address verifies nothing any more.
                sqlx::query!(
                    "DELETE FROM email_confirmation WHERE user_id = $1 AND purpose = 'registration'",
                    id
                )
                .execute(&mut *tx)
                .await?;
                let event = EmailChanged {
                    user_id: id,
                    username: old.username,
                    old_email: old.email,
                    new_email: used.email.clone(),
                };
                outbox::enqueue(&mut tx, &queue, &event, Some(&correlation_id)).await?;
                tx.commit().await?;
                tracing::info!(user.id = %id, "email changed");
                Ok(Confirmed {
                    user_id: id,
                    purpose: used.purpose,
                    email: used.email,
                })
            }
        }
    })
    .await
}
