//! An emulator of the Fintecture API: the two token endpoints and a few protected
//! endpoints, on a loopback port, for tests in Rust (this library) or in any language (the
//! `fintecture-emulator` binary and its control API under `/__emulator/`).
//!
//! It behaves like the real service as far as fintecture-oauth knows it: Basic or body client
//! credentials, grant types and scopes checked, expiring access tokens, one-time
//! authorization codes, rotating refresh tokens, a customer's AIS token good for that
//! customer's resources only, the consent leg of AIS (the app's `app_id` starting a consent
//! whose URL redirects back with a code), signed requests checked when given the app's public key, every
//! error in Fintecture's envelope with a `log_id` and an `x-request-id` header. Tests can
//! inject faults, expire or revoke tokens, and read the requests it got.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use fintecture_emulator::Emulator;
//! use fintecture_oauth::Scope;
//!
//! let emulator = Emulator::start().await?;
//! let client = emulator.client()?;
//! let token = client.client_credentials_token(Scope::Pis).await?;
//! assert_eq!(token.expires_in, 3600);
//! assert_eq!(emulator.requests().len(), 1);
//! # Ok(()) }
//! ```
//!
//! # The control API
//! Every path under `/__emulator/` is the emulator's own: never recorded, signed or faulted.
//! Bodies and answers are JSON.
//!
//! | request | effect |
//! |---|---|
//! | `POST /__emulator/codes` `{"customer_id": "c1"}` | `201 {"code": "..."}`: an authorization code for that customer, as the bank's redirect would carry it |
//! | `POST /__emulator/consents` `{"customer_id": "c1"}` or `{"error": "access_denied", "error_description": "..."}` | `204`: how the next consent ends (then fresh customer ids again) |
//! | `GET /__emulator/consent/{session_id}` | the page a consent URL (from `GET /ais/v2/connect` or `GET /ais/v1/provider/{id}/authorize`) points at: `302` to the app's `redirect_uri` with `code`, `customer_id` and `state`, or `error` and `error_description`; once per consent |
//! | `POST /__emulator/faults` `{"path_prefix": "/oauth/", "kind": "status", "status": 503, "retry_after": 2}` | `204`: the next matching request fails so. Kinds: `status`, `delay` (`"millis"`), `malformed_json`, `drop_connection` |
//! | `POST /__emulator/expire` `{"access_token": "..."}`, `{"customer_id": "c1"}` or `{"scope": "PIS"}` | `200 {"matched": n}`: those access tokens expire now |
//! | `POST /__emulator/revoke` (same selectors) | `200 {"matched": n}`: those access tokens, and the grants' refresh tokens, stop working |
//! | `GET /__emulator/requests` | `200 [...]`: every request so far, with its answer's status; credentials, tokens and codes redacted |
//! | `DELETE /__emulator/requests` | `204`: forgets them |

// Handlers reject with axum's `Response`, the natural type there; boxing it would buy
// nothing in a test server.
#![allow(clippy::result_large_err)]

mod api;
mod consent;
mod consents;
mod control;
mod faults;
mod ids;
mod journal;
mod oauth;
mod record;
mod reply;
mod signature;
mod state;

pub use consents::NextConsent;
pub use faults::Fault;
pub use journal::RecordedRequest;
pub use state::TokenSelector;

use axum::Router;
use axum::routing::{get, post};
use fintecture_oauth::{AuthorizationCode, Client, Credentials, Environment, Error};
use state::State;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use url::Url;

/// Called once per request the emulator answered (control API excepted): its method, path
/// and status. The binary prints these; nothing secret is passed.
pub type RequestObserver = Arc<dyn Fn(&http::Method, &str, http::StatusCode) + Send + Sync>;

/// How the emulator is set up.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// The credentials it accepts.
    pub credentials: Credentials,
    /// The lifetime of the access tokens it issues (`expires_in`).
    pub token_lifetime: Duration,
    /// The app's public key (SPKI PEM, `-----BEGIN PUBLIC KEY-----`): when set, every call
    /// but the token endpoints must carry a valid HTTP signature, or gets a 401.
    pub signature_public_key_pem: Option<String>,
    /// Where to listen: 127.0.0.1 on a free port by default.
    pub address: SocketAddr,
    /// Told of every answered request.
    pub on_request: Option<RequestObserver>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            credentials: Credentials::new("emulator-app-id", "emulator-app-secret"),
            token_lifetime: Duration::from_secs(3600),
            signature_public_key_pem: None,
            address: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            on_request: None,
        }
    }
}

