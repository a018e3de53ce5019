//! Building a [`Request`] from an endpoint declaration and its arguments, and what every
//! request of a client starts from.

use crate::auth::Credentials;
use crate::encode::SegmentWriter;
use crate::error::{BuildError, Error};
use crate::request::{Auth, Endpoint, Request};
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use secrecy::ExposeSecret;
use serde::Serialize;
use std::fmt;
use url::form_urlencoded;

/// The header that names the app on `auth = app` endpoints, as Fintecture's SDKs send it.
const APP_ID: HeaderName = HeaderName::from_static("app_id");

/// What every request of a client starts from, prepared once when the client is built: the
/// builder reads this plain value, never the client.
pub(crate) struct RequestBase {
    /// The base URL without its trailing `/`, to which endpoint paths are appended.
    pub(crate) url: String,
    pub(crate) default_headers: HeaderMap,
    /// How `auth = client` endpoints present the credentials; `None` without credentials.
    pub(crate) client_auth: Option<ClientAuth>,
    /// The `app_id` header of `auth = app` endpoints; `None` without credentials.
    pub(crate) app_id: Option<HeaderValue>,
}

/// The app's credentials, prepared the way `auth = client` endpoints send them.
pub(crate) enum ClientAuth {
    /// `Authorization: Basic base64(app_id:app_secret)`, marked sensitive.
    Basic(HeaderValue),
    /// `client_id` and `client_secret` added to the form body.
    RequestBody(Credentials),
}

/// Assembles a [`Request`]; called by the code `#[api]` generates, in declaration order:
/// path pieces, query, headers, body, then [`RequestBuilder::finish`].
#[doc(hidden)]
pub struct RequestBuilder<'c> {
    base: &'c RequestBase,
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
    pub(crate) fn new(base: &'c RequestBase, endpoint: &'static Endpoint) -> Self {
        let mut url = String::with_capacity(base.url.len() + endpoint.path.len() + 64);
        url.push_str(&base.url);
        let defaults = &base.default_headers;
        let mut headers = HeaderMap::with_capacity(defaults.len() + endpoint.headers.len() + 3);
        for (name, value) in defaults
            .iter()
            .chain(endpoint.headers.iter().map(|(n, v)| (n, v)))
        {
            headers.insert(name.clone(), value.clone());
        }
        RequestBuilder {
            base,
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
        match self.endpoint.auth {
            Auth::Client => self.add_client_auth()?,
            Auth::App => {
                let endpoint = self.endpoint.name;
                let app_id = self.base.app_id.clone();
                let app_id = app_id.ok_or(Error::Build(BuildError::NoCredentials { endpoint }))?;
                self.headers.insert(APP_ID, app_id);
            }
            Auth::None | Auth::Bearer { .. } => {}
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
        match &self.base.client_auth {
            None => return Err(Error::Build(BuildError::NoCredentials { endpoint })),
            Some(ClientAuth::Basic(value)) => {
                self.headers
                    .insert(http::header::AUTHORIZATION, value.clone());
            }
            Some(ClientAuth::RequestBody(credentials)) => {
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
