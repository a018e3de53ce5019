//! Answers in Fintecture's shapes: the error envelope, and JSON.

use super::ids::Ids;
use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

/// An error in Fintecture's envelope, with a fresh `log_id`.
pub(super) fn error(ids: &Ids, status: StatusCode, code: &str, message: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    let body = serde_json::json!({
        "status": status.as_u16().to_string(),
        "code": code,
        "log_id": ids.new_id("log"),
        "errors": [{ "code": code, "title": title, "message": message }],
    });
    (status, Json(body)).into_response()
}

/// A JSON answer.
pub(super) fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

/// A 400 in the envelope, one entry of `errors` per bad field, each with its JSON pointer.
pub(super) fn field_errors(ids: &Ids, problems: &[(&str, String)]) -> Response {
    bad_request(ids, problems, "pointer")
}

/// A 400 in the envelope, one entry of `errors` per bad query parameter, each naming it.
pub(super) fn parameter_errors(ids: &Ids, problems: &[(&str, String)]) -> Response {
    bad_request(ids, problems, "parameter")
}

/// `source` is `{ "pointer": … }` for a body's field, `{ "parameter": … }` for a query's.
fn bad_request(ids: &Ids, problems: &[(&str, String)], source: &str) -> Response {
    let errors: Vec<serde_json::Value> = problems
        .iter()
        .map(|(place, message)| {
            serde_json::json!({
                "code": "invalid_field",
                "title": "Bad Request",
                "message": message,
                "source": { source: place },
            })
        })
        .collect();
    let body = serde_json::json!({
        "status": "400",
        "code": "invalid_request",
        "log_id": ids.new_id("log"),
        "errors": errors,
    });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}
