//! `POST /register`.

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use hub_events::{
    catalogue::{UserRegistered, UserRegistrationFailed},
    outbox,
};
use hub_runtime::http::{Rendered, RequestId};
use hub_soap::{Fault, SoapVersion, envelope, xml::Limits};
use uuid::Uuid;

use crate::{
    registration::{self, Registration},
    state::AppState,
    store::users::{self, InsertError, NewUser},
};

/// Registers a user: validates, hashes the password (current format, so the user can
/// log in through auth at once), inserts the row and records `UserRegistered` in the
/// same transaction. A taken username, dni or email answers the original's 409
/// envelope and records `UserRegistrationFailed`.
#[tracing::instrument(name = "register", skip_all)]
pub async fn register(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Fault> {
    envelope::check_content_type(&headers)?;
    let request = envelope::parse(&body, &headers, &Limits::default())?;
    let version = request.version;
    if !registration::is_registration(&request.body) {
        let name = format!(
            "{{{}}}{}",
            request.body.ns.as_deref().unwrap_or(""),
            request.body.local
        );
        return Err(Fault::client(format!("Unknown operation {name}")).with_version(version));
    }
    if let Some(action) = envelope::action(&headers) {
        tracing::debug!(soap.action = %action, "SOAPAction (hint only)");
    }
    let reg = registration::read(&request.body, version)?;

    let password = reg.password.clone();
    let password_hash = state
        .hashing
        .run(move |h| h.hash(&password))
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "password hashing unavailable");
            unavailable(version)
        })?;
    let Registration {
        username,
        first_name,
        last_name,
        dni,
        email,
        city,
        ..
    } = reg;
    let user = NewUser {
        id: Uuid::new_v4(),
        username,
        password_hash,
        first_name,
        last_name,
        dni,
        email,
        city,
    };

    let mut tx = state
        .pool
        .begin()
        .await
        .map_err(|e| db_fault(version, &e))?;
    match users::insert(&mut tx, &user).await {
        Ok(()) => {
            let event = UserRegistered {
                id: user.id,
                username: user.username.clone(),
                first_name: user.first_name.clone(),
                last_name: user.last_name.clone(),
                dni: user.dni.clone(),
                email: user.email.clone(),
                city: user.city.clone(),
            };
            outbox::enqueue(&mut tx, &state.queue, &event, Some(&request_id))
                .await
                .map_err(|e| outbox_fault(version, e))?;
            tx.commit().await.map_err(|e| db_fault(version, &e))?;
            tracing::info!(user.id = %user.id, "user registered");
            Ok(reply(
                StatusCode::OK,
                version,
                registration::success_reply(version, &user.id.to_string()),
            ))
        }
        Err(InsertError::Duplicate(taken)) => {
            drop(tx); // rolls back
            let event = UserRegistrationFailed {
                username: user.username,
                dni: user.dni,
                email: user.email,
                error: "Duplicate entry detected",
                details: format!("{} is already registered", taken.field()),
            };
            let mut conn = state
                .pool
                .acquire()
                .await
                .map_err(|e| db_fault(version, &e))?;
            outbox::enqueue(&mut conn, &state.queue, &event, Some(&request_id))
                .await
                .map_err(|e| outbox_fault(version, e))?;
            tracing::info!(duplicate = taken.field(), "registration refused: duplicate");
            Ok(reply(
                StatusCode::CONFLICT,
                version,
                registration::duplicate_reply(version),
            ))
        }
        Err(InsertError::Db(e)) => Err(db_fault(version, &e)),
    }
}

/// A SOAP reply; marked as rendered so the shared error layer leaves the 409 alone.
fn reply(status: StatusCode, version: SoapVersion, body: String) -> Response {
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, version.content_type())],
        body,
    )
        .into_response();
    resp.extensions_mut().insert(Rendered);
    resp
}

fn unavailable(version: SoapVersion) -> Fault {
    Fault::server("Service temporarily unavailable")
        .with_version(version)
        .with_status(StatusCode::SERVICE_UNAVAILABLE)
}

/// Database trouble: 503 when the server is unreachable or saturated, else a generic
/// Server fault; the cause is logged, never sent.
fn db_fault(version: SoapVersion, e: &sqlx::Error) -> Fault {
    if hub_db::is_unavailable(e) {
        tracing::warn!(error = %e, "database unavailable");
        unavailable(version)
    } else {
        tracing::error!(error = %e, "database error");
        Fault::server("Internal server error").with_version(version)
    }
}

fn outbox_fault(version: SoapVersion, e: outbox::OutboxError) -> Fault {
    match e {
        outbox::OutboxError::Db(db) => db_fault(version, &db),
        other => {
            tracing::error!(error = %other, "outbox error");
            Fault::server("Internal server error").with_version(version)
        }
    }
}
