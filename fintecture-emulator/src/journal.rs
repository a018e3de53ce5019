//! The journal of requests the emulator received, for tests to read back.

use axum::body::Bytes;
use http::{HeaderMap, Method, StatusCode};
use std::fmt;
use std::sync::{Mutex, PoisonError};

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

/// Every request received, oldest first.
#[derive(Default)]
pub(super) struct Journal {
    requests: Mutex<Vec<RecordedRequest>>,
}

impl Journal {
    /// Records a request (its `id` finds it again when its answer is known).
    pub(super) fn record(&self, request: RecordedRequest) {
        self.lock().push(request);
    }

    /// Notes the status of the answer to a recorded request (unless it was forgotten since).
    pub(super) fn set_status(&self, id: u64, status: StatusCode) {
        if let Some(request) = self.lock().iter_mut().rev().find(|r| r.id == id) {
            request.status = Some(status);
        }
    }

    pub(super) fn clear(&self) {
        self.lock().clear();
    }

    pub(super) fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<RecordedRequest>> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
