//! The one error type of this crate, and the typed API error parsed from error responses.

use crate::consent_error::ConsentError;
use crate::token_store::StoreError;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, StatusCode};
use serde::Deserialize;
use std::fmt;
use std::sync::Arc;

/// Everything that can go wrong, with nothing lost: the variant says what happened and
/// carries what is needed to act on it. No variant prints a secret.
///
/// `Display` is one line saying what happened; the causes are reached through
/// [`source()`](std::error::Error::source) (so `anyhow`'s `{:#}` or a `tracing` error field
/// prints each once). The errors of dependencies are boxed: which crate produced them is not
/// part of this API, and upgrading one is not a breaking change here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client configuration is unusable (bad base URL, key, TLS setup, ...). Only
    /// configuration calls such as [`ClientBuilder::build`](crate::ClientBuilder::build)
    /// return it, never a call to an endpoint.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The request could not be built from the arguments.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// No connection could be made (refused, DNS, TLS handshake, ...): the request was not
    /// sent, so it is safe to retry.
    #[error("{endpoint}: could not connect")]
    Connect {
        /// The endpoint (`Trait::method`).
        endpoint: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The connection failed during the exchange (reset, closed mid-body, ...).
    #[error("{endpoint}: the connection failed")]
    Transport {
        /// The endpoint (`Trait::method`).
        endpoint: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The request or the response body took longer than the timeout.
    #[error("{endpoint}: timed out")]
    Timeout {
        /// The endpoint (`Trait::method`).
        endpoint: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The server answered with a redirect. Redirects are never followed: they would re-send
    /// credentials, codes or tokens to another place.
    #[error("{endpoint}: refused to follow a redirect: HTTP {status} to {location:?}")]
    Redirect {
        /// The endpoint (`Trait::method`).
        endpoint: &'static str,
        /// The 3xx status.
        status: StatusCode,
        /// The `Location` header, if it was readable.
        location: Option<String>,
    },
    /// The server answered with a non-success status.
    #[error(transparent)]
    Api(Box<ApiError>),
    /// The response body was larger than the endpoint's cap; it was not read further.
    #[error("{endpoint}: response body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The endpoint (`Trait::method`).
        endpoint: &'static str,
        /// The cap in bytes.
        limit: u64,
    },
    /// A successful response's body did not decode into the expected type.
    #[error(transparent)]
    Decode(Box<DecodeError>),
    /// A bearer token could not be obtained. Every caller that waited on the same renewal
    /// gets this error; the next call tries again.
    #[error(
        "could not get a `{scope}` token{}{}",
        for_customer(customer),
        unfinished(source)
    )]
    Token {
        /// The scope asked for.
        scope: String,
        /// The customer whose token it was, for a customer grant.
        customer: Option<String>,
        /// Why, shared by every waiter; `None` when the renewal panicked or was cancelled.
        #[source]
        source: Option<Arc<Error>>,
    },
    /// The grant is dead (`invalid_grant` or 401 on a refresh) or missing (a customer who
    /// never authorized, or disconnected): the customer must consent again. Never retried.
    #[error(
        "the `{scope}` authorization{} is missing or expired: re-authorize",
        for_customer(customer)
    )]
    Reauthorize {
        /// The scope concerned.
        scope: String,
        /// The customer who must authorize again, for a customer grant.
        customer: Option<String>,
        /// The refresh error, if there was one.
        #[source]
        source: Option<Arc<Error>>,
    },
    /// The server sent something no correct server sends (an access token that cannot be
    /// a header value, say).
    #[error("{endpoint}: the server sent {problem}")]
    Protocol {
        /// The endpoint (`Trait::method`).
        endpoint: &'static str,
        /// What was wrong with it.
        problem: &'static str,
    },
    /// The request could not be signed.
    #[error("{endpoint}: could not sign the request")]
    Sign {
        /// The endpoint (`Trait::method`).
        endpoint: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The token store failed.
    #[error(transparent)]
    Store(Arc<StoreError>),
    /// The redirect back from a consent could not be completed: a `state` missing, wrong
    /// or used, the customer refusing, a code that is not the customer's, ... See
    /// [`ConsentError`]. No token was kept.
    #[error(transparent)]
    Consent(ConsentError),
    /// The token endpoint refused an authorization code (`invalid_grant`): used already,
    /// expired, or never issued to this app. Codes work once; the customer must consent
    /// again.
    #[error("the authorization code was refused: {0}")]
    CodeRejected(Box<ApiError>),
    /// Getting a token needs a tokio runtime, and this call is not on one.
    #[error("getting a token needs a tokio runtime: call from within one")]
    NoRuntime,
}

