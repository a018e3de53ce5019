//! Recording every request, applying injected faults, and tagging every answer with an
//! `x-request-id`: one middleware in front of all routes.

use super::faults::Fault;
use super::journal::RecordedRequest;
use super::reply;
use super::state::State;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use std::sync::Arc;

/// The largest request body the emulator reads.
const MAX_REQUEST_BODY: usize = 1 << 20;

pub(super) async fn record(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    request: Request,
    next: Next,
) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::try_from(state.ids.new_id("req"))
                .unwrap_or(HeaderValue::from_static("req"))
        });
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let (id, mut response) = answer(&state, request, next).await;
    response.headers_mut().insert("x-request-id", request_id);
    state.journal.set_status(id, response.status());
    if let Some(observer) = &state.config.on_request {
        observer(&method, &path, response.status());
    }
    response
}

/// Records the request, then answers it: a signature error, an injected fault, or the route.
/// Returns the recorded request's id with the answer.
async fn answer(state: &State, request: Request, next: Next) -> (u64, Response) {
    let (mut parts, body) = request.into_parts();
    let (body, too_large) = match axum::body::to_bytes(body, MAX_REQUEST_BODY).await {
        Ok(body) => (body, false),
        Err(_) => (Bytes::new(), true),
    };
    if let Some(value) = parts.headers.get_mut(http::header::AUTHORIZATION) {
        value.set_sensitive(true);
    }
    let id = state.ids.next();
    state.journal.record(RecordedRequest {
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers.clone(),
        body: body.clone(),
        status: None,
        id,
    });
    (id, respond(state, parts, body, too_large, next).await)
}

async fn respond(
    state: &State,
    parts: http::request::Parts,
    body: Bytes,
    too_large: bool,
    next: Next,
) -> Response {
    if too_large {
        return reply::error(
            &state.ids,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "The request body is too large",
        );
    }
    if let Some(verifier) = &state.signatures
        && !parts.uri.path().starts_with("/oauth/")
        && let Err(reason) = verifier.verify(&parts.method, &parts.uri, &parts.headers, &body)
    {
        return reply::error(
            &state.ids,
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            &reason,
        );
    }
    match state.take_fault(parts.uri.path()) {
        None => next.run(Request::from_parts(parts, Body::from(body))).await,
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            next.run(Request::from_parts(parts, Body::from(body))).await
        }
        Some(Fault::Status {
            status,
            retry_after,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = reply::error(
                &state.ids,
                status,
                "injected_fault",
                "Injected by the emulator",
            );
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert(http::header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            response
        }
        Some(Fault::MalformedJson) => (
            [(http::header::CONTENT_TYPE, "application/json")],
            r#"{"access_token": "trunc"#,
        )
            .into_response(),
        Some(Fault::DropConnection) => {
            let broken = futures_util::stream::once(async {
                Err::<Bytes, _>(std::io::Error::other("connection dropped by the emulator"))
            });
            (
                [(http::header::CONTENT_TYPE, "application/json")],
                Body::from_stream(broken),
            )
                .into_response()
        }
    }
}
