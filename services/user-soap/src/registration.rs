//! Registering a user: the validated input and the use case (hash the password, store
//! the user, record the event). Knows nothing of HTTP or SOAP: `routes/` reads the
//! envelope into a [`Registration`] and turns the outcome into the reply.

use std::{net::IpAddr, sync::Arc, time::Duration};

use hub_events::{
    catalogue::{
        EmailVerificationRequested, UserRegistered, UserRegistrationFailed, VerificationPurpose,
        producers,
    },
    outbox::{self, OutboxError},
};
use hub_identity::{
    confirmation,
    fields::{self, checked},
    policy::PolicyError,
    pool::HashPoolError,
};
use hub_runtime::http::Failure;
use secrecy::{ExposeSecret as _, SecretString};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    look_alike,
    state::AppState,
    store::{
        throttle::{self, Counted},
        users::{self, InsertError, NewUser, Taken},
    },
};

/// A field of a registration, and why one is refused: the rules every door that writes
/// the user's fields shares ([`hub_identity::fields`]).
pub use hub_identity::fields::{Field, Invalid};

/// A registration with every field present and valid. `Debug` shows no password.
#[derive(Debug)]
pub struct Registration {
    /// Username (trimmed).
    pub username: String,
    /// Password, exactly as sent (not trimmed: the login compares it as typed).
    pub password: SecretString,
    /// First name (trimmed).
    pub first_name: String,
    /// Last name (trimmed).
    pub last_name: String,
    /// National id (trimmed).
    pub dni: String,
    /// Email (trimmed).
    pub email: String,
    /// City (trimmed).
    pub city: String,
}

impl Registration {
    /// Checks each field's text as `raw` finds it (`raw` reports a field that is
    /// missing or repeated in the message) and builds the registration, field by name.
    /// Fields are checked in [`Field::ALL`]'s order and the first problem is returned.
    pub fn from_fields<'a>(
        mut raw: impl FnMut(Field) -> Result<&'a str, Invalid>,
    ) -> Result<Self, Invalid> {
        let mut value = |field| raw(field).and_then(|text| checked(field, text));
        // Struct fields are evaluated as written: keep them in `Field::ALL`'s order.
        let registration = Self {
            username: value(Field::Username)?,
            password: value(Field::Password)?.into(),
            first_name: value(Field::FirstName)?,
            last_name: value(Field::LastName)?,
            dni: value(Field::Dni)?,
            email: value(Field::Email)?,
            city: value(Field::City)?,
        };
        // The rules beyond each field's own (shared with auth's profile and email
        // change): no `@` in a username (it could shadow an email at login), nothing
        // invisible in either identity, an email's shape.
        fields::username(&registration.username)?;
        fields::email(&registration.email)?;
        Ok(registration)
    }
}

/// A stored registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registered {
    /// The new user's id.
    pub id: Uuid,
}