fn for_customer(customer: &Option<String>) -> String {
    customer
        .as_ref()
        .map(|customer| format!(" of customer `{customer}`"))
        .unwrap_or_default()
}

/// Without a cause to point to, the message says why there is none.
fn unfinished(source: &Option<Arc<Error>>) -> &'static str {
    match source {
        Some(_) => "",
        None => ": the token request did not complete (it panicked or was cancelled)",
    }
}

impl Error {
    /// The endpoint (`Trait::method`) of the call that failed, when the error belongs to
    /// one.
    pub fn endpoint(&self) -> Option<&'static str> {
        match self {
            Error::Connect { endpoint, .. }
            | Error::Transport { endpoint, .. }
            | Error::Timeout { endpoint, .. }
            | Error::Redirect { endpoint, .. }
            | Error::BodyTooLarge { endpoint, .. }
            | Error::Protocol { endpoint, .. }
            | Error::Sign { endpoint, .. } => Some(endpoint),
            Error::Api(api) => Some(api.endpoint()),
            Error::Decode(decode) => Some(decode.endpoint),
            Error::Build(build) => Some(build.endpoint()),
            _ => None,
        }
    }

    /// Whether the request or its response took longer than the timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// Whether no connection could be made: the request was not sent.
    pub fn is_connect(&self) -> bool {
        matches!(self, Error::Connect { .. })
    }

    /// The HTTP status of the API error this is, or that caused it (a token that could not
    /// be had because the token endpoint answered 503, say).
    pub fn status(&self) -> Option<StatusCode> {
        self.api().map(ApiError::status)
    }

    /// The API error this is, or that caused it: through [`Error::Token`] and
    /// [`Error::Reauthorize`] to the token endpoint's answer.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(api) | Error::CodeRejected(api) => Some(api),
            Error::Token {
                source: Some(source),
                ..
            }
            | Error::Reauthorize {
                source: Some(source),
                ..
            } => source.api(),
            _ => None,
        }
    }

    /// Whether the token endpoint refused an authorization code (used already, expired, or
    /// not this app's): the customer must consent again, and trying the code again cannot
    /// help.
    pub fn is_code_rejected(&self) -> bool {
        matches!(self, Error::CodeRejected(_))
    }

    /// Whether trying the same call again later can succeed: no connection, a connection
    /// lost, a timeout, the service busy or failing (429, 5xx), the token store down, or a
    /// token that could not be had for one of these reasons. Not for what only a change can
    /// fix: a bad request, a refused or missing consent, a configuration error.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Connect { .. }
            | Error::Transport { .. }
            | Error::Timeout { .. }
            | Error::Store(_) => true,
            Error::Api(api) => {
                api.status() == StatusCode::TOO_MANY_REQUESTS || api.status().is_server_error()
            }
            Error::Token { source, .. } => {
                source.as_ref().is_none_or(|source| source.is_retryable())
            }
            _ => false,
        }
    }
}

impl From<ConsentError> for Error {
    fn from(error: ConsentError) -> Self {
        Error::Consent(error)
    }
}

/// Classifies a reqwest error: timeouts, then failures to connect (the request was not sent),
/// then everything else.
pub(crate) fn transport_error(endpoint: &'static str, source: reqwest::Error) -> Error {
    let (timeout, connect) = (source.is_timeout(), source.is_connect());
    let source = source.into();
    if timeout {
        Error::Timeout { endpoint, source }
    } else if connect {
        Error::Connect { endpoint, source }
    } else {
        Error::Transport { endpoint, source }
    }
}

