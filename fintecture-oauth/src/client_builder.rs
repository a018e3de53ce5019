//! Configuring and building a [`Client`].

use crate::auth::{ClientAuthMethod, Credentials};
use crate::client::{Client, Inner};
use crate::clock::{Clock, SystemClock};
use crate::environment::Environment;
use crate::error::Error;
use crate::http_tls;
use crate::request_builder::{ClientAuth, RequestBase};
use crate::retry::RetryPolicy;
use crate::scope::Scope;
use crate::signature::RequestSigner;
use crate::token_manager::lease::DEFAULT_TOKEN_LEASE;
use crate::token_manager::manager::{ManagerConfig, TokenManager};
use crate::token_manager::window::{DEFAULT_TOKEN_MARGIN, RefreshWindow};
use crate::token_store::TokenStore;
use http::header::{ACCEPT, HeaderMap, HeaderValue, USER_AGENT};
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
            None => http_tls::with_tls(
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .connect_timeout(self.connect_timeout),
            )?
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?,
        };
        let mut default_headers = HeaderMap::with_capacity(2);
        default_headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        default_headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        // Checked whatever the method: credentials that cannot be sent in a header are refused
        // at build time, not at the first call.
        let client_auth = match &self.credentials {
            Some(credentials) => {
                let basic = credentials.basic_header().ok_or_else(|| {
                    Error::Config("the app id or secret cannot be sent in a header".into())
                })?;
                Some(match self.client_auth {
                    ClientAuthMethod::Basic => ClientAuth::Basic(basic),
                    ClientAuthMethod::RequestBody => ClientAuth::RequestBody(credentials.clone()),
                })
            }
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
        let app_id = match &self.credentials {
            Some(credentials) => Some(
                HeaderValue::from_bytes(credentials.app_id().as_bytes())
                    .map_err(|_| Error::Config("the app id cannot be sent in a header".into()))?,
            ),
            None => None,
        };
        let base_url_str = base_url.as_str().trim_end_matches('/').to_owned();
        let consent_states: Arc<dyn TokenStore> = match &self.token_store {
            Some(store) => store.clone(),
            None => Arc::new(crate::memory_store::MemoryTokenStore::default()),
        };
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
                base: RequestBase {
                    url: base_url_str,
                    default_headers,
                    client_auth,
                    app_id,
                },
                base_url,
                client_auth: self.client_auth,
                bearer,
                tokens,
                consent_states,
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
