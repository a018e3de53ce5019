//! A request built from an endpoint declaration and its arguments, before any I/O.

use crate::error::{BuildError, Error};
use bytes::Bytes;
use http::Method;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use std::fmt;
use std::time::Duration;

/// What an endpoint declaration says, fixed at compile time: see [`Request::endpoint`].
///
/// The `#[api]` macro writes one of these as a `static` per endpoint, so nothing about the
/// declaration is recomputed per call.
#[derive(Debug)]
pub struct Endpoint {
    pub(crate) name: &'static str,
    pub(crate) method: Method,
    pub(crate) path: &'static str,
    pub(crate) auth: Auth,
    pub(crate) timeout: Option<Duration>,
    pub(crate) max_body: Option<u64>,
    pub(crate) retries: u32,
    pub(crate) headers: &'static [(HeaderName, HeaderValue)],
}

impl Endpoint {
    /// `Trait::method`, for logs and errors.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The HTTP method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The path template as declared, e.g. `/pis/v2/payments/{session_id}`.
    pub fn path(&self) -> &'static str {
        self.path
    }

    /// The credentials the endpoint needs.
    pub fn auth(&self) -> Auth {
        self.auth
    }

    /// A timeout replacing the client's total timeout for this endpoint.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// A cap on the response body replacing the client's.
    pub fn max_body(&self) -> Option<u64> {
        self.max_body
    }

    /// How many times a failed call may be retried (`retry = N`; 0 by default): only after a
    /// connection failure or a 429 or 503 answer.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// Static headers sent on every call.
    pub fn headers(&self) -> &'static [(HeaderName, HeaderValue)] {
        self.headers
    }
}

/// The credentials an endpoint sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Auth {
    /// None.
    None,
    /// The app's client credentials, as the client's
    /// [`ClientAuthMethod`](crate::ClientAuthMethod) says.
    Client,
    /// The app's id in an `app_id` header, and no token: the endpoints that start a
    /// customer's consent (`auth = app`). Signed like the others.
    App,
    /// A bearer access token, of the given scope when there is one.
    Bearer {
        /// The scope the token must have (`PIS`, `AIS`, ...).
        scope: Option<&'static str>,
    },
}

/// A request ready to send: method, URL, headers and body bytes, built without I/O.
///
/// Bearer tokens are added when the request is sent
/// ([`Client::execute`](crate::Client::execute)), since getting
/// one may need I/O. `Debug` shows the query's names but not its values, header names but
/// only harmless values (`content-type`, `x-request-id`, ...), and the body's length but
/// not its content: any of them may hold a secret, a code or a refresh token.
#[derive(Clone)]
pub struct Request {
    pub(crate) endpoint: &'static Endpoint,
    /// Valid by construction: a parsed base URL, a checked path template, and
    /// percent-encoded parameters. Parsed once, by whichever stack sends it.
    pub(crate) url: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Bytes>,
}

impl Request {
    /// The endpoint declaration this request was built from.
    pub fn endpoint(&self) -> &'static Endpoint {
        self.endpoint
    }

    /// The HTTP method.
    pub fn method(&self) -> &Method {
        &self.endpoint.method
    }

    /// The full URL as it will be sent, with encoded path parameters and query.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The headers, including the client's defaults and any client authentication.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body bytes exactly as they will be sent.
    pub fn body(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }

    /// Converts into a plain `http::Request`, e.g. to send it with another HTTP stack.
    ///
    /// # Errors
    /// [`BuildError::Url`] if the URL is not a valid URI (it is valid by construction, so
    /// only a bug would cause this).
    pub fn into_http(self) -> Result<http::Request<Bytes>, Error> {
        let mut request = http::Request::new(self.body.unwrap_or_default());
        *request.method_mut() = self.endpoint.method.clone();
        *request.uri_mut() = self.url.as_str().parse().map_err(|_| {
            Error::Build(BuildError::Url {
                endpoint: self.endpoint.name,
            })
        })?;
        *request.headers_mut() = self.headers;
        Ok(request)
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("endpoint", &self.endpoint.name)
            .field("method", &self.endpoint.method)
            .field("url", &crate::redact::url(&self.url))
            .field("headers", &crate::redact::Headers(&self.headers))
            .field("body_len", &self.body.as_ref().map(Bytes::len))
            .finish()
    }
}
