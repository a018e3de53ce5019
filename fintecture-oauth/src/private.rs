//! What the code `#[api]` generates names, and nothing else: not a public API, and not
//! covered by semver. Users never name these items; the macro reaches them as
//! `<crate path>::__private::...`.

pub use crate::request::{Auth, Endpoint, RequestBuilder};
pub use crate::response::{Empty, Json, Raw, call};
pub use core::time::Duration;
pub use http::{HeaderName, HeaderValue, Method};

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
