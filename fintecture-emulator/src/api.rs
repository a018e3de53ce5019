//! Sample protected endpoints: PIS connect and payments, AIS accounts.

use super::reply;
use super::state::{Grant, State};
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
    if let Err(response) = bearer(&state, &headers, "PIS") {
        return response;
    }
    let Ok(payment) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return reply::error(
            &state.ids,
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "Expected a JSON body",
        );
    };
    let problems = connect_problems(&payment);
    if !problems.is_empty() {
        return reply::field_errors(&state.ids, &problems);
    }
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
    let session_id = state.ids.new_id("session");
    let url = format!("https://connect.emulator.invalid/{session_id}");
    state.save_session(
        &session_id,
        serde_json::json!({
            "meta": { "session_id": session_id, "status": "payment_created", "state": state_param },
            "data": { "type": "payments", "id": session_id, "attributes": payment.pointer("/data/attributes").cloned().unwrap_or(payment) },
        }),
    );
    reply::json(
        StatusCode::OK,
        serde_json::json!({ "meta": { "session_id": session_id, "url": url } }),
    )
}

/// The currencies the emulator's payments may be in.
const CURRENCIES: &[&str] = &["EUR", "GBP"];

/// What is wrong with a connect body, field by field: `(JSON pointer, message)`.
fn connect_problems(body: &serde_json::Value) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    let attributes = body.pointer("/data/attributes");
    if attributes.is_none_or(|a| !a.is_object()) {
        problems.push((
            "/data/attributes",
            "data.attributes is required".to_string(),
        ));
        return problems;
    }
    let text = |pointer: &str| body.pointer(pointer).and_then(|v| v.as_str());
    match text("/data/attributes/amount") {
        None => problems.push((
            "/data/attributes/amount",
            "amount is required, as a string such as \"149.30\"".to_string(),
        )),
        Some(amount) if !valid_amount(amount) => problems.push((
            "/data/attributes/amount",
            format!("amount {amount:?} must be a positive decimal with at most 2 decimals"),
        )),
        Some(_) => {}
    }
    match text("/data/attributes/currency") {
        None => problems.push((
            "/data/attributes/currency",
            "currency is required".to_string(),
        )),
        Some(currency) if !CURRENCIES.contains(&currency) => problems.push((
            "/data/attributes/currency",
            format!(
                "currency {currency:?} is not supported: one of {}",
                CURRENCIES.join(", ")
            ),
        )),
        Some(_) => {}
    }
    match text("/data/attributes/communication") {
        Some(text) if !text.trim().is_empty() && text.chars().count() <= 140 => {}
        _ => problems.push((
            "/data/attributes/communication",
            "communication is required, 1 to 140 characters".to_string(),
        )),
    }
    problems
}

/// `"149.30"`: digits, then at most 2 decimals, more than zero, at most a billion.
fn valid_amount(amount: &str) -> bool {
    let (units, cents) = amount.split_once('.').unwrap_or((amount, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    !units.is_empty()
        && units.len() <= 9
        && digits(units)
        && cents.len() <= 2
        && digits(cents)
        && !(amount.contains('.') && cents.is_empty())
        && amount.bytes().any(|b| (b'1'..=b'9').contains(&b))
}

/// `GET /pis/v2/payments` (and v1): the payment sessions, newest last.
pub(super) async fn payments(Shared(state): Shared<Arc<State>>, headers: HeaderMap) -> Response {
    if let Err(response) = bearer(&state, &headers, "PIS") {
        return response;
    }
    reply::json(
        StatusCode::OK,
        serde_json::json!({ "data": state.payments() }),
    )
}

/// `GET /pis/v2/payments/{session_id}` (and v1).
pub(super) async fn payment(
    Shared(state): Shared<Arc<State>>,
    Path(session_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = bearer(&state, &headers, "PIS") {
        return response;
    }
    match state.session(&session_id) {
        Some(session) => reply::json(StatusCode::OK, session),
        None => reply::error(
            &state.ids,
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
    let grant = match bearer(&state, &headers, "AIS") {
        Ok(grant) => grant,
        Err(response) => return response,
    };
    if grant.customer_id.as_deref() != Some(customer_id.as_str()) {
        return reply::error(
            &state.ids,
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
        &state.ids,
        StatusCode::NOT_FOUND,
        "not_found",
        "No such endpoint",
    )
}

/// The grant of the call's bearer token, or the refusal as Fintecture words it.
fn bearer(state: &State, headers: &HeaderMap, scope: &str) -> Result<Grant, Response> {
    state.check_bearer(headers, scope).map_err(|denied| {
        let (status, code, message) = denied.answer();
        reply::error(&state.ids, status, code, &message)
    })
}
