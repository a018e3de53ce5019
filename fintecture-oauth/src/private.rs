//! What the code `#[api]` generates names, and nothing else: not a public API, and not
//! covered by semver. Users never name these items; the macro reaches them as
//! `<crate path>::__private::...`.

use crate::client::Client;
use crate::error::Error;
use crate::request::Request;
pub use crate::request::{Auth, Endpoint};
pub use crate::request_builder::RequestBuilder;
use crate::response::RawResponse;
pub use core::time::Duration;
pub use http::{HeaderName, HeaderValue, Method};
use serde::de::DeserializeOwned;

/// An endpoint's declaration, for the `static` the macro writes per endpoint (the fields
/// stay private: users read them through [`Endpoint`]'s accessors).
#[allow(clippy::too_many_arguments)]
pub const fn endpoint(
    name: &'static str,
    method: Method,
    path: &'static str,
    auth: Auth,
    timeout: Option<Duration>,
    max_body: Option<u64>,
    retries: u32,
    headers: &'static [(HeaderName, HeaderValue)],
) -> Endpoint {
    Endpoint {
        name,
        method,
        path,
        auth,
        timeout,
        max_body,
        retries,
        headers,
    }
}

/// Starts an endpoint's request from what every request of `client` starts from.
pub fn builder<'c>(client: &'c Client, endpoint: &'static Endpoint) -> RequestBuilder<'c> {
    RequestBuilder::new(client.request_base(), endpoint)
}

/// How a successful response becomes a method's value; chosen by the macro from the
/// declared return type.
pub trait Decoder {
    /// The method's `Ok` type.
    type Output;
    /// Decodes the response.
    fn decode(response: RawResponse) -> Result<Self::Output, Error>;
}

/// JSON into `T`.
pub struct Json<T>(std::marker::PhantomData<T>);

impl<T: DeserializeOwned> Decoder for Json<T> {
    type Output = T;
    fn decode(response: RawResponse) -> Result<T, Error> {
        response.json()
    }
}

/// `()`: the body is ignored.
pub struct Empty;

impl Decoder for Empty {
    type Output = ();
    fn decode(_: RawResponse) -> Result<(), Error> {
        Ok(())
    }
}

/// The response as received.
pub struct Raw;

impl Decoder for Raw {
    type Output = RawResponse;
    fn decode(response: RawResponse) -> Result<RawResponse, Error> {
        Ok(response)
    }
}

/// What an endpoint method's error type needs: `From<fintecture_oauth::Error>`. A trait of
/// its own so that a type without it is told so, not shown every `From` impl it has.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the error type of an endpoint method: it needs `impl From<fintecture_oauth::Error> for {Self}`",
    label = "no `From<fintecture_oauth::Error>`",
    note = "return `Result<T, fintecture_oauth::Error>`, or an error type of yours that implements `From<fintecture_oauth::Error>`"
)]
pub trait EndpointError: From<Error> {}

impl<E: From<Error>> EndpointError for E {}

/// Sends a built request and decodes the answer: the one future behind every generated
/// method with the same response and error types.
pub async fn call<D: Decoder, E: EndpointError>(
    client: &Client,
    request: Result<Request, Error>,
) -> Result<D::Output, E> {
    let response = client.execute(request?).await?;
    Ok(D::decode(response)?)
}
