//! A small merchant backend on axum: take a payment, read it, connect a customer's bank,
//! come back from it, list their accounts; every error of the crate mapped to an HTTP
//! answer the merchant's own front end can act on.
//!
//! Who the user is comes from an `x-user` header here (a real app has its own login). The
//! consent's `state` travels in an `HttpOnly` cookie (sign or encrypt it in a real app), and
//! the customer id Fintecture gives back is recorded against that user: only that user's
//! requests ever reach that customer's grant.

use crate::{Ais as _, Pis as _, payment};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use fintecture_oauth::{Client, ConsentError, ConsentRequest, ConsentState, Error};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The cookie that carries a started consent's `state` back to the callback.
const STATE_COOKIE: &str = "consent_state";

/// The backend's state: the Fintecture client and which customer each user connected.
pub struct Merchant {
    client: Client,
    /// Where the bank sends the customer back: this backend's `/bank/callback`.
    callback: String,
    customers: Mutex<HashMap<String, String>>,
}

/// The routes, for `axum::serve`.
pub fn router(client: Client, public_url: &str) -> Router {
    let merchant = Merchant {
        client,
        callback: format!("{}/bank/callback", public_url.trim_end_matches('/')),
        customers: Mutex::new(HashMap::new()),
    };
    Router::new()
        .route("/pay", post(pay))
        .route("/payments/{session_id}", get(read_payment))
        .route("/bank/connect", get(connect_bank))
        .route("/bank/callback", get(bank_callback))
        .route("/accounts", get(accounts))
        .with_state(Arc::new(merchant))
}

/// `POST /pay` `{"amount": "12.50", "communication": "Order 42"}`.
#[derive(Deserialize)]
struct PayRequest {
    amount: String,
    communication: String,
}

async fn pay(State(merchant): State<Arc<Merchant>>, Json(order): Json<PayRequest>) -> Response {
    let query = crate::ConnectQuery {
        state: "order",
        redirect_uri: &merchant.callback,
    };
    let body = payment(&order.amount, &order.communication);
    match merchant.client.connect(&query, &body).await {
        Ok(session) => Json(json!({
            "session_id": session.meta.session_id,
            "url": session.meta.url,
        }))
        .into_response(),
        Err(error) => answer(&error),
    }
}

async fn read_payment(
    State(merchant): State<Arc<Merchant>>,
    Path(session_id): Path<String>,
) -> Response {
    match merchant.client.payment(&session_id).await {
        Ok(session) => Json(json!({
            "session_id": session.meta.session_id,
            "status": session.meta.status,
        }))
        .into_response(),
        Err(error) => answer(&error),
    }
}

/// `GET /bank/connect`: sends the browser to the bank picker, the `state` in a cookie.
async fn connect_bank(State(merchant): State<Arc<Merchant>>, headers: HeaderMap) -> Response {
    if user(&headers).is_none() {
        return refuse(StatusCode::UNAUTHORIZED, "log in first");
    }
    let request = ConsentRequest::connect(&merchant.callback);
    match merchant.client.start_consent(&request).await {
        Ok(started) => {
            let cookie = format!(
                "{STATE_COOKIE}={}; HttpOnly; Secure; SameSite=Lax; Path=/bank",
                started.state().expose_secret()
            );
            (
                StatusCode::SEE_OTHER,
                [
                    (header::LOCATION, started.url().to_owned()),
                    (header::SET_COOKIE, cookie),
                ],
            )
                .into_response()
        }
        Err(error) => answer(&error),
    }
}

/// `GET /bank/callback?code=…&customer_id=…&state=…`: the consent completed and the
/// customer recorded against the user.
async fn bank_callback(
    State(merchant): State<Arc<Merchant>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(user) = user(&headers) else {
        return refuse(StatusCode::UNAUTHORIZED, "log in first");
    };
    // No cookie: an empty state, which matches no redirect.
    let kept = ConsentState::from_kept(cookie(&headers, STATE_COOKIE).unwrap_or_default());
    let query = query.unwrap_or_default();
    match merchant.client.complete_consent(&kept, &query).await {
        Ok(customer) => {
            let customer_id = customer.customer_id().unwrap_or_default().to_owned();
            merchant
                .customers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(user, customer_id.clone());
            Json(json!({ "connected": customer_id })).into_response()
        }
        Err(error) => answer(&error),
    }
}

/// `GET /accounts`: the user's own customer's accounts.
async fn accounts(State(merchant): State<Arc<Merchant>>, headers: HeaderMap) -> Response {
    let Some(user) = user(&headers) else {
        return refuse(StatusCode::UNAUTHORIZED, "log in first");
    };
    let customer_id = merchant
        .customers
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&user)
        .cloned();
    let Some(customer_id) = customer_id else {
        return refuse(StatusCode::NOT_FOUND, "connect your bank first");
    };
    let customer = merchant.client.customer(&customer_id);
    match customer.accounts(&customer_id).await {
        Ok(accounts) => Json(accounts).into_response(),
        Err(error) => answer(&error),
    }
}

/// A crate error as the answer the merchant's front end acts on.
fn answer(error: &Error) -> Response {
    if let Error::Consent(consent) = error {
        let status = match consent {
            ConsentError::WrongCustomer { .. } => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        };
        return refuse(status, &consent.to_string());
    }
    if matches!(error, Error::Reauthorize { .. }) || error.is_code_rejected() {
        return refuse(StatusCode::CONFLICT, "connect your bank again");
    }
    if error.is_retryable() {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "try again in a moment");
    }
    match error.api() {
        // The payer's input was refused: each field the service named.
        Some(api) if api.status() == StatusCode::BAD_REQUEST => {
            let fields: Vec<_> = api
                .errors()
                .iter()
                .map(|e| json!({ "field": e.pointer().or(e.parameter()), "message": e.message }))
                .collect();
            (StatusCode::BAD_REQUEST, Json(json!({ "errors": fields }))).into_response()
        }
        Some(api) if api.status() == StatusCode::NOT_FOUND => {
            refuse(StatusCode::NOT_FOUND, "no such payment")
        }
        _ => refuse(StatusCode::BAD_GATEWAY, "the payment provider failed"),
    }
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn user(headers: &HeaderMap) -> Option<String> {
    let user = headers.get("x-user")?.to_str().ok()?;
    (!user.is_empty()).then(|| user.to_owned())
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    cookies.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then(|| value.to_owned())
    })
}
