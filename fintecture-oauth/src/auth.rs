//! Client credentials, and how they are presented to the token endpoints.

use base64::Engine as _;
use http::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// The application's identity: its `app_id` and `app_secret`.
///
/// The secret never appears in `Debug` or `Display` output.
#[derive(Clone)]
pub struct Credentials {
    app_id: String,
    app_secret: SecretString,
}

impl Credentials {
    /// Credentials from the app id and app secret shown in the Fintecture console.
    pub fn new(app_id: impl Into<String>, app_secret: impl Into<String>) -> Self {
        Credentials {
            app_id: app_id.into(),
            app_secret: SecretString::from(app_secret.into()),
        }
    }

    /// The app id (public: it is also the `keyId` of HTTP signatures).
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// The app secret, to be exposed deliberately.
    pub fn app_secret(&self) -> &SecretString {
        &self.app_secret
    }

    /// `Basic base64(app_id:app_secret)`, marked sensitive so `http` never prints it.
    pub(crate) fn basic_header(&self) -> Option<HeaderValue> {
        let joined = format!("{}:{}", self.app_id, self.app_secret.expose_secret());
        let encoded = base64::engine::general_purpose::STANDARD.encode(joined);
        let mut value = HeaderValue::try_from(format!("Basic {encoded}")).ok()?;
        value.set_sensitive(true);
        Some(value)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("app_id", &self.app_id)
            .field("app_secret", &"[REDACTED]")
            .finish()
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "app {} (secret redacted)", self.app_id)
    }
}

/// How the client authenticates to endpoints declared with `auth = client` (RFC 6749 2.3.1).
///
/// Never both in one request, as RFC 6749 2.3 requires.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAuthMethod {
    /// `Authorization: Basic base64(app_id:app_secret)`, as Fintecture's SDKs do.
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body (`client_secret_post`), as the
    /// OpenAPI spec lists.
    RequestBody,
}
