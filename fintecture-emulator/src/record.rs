//! Recording every request, applying injected faults, and tagging every answer with an
//! `x-request-id`: one middleware in front of all routes.

use super::faults::Fault;
use super::reply;
use super::state::State;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use std::fmt;
use std::sync::Arc;

/// The largest request body the emulator reads.
const MAX_REQUEST_BODY: usize = 1 << 20;

/// A request the emulator received.
#[derive(Clone)]
pub struct RecordedRequest {
    /// The method.
    pub method: Method,
    /// The path, as sent (percent-encoded).
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// The headers (`Authorization` is marked sensitive, so `Debug` hides it).
    pub headers: HeaderMap,
    /// The body bytes.
    pub body: Bytes,
    /// The status of the emulator's answer, once given.
    pub status: Option<StatusCode>,
    /// Finds the request again when its answer is known.
    pub(crate) id: u64,
}

impl RecordedRequest {
    /// The body decoded as a form, in order.
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }

    /// One form field of the body.
    pub fn form_field(&self, name: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// One header, as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl fmt::Debug for RecordedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordedRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .field("status", &self.status)
            .finish()
    }
}

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
            HeaderValue::try_from(state.new_id("req")).unwrap_or(HeaderValue::from_static("req"))
        });
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let (id, mut response) = answer(&state, request, next).await;
    response.headers_mut().insert("x-request-id", request_id);
    state.set_status(id, response.status());
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
    let id = state.record(RecordedRequest {
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers.clone(),
        body: body.clone(),
        status: None,
        id: 0,
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
            state,
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
            state,
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
            let mut response =
                reply::error(state, status, "injected_fault", "Injected by the emulator");
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
