//! Where tokens are kept beyond one client: grant keys, wall-clock records, the store trait
//! and the in-memory store.
//!
//! The token manager keeps the tokens in use in memory by itself; a store is for sharing
//! them with other clients (and, with a store that persists, other processes), so it is
//! only consulted when a token is missing, stale or renewed, never on a cached read.

use crate::secret::RefreshToken;
use secrecy::SecretString;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

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
#[non_exhaustive]
pub struct GrantKey {
    /// The base URL of the environment, e.g. `https://api-sandbox.fintecture.com`.
    pub environment: Arc<str>,
    /// The app id.
    pub app_id: Arc<str>,
    /// The grant.
    pub grant: Grant,
}

impl GrantKey {
    /// The key of `grant` for the app `app_id` in the environment whose base URL is
    /// `environment` (as [`Environment::base_url`](crate::Environment::base_url) gives it).
    pub fn new(
        environment: impl Into<Arc<str>>,
        app_id: impl Into<Arc<str>>,
        grant: Grant,
    ) -> Self {
        GrantKey {
            environment: environment.into(),
            app_id: app_id.into(),
            grant,
        }
    }
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
#[non_exhaustive]
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

impl TokenRecord {
    /// A record, as a store that keeps records its own way reads one back.
    pub fn new(
        access_token: SecretString,
        refresh_token: Option<RefreshToken>,
        issued_at: SystemTime,
        expires_at: SystemTime,
        version: u64,
    ) -> Self {
        TokenRecord {
            access_token,
            refresh_token,
            issued_at,
            expires_at,
            version,
        }
    }
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

/// A lease on a grant: while it lasts, only its holder renews the grant. The fence number
/// grows with every lease taken on the grant; a store refuses a write whose fence is older
/// than the one that wrote what it holds, so a holder that was paused past its lease cannot
/// overwrite a newer token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lease {
    /// Who holds it (random per lease): only the holder can release it.
    pub owner: String,
    /// The fence number of this lease.
    pub fence: u64,
}

impl Lease {
    /// A lease, as a store hands one out.
    pub fn new(owner: impl Into<String>, fence: u64) -> Self {
        Lease {
            owner: owner.into(),
            fence,
        }
    }
}

/// What [`TokenStore::lock_and_load`] found: the grant's lease, if this client took it, and
/// the grant's record, read under that lease when it was taken.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Locked {
    /// The lease, or `None` when another client holds it.
    pub lease: Option<Lease>,
    /// The grant's record, if the store holds one.
    pub record: Option<TokenRecord>,
}

impl Locked {
    /// What a store found, as it hands it back.
    pub fn new(lease: Option<Lease>, record: Option<TokenRecord>) -> Self {
        Locked { lease, record }
    }
}

/// What a compare-and-swap did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Swap {
    /// The record was written.
    Written,
    /// Refused: the store holds another version than the one expected.
    StaleVersion,
    /// Refused: the store's record was written under a newer lease.
    StaleFence,
}

