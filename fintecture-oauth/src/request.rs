//! A request built from an endpoint declaration and its arguments, before any I/O.

use crate::auth::ClientAuthMethod;
use crate::client::Client;
use crate::encode::SegmentWriter;
use crate::error::{BuildError, Error};
use bytes::Bytes;
use http::Method;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use secrecy::ExposeSecret;
use serde::Serialize;
use std::fmt;
use std::time::Duration;
use url::form_urlencoded;

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
    /// The app's client credentials, as the client's [`ClientAuthMethod`] says.
    Client,
    /// A bearer access token, of the given scope when there is one.
    Bearer {
        /// The scope the token must have (`PIS`, `AIS`, ...).
        scope: Option<&'static str>,
    },
}

/// A request ready to send: method, URL, headers and body bytes, built without I/O.
///
/// Bearer tokens are added when the request is sent ([`Client::execute`]), since getting
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

/// Assembles a [`Request`]; called by the code `#[api]` generates, in declaration order:
/// path pieces, query, headers, body, then [`RequestBuilder::finish`].
#[doc(hidden)]
pub struct RequestBuilder<'c> {
    client: &'c Client,
    endpoint: &'static Endpoint,
    url: String,
    /// Where the query starts (just after `?`), once one was started.
    query_start: Option<usize>,
    headers: HeaderMap,
    body: Option<Bytes>,
    form_body: bool,
}

impl<'c> RequestBuilder<'c> {
    /// Starts with the client's base URL and default headers and the endpoint's static ones.
    pub fn new(client: &'c Client, endpoint: &'static Endpoint) -> Self {
        let base = client.base_url_str();
        let mut url = String::with_capacity(base.len() + endpoint.path.len() + 64);
        url.push_str(base);
        let defaults = client.default_headers();
        let mut headers = HeaderMap::with_capacity(defaults.len() + endpoint.headers.len() + 3);
        for (name, value) in defaults
            .iter()
            .chain(endpoint.headers.iter().map(|(n, v)| (n, v)))
        {
            headers.insert(name.clone(), value.clone());
        }
        RequestBuilder {
            client,
            endpoint,
            url,
            query_start: None,
            headers,
            body: None,
            form_body: false,
        }
    }

    /// Appends a literal piece of the path template.
    pub fn path(&mut self, literal: &str) {
        self.url.push_str(literal);
    }

    /// Appends a path parameter, percent-encoded as one segment.
    pub fn path_param<T: fmt::Display + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        use fmt::Write as _;
        let start = self.url.len();
        // Writing to a String cannot fail.
        let _ = write!(SegmentWriter(&mut self.url), "{value}");
        // `.` and `..` (even percent-encoded) are dot segments a URL parser removes, which
        // would silently send the request elsewhere.
        if matches!(self.url.get(start..), Some("" | "." | "..")) {
            return Err(Error::Build(BuildError::PathParam {
                endpoint: self.endpoint.name,
            }));
        }
        Ok(())
    }

    fn query_serializer(&mut self) -> form_urlencoded::Serializer<'static, &mut String> {
        let start = match self.query_start {
            Some(start) => start,
            None => {
                self.url.push('?');
                *self.query_start.insert(self.url.len())
            }
        };
        form_urlencoded::Serializer::for_suffix(&mut self.url, start)
    }

    /// Adds the fields of a struct or map as query parameters.
    pub fn query<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let endpoint = self.endpoint.name;
        let mut serializer = self.query_serializer();
        value
            .serialize(serde_urlencoded::Serializer::new(&mut serializer))
            .map(drop)
            .map_err(|source| {
                Error::Build(BuildError::Query {
                    endpoint,
                    source: source.into(),
                })
            })
    }

    /// Adds one query parameter (skipped when the value serializes to nothing, as `None`).
    pub fn query_pair<T: Serialize + ?Sized>(
        &mut self,
        name: &str,
        value: &T,
    ) -> Result<(), Error> {
        self.query(&[(name, value)])
    }

    /// Sets a header from an argument.
    pub fn header<T: fmt::Display + ?Sized>(
        &mut self,
        name: HeaderName,
        value: &T,
    ) -> Result<(), Error> {
        let value = HeaderValue::try_from(value.to_string()).map_err(|_| {
            Error::Build(BuildError::HeaderValue {
                endpoint: self.endpoint.name,
                name: name.clone(),
            })
        })?;
        self.headers.insert(name, value);
        Ok(())
    }

    /// Sets an `application/x-www-form-urlencoded` body (field order kept).
    pub fn form<T: Serialize + ?Sized>(&mut self, body: &T) -> Result<(), Error> {
        let encoded = serde_urlencoded::to_string(body).map_err(|source| {
            Error::Build(BuildError::Form {
                endpoint: self.endpoint.name,
                source: source.into(),
            })
        })?;
        self.set_body(encoded.into(), "application/x-www-form-urlencoded");
        self.form_body = true;
        Ok(())
    }

    /// Sets a JSON body.
    pub fn json<T: Serialize + ?Sized>(&mut self, body: &T) -> Result<(), Error> {
        let encoded = serde_json::to_vec(body).map_err(|source| {
            Error::Build(BuildError::Json {
                endpoint: self.endpoint.name,
                source: source.into(),
            })
        })?;
        self.set_body(encoded.into(), "application/json");
        Ok(())
    }

    fn set_body(&mut self, body: Bytes, content_type: &'static str) {
        self.body = Some(body);
        self.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    }

    /// Adds client authentication when the endpoint asks for it.
    pub fn finish(mut self) -> Result<Request, Error> {
        if self.query_start == Some(self.url.len()) {
            // Every query value was empty: no bare trailing `?`.
            self.url.pop();
        }
        if self.endpoint.auth == Auth::Client {
            self.add_client_auth()?;
        }
        Ok(Request {
            endpoint: self.endpoint,
            url: self.url,
            headers: self.headers,
            body: self.body,
        })
    }

    fn add_client_auth(&mut self) -> Result<(), Error> {
        let endpoint = self.endpoint.name;
        let credentials = self
            .client
            .credentials()
            .ok_or(Error::Build(BuildError::NoCredentials { endpoint }))?;
        match self.client.client_auth_method() {
            ClientAuthMethod::Basic => {
                let value = self
                    .client
                    .basic_header()
                    .ok_or(Error::Build(BuildError::NoCredentials { endpoint }))?;
                self.headers
                    .insert(http::header::AUTHORIZATION, value.clone());
            }
            ClientAuthMethod::RequestBody => {
                if self.body.is_some() && !self.form_body {
                    return Err(Error::Build(BuildError::ClientAuthBody { endpoint }));
                }
                let mut body = match self.body.take() {
                    Some(bytes) => String::from_utf8(bytes.into())
                        .map_err(|_| Error::Build(BuildError::ClientAuthBody { endpoint }))?,
                    None => String::new(),
                };
                form_urlencoded::Serializer::for_suffix(&mut body, 0)
                    .append_pair("client_id", credentials.app_id())
                    .append_pair("client_secret", credentials.app_secret().expose_secret());
                self.set_body(body.into(), "application/x-www-form-urlencoded");
            }
        }
        Ok(())
    }
}
