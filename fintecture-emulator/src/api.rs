//! Sample protected endpoints: PIS connect and payments, AIS accounts.

use super::reply;
use super::state::State;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as Shared};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use std::sync::Arc;

/// `POST /pis/v2/connect`: creates a payment session from a JSON body.
pub(super) async fn connect(
    Shared(state): Shared<Arc<State>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(response) = state.check_bearer(&headers, "PIS") {
        return response;
    }
    let Ok(payment) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return reply::error(
            &state,
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "Expected a JSON body",
        );
    };
    let query: Vec<(String, String)> = query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let state_param = query
        .iter()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.clone());
    let session_id = state.new_id("session");
    let url = format!("https://connect.emulator.invalid/{session_id}");
    state.save_session(
        &session_id,
        serde_json::json!({
            "meta": { "session_id": session_id, "status": "payment_created", "state": state_param },
            "data": { "attributes": payment.pointer("/data/attributes").cloned().unwrap_or(payment) },
        }),
    );
    reply::json(
        StatusCode::OK,
        serde_json::json!({ "meta": { "session_id": session_id, "url": url } }),
    )
}

/// `GET /pis/v2/payments/{session_id}`.
pub(super) async fn payment(
    Shared(state): Shared<Arc<State>>,
    Path(session_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = state.check_bearer(&headers, "PIS") {
        return response;
    }
    match state.session(&session_id) {
        Some(session) => reply::json(StatusCode::OK, session),
        None => reply::error(
            &state,
            StatusCode::NOT_FOUND,
            "session_not_found",
            "No such payment session",
        ),
    }
}

/// `GET /ais/v1/customer/{customer_id}/accounts`: needs the customer's own AIS token.
pub(super) async fn accounts(
    Shared(state): Shared<Arc<State>>,
    Path(customer_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let grant = match state.check_bearer(&headers, "AIS") {
        Ok(grant) => grant,
        Err(response) => return response,
    };
    if grant.customer_id.as_deref() != Some(customer_id.as_str()) {
        return reply::error(
            &state,
            StatusCode::FORBIDDEN,
            "forbidden",
            "This token is for another customer",
        );
    }
    reply::json(
        StatusCode::OK,
        serde_json::json!({ "data": [{
            "id": format!("{customer_id}-acc-1"),
            "type": "account",
            "attributes": { "iban": "FR7630006000011234567890189", "balance": 1234.56, "currency": "EUR" },
        }]}),
    )
}

/// Anything else.
pub(super) async fn not_found(Shared(state): Shared<Arc<State>>) -> Response {
    reply::error(
        &state,
        StatusCode::NOT_FOUND,
        "not_found",
        "No such endpoint",
    )
}
