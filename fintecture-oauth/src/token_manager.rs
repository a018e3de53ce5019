//! Cached, single-flight, rotation-safe bearer tokens, one per grant, renewed ahead of
//! expiry.
//!
//! Each grant (the app's for a scope, or one customer's) has a slot holding its current
//! token. Reads take no lock and do no I/O: the app's tokens are mirrored in an `ArcSwap`,
//! and each thread keeps its own copy of the header, revalidated by one read-only atomic
//! load; a customer's token is one map lookup away.
//!
//! A token is handed out until a small margin before it expires. Once it enters its refresh
//! window, the first caller starts one renewal in a task of its own and every caller keeps
//! the current token; callers wait only when no valid token exists. A renewal that fails
//! while the token is valid is retried with backoff; it never replaces a valid token.
//! Whatever way a renewal task ends (success, error, panic, cancellation), a guard clears
//! the grant's in-flight state and answers its waiters, so nothing wedges.

use crate::clock::Clock;
use crate::error::{BuildError, Error};
use crate::retry::{RetryPolicy, random_below};
use crate::scope::Scope;
use crate::secret::{AuthorizationCode, RefreshToken};
use crate::token::AccessToken;
use crate::token_store::{Grant, GrantKey, Lease, StoreError, Swap, TokenRecord, TokenStore};
use crate::{Client, ExposeSecret};
use arc_swap::{ArcSwap, ArcSwapOption};
use http::HeaderValue;
use secrecy::SecretString;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tokio::time::Instant;

/// How long before expiry a token stops being handed out, by default: long enough for a
/// request to reach the server before the token dies on the way.
pub const DEFAULT_TOKEN_MARGIN: Duration = Duration::from_secs(10);

/// The longest lifetime a token is trusted for: a longer `expires_in` counts as this.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// When tokens are renewed: this long before they expire, plus a random jitter, so that
/// many processes holding the same kind of token do not all renew at the same instant.
///
/// By default the larger of 60 s and 10% of the token's lifetime, plus up to half as much
/// again at random. Never more than half the lifetime, so a short-lived token is not
/// renewed as soon as it arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefreshWindow {
    minimum: Duration,
    lifetime_percent: u32,
    jitter_percent: u32,
}

impl Default for RefreshWindow {
    fn default() -> Self {
        RefreshWindow::new(Duration::from_secs(60), 10)
    }
}

impl RefreshWindow {
    /// Renew `max(minimum, lifetime_percent% of the lifetime)` before expiry (percentages
    /// above 100 count as 100), with the default jitter of 50% of that.
    pub const fn new(minimum: Duration, lifetime_percent: u32) -> Self {
        RefreshWindow {
            minimum,
            lifetime_percent,
            jitter_percent: 50,
        }
    }

    /// The largest random extra, as a percentage of the window (0 for none).
    pub const fn with_jitter_percent(mut self, jitter_percent: u32) -> Self {
        self.jitter_percent = jitter_percent;
        self
    }

    /// How long before expiry to renew a token of this lifetime.
    fn ahead(&self, lifetime: Duration) -> Duration {
        let window = self.minimum.max(percent(lifetime, self.lifetime_percent));
        let jitter = random_below(percent(window, self.jitter_percent));
        window.saturating_add(jitter).min(lifetime / 2)
    }
}

fn percent(duration: Duration, percent: u32) -> Duration {
    duration / 100 * percent.min(100)
}

/// The grant a call needs, borrowed: no allocation on the hot path.
#[derive(Clone, Copy, Debug)]
pub(crate) enum GrantRef<'a> {
    App(&'a str),
    Customer(&'a str),
}

impl GrantRef<'_> {
    fn to_grant(self) -> Grant {
        match self {
            GrantRef::App(scope) => Grant::App {
                scope: scope.to_owned(),
            },
            GrantRef::Customer(customer_id) => Grant::Customer {
                customer_id: customer_id.to_owned(),
            },
        }
    }
}

/// What the token manager asks of the token endpoints, and nothing more: renewals call
/// this, never a whole endpoint that could call back into the manager.
pub(crate) trait TokenEndpoint: Clone + Send + Sync + 'static {
    /// Requests a token with the app's client credentials.
    fn client_credentials(
        &self,
        scope: Scope,
    ) -> impl Future<Output = Result<AccessToken, Error>> + Send;

    /// Renews a token with its refresh token.
    fn refresh(
        &self,
        refresh_token: RefreshToken,
    ) -> impl Future<Output = Result<AccessToken, Error>> + Send;
}

/// A token in use, in monotonic time.
struct Token {
    /// `Bearer …`, marked sensitive.
    header: HeaderValue,
    /// When the server stops accepting it.
    expires_at: Instant,
    /// When it stops being handed out (a margin before `expires_at`).
    valid_until: Instant,
    /// When its renewal starts.
    refresh_at: Instant,
    /// Its wall-clock times, for the store.
    issued_wall: SystemTime,
    expires_wall: SystemTime,
    refresh_token: Option<RefreshToken>,
    version: u64,
}

impl Token {
    /// The record a store keeps.
    fn record(&self) -> TokenRecord {
        TokenRecord {
            access_token: SecretString::from(bearer_text(&self.header).to_owned()),
            refresh_token: self.refresh_token.clone(),
            issued_at: self.issued_wall,
            expires_at: self.expires_wall,
            version: self.version,
        }
    }

    /// A copy that is no longer handed out (after a 401) but keeps its refresh token.
    fn stale(&self) -> Token {
        let now = Instant::now();
        Token {
            header: self.header.clone(),
            valid_until: now,
            refresh_at: now,
            refresh_token: self.refresh_token.clone(),
            ..*self
        }
    }

    /// A copy whose grant is dead: handed out until it expires, never renewed.
    fn orphan(&self) -> Token {
        Token {
            header: self.header.clone(),
            refresh_at: self.valid_until,
            refresh_token: None,
            ..*self
        }
    }
}