/// A place to keep token records, shared by clients (and processes, for a store that
/// persists), which coordinates their renewals: one renewal per grant at a time, across
/// every client that shares it.
///
/// The token manager calls it only off the hot path: to look for a token it does not have
/// (another client may have fetched it), and to renew one, under a lease, saving the new
/// token before anyone gets it (an app's token, which carries no refresh token, is saved
/// right behind the caller, still under the lease).
pub trait TokenStore: Send + Sync + 'static {
    /// The record of this grant, if any (fresh or not: the manager decides).
    ///
    /// # Errors
    /// When the store cannot be read.
    fn load<'a>(&'a self, key: &'a GrantKey) -> StoreFuture<'a, Option<TokenRecord>>;

    /// Writes `record` if the store holds version `expected` of this grant (0: none), and
    /// no record written under a lease with a newer fence than `fence`.
    ///
    /// # Errors
    /// When the store cannot be written.
    fn swap<'a>(
        &'a self,
        key: &'a GrantKey,
        expected: u64,
        record: &'a TokenRecord,
        fence: u64,
    ) -> StoreFuture<'a, Swap>;

    /// Forgets the grant: only if it holds this version, or whatever it holds with `None`.
    /// Whether a record was removed.
    ///
    /// # Errors
    /// When the store cannot be written.
    fn remove<'a>(&'a self, key: &'a GrantKey, version: Option<u64>) -> StoreFuture<'a, bool>;

    /// Takes the grant's lease for `duration`, unless someone holds it (`None` then).
    ///
    /// # Errors
    /// When the store cannot be reached.
    fn lock<'a>(&'a self, key: &'a GrantKey, duration: Duration) -> StoreFuture<'a, Option<Lease>>;

    /// Releases the lease, if it is still this one's (it may have expired and been taken).
    ///
    /// # Errors
    /// When the store cannot be reached.
    fn unlock<'a>(&'a self, key: &'a GrantKey, lease: &'a Lease) -> StoreFuture<'a, ()>;

    /// Reads the grant's record and, unless it is newer than version `newer_than` and still
    /// valid at `fresh_until` (another client renewed it: nothing to do but use it), takes
    /// the grant's lease for `duration` if no one holds it: what a renewal starts with. A
    /// store that can should do this in one round trip; by default, [`load`](Self::load),
    /// then [`lock`](Self::lock) and `load` again.
    ///
    /// # Errors
    /// When the store cannot be reached. A lease taken before the failure expires by
    /// itself.
    fn lock_and_load<'a>(
        &'a self,
        key: &'a GrantKey,
        duration: Duration,
        newer_than: u64,
        fresh_until: SystemTime,
    ) -> StoreFuture<'a, Locked> {
        Box::pin(async move {
            let record = self.load(key).await?;
            if record
                .as_ref()
                .is_some_and(|r| r.version > newer_than && r.expires_at > fresh_until)
            {
                return Ok(Locked::new(None, record));
            }
            let lease = self.lock(key, duration).await?;
            let record = match lease {
                Some(_) => self.load(key).await?,
                None => record,
            };
            Ok(Locked { lease, record })
        })
    }

    /// [`swap`](Self::swap) under `lease`, then releases it whatever the swap did: what a
    /// renewal ends with. A store that can should do both in one round trip; by default,
    /// one call after the other.
    ///
    /// # Errors
    /// When the store cannot be written; the lease is then still held (until it expires or
    /// is released).
    fn swap_and_unlock<'a>(
        &'a self,
        key: &'a GrantKey,
        expected: u64,
        record: &'a TokenRecord,
        lease: &'a Lease,
    ) -> StoreFuture<'a, Swap> {
        Box::pin(async move {
            let swapped = self.swap(key, expected, record, lease.fence).await?;
            self.unlock(key, lease).await?;
            Ok(swapped)
        })
    }

    /// Keeps `lease` for another `duration` from now, if it is still this one's: a client
    /// holding a renewed token it could not write yet keeps every other client from
    /// refreshing with the refresh token that token replaced. Whether the lease is still
    /// held. By default `false`: the lease then lasts as long as it was taken for.
    ///
    /// # Errors
    /// When the store cannot be reached.
    fn extend<'a>(
        &'a self,
        key: &'a GrantKey,
        lease: &'a Lease,
        duration: Duration,
    ) -> StoreFuture<'a, bool> {
        let _ = (key, lease, duration);
        Box::pin(std::future::ready(Ok(false)))
    }

    /// Keeps a started consent's `state` for `lifetime`, under `name` (a digest of it,
    /// never the state itself), so that [`take_state`](Self::take_state) finds it once,
    /// from whichever client sharing the store the customer's redirect reaches.
    ///
    /// # Errors
    /// When the store cannot be reached; by default always, since a store shared by
    /// several processes must keep states where all of them find them.
    fn keep_state<'a>(&'a self, name: &'a str, lifetime: Duration) -> StoreFuture<'a, ()> {
        let _ = (name, lifetime);
        Box::pin(std::future::ready(Err(no_consent_states())))
    }

    /// Takes the state kept under `name`: true the first time, for a state kept and not
    /// expired; false ever after, and for a state never kept.
    ///
    /// # Errors
    /// When the store cannot be reached; by default always (see
    /// [`keep_state`](Self::keep_state)).
    fn take_state<'a>(&'a self, name: &'a str) -> StoreFuture<'a, bool> {
        let _ = name;
        Box::pin(std::future::ready(Err(no_consent_states())))
    }
}

fn no_consent_states() -> StoreError {
    StoreError::new(
        "this token store keeps no consent states: implement TokenStore::keep_state and \
         TokenStore::take_state",
    )
}