impl std::fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("credentials", &self.credentials)
            .field("token_lifetime", &self.token_lifetime)
            .field(
                "signature_public_key_pem",
                &self.signature_public_key_pem.as_ref().map(|_| "[PEM]"),
            )
            .field("address", &self.address)
            .field("on_request", &self.on_request.as_ref().map(|_| "Fn"))
            .finish()
    }
}

/// A running emulator. It stops when dropped.
pub struct Emulator {
    address: SocketAddr,
    url: Url,
    state: Arc<State>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Emulator {
    /// Starts an emulator with the default configuration.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn start() -> std::io::Result<Emulator> {
        Emulator::start_with(EmulatorConfig::default()).await
    }

    /// Starts an emulator with this configuration, in a task of the current tokio runtime.
    ///
    /// # Errors
    /// When the address cannot be bound, or the public key is not an SPKI PEM RSA key.
    pub async fn start_with(config: EmulatorConfig) -> std::io::Result<Emulator> {
        let address = config.address;
        let state = Arc::new(State::new(config)?);
        let service = Router::new()
            .route("/oauth/accesstoken", post(oauth::access_token))
            .route("/oauth/refreshtoken", post(oauth::refresh_token))
            .route("/pis/v2/connect", post(api::connect))
            .route("/pis/v2/payments", get(api::payments))
            .route("/pis/v2/payments/{session_id}", get(api::payment))
            // Version 1 of the payment reads, which the official SDKs still call.
            .route("/pis/v1/payments", get(api::payments))
            .route("/pis/v1/payments/{session_id}", get(api::payment))
            .route(
                "/ais/v1/customer/{customer_id}/accounts",
                get(api::accounts),
            )
            .route("/ais/v2/connect", get(consent::connect))
            .route(
                "/ais/v1/provider/{provider_id}/authorize",
                get(consent::authorize),
            )
            .route(
                "/ais/v1/provider/{provider_id}/authorize/decoupled/{polling_id}",
                get(consent::decoupled),
            )
            .fallback(api::not_found)
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                record::record,
            ));
        let router = control::router().merge(service).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        let url = Url::parse(&format!("http://{address}")).map_err(std::io::Error::other)?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let server = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            // Nothing to report to: the emulator's users see failures as refused connections.
            let _ = server.await;
        });
        Ok(Emulator {
            address,
            url,
            state,
            shutdown: Some(shutdown),
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:43121`.
    pub fn url(&self) -> Url {
        self.url.clone()
    }

    /// An [`Environment`] pointing at this emulator.
    pub fn environment(&self) -> Environment {
        Environment::Custom(self.url())
    }

    /// The credentials it accepts.
    pub fn credentials(&self) -> Credentials {
        self.state.config.credentials.clone()
    }

    /// A client for this emulator, with its credentials.
    ///
    /// # Errors
    /// As [`fintecture_oauth::ClientBuilder::build`].
    pub fn client(&self) -> Result<Client, Error> {
        Client::builder(self.environment())
            .credentials(self.credentials())
            .build()
    }

    /// An authorization code for `customer_id`, as the redirect to the app would carry it
    /// after the customer authorized access at their bank. It works once.
    pub fn issue_code(&self, customer_id: &str) -> AuthorizationCode {
        AuthorizationCode::new(self.state.issue_code(customer_id))
    }

    /// Decides how the next consent a customer gives ends (see [`NextConsent`]): under a
    /// customer id of the test's, or refused. Used once; then consents are granted under
    /// fresh customer ids again.
    pub fn next_consent(&self, next: NextConsent) {
        self.state.consents.set_next(next);
    }

    /// Makes the next request whose path starts with `path_prefix` (`""` for any) fail with
    /// `fault`. Faults queue up and are used once each.
    pub fn inject(&self, path_prefix: &str, fault: Fault) {
        self.state.inject(path_prefix, fault);
    }

    /// Makes the access tokens `selector` matches expire now; returns how many.
    pub fn expire(&self, selector: &TokenSelector) -> usize {
        self.state.expire(selector)
    }

    /// Revokes the access tokens `selector` matches and the refresh tokens of the same
    /// grants (a customer withdrawing consent, for example); returns how many tokens.
    pub fn revoke(&self, selector: &TokenSelector) -> usize {
        self.state.revoke(selector)
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.journal.requests()
    }

    /// The requests received on `path`.
    pub fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}
