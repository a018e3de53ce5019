//! Answers in Fintecture's shapes: the error envelope, and JSON.

use super::state::State;
use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

/// An error in Fintecture's envelope, with a fresh `log_id`.
pub(super) fn error(state: &State, status: StatusCode, code: &str, message: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    let body = serde_json::json!({
        "status": status.as_u16().to_string(),
        "code": code,
        "log_id": state.new_id("log"),
        "errors": [{ "code": code, "title": title, "message": message }],
    });
    (status, Json(body)).into_response()
}

/// A JSON answer.
pub(super) fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}
