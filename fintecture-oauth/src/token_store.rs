//! Where cached tokens live: a small trait, so a shared store can be plugged in, and the
//! in-memory store used by default.

use crate::secret::RefreshToken;
use http::HeaderValue;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use tokio::time::Instant;

/// A cached token, ready to send.
#[derive(Clone)]
pub struct StoredToken {
    /// `Bearer …`, prepared once and marked sensitive.
    pub(crate) header: HeaderValue,
    /// When the token stops being valid: the request's send time plus `expires_in`.
    pub expires_at: Instant,
    /// The refresh token to renew it with, if the grant has one.
    pub refresh_token: Option<RefreshToken>,
    /// Tells tokens apart, so a 401 invalidates the token that was used and not a newer one.
    pub generation: u64,
}

impl StoredToken {
    /// The `Authorization` header value (`Bearer …`); sensitive, so `http` never prints it.
    pub fn header(&self) -> &HeaderValue {
        &self.header
    }
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredToken")
            .field("header", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .field("refresh_token", &self.refresh_token)
            .field("generation", &self.generation)
            .finish()
    }
}

/// A place to keep tokens, one per (app id, scope).
///
/// Methods are synchronous and must not do I/O: the token manager calls `get` on every
/// request. A shared store (Redis, a database) would keep a local copy and sync it in the
/// background.
pub trait TokenStore: Send + Sync + 'static {
    /// The token for this app and scope, if any (fresh or not: the manager decides).
    fn get(&self, app_id: &str, scope: &str) -> Option<Arc<StoredToken>>;
    /// Stores or replaces the token for this app and scope.
    fn put(&self, app_id: &str, scope: &str, token: Arc<StoredToken>);
    /// Forgets the token for this app and scope.
    fn remove(&self, app_id: &str, scope: &str);
}

/// The default store: a map in memory, behind a read-write lock held only for the lookup.
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    tokens: RwLock<HashMap<String, HashMap<String, Arc<StoredToken>>>>,
}

impl TokenStore for MemoryTokenStore {
    fn get(&self, app_id: &str, scope: &str) -> Option<Arc<StoredToken>> {
        // A panic elsewhere cannot leave a map half-written, so a poisoned lock is usable.
        let tokens = self.tokens.read().unwrap_or_else(PoisonError::into_inner);
        tokens.get(app_id)?.get(scope).cloned()
    }

    fn put(&self, app_id: &str, scope: &str, token: Arc<StoredToken>) {
        let mut tokens = self.tokens.write().unwrap_or_else(PoisonError::into_inner);
        tokens
            .entry(app_id.to_owned())
            .or_default()
            .insert(scope.to_owned(), token);
    }

    fn remove(&self, app_id: &str, scope: &str) {
        let mut tokens = self.tokens.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(scopes) = tokens.get_mut(app_id) {
            scopes.remove(scope);
        }
    }
}
