//! The control API under `/__emulator/`: what a test in any language needs to drive the
//! emulator over HTTP alone. Its requests are not recorded, signed or faulted.

use super::consents::NextConsent;
use super::faults::Fault;
use super::journal::RecordedRequest;
use super::reply;
use super::state::{State, TokenSelector};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State as Shared;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use http::StatusCode;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// The longest delay a fault may ask for: a test waits for it.
const MAX_DELAY: Duration = Duration::from_secs(600);

/// Form fields, JSON keys and query parameters whose values are secrets.
const SECRET_FIELDS: &[&str] = &[
    "client_secret",
    "code",
    "refresh_token",
    "access_token",
    "state",
    "client_assertion",
    "password",
];

/// Headers whose values are secrets.
const SECRET_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie"];

const REDACTED: &str = "[REDACTED]";

pub(super) fn router() -> Router<Arc<State>> {
    Router::new()
        .route("/__emulator/codes", post(issue_code))
        .route("/__emulator/faults", post(inject))
        .route("/__emulator/consents", post(next_consent))
        .route(
            &format!("{}/{{session_id}}", super::consent::CONSENT_PAGE),
            axum::routing::get(super::consent::page),
        )
        .route("/__emulator/expire", post(expire))
        .route("/__emulator/revoke", post(revoke))
        .route(
            "/__emulator/requests",
            axum::routing::get(requests).delete(forget_requests),
        )
        .route("/__emulator/{*rest}", any(unknown))
}

/// The JSON body, or a 400 in Fintecture's envelope saying what is wrong with it.
fn parse<T: for<'de> Deserialize<'de>>(state: &State, body: &Bytes) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| {
        reply::error(
            &state.ids,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("Invalid control request: {e}"),
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeRequest {
    customer_id: String,
}

async fn issue_code(Shared(state): Shared<Arc<State>>, body: Bytes) -> Response {
    let request: CodeRequest = match parse(&state, &body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let code = state.issue_code(&request.customer_id);
    reply::json(
        StatusCode::CREATED,
        serde_json::json!({ "code": code, "customer_id": request.customer_id }),
    )
}

/// How the next consent ends: `{"customer_id": "…"}`, or
/// `{"error": "access_denied", "error_description": "…"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NextConsentRequest {
    customer_id: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn next_consent(Shared(state): Shared<Arc<State>>, body: Bytes) -> Response {
    let request: NextConsentRequest = match parse(&state, &body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let next = match (request.customer_id, request.error) {
        (Some(customer_id), None) => NextConsent::GrantedAs(customer_id),
        (None, Some(error)) => NextConsent::Refused {
            error,
            description: request.error_description.unwrap_or_default(),
        },
        (None, None) => NextConsent::Granted,
        (Some(_), Some(_)) => {
            return reply::error(
                &state.ids,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Either customer_id or error, not both",
            );
        }
    };
    state.consents.set_next(next);
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct FaultRequest {
    #[serde(default)]
    path_prefix: String,
    #[serde(flatten)]
    fault: WireFault,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum WireFault {
    Status {
        status: u16,
        retry_after: Option<u64>,
    },
    Delay {
        millis: u64,
    },
    MalformedJson,
    DropConnection,
}

impl WireFault {
    fn into_fault(self) -> Result<Fault, &'static str> {
        Ok(match self {
            WireFault::Status {
                status,
                retry_after,
            } => {
                if !(400..=599).contains(&status) {
                    return Err("status must be an error status, 400 to 599");
                }
                Fault::Status {
                    status,
                    retry_after,
                }
            }
            WireFault::Delay { millis } => {
                let delay = Duration::from_millis(millis);
                if delay > MAX_DELAY {
                    return Err("millis must be at most 600000");
                }
                Fault::Delay(delay)
            }
            WireFault::MalformedJson => Fault::MalformedJson,
            WireFault::DropConnection => Fault::DropConnection,
        })
    }
}

async fn inject(Shared(state): Shared<Arc<State>>, body: Bytes) -> Response {
    let request: FaultRequest = match parse(&state, &body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    match request.fault.into_fault() {
        Ok(fault) => {
            state.inject(&request.path_prefix, fault);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(message) => reply::error(
            &state.ids,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            message,
        ),
    }
}

async fn expire(Shared(state): Shared<Arc<State>>, body: Bytes) -> Response {
    match parse::<TokenSelector>(&state, &body) {
        Ok(selector) => matched(state.expire(&selector)),
        Err(response) => response,
    }
}

async fn revoke(Shared(state): Shared<Arc<State>>, body: Bytes) -> Response {
    match parse::<TokenSelector>(&state, &body) {
        Ok(selector) => matched(state.revoke(&selector)),
        Err(response) => response,
    }
}

fn matched(count: usize) -> Response {
    reply::json(StatusCode::OK, serde_json::json!({ "matched": count }))
}

async fn requests(Shared(state): Shared<Arc<State>>) -> Response {
    let requests: Vec<serde_json::Value> = state.journal.requests().iter().map(redacted).collect();
    reply::json(StatusCode::OK, serde_json::Value::Array(requests))
}

async fn forget_requests(Shared(state): Shared<Arc<State>>) -> Response {
    state.journal.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn unknown(Shared(state): Shared<Arc<State>>) -> Response {
    reply::error(
        &state.ids,
        StatusCode::NOT_FOUND,
        "not_found",
        "No such control endpoint: see the emulator's documentation",
    )
}

/// A recorded request as JSON, every secret replaced by `[REDACTED]`.
fn redacted(request: &RecordedRequest) -> serde_json::Value {
    let mut headers = serde_json::Map::new();
    for name in request.headers.keys() {
        let value = if SECRET_HEADERS.contains(&name.as_str()) {
            REDACTED.to_string()
        } else {
            let values: Vec<String> = request
                .headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            values.join(", ")
        };
        headers.insert(name.as_str().to_owned(), value.into());
    }
    let json_body = request
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/json"));
    let body = if json_body {
        match serde_json::from_slice::<serde_json::Value>(&request.body) {
            Ok(mut value) => {
                redact_json(&mut value);
                serde_json::Value::String(value.to_string())
            }
            Err(_) => String::from_utf8_lossy(&request.body).into_owned().into(),
        }
    } else {
        // Form bodies, and anything else read as one: a secret never shows either way.
        redact_form(&request.body).into()
    };
    serde_json::json!({
        "method": request.method.as_str(),
        "path": request.path,
        "query": request.query.as_deref().map(|q| redact_form(q.as_bytes())),
        "headers": headers,
        "body": body,
        "status": request.status.map(|s| s.as_u16()),
    })
}

fn redact_form(form: &[u8]) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(form) {
        let secret = SECRET_FIELDS.contains(&key.as_ref());
        out.append_pair(&key, if secret { REDACTED } else { &value });
    }
    out.finish()
}

fn redact_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if SECRET_FIELDS.contains(&key.as_str()) {
                    *value = REDACTED.into();
                } else {
                    redact_json(value);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_json),
        _ => {}
    }
}