/// Why a request could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A path parameter was empty, `.` or `..`, which would address another resource.
    #[error("{endpoint}: a path parameter is empty, `.` or `..`")]
    PathParam {
        /// The endpoint (`Trait::method`).
        endpoint: &'static str,
    },
    /// The query arguments could not be encoded.
    #[error("{endpoint}: cannot encode the query")]
    Query {
        /// The endpoint (`Trait::method`).
        endpoint: &'static str,
        /// The encoder's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The form body could not be encoded.
    #[error("{endpoint}: cannot encode the form body")]
    Form {
        /// The endpoint (`Trait::method`).
        endpoint: &'static str,
        /// The encoder's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The JSON body could not be encoded.
    #[error("{endpoint}: cannot encode the JSON body")]
    Json {
        /// The endpoint (`Trait::method`).
        endpoint: &'static str,
        /// The encoder's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A header argument is not a valid header value (the value is not shown: it may be a
    /// secret).
    #[error("{endpoint}: the value of header `{name}` is not a valid header value")]
    HeaderValue {
        /// The endpoint (`Trait::method`).
        endpoint: &'static str,
        /// The header.
        name: HeaderName,
    },
    /// The URL built from the base URL and the path is not valid.
    #[error("{endpoint}: the request URL is not valid")]
    Url {
        /// The endpoint (`Trait::method`).
        endpoint: &'static str,
    },
    /// The endpoint needs client credentials and the client has none.
    #[error("{endpoint}: needs client credentials; configure them with ClientBuilder::credentials")]
    NoCredentials {
        /// The endpoint (`Trait::method`).
        endpoint: &'static str,
    },
    /// The endpoint needs a customer's token (AIS) and the client is bound to no customer.
    #[error("{endpoint}: needs a customer's token; call it on client.customer(customer_id)")]
    NoCustomer {
        /// The endpoint (`Trait::method`).
        endpoint: &'static str,
    },
    /// The endpoint needs a bearer token and the client has no way to get one.
    #[error(
        "{endpoint}: needs a bearer token; configure credentials (the token manager gets \
         tokens) or a fixed token with ClientBuilder::bearer_token"
    )]
    NoBearer {
        /// The endpoint (`Trait::method`).
        endpoint: &'static str,
    },
    /// Client credentials in the body need a form body.
    #[error("{endpoint}: client credentials in the request body need a form body")]
    ClientAuthBody {
        /// The endpoint (`Trait::method`).
        endpoint: &'static str,
    },
}

impl BuildError {
    /// The endpoint (`Trait::method`) whose request could not be built.
    pub fn endpoint(&self) -> &'static str {
        match self {
            BuildError::PathParam { endpoint }
            | BuildError::Query { endpoint, .. }
            | BuildError::Form { endpoint, .. }
            | BuildError::Json { endpoint, .. }
            | BuildError::HeaderValue { endpoint, .. }
            | BuildError::Url { endpoint }
            | BuildError::NoCredentials { endpoint }
            | BuildError::NoCustomer { endpoint }
            | BuildError::NoBearer { endpoint }
            | BuildError::ClientAuthBody { endpoint } => endpoint,
        }
    }
}

/// A non-success HTTP response, with Fintecture's error envelope or an RFC 6749 error body
/// parsed when present. The raw (size-capped) body and all headers are kept.
#[derive(Clone)]
pub struct ApiError {
    endpoint: &'static str,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    details: ErrorBody,
}

/// The fields of an error body that Fintecture or an OAuth server may send, all optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct ErrorBody {
    #[serde(deserialize_with = "lenient::string")]
    status: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    code: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    log_id: Option<String>,
    #[serde(deserialize_with = "lenient::details")]
    errors: Vec<ErrorDetail>,
    #[serde(deserialize_with = "lenient::string")]
    error: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    error_description: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    error_uri: Option<String>,
}

/// One entry of the `errors` array of Fintecture's error envelope.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ErrorDetail {
    /// A machine-readable code, e.g. `invalid_grant`.
    #[serde(deserialize_with = "lenient::string")]
    pub code: Option<String>,
    /// A short title.
    #[serde(deserialize_with = "lenient::string")]
    pub title: Option<String>,
    /// A human-readable message (`message` or `detail`).
    #[serde(deserialize_with = "lenient::string", alias = "detail")]
    pub message: Option<String>,
    /// What the entry is about: a field of the request's body, or a query parameter.
    #[serde(deserialize_with = "lenient::source")]
    pub source: Option<ErrorSource>,
}

impl ErrorDetail {
    /// The JSON pointer to the body's field the entry is about (`/data/attributes/amount`).
    pub fn pointer(&self) -> Option<&str> {
        self.source.as_ref()?.pointer.as_deref()
    }

    /// The query parameter the entry is about (`redirect_uri`).
    pub fn parameter(&self) -> Option<&str> {
        self.source.as_ref()?.parameter.as_deref()
    }
}

