//! Fintecture OAuth tokens that just work, and a declarative way to call the rest of the
//! Fintecture API.
//!
//! The [`api`] attribute turns a trait whose methods carry `#[endpoint(...)]` into request
//! builders (inspectable without I/O) and async callers implemented for [`Client`]:
//!
//! ```
//! use fintecture_oauth::{api, Client, Environment, Error};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize)]
//! pub struct Search<'a> { pub state: &'a str }
//!
//! #[derive(Deserialize)]
//! pub struct Payment { pub status: String }
//!
//! #[api]
//! pub trait Payments {
//!     /// Reads one payment session.
//!     #[endpoint(get = "/pis/v2/payments/{session_id}", scope = "PIS", timeout = "10s")]
//!     async fn payment(&self, session_id: &str, #[query] search: &Search<'_>) -> Result<Payment, Error>;
//! }
//!
//! # fn main() -> Result<(), Error> {
//! let client = Client::builder(Environment::Sandbox).build()?;
//! // Build without sending: method, URL, headers and body are there to inspect.
//! let request = PaymentsRequests::payment(&client, "a/b", &Search { state: "x y" })?;
//! assert_eq!(
//!     request.url(),
//!     "https://api-sandbox.fintecture.com/pis/v2/payments/a%2Fb?state=x+y"
//! );
//! // Or call it: `client.payment("id", &search).await?` (a `Send` future).
//! # Ok(()) }
//! ```
//!
//! [`api`]'s page has the whole syntax: `#[endpoint(...)]` keys, argument roles, return
//! types, and what is generated.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::panic
)]

// Lets the macro's absolute `::fintecture_oauth::...` paths work inside this crate too.
extern crate self as fintecture_oauth;

mod ais_consent;
#[cfg(feature = "redis")]
mod at_rest;
mod auth;
mod client;
mod client_builder;
mod client_consent;
mod client_send;
mod client_tokens;
mod clock;
mod consent_error;
mod consent_request;
mod consent_state;
mod decode;
mod encode;
mod environment;
mod error;
mod http_tls;
mod memory_store;
mod oauth;
mod redact;
#[cfg(feature = "redis-cluster")]
mod redis_cluster;
#[cfg(feature = "redis")]
mod redis_connection;
#[cfg(feature = "redis")]
mod redis_scripts;
#[cfg(feature = "redis-sentinel")]
mod redis_sentinel;
#[cfg(feature = "redis")]
mod redis_store;
#[cfg(feature = "redis")]
mod redis_tls;
mod request;
mod request_builder;
mod response;
mod retry;
mod scope;
mod secret;
pub mod signature;
mod token;
mod token_manager;
mod token_store;

#[cfg(feature = "redis")]
pub use at_rest::AtRest;
pub use auth::{ClientAuthMethod, Credentials};
pub use client::Client;
pub use client_builder::{
    ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY, DEFAULT_TIMEOUT, SignRequests,
};
pub use clock::{Clock, SystemClock};
pub use consent_error::ConsentError;
pub use consent_request::{
    CONSENT_LIFETIME, ConsentProgress, ConsentRequest, ConsentStart, DecoupledConsent,
};
pub use consent_state::ConsentState;
pub use environment::Environment;
pub use error::{ApiError, BuildError, DecodeError, Error, ErrorDetail, ErrorSource};
#[doc(inline)]
pub use fintecture_macros::api;
/// The `http` crate, whose types (`StatusCode`, `HeaderMap`, `Method`) this API uses.
pub use http;
pub use memory_store::MemoryTokenStore;
pub use oauth::{AccessTokenGrant, OAuth, OAuthRequests, RefreshTokenGrant};
#[cfg(feature = "redis-cluster")]
pub use redis_cluster::RedisCluster;
#[cfg(feature = "redis-sentinel")]
pub use redis_sentinel::RedisSentinel;
#[cfg(feature = "redis")]
pub use redis_store::RedisTokenStore;
#[cfg(feature = "redis")]
pub use redis_tls::RedisTls;
pub use request::{Auth, Endpoint, Request};
pub use response::RawResponse;
pub use retry::RetryPolicy;
pub use scope::Scope;
pub use secrecy::{ExposeSecret, SecretString};
pub use secret::{AuthorizationCode, RefreshToken};
pub use token::{AccessToken, DEFAULT_EXPIRES_IN, TokenType};
pub use token_manager::cached::CachedToken;
pub use token_manager::lease::DEFAULT_TOKEN_LEASE;
pub use token_manager::window::{DEFAULT_TOKEN_MARGIN, MAX_TOKEN_LIFETIME, RefreshWindow};
pub use token_store::{
    Grant, GrantKey, Lease, Locked, StoreError, StoreFuture, Swap, TokenRecord, TokenStore,
};

/// The future an endpoint method of an [`api`] trait returns: boxed, `Send` (it can be
/// spawned), and borrowing at most the receiver. A test double implements such a method
/// with `Box::pin(async move { ... })`, copying any other borrowed argument it keeps.
pub type BoxFuture<'a, T> = core::pin::Pin<Box<dyn core::future::Future<Output = T> + Send + 'a>>;

/// The README's examples, compiled and run as doctests (they show the Redis store too).
#[cfg(all(doctest, feature = "redis"))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
