//! The runtime client: one `reqwest::Client`, a base URL parsed once, default headers, and
//! the credentials endpoints ask for.

use crate::auth::{ClientAuthMethod, Credentials};
use crate::clock::{Clock, SystemClock};
use crate::environment::Environment;
use crate::error::{ApiError, BuildError, Error};
use crate::request::{Auth, Request};
use crate::response::{RawResponse, read_capped};
use crate::retry::RetryPolicy;
use crate::scope::Scope;
use crate::signature::RequestSigner;
use crate::token_manager::{
    DEFAULT_TOKEN_LEASE, DEFAULT_TOKEN_MARGIN, ManagerConfig, RefreshWindow, TokenManager,
};
use crate::token_store::TokenStore;
use http::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue, LOCATION, USER_AGENT};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// The default total timeout of a request, response body included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default timeout to establish a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default cap on a response body.
pub const DEFAULT_MAX_BODY: u64 = 1 << 20;

const USER_AGENT_VALUE: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));

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
    inner: Arc<Inner>,
    /// The customer whose grant AIS calls use, if bound.
    customer: Option<Arc<str>>,
}

struct Inner {
    http: reqwest::Client,
    base_url: Url,
    /// The base URL without its trailing `/`, to which endpoint paths are appended.
    base_url_str: String,
    default_headers: HeaderMap,
    credentials: Option<Credentials>,
    /// Prepared once: `Basic base64(app_id:app_secret)`.
    basic_header: Option<HeaderValue>,
    client_auth: ClientAuthMethod,
    bearer: Option<HeaderValue>,
    tokens: Option<Arc<TokenManager>>,
    default_scope: String,
    retry: RetryPolicy,
    /// Set when requests are to be signed (key configured, and the mode says so here).
    signer: Option<RequestSigner>,
    sign_token_endpoints: bool,
    timeout: Duration,
    max_body: u64,
}

impl Client {
    /// Starts configuring a client for an environment.
    pub fn builder(environment: Environment) -> ClientBuilder {
        ClientBuilder {
            environment,
            http: None,
            credentials: None,
            client_auth: ClientAuthMethod::default(),
            bearer: None,
            token_store: None,
            token_margin: DEFAULT_TOKEN_MARGIN,
            refresh_window: RefreshWindow::default(),
            token_lease: DEFAULT_TOKEN_LEASE,
            clock: Arc::new(SystemClock),
            default_scope: Scope::Pis,
            retry: RetryPolicy::default(),
            signing_key: None,
            sign_requests: SignRequests::default(),
            sign_token_endpoints: false,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_body: DEFAULT_MAX_BODY,
            allow_http: false,
        }
    }

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

    pub(crate) fn base_url_str(&self) -> &str {
        &self.inner.base_url_str
    }

    pub(crate) fn default_headers(&self) -> &HeaderMap {
        &self.inner.default_headers
    }

    pub(crate) fn basic_header(&self) -> Option<&HeaderValue> {
        self.inner.basic_header.as_ref()
    }

    pub(crate) fn token_manager(&self) -> Option<&Arc<TokenManager>> {
        self.inner.tokens.as_ref()
    }

    /// Sends a built request: adds the bearer token if the endpoint needs one, applies the
    /// endpoint's timeout, refuses redirects, reads the body up to the cap, and turns a
    /// non-success status into [`Error::Api`].
    ///
    /// # Errors
    /// [`Error::Token`] or [`Error::Reauthorize`] when no bearer token can be had;
    /// [`Error::Connect`], [`Error::Transport`] or [`Error::Timeout`] when the exchange fails
    /// (after the endpoint's retries); [`Error::Redirect`] on a 3xx, [`Error::Api`] on any
    /// other non-success status; [`Error::BodyTooLarge`] past the body cap;
    /// [`Error::Sign`] when the request cannot be signed.
    pub async fn execute(&self, request: Request) -> Result<RawResponse, Error> {
        let Auth::Bearer { scope } = request.endpoint.auth else {
            return self.send(request, None).await;
        };
        if let Some(token) = &self.inner.bearer {
            return self.send(request, Some(token.clone())).await;
        }
        let endpoint = request.endpoint.name;
        if self.inner.tokens.is_none() {
            return Err(Error::Build(BuildError::NoBearer { endpoint }));
        }
        let scope = scope.unwrap_or(&self.inner.default_scope);
        let (manager, grant) = self
            .grant(scope)
            .map_err(|missing| missing.error(endpoint))?;
        let token = match manager.hot(self, grant) {
            Some(token) => token,
            None => manager.token(self, grant).await?,
        };
        // Kept for the one retry a 401 allows; the body is shared, not copied.
        let retry = request.clone();
        match self.send(request, Some(token.header.clone())).await {
            Err(error) if error.status() == Some(http::StatusCode::UNAUTHORIZED) => {
                manager.invalidate(grant, token.version);
                let token = manager.token(self, grant).await?;
                self.send(retry, Some(token.header)).await
            }
            other => other,
        }
    }