/// Why a registration was not stored.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// Too many registrations from this client address: retry after this many seconds.
    #[error("too many registrations from this address; retry after {0} s")]
    Throttled(u64),
    /// The password breaks the policy (`hub_identity::policy`): a field refused, as
    /// any other invalid input; nothing was stored.
    #[error(transparent)]
    Invalid(Invalid),
    /// The breached-password check is unreachable and set to refuse.
    #[error("breached-password check unavailable: {0}")]
    PasswordCheckUnavailable(String),
    /// A unique value is taken; `UserRegistrationFailed` was recorded.
    #[error("{} is already registered", .0.field())]
    Duplicate(Taken),
    /// The password could not be hashed (pool saturated or shutting down).
    #[error("password hashing unavailable")]
    Hashing(#[from] HashPoolError),
    /// The database failed.
    #[error("database error")]
    Db(#[from] sqlx::Error),
    /// The outbox insert failed.
    #[error("outbox error")]
    Outbox(#[from] OutboxError),
    /// The runtime shut down before the database work finished.
    #[error("registration interrupted")]
    Interrupted(#[from] hub_db::Interrupted),
}

impl RegisterError {
    /// A failure on our side (not a throttle nor a duplicate) as the runtime classifies
    /// them: a database or broker-outbox outage, a saturated hashing pool or a shutdown
    /// are `Unavailable` (503, retry), anything else `Internal` (500). The one
    /// classification both replies (SOAP Fault, JSON) use.
    pub fn failure(self) -> Failure {
        let unavailable = match &self {
            Self::Db(db) | Self::Outbox(OutboxError::Db(db)) => hub_db::is_unavailable(db),
            Self::Hashing(_) | Self::Interrupted(_) | Self::PasswordCheckUnavailable(_) => true,
            Self::Outbox(_) | Self::Duplicate(_) | Self::Throttled(_) | Self::Invalid(_) => false,
        };
        Failure::new(unavailable, self)
    }
}

/// Registers a user: hashes the password (current format, so the user can log in
/// through auth at once), inserts the row and records `UserRegistered` in the same
/// transaction. A taken username, dni or email (a look-alike username counts as taken:
/// [`look_alike`]) records `UserRegistrationFailed` and is
/// [`RegisterError::Duplicate`]. `correlation_id` goes on the event.
///
/// Each registration from `from` counts against its address's limit (an IPv6 address's
/// prefix's, `CLIENT_IPV6_PREFIX`) before the password is hashed (the expensive part),
/// atomically with the check.
pub async fn register(
    state: &AppState,
    correlation_id: &str,
    from: IpAddr,
    input: Registration,
) -> Result<Registered, RegisterError> {
    let (pool, limit) = (state.pool.clone(), state.register_limit);
    let client = state.proxies.client_key_text(from);
    // To completion: a client that hangs up is counted all the same.
    let counted = hub_db::to_completion(&pool, move |pool| async move {
        let mut conn = pool.acquire().await?;
        Ok::<_, RegisterError>(throttle::count(&mut conn, &client, limit).await?)
    })
    .await?;
    if let Counted::OverLimit { retry_after } = counted {
        tracing::info!(retry_after, "registration throttled");
        return Err(RegisterError::Throttled(retry_after));
    }

    let Registration {
        username,
        password,
        first_name,
        last_name,
        dni,
        email,
        city,
    } = input;
    // The password policy (length; the breached-password check, if configured), after
    // the address's count, so the check cannot be driven without limit.
    state
        .password_policy
        .check(password.expose_secret())
        .await
        .map_err(|e| match e {
            PolicyError::Refused(refusal) => {
                RegisterError::Invalid(Invalid::new(Field::Password, refusal.to_string()))
            }
            PolicyError::Unavailable(why) => RegisterError::PasswordCheckUnavailable(why),
        })?;
    // Before the transaction: the hash takes 25-110 ms of CPU, which must not hold a
    // pooled connection.
    let password_hash = state.hashing.hash(password).await?;
    let user = NewUser {
        id: Uuid::new_v4(),
        username_skeleton: look_alike::username_skeleton(&username),
        username,
        password_hash,
        first_name,
        last_name,
        dni,
        email,
        city,
    };
    store(
        &state.pool,
        Arc::clone(&state.queue),
        Arc::clone(&state.confirmation),
        correlation_id.to_owned(),
        user,
    )
    .await
}

/// The database part: user, `UserRegistered`, and the email verification code with the
/// `EmailVerificationRequested` that mails it, in one transaction, or, for a duplicate,
/// `UserRegistrationFailed` alone. A transaction ([`hub_db::transaction`]):
/// a client that hangs up does not stop it half-way.
async fn store(
    pool: &PgPool,
    queue: Arc<str>,
    confirmation: Arc<confirmation::Settings>,
    correlation_id: String,
    user: NewUser,
) -> Result<Registered, RegisterError> {
    let owned = pool.clone();
    hub_db::transaction(pool, move |mut tx| async move {
        let (pool, correlation_id) = (owned, Some(correlation_id.as_str()));
        // Against an email change to the same address meanwhile (on a legacy row, which
        // the unique indexes do not cover).
        confirmation::lock_address(&mut tx, &user.email).await?;
        let inserted = match users::taken_elsewhere(&mut tx, &user).await? {
            Some(taken) => Err(InsertError::Duplicate(taken)),
            None => users::insert(&mut tx, &user).await,
        };
        match inserted {
            Ok(()) => {
                outbox::enqueue(&mut tx, &queue, &registered(&user), correlation_id).await?;
                verification(&mut tx, &confirmation, &user, correlation_id).await?;
                tx.commit().await?;
                tracing::info!(user.id = %user.id, "user registered");
                Ok(Registered { id: user.id })
            }
            Err(InsertError::Duplicate(taken)) => {
                tx.rollback().await?;
                let event = UserRegistrationFailed {
                    username: user.username,
                    dni: user.dni,
                    email: user.email,
                    error: "Duplicate entry detected",
                    details: format!("{} is already registered", taken.field()),
                };
                let mut conn = pool.acquire().await?;
                outbox::enqueue(&mut conn, &queue, &event, correlation_id).await?;
                tracing::info!(duplicate = taken.field(), "registration refused: duplicate");
                Err(RegisterError::Duplicate(taken))
            }
            Err(InsertError::Db(e)) => Err(e.into()),
        }
    })
    .await
}

/// The new account's email verification: its code stored (hashed) and the event that
/// mails it, both in the registration's transaction. Nothing in the reply changes.
async fn verification(
    conn: &mut sqlx::PgConnection,
    settings: &confirmation::Settings,
    user: &NewUser,
    correlation_id: Option<&str>,
) -> Result<(), RegisterError> {
    let purpose = confirmation::Purpose::Registration;
    // A new user has no pending code, so no resend interval applies.
    let issued = confirmation::issue(
        &mut *conn,
        user.id,
        purpose,
        &user.email,
        settings.ttl,
        Duration::ZERO,
    )
    .await?;
    if let Some(issued) = issued {
        let event = EmailVerificationRequested {
            user_id: user.id,
            username: user.username.clone(),
            email: user.email.clone(),
            code: issued.code,
            link: None,
            expires_in_minutes: issued.expires_in_minutes,
            purpose: VerificationPurpose::Registration,
        };
        outbox::enqueue_as(
            conn,
            &settings.queue,
            &event,
            correlation_id,
            producers::USER_SOAP,
        )
        .await?;
    }
    Ok(())
}

/// The event for a stored user: every field but the hash, taken by name.
fn registered(user: &NewUser) -> UserRegistered {
    let NewUser {
        id,
        username,
        username_skeleton: _,
        password_hash: _,
        first_name,
        last_name,
        dni,
        email,
        city,
    } = user;
    UserRegistered {
        id: *id,
        username: username.clone(),
        first_name: first_name.clone(),
        last_name: last_name.clone(),
        dni: dni.clone(),
        email: email.clone(),
        city: city.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(field: Field) -> &'static str {
        match field {
            Field::Password => "\tpass word ",
            Field::Email => "ana@example.com",
            _ => " ana ",
        }
    }

    #[test]
    fn the_first_field_in_order_is_reported_and_the_password_never_printed() {
        let r = Registration::from_fields(|f| Ok(valid(f))).unwrap();
        assert_eq!(r.password.expose_secret(), "\tpass word ");
        assert_eq!((r.username.as_str(), r.city.as_str()), ("ana", "ana"));
        assert!(!format!("{r:?}").contains("pass word"));

        let err = Registration::from_fields(|f| match f {
            Field::Username => Ok("  "),
            Field::City => Err(Invalid::new(f, "is required")),
            _ => Ok(valid(f)),
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "Invalid username: must not be empty");
    }
}
