//! Where tokens are kept beyond one client: grant keys, wall-clock records, the store trait
//! and the in-memory store.
//!
//! The token manager keeps the tokens in use in memory by itself; a store is for sharing
//! them with other clients (and, with a store that persists, other processes), so it is
//! only consulted when a token is missing, stale or renewed, never on a cached read.

use crate::secret::RefreshToken;
use secrecy::SecretString;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

/// Whose token it is, within one app: the app's own client-credentials grant for a scope,
/// or one customer's authorization-code grant (AIS).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Grant {
    /// The app's client-credentials grant for this scope (`PIS`, `customer`, OAC, ...).
    App {
        /// The scope as sent.
        scope: String,
    },
    /// One customer's authorization-code grant, by the `customer_id` of the redirect.
    Customer {
        /// The customer id (an identifier, not a secret).
        customer_id: String,
    },
}

/// Everything that decides which token is valid: the environment (base URL), the app id
/// and the grant. No part of it is secret, so a store may use it in key names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GrantKey {
    /// The base URL of the environment, e.g. `https://api-sandbox.fintecture.com`.
    pub environment: Arc<str>,
    /// The app id.
    pub app_id: Arc<str>,
    /// The grant.
    pub grant: Grant,
}

impl fmt::Display for GrantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} app {} ", self.environment, self.app_id)?;
        match &self.grant {
            Grant::App { scope } => write!(f, "scope {scope}"),
            Grant::Customer { customer_id } => write!(f, "customer {customer_id}"),
        }
    }
}

/// A token as a store keeps it: times are wall-clock, so a record means the same in another
/// process and after a restart. `Debug` never shows the tokens.
#[derive(Clone)]
pub struct TokenRecord {
    /// The access token.
    pub access_token: SecretString,
    /// The refresh token, for grants that have one. For a customer grant it is the
    /// customer's consent: losing it means asking the customer again.
    pub refresh_token: Option<RefreshToken>,
    /// When the token request was sent.
    pub issued_at: SystemTime,
    /// When the token expires: `issued_at` plus its lifetime (at most 24 h).
    pub expires_at: SystemTime,
    /// Counts the tokens of this grant: each new one has a higher version than the one it
    /// replaces.
    pub version: u64,
}

impl fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRecord")
            .field("access_token", &"[REDACTED]")
            .field("refresh_token", &self.refresh_token)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("version", &self.version)
            .finish()
    }
}

/// Why a store operation failed: the store's own error, kept as the source.
#[derive(Debug)]
pub struct StoreError(Box<dyn std::error::Error + Send + Sync>);

impl StoreError {
    /// Wraps a store's error.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StoreError(error.into())
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the token store failed")
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// What a store operation returns: a boxed future, so the trait can be used as
/// `Arc<dyn TokenStore>`.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A place to keep token records, shared by clients (and processes, for a store that
/// persists).
///
/// The token manager calls it only off the hot path: to look for a token it does not have
/// (another client may have fetched it), and to save each new token before handing it out.
pub trait TokenStore: Send + Sync + 'static {
    /// The record of this grant, if any (fresh or not: the manager decides).
    ///
    /// # Errors
    /// When the store cannot be read.
    fn load<'a>(&'a self, key: &'a GrantKey) -> StoreFuture<'a, Option<TokenRecord>>;

    /// Stores or replaces the record of this grant.
    ///
    /// # Errors
    /// When the store cannot be written.
    fn save<'a>(&'a self, key: &'a GrantKey, record: &'a TokenRecord) -> StoreFuture<'a, ()>;

    /// Forgets the record of this grant.
    ///
    /// # Errors
    /// When the store cannot be written.
    fn remove<'a>(&'a self, key: &'a GrantKey) -> StoreFuture<'a, ()>;
}

/// A store in memory, for clients of one process that should share their tokens.
#[derive(Default)]
pub struct MemoryTokenStore {
    records: RwLock<HashMap<GrantKey, TokenRecord>>,
}

impl MemoryTokenStore {
    /// How many grants it holds.
    pub fn len(&self) -> usize {
        self.records
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether it holds no grant.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for MemoryTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryTokenStore")
            .field("grants", &self.len())
            .finish()
    }
}

impl TokenStore for MemoryTokenStore {
    fn load<'a>(&'a self, key: &'a GrantKey) -> StoreFuture<'a, Option<TokenRecord>> {
        // A panic elsewhere cannot leave the map half-written, so a poisoned lock is usable.
        let records = self.records.read().unwrap_or_else(PoisonError::into_inner);
        let record = records.get(key).cloned();
        Box::pin(std::future::ready(Ok(record)))
    }

    fn save<'a>(&'a self, key: &'a GrantKey, record: &'a TokenRecord) -> StoreFuture<'a, ()> {
        let mut records = self.records.write().unwrap_or_else(PoisonError::into_inner);
        records.insert(key.clone(), record.clone());
        Box::pin(std::future::ready(Ok(())))
    }

    fn remove<'a>(&'a self, key: &'a GrantKey) -> StoreFuture<'a, ()> {
        let mut records = self.records.write().unwrap_or_else(PoisonError::into_inner);
        records.remove(key);
        Box::pin(std::future::ready(Ok(())))
    }
}
