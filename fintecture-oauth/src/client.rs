//! The runtime client: a cheap handle on one `reqwest::Client`, the request base, the
//! credentials and the token manager. Building it, sending with it and its token methods
//! live beside it (`client_builder`, `client_send`, `client_tokens`).

use crate::auth::{ClientAuthMethod, Credentials};
use crate::request_builder::RequestBase;
use crate::retry::RetryPolicy;
use crate::signature::RequestSigner;
use crate::token_manager::manager::TokenManager;
use http::HeaderValue;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// A Fintecture API client. Cheap to clone: clones share one connection pool and one token
/// manager.
///
/// Endpoints declared with [`api`](crate::api) are implemented for it. A client is bound to
/// no customer; [`Client::customer`] gives one bound to a customer, whose `scope = "AIS"`
/// calls carry that customer's token.
///
/// ```no_run
/// # async fn run(code_from_the_redirect: fintecture_oauth::AuthorizationCode)
/// # -> Result<(), fintecture_oauth::Error> {
/// use fintecture_oauth::{Client, Credentials, Environment, Error, api};
///
/// #[api]
/// pub trait Accounts {
///     /// A customer's accounts, with that customer's token.
///     #[endpoint(get = "/ais/v1/customer/{customer_id}/accounts", scope = "AIS")]
///     async fn accounts(&self, customer_id: &str) -> Result<serde_json::Value, Error>;
/// }
///
/// // One client for the whole app: build it once, clone it freely.
/// let client = Client::builder(Environment::Sandbox)
///     .credentials(Credentials::new("my-app-id", "my-app-secret"))
///     .build()?;
/// // After customer c1 consented at their bank: keep their grant, then call for them.
/// let customer = client.customer("c1");
/// customer.authorize(code_from_the_redirect, None).await?;
/// let accounts = customer.accounts("c1").await?;
/// # let _ = accounts; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
    /// The customer whose grant AIS calls use, if bound.
    pub(crate) customer: Option<Arc<str>>,
}

/// What every clone of a client shares.
pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) base_url: Url,
    pub(crate) base: RequestBase,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) client_auth: ClientAuthMethod,
    pub(crate) bearer: Option<HeaderValue>,
    pub(crate) tokens: Option<Arc<TokenManager>>,
    /// Where started consents' states are kept: the token store, or a memory store of
    /// this client's.
    pub(crate) consent_states: Arc<dyn crate::token_store::TokenStore>,
    pub(crate) default_scope: String,
    pub(crate) retry: RetryPolicy,
    /// Set when requests are to be signed (key configured, and the mode says so here).
    pub(crate) signer: Option<RequestSigner>,
    pub(crate) sign_token_endpoints: bool,
    pub(crate) timeout: Duration,
    pub(crate) max_body: u64,
}

impl Client {
    /// This client bound to one customer's grant: the same connection pool and token
    /// manager, and `scope = "AIS"` calls carry this customer's token (from
    /// [`authorize`](Client::authorize), renewed as needed). Cheap: one small allocation,
    /// no I/O, nothing cached until the customer authorizes.
    ///
    /// ```
    /// # use fintecture_oauth::{Client, Credentials, Environment};
    /// # fn run() -> Result<(), fintecture_oauth::Error> {
    /// let client = Client::builder(Environment::Sandbox)
    ///     .credentials(Credentials::new("APP_ID", "APP_SECRET"))
    ///     .build()?;
    /// let customer = client.customer("customer-42");
    /// assert_eq!(customer.customer_id(), Some("customer-42"));
    /// # Ok(()) }
    /// ```
    pub fn customer(&self, customer_id: &str) -> Client {
        Client {
            inner: self.inner.clone(),
            customer: Some(customer_id.into()),
        }
    }

    /// The customer this client is bound to, if any.
    pub fn customer_id(&self) -> Option<&str> {
        self.customer.as_deref()
    }

    /// The underlying reqwest client (its TLS set up as described in the README), for
    /// requests you make yourself on the same connection pool.
    pub fn http_client(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// The app credentials, if configured.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.inner.credentials.as_ref()
    }

    /// How `auth = client` endpoints present the credentials.
    pub fn client_auth_method(&self) -> ClientAuthMethod {
        self.inner.client_auth
    }

    /// What every request of this client starts from.
    pub(crate) fn request_base(&self) -> &RequestBase {
        &self.inner.base
    }

    pub(crate) fn token_manager(&self) -> Option<&Arc<TokenManager>> {
        self.inner.tokens.as_ref()
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url.as_str())
            .field("credentials", &self.inner.credentials)
            .field("client_auth", &self.inner.client_auth)
            .field("bearer", &self.inner.bearer.as_ref().map(|_| "[REDACTED]"))
            .field("customer", &self.customer)
            .field("timeout", &self.inner.timeout)
            .field("max_body", &self.inner.max_body)
            .finish()
    }
}