/// The `source` of an entry of the envelope's `errors` (JSON:API).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ErrorSource {
    /// A JSON pointer into the request's body.
    #[serde(deserialize_with = "lenient::string")]
    pub pointer: Option<String>,
    /// A query parameter's name.
    #[serde(deserialize_with = "lenient::string")]
    pub parameter: Option<String>,
}

impl ApiError {
    /// Parses an error response. Never fails: unknown shapes keep the raw body.
    pub fn from_response(
        endpoint: &'static str,
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    ) -> Self {
        let details = serde_json::from_slice::<ErrorBody>(&body).unwrap_or_default();
        ApiError {
            endpoint,
            status,
            headers,
            body,
            details,
        }
    }

    /// The endpoint (`Trait::method`).
    pub fn endpoint(&self) -> &'static str {
        self.endpoint
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// All response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The response body as received (up to the endpoint's size cap).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The `x-request-id` response header.
    pub fn request_id(&self) -> Option<&str> {
        self.headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
    }

    /// The envelope's `status` field (Fintecture sends it as a string or a number).
    pub fn envelope_status(&self) -> Option<&str> {
        self.details.status.as_deref()
    }

    /// The machine-readable error code: the envelope's `code`, else RFC 6749's `error`, else
    /// the first entry's code.
    pub fn code(&self) -> Option<&str> {
        self.details
            .code
            .as_deref()
            .or(self.details.error.as_deref())
            .or_else(|| self.details.errors.iter().find_map(|e| e.code.as_deref()))
    }

    /// The envelope's `log_id`, to quote to Fintecture support.
    pub fn log_id(&self) -> Option<&str> {
        self.details.log_id.as_deref()
    }

    /// The entries of the envelope's `errors` array (null entries dropped).
    pub fn errors(&self) -> &[ErrorDetail] {
        &self.details.errors
    }

    /// RFC 6749's `error` field.
    pub fn oauth_error(&self) -> Option<&str> {
        self.details.error.as_deref()
    }

    /// RFC 6749's `error_description` field.
    pub fn error_description(&self) -> Option<&str> {
        self.details.error_description.as_deref()
    }

    /// RFC 6749's `error_uri` field.
    pub fn error_uri(&self) -> Option<&str> {
        self.details.error_uri.as_deref()
    }

