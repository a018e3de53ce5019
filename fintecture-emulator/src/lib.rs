//! An in-process emulator of the Fintecture API (feature `emulator`): the two token
//! endpoints and a few protected endpoints, on 127.0.0.1 on a random port.
//!
//! It behaves like the real service as far as this crate knows it: Basic or body client
//! credentials, grant types and scopes checked, expiring access tokens, one-time
//! authorization codes, rotating refresh tokens, every error in Fintecture's envelope with a
//! `log_id` and an `x-request-id` header. Tests can inject faults and read the requests it
//! got.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use fintecture_oauth::emulator::Emulator;
//! use fintecture_oauth::Scope;
//!
//! let emulator = Emulator::start().await?;
//! let client = emulator.client()?;
//! let token = client.client_credentials_token(Scope::Pis).await?;
//! assert_eq!(token.expires_in, 3600);
//! assert_eq!(emulator.requests().len(), 1);
//! # Ok(()) }
//! ```

// Handlers reject with axum's `Response`, the natural type there; boxing it would buy
// nothing in a test server.
#![allow(clippy::result_large_err)]

mod api;
mod faults;
mod oauth;
mod record;
mod reply;
mod signature;
mod state;

pub use faults::Fault;
pub use record::RecordedRequest;

use crate::{AuthorizationCode, Client, Credentials, Environment, Error};
use axum::Router;
use axum::routing::{get, post};
use state::State;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use url::Url;

/// How the emulator is set up.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// The credentials it accepts.
    pub credentials: Credentials,
    /// The lifetime of the access tokens it issues (`expires_in`).
    pub token_lifetime: Duration,
    /// The app's public key (SPKI PEM, `-----BEGIN PUBLIC KEY-----`): when set, every call
    /// but the token endpoints must carry a valid HTTP signature, or gets a 401.
    pub signature_public_key_pem: Option<String>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            credentials: Credentials::new("emulator-app-id", "emulator-app-secret"),
            token_lifetime: Duration::from_secs(3600),
            signature_public_key_pem: None,
        }
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
    pub async fn start() -> std::io::Result<Emulator> {
        Emulator::start_with(EmulatorConfig::default()).await
    }

    /// Starts an emulator with this configuration, on 127.0.0.1 on a free port, in a task of
    /// the current tokio runtime.
    pub async fn start_with(config: EmulatorConfig) -> std::io::Result<Emulator> {
        let state = Arc::new(State::new(config)?);
        let router = Router::new()
            .route("/oauth/accesstoken", post(oauth::access_token))
            .route("/oauth/refreshtoken", post(oauth::refresh_token))
            .route("/pis/v2/connect", post(api::connect))
            .route("/pis/v2/payments/{session_id}", get(api::payment))
            .route(
                "/ais/v1/customer/{customer_id}/accounts",
                get(api::accounts),
            )
            .fallback(api::not_found)
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                record::record,
            ))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
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
    pub fn client(&self) -> Result<Client, Error> {
        Client::builder(self.environment())
            .credentials(self.credentials())
            .build()
    }

    /// An authorization code for `customer_id`, as the redirect to the app would carry it
    /// after the customer authorized access at their bank. It works once.
    pub fn issue_code(&self, customer_id: &str) -> AuthorizationCode {
        self.state.issue_code(customer_id)
    }

    /// Makes the next request whose path starts with `path_prefix` (`""` for any) fail with
    /// `fault`. Faults queue up and are used once each.
    pub fn inject(&self, path_prefix: &str, fault: Fault) {
        self.state.inject(path_prefix, fault);
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests()
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
