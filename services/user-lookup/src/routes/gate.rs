//! Credentials on the GET lookups.

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use hub_soap::wsdl;

use crate::state::AppState;

/// With WS-Security on, the GET lookups must authenticate too, and carrying no
/// envelope, only an `Authorization: Bearer` token can do it
/// (`hub_soap::wsse::Guard::refuse_without_envelope`: 401 Fault), and one that does
/// must not be revoked (`crate::bearer`: the same 401, or a 503 Fault when PostgreSQL
/// cannot say). The contract (`?wsdl`) stays public, as clients read it before they call.
pub async fn get(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(guard) = &state.wsse
        && !wsdl::is_wsdl_query(request.uri().query())
        && let Some(refusal) = guard.refuse_without_envelope(request.headers()).await
    {
        return refusal;
    }
    next.run(request).await
}