    /// The best human-readable message: RFC 6749's description, else the first entry's
    /// message or title.
    pub fn message(&self) -> Option<&str> {
        self.details.error_description.as_deref().or_else(|| {
            self.details
                .errors
                .iter()
                .find_map(|e| e.message.as_deref().or(e.title.as_deref()))
        })
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: HTTP {}", self.endpoint, self.status)?;
        if let Some(code) = self.code() {
            write!(f, " {code}")?;
        }
        // The specific codes (`invalid_app_id` under `unauthorized`) are what Fintecture's
        // documentation lists and what users search for.
        let mut inner: Vec<&str> = Vec::new();
        for code in self.details.errors.iter().filter_map(|e| e.code.as_deref()) {
            if Some(code) != self.code() && !inner.contains(&code) {
                inner.push(code);
            }
        }
        if !inner.is_empty() {
            write!(f, " [{}]", inner.join(", "))?;
        }
        if let Some(message) = self.message() {
            write!(f, ": {}", one_line(message))?;
        }
        let mut ids = Vec::new();
        if let Some(log_id) = self.log_id() {
            ids.push(format!("log_id {log_id}"));
        }
        if let Some(request_id) = self.request_id() {
            ids.push(format!("x-request-id {request_id}"));
        }
        if !ids.is_empty() {
            write!(f, " ({})", ids.join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("endpoint", &self.endpoint)
            .field("status", &self.status)
            .field("code", &self.code())
            .field("message", &self.message())
            .field("log_id", &self.log_id())
            .field("request_id", &self.request_id())
            .field("errors", &self.details.errors)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl std::error::Error for ApiError {}

/// Untrusted text (what a server or a redirect sent) on one line.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A successful response whose body did not decode. The message never quotes the body's
/// text (it may hold a token); the body itself is kept for whoever needs it.
#[derive(Clone)]
pub struct DecodeError {
    endpoint: &'static str,
    path: String,
    message: String,
    line: usize,
    column: usize,
    body: Bytes,
}

impl DecodeError {
    pub(crate) fn new(
        endpoint: &'static str,
        path: String,
        error: &serde_json::Error,
        body: Bytes,
    ) -> Self {
        DecodeError {
            endpoint,
            path,
            message: redact_values(&error.to_string()),
            line: error.line(),
            column: error.column(),
            body,
        }
    }

    /// Where decoding failed, as a path such as `errors[0].code` (`.` for the top level).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The decoder's message, with quoted values redacted.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The line and column in the body where decoding failed.
    pub fn position(&self) -> (usize, usize) {
        (self.line, self.column)
    }

    /// The body as received. Handle with care: it may hold a token.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: cannot decode the response at `{}`: {} ({} bytes)",
            self.endpoint,
            self.path,
            self.message,
            self.body.len()
        )
    }
}

impl fmt::Debug for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodeError")
            .field("endpoint", &self.endpoint)
            .field("path", &self.path)
            .field("message", &self.message)
            .field("line", &self.line)
            .field("column", &self.column)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl std::error::Error for DecodeError {}

/// serde's messages quote what the input held: string values (`invalid type: string
/// "…"`), unknown enum variants and field names (``unknown field `…` ``). Those are dropped;
/// what the message says is expected (`, expected one of `a`, `b``) comes from our types and
/// stays, as do the names of missing fields.
fn redact_values(message: &str) -> String {
    let (head, tail) = message
        .rfind(", expected")
        .map_or((message, ""), |at| message.split_at(at));
    let mut out = String::with_capacity(message.len());
    let mut rest = head;
    loop {
        let quote = rest.find('"').map(|at| (at, '"'));
        let name = ["unknown variant `", "unknown field `"]
            .iter()
            .filter_map(|prefix| rest.find(prefix).map(|at| (at + prefix.len() - 1, '`')))
            .min();
        let Some((open, delimiter)) = [quote, name].into_iter().flatten().min() else {
            break;
        };
        let (before, from_open) = rest.split_at(open);
        out.push_str(before);
        out.push(delimiter);
        out.push('…');
        let inside = from_open.get(1..).unwrap_or_default();
        match inside.find(delimiter) {
            Some(close) => {
                out.push(delimiter);
                rest = inside.get(close + 1..).unwrap_or_default();
            }
            // Unclosed: everything after the opening is the input's.
            None => rest = "",
        }
    }
    out.push_str(rest);
    out.push_str(tail);
    out
}

/// Deserializers that accept what real servers send instead of failing the whole error.
mod lenient {
    use super::{ErrorDetail, ErrorSource};
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    /// An object as a source; anything else as absent.
    pub(super) fn source<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ErrorSource>, D::Error> {
        Ok(match Value::deserialize(d)? {
            object @ Value::Object(_) => serde_json::from_value(object).ok(),
            _ => None,
        })
    }

    /// A string, a number or a bool as text; anything else as absent.
    pub(super) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        })
    }

    /// An array of details, skipping nulls; a lone string becomes a message; null or
    /// anything else, none.
    pub(super) fn details<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ErrorDetail>, D::Error> {
        let entry = |value: Value| match value {
            Value::String(message) => Some(ErrorDetail {
                message: Some(message),
                ..ErrorDetail::default()
            }),
            object @ Value::Object(_) => serde_json::from_value(object).ok(),
            _ => None,
        };
        Ok(match Value::deserialize(d)? {
            Value::Array(items) => items.into_iter().filter_map(entry).collect(),
            other => entry(other).into_iter().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::redact_values;

    #[test]
    fn values_from_the_input_are_redacted_and_expectations_kept() {
        for (message, expected) in [
            (
                "invalid type: string \"tok-123\", expected u64 at line 1 column 9",
                "invalid type: string \"…\", expected u64 at line 1 column 9",
            ),
            (
                "unknown variant `sk_live_1`, expected one of `Bearer`, `Mac`",
                "unknown variant `…`, expected one of `Bearer`, `Mac`",
            ),
            (
                "unknown field `secret_name`, expected `a` or `b`",
                "unknown field `…`, expected `a` or `b`",
            ),
            (
                "invalid value: string \"a, expected b\", expected c",
                "invalid value: string \"…\", expected c",
            ),
            (
                "missing field `access_token`",
                "missing field `access_token`",
            ),
            (
                "invalid type: string \"unclosed",
                "invalid type: string \"…",
            ),
            ("EOF while parsing a value", "EOF while parsing a value"),
            ("a \"x\" and \"y\"", "a \"…\" and \"…\""),
        ] {
            assert_eq!(redact_values(message), expected, "{message}");
        }
    }
}