    /// Sends, retrying as the endpoint allows; each attempt has a tracing span with the
    /// endpoint, method, path template, status and duration, never a header value, a URL
    /// parameter or a body.
    pub(crate) async fn send(
        &self,
        request: Request,
        bearer: Option<HeaderValue>,
    ) -> Result<RawResponse, Error> {
        let retries = request.endpoint.retries;
        if retries == 0 {
            return self.exchange(request, bearer).await;
        }
        let mut attempt = 0;
        loop {
            let result = self.exchange(request.clone(), bearer.clone()).await;
            let delay = match self.inner.retry.delay(&result, attempt) {
                Some(delay) if attempt < retries => delay,
                _ => return result,
            };
            attempt += 1;
            let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
            tracing::debug!(
                endpoint = request.endpoint.name,
                attempt,
                delay_ms,
                "retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn exchange(
        &self,
        mut request: Request,
        bearer: Option<HeaderValue>,
    ) -> Result<RawResponse, Error> {
        let endpoint = request.endpoint;
        let span = tracing::debug_span!(
            "fintecture_request",
            endpoint = endpoint.name,
            method = %endpoint.method,
            path = endpoint.path,
            status = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        let _timing = Timing {
            span: &span,
            // No clock reads when no subscriber wants the span.
            started: (!span.is_disabled()).then(std::time::Instant::now),
        };
        let url = Url::parse(&request.url).map_err(|_| {
            Error::Build(BuildError::Url {
                endpoint: endpoint.name,
            })
        })?;
        if let Some(signer) = &self.inner.signer
            && (endpoint.auth != Auth::Client || self.inner.sign_token_endpoints)
        {
            let body = request.body.as_deref();
            signer
                .sign(&endpoint.method, &url, body, &mut request.headers)
                .map_err(|source| Error::Sign {
                    endpoint: endpoint.name,
                    source,
                })?;
        }
        let mut outgoing = reqwest::Request::new(endpoint.method.clone(), url);
        *outgoing.headers_mut() = request.headers;
        if let Some(token) = bearer {
            outgoing.headers_mut().insert(AUTHORIZATION, token);
        }
        *outgoing.body_mut() = request.body.map(reqwest::Body::from);
        *outgoing.timeout_mut() = Some(endpoint.timeout.unwrap_or(self.inner.timeout));

        let mut response = self
            .inner
            .http
            .execute(outgoing)
            .await
            .map_err(|source| transport_error(endpoint.name, source))?;
        let status = response.status();
        span.record("status", status.as_u16());
        if status.is_redirection() {
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            return Err(Error::Redirect {
                endpoint: endpoint.name,
                status,
                location,
            });
        }
        let headers = std::mem::take(response.headers_mut());
        let limit = endpoint.max_body.unwrap_or(self.inner.max_body);
        let body = read_capped(endpoint.name, response, limit).await?;
        if !status.is_success() {
            return Err(Error::Api(Box::new(ApiError::from_response(
                endpoint.name,
                status,
                headers,
                body,
            ))));
        }
        Ok(RawResponse {
            status,
            headers,
            body,
            endpoint: endpoint.name,
        })
    }
}

/// Records a request span's duration however the attempt ends. The span is never entered:
/// it describes the request without wrapping its future (which would cost a copy of it).
struct Timing<'a> {
    span: &'a tracing::Span,
    started: Option<std::time::Instant>,
}

impl Drop for Timing<'_> {
    fn drop(&mut self) {
        if let Some(started) = self.started {
            let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            self.span.record("duration_ms", duration_ms);
        }
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

/// When requests are signed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignRequests {
    /// In production, when a key is configured (Fintecture requires it there; the sandbox
    /// does not).
    #[default]
    Production,
    /// Whenever a key is configured.
    Always,
    /// Never.
    Never,
}

/// Configures a [`Client`].
#[must_use]
pub struct ClientBuilder {
    environment: Environment,
    http: Option<reqwest::Client>,
    credentials: Option<Credentials>,
    client_auth: ClientAuthMethod,
    bearer: Option<SecretString>,
    token_store: Option<Arc<dyn TokenStore>>,
    token_margin: Duration,
    refresh_window: RefreshWindow,
    token_lease: Duration,
    clock: Arc<dyn Clock>,
    default_scope: Scope,
    retry: RetryPolicy,
    signing_key: Option<SecretString>,
    sign_requests: SignRequests,
    sign_token_endpoints: bool,
    timeout: Duration,
    connect_timeout: Duration,
    max_body: u64,
    allow_http: bool,
}

impl ClientBuilder {
    /// The app credentials, for `auth = client` endpoints (the token endpoints).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// How `auth = client` endpoints present the credentials (HTTP Basic by default).
    pub fn client_auth_method(mut self, method: ClientAuthMethod) -> Self {
        self.client_auth = method;
        self
    }

    /// A fixed access token for every bearer endpoint, instead of the token manager.
    pub fn bearer_token(mut self, token: SecretString) -> Self {
        self.bearer = Some(token);
        self
    }

    /// A store the token manager shares its tokens through, with other clients (and, for a
    /// store that persists, other processes). Without one, tokens live in this client (and
    /// its clones) only.
    pub fn token_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.token_store = Some(store);
        self
    }

    /// How long before expiry a cached token stops being handed out (default 10 s, and at
    /// most a quarter of the token's lifetime).
    pub fn token_margin(mut self, margin: Duration) -> Self {
        self.token_margin = margin;
        self
    }

    /// When cached tokens are renewed in the background, ahead of expiry (by default the
    /// larger of 60 s and 10% of their lifetime, with jitter).
    pub fn refresh_window(mut self, window: RefreshWindow) -> Self {
        self.refresh_window = window;
        self
    }

    /// How long a client sharing a [`TokenStore`] holds a grant's lease while it renews it
    /// (default 15 s): its token request gets two thirds of that, and clients that find the
    /// lease taken wait up to twice that for the new token.
    pub fn token_lease(mut self, lease: Duration) -> Self {
        self.token_lease = lease;
        self
    }

    /// The wall clock of token records ([`SystemClock`] by default): for tests.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How endpoints declared with `retry = N` wait between attempts.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The app's RSA private key (PKCS#8 PEM) for HTTP signatures. It is checked by
    /// [`build`](Self::build): a bad key fails there, not at the first call.
    pub fn signing_key_pem(mut self, pem: impl Into<String>) -> Self {
        self.signing_key = Some(SecretString::from(pem.into()));
        self
    }

    /// When requests are signed (by default: in production, when a key is configured).
    pub fn sign_requests(mut self, when: SignRequests) -> Self {
        self.sign_requests = when;
        self
    }

    /// Signs the token endpoints too (off by default).
    pub fn sign_token_endpoints(mut self, sign: bool) -> Self {
        self.sign_token_endpoints = sign;
        self
    }

    /// The scope of `auth = bearer` endpoints that name none (default `PIS`).
    pub fn default_scope(mut self, scope: Scope) -> Self {
        self.default_scope = scope;
        self
    }

    /// Uses this `reqwest::Client` instead of building one. Its own timeouts, redirect
    /// policy and TLS settings then apply as configured; the per-request timeout still does.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// The total timeout of a request, body included (default 30 s); endpoints may set
    /// their own.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The connection timeout (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The cap on response bodies (default 1 MiB); endpoints may set their own.
    pub fn max_body(mut self, bytes: u64) -> Self {
        self.max_body = bytes;
        self
    }

    /// Allows a plain `http://` base URL on a host other than loopback. Off by default:
    /// credentials and tokens would cross the network in clear text.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Builds the client. Makes no request and needs no runtime.
    ///
    /// ```
    /// use fintecture_oauth::{Client, Credentials, Environment};
    /// use std::time::Duration;
    ///
    /// let client = Client::builder(Environment::Sandbox)
    ///     .credentials(Credentials::new("my-app-id", "my-app-secret"))
    ///     .timeout(Duration::from_secs(10))
    ///     .build()?;
    /// # Ok::<(), fintecture_oauth::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] (never a panic) when the base URL is unusable (not https for a
    /// host other than loopback, unless allowed; a query or fragment), when the credentials
    /// or the bearer token cannot be sent in a header, or when the HTTP client cannot be
    /// set up.
    pub fn build(self) -> Result<Client, Error> {
        let base_url = Url::parse(self.environment.base_url())
            .map_err(|e| Error::Config(format!("base URL: {e}")))?;
        check_scheme(&base_url, self.allow_http)?;
        if base_url.query().is_some() || base_url.fragment().is_some() {
            return Err(Error::Config(
                "the base URL cannot have a query or fragment".into(),
            ));
        }
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(self.connect_timeout)
                .build()
                .map_err(|e| Error::Config(format!("HTTP client: {e}")))?,
        };
        let mut default_headers = HeaderMap::with_capacity(2);
        default_headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        default_headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let basic_header = match &self.credentials {
            Some(credentials) => Some(credentials.basic_header().ok_or_else(|| {
                Error::Config("the app id or secret cannot be sent in a header".into())
            })?),
            None => None,
        };
        let signer = match &self.signing_key {
            Some(pem) => {
                let app_id = self
                    .credentials
                    .as_ref()
                    .map(Credentials::app_id)
                    .ok_or_else(|| {
                        Error::Config(
                            "HTTP signatures use the app id as keyId: configure credentials".into(),
                        )
                    })?;
                let signer = RequestSigner::from_pem(app_id, pem.expose_secret())?;
                let wanted = match self.sign_requests {
                    SignRequests::Always => true,
                    SignRequests::Production => self.environment == Environment::Production,
                    SignRequests::Never => false,
                };
                wanted.then_some(signer)
            }
            None => None,
        };
        let bearer = match &self.bearer {
            Some(token) => {
                let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose_secret()))
                    .map_err(|_| {
                        Error::Config("the bearer token is not a valid header value".into())
                    })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let base_url_str = base_url.as_str().trim_end_matches('/').to_owned();
        let tokens = self.credentials.as_ref().map(|credentials| {
            Arc::new(TokenManager::new(ManagerConfig {
                environment: base_url_str.as_str().into(),
                app_id: credentials.app_id().into(),
                store: self.token_store,
                clock: self.clock,
                margin: self.token_margin,
                window: self.refresh_window,
                backoff: self.retry,
                lease: self.token_lease,
            }))
        });
        Ok(Client {
            customer: None,
            inner: Arc::new(Inner {
                http,
                base_url_str,
                base_url,
                default_headers,
                basic_header,
                client_auth: self.client_auth,
                bearer,
                tokens,
                credentials: self.credentials,
                default_scope: self.default_scope.to_string(),
                retry: self.retry,
                signer,
                sign_token_endpoints: self.sign_token_endpoints,
                timeout: self.timeout,
                max_body: self.max_body,
            }),
        })
    }
}

/// https only; plain http for loopback hosts, or anywhere when explicitly allowed.
fn check_scheme(url: &Url, allow_http: bool) -> Result<(), Error> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_http || is_loopback(url) => Ok(()),
        "http" => Err(Error::Config(format!(
            "refusing plain http to {}: use https, or allow_insecure_http(true)",
            url.host_str().unwrap_or("")
        ))),
        other => Err(Error::Config(format!("unsupported URL scheme `{other}`"))),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("environment", &self.environment)
            .field("credentials", &self.credentials)
            .field("bearer", &self.bearer.as_ref().map(|_| "[REDACTED]"))
            .finish_non_exhaustive()
    }
}