/// What a caller gets from a slot: its valid token, or a renewal to wait for.
enum Flight {
    Valid(Arc<Token>),
    Wait(watch::Receiver<Outcome>),
}

/// The outcome of one renewal, shared by all its waiters.
type Outcome = Option<Result<Arc<Token>, Arc<Error>>>;

/// One grant's token and renewal.
struct Slot {
    grant: Grant,
    token: ArcSwapOption<Token>,
    /// The renewal on the way, if any; waiters subscribe to its outcome.
    flight: Mutex<Option<watch::Receiver<Outcome>>>,
    /// Whether a renewal is on the way: the hot path's check, without the lock.
    busy: AtomicBool,
}

impl Slot {
    fn new(grant: Grant) -> Arc<Slot> {
        Arc::new(Slot {
            grant,
            token: ArcSwapOption::empty(),
            flight: Mutex::new(None),
            busy: AtomicBool::new(false),
        })
    }

    fn customer_id(&self) -> Option<&str> {
        match &self.grant {
            Grant::Customer { customer_id } => Some(customer_id),
            Grant::App { .. } => None,
        }
    }

    fn scope(&self) -> &str {
        match &self.grant {
            Grant::App { scope } => scope,
            Grant::Customer { .. } => "AIS",
        }
    }
}

/// Gets, caches and renews the bearer tokens of one client.
pub(crate) struct TokenManager {
    environment: Arc<str>,
    app_id: Arc<str>,
    store: Option<Arc<dyn TokenStore>>,
    clock: Arc<dyn Clock>,
    margin: Duration,
    window: RefreshWindow,
    backoff: RetryPolicy,
    lease: Duration,
    /// The app's grants, by scope: a handful, so a scan beats hashing.
    apps: ArcSwap<Vec<(Box<str>, Arc<Slot>)>>,
    /// Serializes adding app slots (reads never take it).
    apps_write: Mutex<()>,
    customers: RwLock<HashMap<Box<str>, Arc<Slot>>>,
    /// Bumped after every change of an app token, so threads know when their copies are
    /// stale.
    epoch: AtomicU64,
    /// Tells managers apart in the per-thread copies.
    id: u64,
}

static NEXT_MANAGER_ID: AtomicU64 = AtomicU64::new(0);

/// How many header copies a thread keeps (one per manager and scope in use, typically).
const LOCAL_COPIES: usize = 8;

/// A thread's copy of an app token.
struct LocalToken {
    manager: u64,
    scope: Box<str>,
    epoch: u64,
    token: CachedToken,
}

thread_local! {
    /// Each thread's own copies of the app tokens it hands out: reading a shared one would
    /// make every read touch shared memory (a lock, a reference count), and readers on
    /// several cores would contend for it.
    static LOCAL_TOKENS: RefCell<Vec<LocalToken>> = const { RefCell::new(Vec::new()) };
}

/// How a token manager is set up.
pub(crate) struct ManagerConfig {
    pub(crate) environment: Arc<str>,
    pub(crate) app_id: Arc<str>,
    pub(crate) store: Option<Arc<dyn TokenStore>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) margin: Duration,
    pub(crate) window: RefreshWindow,
    pub(crate) backoff: RetryPolicy,
    pub(crate) lease: Duration,
}

