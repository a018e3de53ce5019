//! Reading responses: the size-capped body, and decoding it.

use crate::decode::decode_bytes;
use crate::error::{Error, transport_error};
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

/// A response as received: status, headers and body bytes (read up to the endpoint's cap).
///
/// `Debug` shows the body's length, not its bytes (it may hold a token), and header names
/// but only harmless values (`set-cookie` and the like are redacted).
#[derive(Clone)]
pub struct RawResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) endpoint: &'static str,
}

impl RawResponse {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body bytes.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Takes the body bytes.
    pub fn into_body(self) -> Bytes {
        self.body
    }
}

impl std::fmt::Debug for RawResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawResponse")
            .field("endpoint", &self.endpoint)
            .field("status", &self.status)
            .field("headers", &crate::redact::Headers(&self.headers))
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Reads a body, failing as soon as it exceeds `limit` bytes, declared or not, so an
/// oversized or endless body is never buffered.
pub(crate) async fn read_capped(
    endpoint: &'static str,
    mut response: reqwest::Response,
    limit: u64,
) -> Result<Bytes, Error> {
    let too_large = || Error::BodyTooLarge { endpoint, limit };
    let declared = response.content_length();
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let mut first: Option<Bytes> = None;
    let mut rest: Option<BytesMut> = None;
    let mut total: u64 = 0;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|source| transport_error(endpoint, source))?
    {
        total = total.saturating_add(chunk.len() as u64);
        if total > limit {
            return Err(too_large());
        }
        // The common single-chunk body is kept as is; only a second chunk copies.
        match (&mut first, &mut rest) {
            (None, None) => first = Some(chunk),
            (_, Some(buffer)) => buffer.extend_from_slice(&chunk),
            (Some(head), None) => {
                let capacity = declared.unwrap_or(total).min(limit);
                let mut buffer = BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(0));
                buffer.extend_from_slice(head);
                buffer.extend_from_slice(&chunk);
                rest = Some(buffer);
            }
        }
    }
    Ok(match rest {
        Some(buffer) => buffer.freeze(),
        None => first.unwrap_or_default(),
    })
}

impl RawResponse {
    /// Decodes the body as JSON; the error names the failing field and never quotes the
    /// body.
    ///
    /// # Errors
    /// [`Error::Decode`] when the body is not JSON of type `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        decode_bytes(self.endpoint, &self.body)
    }
}