impl TokenManager {
    pub(crate) fn new(config: ManagerConfig) -> Self {
        TokenManager {
            environment: config.environment,
            app_id: config.app_id,
            store: config.store,
            clock: config.clock,
            margin: config.margin,
            window: config.window,
            backoff: config.backoff,
            lease: config.lease,
            apps: ArcSwap::from_pointee(Vec::new()),
            apps_write: Mutex::new(()),
            customers: RwLock::new(HashMap::new()),
            epoch: AtomicU64::new(0),
            id: NEXT_MANAGER_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    fn key(&self, grant: &Grant) -> GrantKey {
        GrantKey {
            environment: self.environment.clone(),
            app_id: self.app_id.clone(),
            grant: grant.clone(),
        }
    }

    fn app_slot(&self, scope: &str) -> Option<Arc<Slot>> {
        let apps = self.apps.load();
        let (_, slot) = apps.iter().find(|(name, _)| **name == *scope)?;
        Some(slot.clone())
    }

    fn customer_slot(&self, customer_id: &str) -> Option<Arc<Slot>> {
        let customers = self
            .customers
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        customers.get(customer_id).cloned()
    }

    fn slot(&self, grant: GrantRef<'_>) -> Option<Arc<Slot>> {
        match grant {
            GrantRef::App(scope) => self.app_slot(scope),
            GrantRef::Customer(customer_id) => self.customer_slot(customer_id),
        }
    }

    /// The slot of `grant`, created when missing.
    fn slot_or_new(&self, grant: GrantRef<'_>) -> Arc<Slot> {
        match grant {
            GrantRef::App(scope) => {
                let _adding = self
                    .apps_write
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if let Some(slot) = self.app_slot(scope) {
                    return slot;
                }
                let slot = Slot::new(grant.to_grant());
                let mut apps = Vec::clone(&self.apps.load());
                apps.push((scope.into(), slot.clone()));
                self.apps.store(Arc::new(apps));
                slot
            }
            GrantRef::Customer(customer_id) => {
                let mut customers = self
                    .customers
                    .write()
                    .unwrap_or_else(PoisonError::into_inner);
                customers
                    .entry(customer_id.into())
                    .or_insert_with(|| Slot::new(grant.to_grant()))
                    .clone()
            }
        }
    }

    /// Drops a customer's slot once it holds no token (a dead or missing grant), so that
    /// customers who are gone cost no memory.
    fn drop_if_empty(&self, slot: &Arc<Slot>) {
        let Some(customer_id) = slot.customer_id() else {
            return;
        };
        let mut customers = self
            .customers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let ours = customers
            .get(customer_id)
            .is_some_and(|current| Arc::ptr_eq(current, slot));
        if ours && slot.token.load().is_none() && !slot.busy.load(Ordering::Acquire) {
            customers.remove(customer_id);
        }
    }

    /// How many customer grants are cached.
    pub(crate) fn customer_count(&self) -> usize {
        self.customers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The hot path: the token of `grant` if it is still handed out. No I/O, no lock for
    /// app grants; starts the renewal in the background once the token is in its refresh
    /// window (when a tokio runtime is there to run it).
    #[inline]
    pub(crate) fn hot<E: TokenEndpoint>(
        self: &Arc<Self>,
        endpoint: &E,
        grant: GrantRef<'_>,
    ) -> Option<CachedToken> {
        let token = match grant {
            GrantRef::App(scope) => self.hot_app(scope)?,
            GrantRef::Customer(customer_id) => {
                CachedToken::shared(self.customer_slot(customer_id)?.token.load().as_deref()?)
            }
        };
        // The refresh time is never after the end of validity: one comparison when neither
        // has come.
        let now = Instant::now();
        if now < token.refresh_at {
            return Some(token);
        }
        self.due(endpoint, grant, now)
    }

    /// A token past its refresh time: starts its renewal (unless one is on the way) and
    /// hands it out while it is still valid.
    #[cold]
    #[inline(never)]
    fn due<E: TokenEndpoint>(
        self: &Arc<Self>,
        endpoint: &E,
        grant: GrantRef<'_>,
        now: Instant,
    ) -> Option<CachedToken> {
        let slot = self.slot(grant)?;
        if !slot.busy.load(Ordering::Acquire)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            // Starts the renewal unless another caller did; the token is read below.
            let _ = self.flight(endpoint, &slot, &runtime);
        }
        // Validity is the slot's to tell: kept out of the copies, which stay small.
        let current = slot.token.load();
        current
            .as_ref()
            .filter(|t| now < t.valid_until)
            .map(|t| CachedToken::shared(t))
    }

    /// An app token from this thread's copy while the app tokens have not changed (same
    /// epoch): one read-only atomic load, no shared write.
    #[inline]
    fn hot_app(&self, scope: &str) -> Option<CachedToken> {
        // The epoch is read before the tokens: a copy is never newer than its label.
        let epoch = self.epoch.load(Ordering::Acquire);
        let local = LOCAL_TOKENS.try_with(|copies| {
            let copies = copies.borrow();
            // Newest first: the copy in use is usually the one made last.
            let copy = copies
                .iter()
                .rev()
                .find(|c| c.manager == self.id && *c.scope == *scope)?;
            (copy.epoch == epoch).then(|| copy.token.clone())
        });
        match local {
            Ok(Some(token)) => Some(token),
            _ => self.copy_app_token(scope, epoch),
        }
    }

    /// Reads an app token and keeps this thread's copy of it.
    fn copy_app_token(&self, scope: &str, epoch: u64) -> Option<CachedToken> {
        let slot = self.app_slot(scope)?;
        let token = CachedToken::owned(slot.token.load().as_deref()?);
        let _ = LOCAL_TOKENS.try_with(|copies| {
            let mut copies = copies.borrow_mut();
            copies.retain(|c| !(c.manager == self.id && *c.scope == *scope));
            if copies.len() >= LOCAL_COPIES {
                copies.remove(0);
            }
            copies.push(LocalToken {
                manager: self.id,
                scope: scope.into(),
                epoch,
                token: token.clone(),
            });
        });
        Some(token)
    }

    /// A token for `grant`: the cached one, else the outcome of its renewal (one, however
    /// many callers ask at the same time).
    ///
    /// # Errors
    /// When the renewal fails (every waiter gets the same error), the grant is dead or
    /// missing ([`Error::Reauthorize`]), or there is no tokio runtime to renew on.
    pub(crate) async fn token<E: TokenEndpoint>(
        self: &Arc<Self>,
        endpoint: &E,
        grant: GrantRef<'_>,
    ) -> Result<CachedToken, Error> {
        if let Some(token) = self.hot(endpoint, grant) {
            return Ok(token);
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let slot = self.slot_or_new(grant);
        let mut receiver = match self.flight(endpoint, &slot, &runtime) {
            Flight::Valid(token) => return Ok(CachedToken::shared(&token)),
            Flight::Wait(receiver) => receiver,
        };
        let outcome = match receiver.wait_for(Option::is_some).await {
            Ok(outcome) => outcome.clone(),
            // The guard always answers before the sender goes; this is its fallback.
            Err(_) => None,
        };
        match outcome {
            Some(Ok(token)) => Ok(CachedToken::shared(&token)),
            Some(Err(error)) => Err(shared_error(&slot, &error)),
            None => Err(unfinished(&slot)),
        }
    }

    /// Under the slot's lock, where renewals start and end: the slot's token if it is
    /// valid (starting its renewal first if it is due and none is on the way), else the
    /// renewal to wait for, the one on the way or a new one. Checking here, not only before,
    /// means a renewal that finished since the caller looked is never repeated.
    fn flight<E: TokenEndpoint>(
        self: &Arc<Self>,
        endpoint: &E,
        slot: &Arc<Slot>,
        runtime: &tokio::runtime::Handle,
    ) -> Flight {
        let mut flight = slot.flight.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let valid = slot.token.load_full().filter(|t| now < t.valid_until);
        if let Some(token) = &valid
            && (now < token.refresh_at || flight.is_some())
        {
            return Flight::Valid(token.clone());
        }
        if let Some(receiver) = &*flight {
            return Flight::Wait(receiver.clone());
        }
        let (sender, receiver) = watch::channel(None);
        *flight = Some(receiver.clone());
        slot.busy.store(true, Ordering::Release);
        let guard = FlightGuard {
            manager: self.clone(),
            slot: slot.clone(),
            sender,
            released: false,
        };
        runtime.spawn(fly(guard, endpoint.clone()));
        match valid {
            Some(token) => Flight::Valid(token),
            None => Flight::Wait(receiver),
        }
    }

    /// Renews `slot` until it has a new token, retrying with backoff while its current
    /// token is still valid; the error once none is.
    async fn renew_with_backoff<E: TokenEndpoint>(
        self: &Arc<Self>,
        endpoint: &E,
        slot: &Arc<Slot>,
    ) -> Result<Arc<Token>, Error> {
        let mut attempt = 0;
        loop {
            let error = match self.renew(endpoint, slot).await {
                Ok(token) => return Ok(token),
                Err(error @ Error::Reauthorize { .. }) => return Err(error),
                Err(error) => error,
            };
            let delay = self.backoff.backoff(attempt);
            let valid = slot.token.load().as_ref().map(|t| t.valid_until);
            match valid.zip(Instant::now().checked_add(delay)) {
                Some((valid_until, retry_at)) if retry_at < valid_until => {
                    tracing::warn!(
                        grant = %self.key(&slot.grant),
                        attempt,
                        error = %error,
                        "token renewal failed; the current token stays in use"
                    );
                    tokio::time::sleep(delay).await;
                    attempt = attempt.saturating_add(1);
                }
                _ => return Err(error),
            }
        }
    }

    /// One renewal. Without a store: the token endpoint (the refresh token if there is
    /// one, else client credentials for an app grant). With one: coordinated with every
    /// client sharing the store, so that each grant is renewed once (see `renew_shared`).
    async fn renew<E: TokenEndpoint>(
        self: &Arc<Self>,
        endpoint: &E,
        slot: &Arc<Slot>,
    ) -> Result<Arc<Token>, Error> {
        let Some(store) = &self.store else {
            let current = slot.token.load_full();
            return self
                .renew_alone(endpoint, slot, Base::of(current.as_deref()))
                .await;
        };
        let key = self.key(&slot.grant);
        match self.renew_shared(endpoint, slot, store, &key).await {
            Err(Error::Store(error)) if matches!(slot.grant, Grant::App { .. }) => {
                // Only efficiency is at stake for an app token: each process gets its own.
                tracing::warn!(
                    grant = %key,
                    error = %error,
                    "token store unavailable: getting this app token in this process alone"
                );
                let current = slot.token.load_full();
                self.renew_alone(endpoint, slot, Base::of(current.as_deref()))
                    .await
            }
            // A customer's refresh without the store's lease could race another replica's,
            // and the loser's rotation would cost the customer's consent: refused.
            other => other,
        }
    }

    /// A renewal with no one to coordinate with.
    async fn renew_alone<E: TokenEndpoint>(
        &self,
        endpoint: &E,
        slot: &Slot,
        base: Base,
    ) -> Result<Arc<Token>, Error> {
        let token = self.fetch(endpoint, slot, &base).await?;
        Ok(self.install(slot, token))
    }

    /// A renewal shared through the store: a newer token another client saved, if there is
    /// one; else, under the grant's lease, the token endpoint, the new token written with a
    /// compare-and-swap before anyone gets it. A client that finds the lease taken waits
    /// (bounded) for the holder's token instead of calling the token endpoint.
    ///
    /// # Errors
    /// `Error::Store` when the store cannot be used before anything was fetched.
    async fn renew_shared<E: TokenEndpoint>(
        self: &Arc<Self>,
        endpoint: &E,
        slot: &Arc<Slot>,
        store: &Arc<dyn TokenStore>,
        key: &GrantKey,
    ) -> Result<Arc<Token>, Error> {
        let deadline = Instant::now().checked_add(self.lease.saturating_mul(2));
        loop {
            let record = store.load(key).await.map_err(store_error)?;
            if let Some(token) = self.newer(slot, record.as_ref()) {
                return Ok(self.install(slot, token));
            }
            if let Some(lease) = store.lock(key, self.lease).await.map_err(store_error)? {
                let renewed = self.renew_leased(endpoint, slot, store, key, &lease).await;
                if let Err(error) = store.unlock(key, &lease).await {
                    tracing::warn!(grant = %key, error = %error, "could not release a lease; it expires by itself");
                }
                return renewed;
            }
            if deadline.is_none_or(|deadline| Instant::now() >= deadline) {
                return Err(unfinished(slot));
            }
            tokio::time::sleep(LEASE_POLL).await;
        }
    }

    /// The renewal proper, under the lease.
    async fn renew_leased<E: TokenEndpoint>(
        self: &Arc<Self>,
        endpoint: &E,
        slot: &Arc<Slot>,
        store: &Arc<dyn TokenStore>,
        key: &GrantKey,
        lease: &Lease,
    ) -> Result<Arc<Token>, Error> {
        // The previous holder may have written just before its lease ended.
        let record = store.load(key).await.map_err(store_error)?;
        if let Some(token) = self.newer(slot, record.as_ref()) {
            return Ok(self.install(slot, token));
        }
        let current = slot.token.load_full();
        let base = Base::newest(current.as_deref(), record.as_ref());
        // Done well within the lease, so no other client takes it over meanwhile.
        let within = self.lease.saturating_mul(2) / 3;
        let fetched = match tokio::time::timeout(within, self.fetch(endpoint, slot, &base)).await {
            Ok(fetched) => fetched,
            Err(_) => return Err(unfinished(slot)),
        };
        let token = match fetched {
            Ok(token) => token,
            Err(error @ Error::Reauthorize { .. }) => {
                return self.dead_or_rotated(slot, store, key, &base, error).await;
            }
            Err(error) => return Err(error),
        };
        // Over what the store holds (a store restarted empty holds nothing); the new token's
        // version is above both.
        let stored = record.as_ref().map_or(0, |r| r.version);
        match store.swap(key, stored, &token.record(), lease.fence).await {
            Ok(Swap::Written) => Ok(self.install(slot, token)),
            Ok(refused) => {
                // Written under a newer lease meanwhile (this client was paused past its
                // own): the store's token is the grant's.
                tracing::warn!(grant = %key, ?refused, "a newer token was saved meanwhile; using it");
                let record = store.load(key).await.map_err(store_error)?;
                match self.newer(slot, record.as_ref()) {
                    Some(newer) => Ok(self.install(slot, newer)),
                    None => Ok(self.install(slot, token)),
                }
            }
            Err(error) => {
                // Nothing is lost: the token serves from memory, and is written later.
                tracing::warn!(grant = %key, error = %error, "could not save a renewed token; retrying in the background");
                let token = self.install(slot, token);
                self.write_later(key.clone(), slot.clone(), token.clone());
                Ok(token)
            }
        }
    }

    /// `invalid_grant` on a refresh, with a store: the grant is dead only if the store
    /// still holds the refresh token that was used (or nothing); else another client
    /// rotated it, and its token is the one to use.
    async fn dead_or_rotated(
        &self,
        slot: &Slot,
        store: &Arc<dyn TokenStore>,
        key: &GrantKey,
        base: &Base,
        error: Error,
    ) -> Result<Arc<Token>, Error> {
        let record = store.load(key).await.map_err(store_error)?;
        // Removed only if it is still the version that was used: the store decides, in one
        // step, so a rotation written meanwhile is never lost.
        let dead = match &record {
            None => true,
            Some(_) => store
                .remove(key, Some(base.version))
                .await
                .map_err(store_error)?,
        };
        if dead {
            self.bury(slot);
            return Err(error);
        }
        match self.newer(slot, record.as_ref()) {
            Some(newer) => Ok(self.install(slot, newer)),
            None => Err(error),
        }
    }

    /// A request to the token endpoint: the refresh token if there is one, else client
    /// credentials for an app grant; a dead or missing customer grant is `Reauthorize`.
    async fn fetch<E: TokenEndpoint>(
        &self,
        endpoint: &E,
        slot: &Slot,
        base: &Base,
    ) -> Result<Token, Error> {
        let sent_at = Instant::now();
        let sent_wall = self.clock.now();
        let reauthorize = |source: Option<Arc<Error>>| Error::Reauthorize {
            scope: slot.scope().to_owned(),
            customer: slot.customer_id().map(str::to_owned),
            source,
        };
        let fetched = match (&slot.grant, &base.refresh_token) {
            (_, Some(refresh_token)) => match endpoint.refresh(refresh_token.clone()).await {
                Err(error) if is_terminal(&error) => {
                    if self.store.is_none() {
                        self.bury(slot);
                    }
                    return Err(reauthorize(Some(Arc::new(error))));
                }
                other => other?,
            },
            (Grant::App { scope }, None) => {
                let scope: Scope = scope.parse().unwrap_or_else(|never| match never {});
                endpoint.client_credentials(scope).await?
            }
            (Grant::Customer { .. }, None) => {
                self.bury(slot);
                return Err(reauthorize(None));
            }
        };
        self.fetched(
            &fetched,
            sent_at,
            sent_wall,
            base.version,
            base.refresh_token.clone(),
        )
    }

    /// The store's record as a token, if it is newer than the slot's and still fresh.
    fn newer(&self, slot: &Slot, record: Option<&TokenRecord>) -> Option<Token> {
        let record = record?;
        let current = slot.token.load();
        let newer = current.as_ref().is_none_or(|t| record.version > t.version);
        if newer { self.adopt(record) } else { None }
    }

    /// Writes a token the store could not take, in the background, until it does or a
    /// newer token replaces it here: a customer's refresh token is their consent, never
    /// dropped.
    fn write_later(self: &Arc<Self>, key: GrantKey, slot: Arc<Slot>, token: Arc<Token>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let manager = self.clone();
        runtime.spawn(async move {
            let Some(store) = &manager.store else { return };
            let mut attempt = 0;
            while slot.token.load().as_ref().is_some_and(|t| t.version == token.version) {
                tokio::time::sleep(manager.backoff.backoff(attempt)).await;
                attempt = attempt.saturating_add(1);
                match manager.persist(store, &key, &token).await {
                    Ok(()) => {
                        tracing::info!(grant = %key, "saved the renewed token");
                        return;
                    }
                    Err(error) => {
                        tracing::warn!(grant = %key, error = %error, attempt, "could not save a renewed token yet");
                    }
                }
            }
        });
    }

    /// Writes `token` under a lease, over whatever older version the store holds (a store
    /// restarted empty holds none); done when the store already has it or a newer one.
    async fn persist(
        &self,
        store: &Arc<dyn TokenStore>,
        key: &GrantKey,
        token: &Token,
    ) -> Result<(), StoreError> {
        let Some(lease) = store.lock(key, self.lease).await? else {
            return Err(StoreError::new("another client holds the grant's lease"));
        };
        let written = async {
            let stored = store.load(key).await?.map_or(0, |r| r.version);
            if stored >= token.version {
                return Ok(());
            }
            match store
                .swap(key, stored, &token.record(), lease.fence)
                .await?
            {
                Swap::Written => Ok(()),
                refused => Err(StoreError::new(format!(
                    "the store refused the write: {refused:?}"
                ))),
            }
        }
        .await;
        store.unlock(key, &lease).await?;
        written
    }

    /// A token received from the token endpoint, its lifetime bounded and counted from when
    /// the request was sent.
    fn fetched(
        &self,
        fetched: &AccessToken,
        sent_at: Instant,
        sent_wall: SystemTime,
        previous_version: u64,
        previous_refresh: Option<RefreshToken>,
    ) -> Result<Token, Error> {
        let lifetime = fetched.lifetime().min(MAX_TOKEN_LIFETIME);
        let expires_wall = sent_wall.checked_add(lifetime).ok_or(Error::Protocol {
            endpoint: TOKEN_ENDPOINT,
            problem: "a token whose expiry is past the end of time",
        })?;
        let header = bearer_header(fetched.access_token.expose_secret())?;
        self.schedule(Parts {
            header,
            issued_wall: sent_wall,
            expires_wall,
            expires_at: sent_at.checked_add(lifetime),
            // The service invalidates the old refresh token when it sends a new one; when it
            // sends none, the old one is still the one to use.
            refresh_token: fetched.refresh_token.clone().or(previous_refresh),
            version: previous_version.saturating_add(1),
        })
    }

    /// A record from the store as a token in use, if it is valid and still fresh.
    fn adopt(&self, record: &TokenRecord) -> Option<Token> {
        let remaining = record
            .expires_at
            .duration_since(self.clock.now())
            .ok()?
            .min(MAX_TOKEN_LIFETIME);
        let header = bearer_header(record.access_token.expose_secret()).ok()?;
        let token = self
            .schedule(Parts {
                header,
                issued_wall: record.issued_at,
                expires_wall: record.expires_at,
                expires_at: Instant::now().checked_add(remaining),
                refresh_token: record.refresh_token.clone(),
                version: record.version,
            })
            .ok()?;
        (Instant::now() < token.valid_until).then_some(token)
    }

    /// Works out when a token stops being handed out and when it is renewed.
    fn schedule(&self, parts: Parts) -> Result<Token, Error> {
        let expires_at = parts.expires_at.ok_or(Error::Protocol {
            endpoint: TOKEN_ENDPOINT,
            problem: "a token whose expiry is past the end of time",
        })?;
        let lifetime = parts
            .expires_wall
            .duration_since(parts.issued_wall)
            .unwrap_or_default()
            .min(MAX_TOKEN_LIFETIME);
        let before = |ahead: Duration| expires_at.checked_sub(ahead).unwrap_or(expires_at);
        let valid_until = before(self.margin.min(lifetime / 4));
        let refresh_at = before(self.window.ahead(lifetime)).min(valid_until);
        Ok(Token {
            header: parts.header,
            expires_at,
            valid_until,
            refresh_at,
            issued_wall: parts.issued_wall,
            expires_wall: parts.expires_wall,
            refresh_token: parts.refresh_token,
            version: parts.version,
        })
    }

    /// Makes `token` the grant's current one, unless a newer one arrived meanwhile (an
    /// authorization during a refresh): the newest wins, and is returned.
    fn install(&self, slot: &Slot, token: Token) -> Arc<Token> {
        let token = Arc::new(token);
        let mut installed = token.clone();
        slot.token.rcu(|current| match current {
            Some(current) if current.version > token.version => {
                installed = current.clone();
                Some(current.clone())
            }
            _ => {
                installed = token.clone();
                Some(token.clone())
            }
        });
        self.changed(slot);
        installed
    }

    /// A dead grant (`invalid_grant` or 401 on a refresh, or no refresh token): its token,
    /// if still valid, is handed out until it expires but never renewed.
    fn bury(&self, slot: &Slot) {
        slot.token.rcu(|current| {
            current
                .as_ref()
                .filter(|t| Instant::now() < t.valid_until)
                .map(|t| Arc::new(t.orphan()))
        });
        self.changed(slot);
    }

    fn changed(&self, slot: &Slot) {
        if let Grant::App { .. } = slot.grant {
            self.epoch.fetch_add(1, Ordering::Release);
        }
    }

    /// Stops handing out the token of this version (after a 401), keeping its refresh
    /// token; a newer one is left alone.
    pub(crate) fn invalidate(&self, grant: GrantRef<'_>, version: u64) {
        let Some(slot) = self.slot(grant) else {
            return;
        };
        slot.token.rcu(|current| match current {
            Some(token) if token.version == version => Some(Arc::new(token.stale())),
            other => other.clone(),
        });
        self.changed(&slot);
    }

    /// Caches a customer's token from an authorization-code exchange, above any version
    /// the grant had.
    async fn authorized(
        self: &Arc<Self>,
        customer_id: &str,
        fetched: &AccessToken,
        sent_at: Instant,
        sent_wall: SystemTime,
    ) -> Result<(), Error> {
        let grant = GrantRef::Customer(customer_id).to_grant();
        let key = self.key(&grant);
        let mut version = self
            .customer_slot(customer_id)
            .and_then(|slot| slot.token.load().as_ref().map(|t| t.version))
            .unwrap_or(0);
        // The code is used up: whatever the store says, the token is kept.
        if let Some(store) = &self.store {
            match store.load(&key).await {
                Ok(record) => version = version.max(record.map_or(0, |r| r.version)),
                Err(error) => {
                    tracing::warn!(grant = %key, error = %error, "could not read the token store")
                }
            }
        }
        // A renewal on the way (only a grant with a token has one) reaches one above what is
        // known: the new consent goes two above, so it wins whichever is installed last.
        if version > 0 {
            version = version.saturating_add(1);
        }
        let token = self.fetched(fetched, sent_at, sent_wall, version, None)?;
        // Installed under the map's lock, where empty slots are dropped: the token lands in
        // the slot callers will find.
        let (slot, token) = {
            let mut customers = self
                .customers
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            let slot = customers
                .entry(customer_id.into())
                .or_insert_with(|| Slot::new(grant))
                .clone();
            let token = self.install(&slot, token);
            (slot, token)
        };
        if let Some(store) = &self.store
            && let Err(error) = self.persist(store, &key, &token).await
        {
            tracing::warn!(grant = %key, error = %error, "could not save an authorization yet; retrying in the background");
            self.write_later(key, slot, token);
        }
        Ok(())
    }

    /// Forgets a customer's grant, here and in the store.
    async fn disconnect(&self, customer_id: &str) -> Result<(), Error> {
        let removed = self
            .customers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(customer_id);
        if let Some(slot) = removed {
            slot.token.store(None);
        }
        if let Some(store) = &self.store {
            let grant = Grant::Customer {
                customer_id: customer_id.to_owned(),
            };
            store
                .remove(&self.key(&grant), None)
                .await
                .map_err(store_error)?;
        }
        Ok(())
    }
}

/// How often a client waiting for another's renewal looks at the store.
const LEASE_POLL: Duration = Duration::from_millis(25);

/// How long a grant's lease lasts by default: a renewal's request is given two thirds of it.
pub const DEFAULT_TOKEN_LEASE: Duration = Duration::from_secs(15);

/// What a renewal starts from: the newest version known, and its refresh token.
struct Base {
    version: u64,
    refresh_token: Option<RefreshToken>,
}

impl Base {
    fn of(token: Option<&Token>) -> Base {
        Base {
            version: token.map_or(0, |t| t.version),
            refresh_token: token.and_then(|t| t.refresh_token.clone()),
        }
    }

    /// The newer of the token in use and the store's record.
    fn newest(token: Option<&Token>, record: Option<&TokenRecord>) -> Base {
        let mine = Base::of(token);
        match record {
            Some(record) if record.version >= mine.version => Base {
                version: record.version,
                refresh_token: record.refresh_token.clone().or(mine.refresh_token),
            },
            _ => mine,
        }
    }
}

/// The endpoint named in errors about what the token endpoint sent.
const TOKEN_ENDPOINT: &str = "OAuth::create_access_token";

/// What a token is made of, before its refresh times are worked out.
struct Parts {
    header: HeaderValue,
    issued_wall: SystemTime,
    expires_wall: SystemTime,
    expires_at: Option<Instant>,
    refresh_token: Option<RefreshToken>,
    version: u64,
}

/// `Bearer …`, marked sensitive; a token that cannot be a header value is the server's
/// mistake, not the user's configuration.
fn bearer_header(token: &str) -> Result<HeaderValue, Error> {
    let mut header =
        HeaderValue::try_from(format!("Bearer {token}")).map_err(|_| Error::Protocol {
            endpoint: TOKEN_ENDPOINT,
            problem: "an access token that is not a valid header value",
        })?;
    header.set_sensitive(true);
    Ok(header)
}

/// The token text of a `Bearer …` header, exactly as it was given: it came from a `String`,
/// so its bytes are UTF-8 even where `HeaderValue::to_str` refuses them.
fn bearer_text(header: &HeaderValue) -> &str {
    header
        .as_bytes()
        .strip_prefix(b"Bearer ")
        .and_then(|text| std::str::from_utf8(text).ok())
        .unwrap_or_default()
}

fn store_error(error: StoreError) -> Error {
    Error::Store(Arc::new(error))
}

/// Clears a renewal's in-flight state and answers its waiters on every way out: success,
/// error, panic (the guard drops while unwinding) or cancellation (the task is dropped).
struct FlightGuard {
    manager: Arc<TokenManager>,
    slot: Arc<Slot>,
    sender: watch::Sender<Outcome>,
    released: bool,
}

impl FlightGuard {
    /// Ends the renewal's in-flight state, once: callers from now on start a new one.
    fn release(&mut self) {
        if !self.released {
            self.released = true;
            *self
                .slot
                .flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = None;
            self.slot.busy.store(false, Ordering::Release);
        }
    }

    /// Answers the waiters, after the in-flight state is gone: a waiter that gets an error
    /// and calls again starts a new renewal rather than reading this one's outcome.
    fn finish(mut self, outcome: Result<Arc<Token>, Arc<Error>>) {
        self.release();
        self.sender.send_replace(Some(outcome));
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        self.release();
        self.sender.send_if_modified(|outcome| {
            let unanswered = outcome.is_none();
            if unanswered {
                *outcome = Some(Err(Arc::new(unfinished(&self.slot))));
            }
            unanswered
        });
        self.manager.drop_if_empty(&self.slot);
    }
}

/// The renewal task.
async fn fly<E: TokenEndpoint>(guard: FlightGuard, endpoint: E) {
    let outcome = guard
        .manager
        .renew_with_backoff(&endpoint, &guard.slot)
        .await
        .map_err(Arc::new);
    guard.finish(outcome);
}

/// A renewal that ended without an outcome: it panicked or was cancelled.
fn unfinished(slot: &Slot) -> Error {
    Error::Token {
        scope: slot.scope().to_owned(),
        customer: slot.customer_id().map(str::to_owned),
        source: None,
    }
}

/// `invalid_grant` or 401 on a refresh: the grant is dead.
fn is_terminal(error: &Error) -> bool {
    error.api().is_some_and(|api| {
        api.status() == http::StatusCode::UNAUTHORIZED
            || api.oauth_error() == Some("invalid_grant")
            || api.code() == Some("invalid_grant")
            || api
                .errors()
                .iter()
                .any(|e| e.code.as_deref() == Some("invalid_grant"))
    })
}

/// Every waiter gets the same error, about the grant it asked for: re-authorization stays
/// re-authorization.
fn shared_error(slot: &Slot, error: &Arc<Error>) -> Error {
    match &**error {
        Error::Reauthorize {
            scope,
            customer,
            source,
        } => Error::Reauthorize {
            scope: scope.clone(),
            customer: customer.clone(),
            source: source.clone(),
        },
        Error::Token {
            scope,
            customer,
            source,
        } => Error::Token {
            scope: scope.clone(),
            customer: customer.clone(),
            source: source.clone(),
        },
        _ => Error::Token {
            scope: slot.scope().to_owned(),
            customer: slot.customer_id().map(str::to_owned),
            source: Some(error.clone()),
        },
    }
}

/// Cached tokens on the client.
impl Client {
    /// A bearer token for `scope`: from the cache while it is valid, else fetched once
    /// however many callers ask at the same time. `Scope::Ais` is a customer's token: call
    /// it on [`Client::customer`].
    ///
    /// # Errors
    /// When the client has no credentials, an AIS token is asked of a client bound to no
    /// customer, the token request fails, or the grant is dead ([`Error::Reauthorize`]).
    pub async fn access_token(&self, scope: &Scope) -> Result<CachedToken, Error> {
        // Borrowed for the named scopes: a cached read allocates nothing.
        let scope = scope.as_str();
        let (manager, grant) = self
            .grant(&scope)
            .map_err(|missing| missing.error("Client::access_token"))?;
        manager.token(self, grant).await
    }

    /// The cached token for `scope` if it is valid; never any I/O, never a lock: what
    /// every declared bearer call reads first. Starts its renewal in the background once it
    /// is due (when called on a tokio runtime).
    pub fn cached_access_token(&self, scope: &Scope) -> Option<CachedToken> {
        let scope = scope.as_str();
        let (manager, grant) = self.grant(&scope).ok()?;
        manager.hot(self, grant)
    }

    /// Exchanges the authorization code from the redirect to your app and keeps the
    /// customer's token and refresh token, so that `scope = "AIS"` endpoints called on this
    /// client get them and renew them (with rotation). Call it on the customer's client:
    /// `client.customer(customer_id).authorize(code, None)`.
    ///
    /// # Errors
    /// When the client has no credentials or is bound to no customer, or the exchange
    /// fails (a code works once).
    pub async fn authorize(
        &self,
        code: AuthorizationCode,
        redirect_uri: Option<String>,
    ) -> Result<AccessToken, Error> {
        let (manager, customer_id) = self.customer_grant("Client::authorize")?;
        let sent_at = Instant::now();
        let sent_wall = manager.clock.now();
        let token = self.exchange_code(code, redirect_uri).await?;
        manager
            .authorized(customer_id, &token, sent_at, sent_wall)
            .await?;
        Ok(token)
    }

    /// Forgets the customer's grant (the customer disconnected), here and in the token
    /// store: their calls then fail with [`Error::Reauthorize`] until they authorize again.
    ///
    /// # Errors
    /// When the client is bound to no customer, or the token store fails.
    pub async fn disconnect(&self) -> Result<(), Error> {
        let (manager, customer_id) = self.customer_grant("Client::disconnect")?;
        manager.disconnect(customer_id).await
    }

    /// How many customer grants this client's token manager holds.
    pub fn cached_customers(&self) -> usize {
        self.token_manager().map_or(0, |m| m.customer_count())
    }

    /// The manager, and the grant whose token `scope` needs on this client: the bound
    /// customer's for AIS, the app's otherwise. What is missing is a small value, turned
    /// into an error naming the endpoint only when it happens (the hot path stays light).
    pub(crate) fn grant<'a>(
        &'a self,
        scope: &'a str,
    ) -> Result<(&'a Arc<TokenManager>, GrantRef<'a>), Missing> {
        let manager = self.token_manager().ok_or(Missing::Credentials)?;
        if scope.eq_ignore_ascii_case("AIS") {
            let customer_id = self.customer_id().ok_or(Missing::Customer)?;
            return Ok((manager, GrantRef::Customer(customer_id)));
        }
        Ok((manager, GrantRef::App(scope)))
    }

    fn customer_grant(&self, endpoint: &'static str) -> Result<(&Arc<TokenManager>, &str), Error> {
        match self.grant("AIS") {
            Ok((manager, GrantRef::Customer(customer_id))) => Ok((manager, customer_id)),
            Ok((_, GrantRef::App(_))) | Err(Missing::Customer) => {
                Err(Missing::Customer.error(endpoint))
            }
            Err(missing) => Err(missing.error(endpoint)),
        }
    }
}

/// What a client lacks to get the token a call needs.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Missing {
    Credentials,
    Customer,
}

impl Missing {
    pub(crate) fn error(self, endpoint: &'static str) -> Error {
        Error::Build(match self {
            Missing::Credentials => BuildError::NoCredentials { endpoint },
            Missing::Customer => BuildError::NoCustomer { endpoint },
        })
    }
}

/// A cached access token; the text is only reachable through `expose_secret`.
#[derive(Clone)]
pub struct CachedToken {
    /// `Bearer …`, sensitive.
    pub(crate) header: HeaderValue,
    expires_at: Instant,
    refresh_at: Instant,
    pub(crate) version: u64,
}

impl CachedToken {
    /// A token sharing the header's bytes (one reference count): for customer tokens, each
    /// read by few threads at a time.
    fn shared(token: &Token) -> Self {
        CachedToken {
            header: token.header.clone(),
            expires_at: token.expires_at,
            refresh_at: token.refresh_at,
            version: token.version,
        }
    }

    /// A token with a header of its own: for a thread's copy, which then shares nothing.
    fn owned(token: &Token) -> Self {
        let mut header = HeaderValue::from_bytes(token.header.as_bytes())
            .unwrap_or_else(|_| token.header.clone());
        header.set_sensitive(true);
        CachedToken {
            header,
            ..CachedToken::shared(token)
        }
    }

    /// The access token text, exactly as the server sent it.
    pub fn expose_secret(&self) -> &str {
        bearer_text(&self.header)
    }

    /// When it expires (monotonic time; tokio's clock, which tests can pause).
    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }

    fn remaining(&self) -> Duration {
        self.expires_at.saturating_duration_since(Instant::now())
    }
}

impl fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedToken")
            .field("token", &"[REDACTED]")
            .field("remaining", &self.remaining())
            .field("version", &self.version)
            .finish()
    }
}

impl fmt::Display for CachedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Bearer token [REDACTED], valid for another {} s",
            self.remaining().as_secs()
        )
    }
}
