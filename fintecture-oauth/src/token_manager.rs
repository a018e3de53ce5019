//! Cached, single-flight, rotation-safe bearer tokens.
//!
//! A cached token is read without I/O and without any lock: the tokens in use are mirrored
//! from the [`TokenStore`] in an `ArcSwap`, whose reads write no shared memory, so readers
//! on several cores do not slow each other down.
//! When one is needed, exactly one fetch runs per scope, in a task of its own (a cancelled
//! caller cannot abort a refresh on the wire), and every waiter gets its result.

use crate::error::Error;
use crate::scope::Scope;
use crate::secret::{AuthorizationCode, RefreshToken};
use crate::token::AccessToken;
use crate::token_store::{StoredToken, TokenStore};
use crate::{Client, ExposeSecret};
use arc_swap::ArcSwap;
use http::HeaderValue;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How long before expiry a token stops being handed out, by default.
pub const DEFAULT_TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// The outcome of one fetch, shared by all its waiters.
type Shared = Option<Result<Arc<StoredToken>, Arc<Error>>>;

/// Gets, caches and renews the bearer tokens of one client.
pub struct TokenManager {
    store: Arc<dyn TokenStore>,
    margin: Duration,
    /// One entry per scope whose fetch is on the wire.
    inflight: Mutex<HashMap<String, watch::Receiver<Shared>>>,
    generations: AtomicU64,
    /// The tokens of this app in use, by scope: a handful, so a scan beats hashing.
    hot: ArcSwap<Vec<(Box<str>, Arc<StoredToken>)>>,
    /// Bumped after every change of `hot`, so threads know when their copies are stale.
    epoch: AtomicU64,
    /// Tells managers apart in the per-thread copies.
    id: u64,
}

static NEXT_MANAGER_ID: AtomicU64 = AtomicU64::new(0);

/// How many header copies a thread keeps (one per manager and scope in use, typically).
const LOCAL_COPIES: usize = 8;

/// A thread's copy of a hot token.
struct LocalToken {
    manager: u64,
    scope: Box<str>,
    epoch: u64,
    token: CachedToken,
}

thread_local! {
    /// Each thread's own copies of the tokens it hands out: reading a shared one would make
    /// every read touch shared memory (a lock, a reference count), and readers on several
    /// cores would contend for it.
    static LOCAL_TOKENS: RefCell<Vec<LocalToken>> = const { RefCell::new(Vec::new()) };
}

impl TokenManager {
    pub(crate) fn new(store: Arc<dyn TokenStore>, margin: Duration) -> Self {
        TokenManager {
            store,
            margin,
            inflight: Mutex::new(HashMap::new()),
            generations: AtomicU64::new(0),
            hot: ArcSwap::from_pointee(Vec::new()),
            epoch: AtomicU64::new(0),
            id: NEXT_MANAGER_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    fn is_fresh(&self, token: &StoredToken) -> bool {
        Instant::now() + self.margin < token.expires_at
    }

    /// The hot path: the token in use for `scope`, if it has more than the margin left.
    /// This thread's copy serves while the hot set has not changed (same epoch): one
    /// read-only atomic load, no shared write.
    pub(crate) fn hot(&self, scope: &str) -> Option<CachedToken> {
        // The epoch is read before the hot set: a copy is never newer than its label.
        let epoch = self.epoch.load(Ordering::Acquire);
        let local = LOCAL_TOKENS.try_with(|copies| {
            let copies = copies.borrow();
            let copy = copies
                .iter()
                .find(|c| c.manager == self.id && *c.scope == *scope)?;
            (copy.epoch == epoch).then(|| copy.token.clone())
        });
        let token = match local {
            Ok(Some(token)) => token,
            _ => self.refresh_local(scope, epoch)?,
        };
        (Instant::now() + self.margin < token.expires_at).then_some(token)
    }

    /// Reads the hot set and keeps this thread's copy of the token for `scope`.
    fn refresh_local(&self, scope: &str, epoch: u64) -> Option<CachedToken> {
        let hot = self.hot.load();
        let (_, stored) = hot.iter().find(|(name, _)| **name == *scope)?;
        let token = CachedToken::of(stored);
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

    /// The slow path's check: the hot token, else the store's (another client sharing the
    /// store may have fetched one), which then becomes the hot one.
    fn fresh(&self, app_id: &str, scope: &str) -> Option<CachedToken> {
        self.hot(scope).or_else(|| {
            let token = self.store.get(app_id, scope).filter(|t| self.is_fresh(t))?;
            self.remember(scope, Some(token.clone()));
            Some(CachedToken::of(&token))
        })
    }

    /// Replaces (or, with `None`, drops) the hot token of `scope`.
    fn remember(&self, scope: &str, token: Option<Arc<StoredToken>>) {
        self.hot.rcu(|current| {
            let mut next: Vec<_> = current
                .iter()
                .filter(|(name, _)| **name != *scope)
                .cloned()
                .collect();
            if let Some(token) = &token {
                next.push((scope.into(), token.clone()));
            }
            next
        });
        self.epoch.fetch_add(1, Ordering::Release);
    }

    /// Stores a token, in the store and as the hot one.
    fn save(&self, app_id: &str, scope: &str, token: Arc<StoredToken>) {
        self.store.put(app_id, scope, token.clone());
        self.remember(scope, Some(token));
    }

    /// Forgets a dead grant.
    fn forget(&self, app_id: &str, scope: &str) {
        self.store.remove(app_id, scope);
        self.remember(scope, None);
    }

    /// A token for `scope`: the cached one, or one fetched (once, whoever else asks).
    pub(crate) async fn token(
        &self,
        client: &Client,
        app_id: &str,
        scope: &str,
    ) -> Result<CachedToken, Error> {
        if let Some(token) = self.hot(scope) {
            return Ok(token);
        }
        let mut receiver = {
            let mut inflight = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
            // A fetch may have finished between the check above and taking the lock.
            if let Some(token) = self.fresh(app_id, scope) {
                return Ok(token);
            }
            match inflight.get(scope) {
                Some(receiver) => receiver.clone(),
                None => {
                    let (sender, receiver) = watch::channel(None);
                    inflight.insert(scope.to_owned(), receiver.clone());
                    tokio::spawn(fetch(
                        client.clone(),
                        app_id.to_owned(),
                        scope.to_owned(),
                        sender,
                    ));
                    receiver
                }
            }
        };
        let outcome = receiver
            .wait_for(Option::is_some)
            .await
            .map_err(|_| Error::Token {
                scope: scope.to_owned(),
                source: None,
            })?
            .clone();
        match outcome {
            Some(Ok(token)) => Ok(CachedToken::of(&token)),
            Some(Err(error)) => Err(shared_error(scope, error)),
            None => Err(Error::Token {
                scope: scope.to_owned(),
                source: None,
            }),
        }
    }

    /// Makes the token of this generation stale (after a 401), keeping its refresh token.
    pub(crate) fn invalidate(&self, app_id: &str, scope: &str, generation: u64) {
        if let Some(token) = self.store.get(app_id, scope)
            && token.generation == generation
        {
            let mut stale = StoredToken::clone(&token);
            stale.expires_at = Instant::now();
            self.save(app_id, scope, Arc::new(stale));
        }
    }

    /// Caches a token obtained outside the manager (an authorization-code exchange).
    pub(crate) fn insert(
        &self,
        app_id: &str,
        scope: &str,
        token: &AccessToken,
        sent_at: Instant,
    ) -> Result<Arc<StoredToken>, Error> {
        let stored = Arc::new(self.stored(token, sent_at, None)?);
        self.save(app_id, scope, stored.clone());
        Ok(stored)
    }

    fn stored(
        &self,
        token: &AccessToken,
        sent_at: Instant,
        previous_refresh: Option<RefreshToken>,
    ) -> Result<StoredToken, Error> {
        let mut header =
            HeaderValue::try_from(format!("Bearer {}", token.access_token.expose_secret()))
                .map_err(|_| {
                    Error::Config("the access token is not a valid header value".into())
                })?;
        header.set_sensitive(true);
        Ok(StoredToken {
            header,
            expires_at: sent_at + token.lifetime(),
            // The service invalidates the old refresh token when it sends a new one; when it
            // sends none, the old one is still the one to use.
            refresh_token: token.refresh_token.clone().or(previous_refresh),
            generation: self.generations.fetch_add(1, Ordering::Relaxed) + 1,
        })
    }
}

/// The fetch task: refresh if there is a refresh token, else client credentials (not for
/// AIS, which needs a new authorization). Stores the token before releasing the waiters.
///
/// Boxed with a declared `Send` type: the fetch calls the token endpoints, whose futures
/// contain this manager's, and the compiler cannot infer `Send` through that cycle.
fn fetch(
    client: Client,
    app_id: String,
    scope: String,
    sender: watch::Sender<Shared>,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move { fetch_and_share(&client, &app_id, &scope, sender).await })
}

async fn fetch_and_share(
    client: &Client,
    app_id: &str,
    scope: &str,
    sender: watch::Sender<Shared>,
) {
    let Some(manager) = client.token_manager() else {
        return;
    };
    let previous = manager.store.get(app_id, scope);
    let previous_refresh = previous.and_then(|t| t.refresh_token.clone());
    let sent_at = Instant::now();
    let outcome = match &previous_refresh {
        Some(refresh_token) => match client.refresh(refresh_token.clone()).await {
            Err(error) if is_terminal(&error) => {
                // Dead grant: forget it, so the next call does not refresh in a loop.
                manager.forget(app_id, scope);
                Err(Error::Reauthorize {
                    scope: scope.to_owned(),
                    source: Some(Arc::new(error)),
                })
            }
            other => other,
        },
        None if scope == "AIS" => Err(Error::Reauthorize {
            scope: scope.to_owned(),
            source: None,
        }),
        None => {
            let parsed: Scope = scope.parse().unwrap_or_else(|never| match never {});
            client.client_credentials_token(parsed).await
        }
    };
    let shared = outcome
        .and_then(|token| manager.stored(&token, sent_at, previous_refresh))
        .map(|stored| {
            let stored = Arc::new(stored);
            manager.save(app_id, scope, stored.clone());
            stored
        })
        .map_err(Arc::new);
    manager
        .inflight
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(scope);
    sender.send_replace(Some(shared));
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

/// Every waiter gets the same error: re-authorization stays re-authorization.
fn shared_error(scope: &str, error: Arc<Error>) -> Error {
    match &*error {
        Error::Reauthorize { scope, source } => Error::Reauthorize {
            scope: scope.clone(),
            source: source.clone(),
        },
        _ => Error::Token {
            scope: scope.to_owned(),
            source: Some(error),
        },
    }
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManager")
            .field("margin", &self.margin)
            .finish_non_exhaustive()
    }
}

/// Cached tokens on the client.
impl Client {
    /// A bearer token for `scope`, from the cache while it has more than the margin left,
    /// else fetched once however many callers ask at the same time.
    pub async fn access_token(&self, scope: &Scope) -> Result<CachedToken, Error> {
        // Borrowed for the named scopes: a cached read allocates nothing.
        self.cached_token(&scope.as_str()).await
    }

    /// The cached token for `scope` if it has more than the margin left; never any I/O, never
    /// a lock: what every declared bearer call reads first.
    pub fn cached_access_token(&self, scope: &Scope) -> Option<CachedToken> {
        self.token_manager()?.hot(&scope.as_str())
    }

    /// Exchanges an authorization code (AIS) and caches the token, so `scope = "AIS"`
    /// endpoints use it and it is refreshed (with rotation) when it expires.
    pub async fn authorize(
        &self,
        code: AuthorizationCode,
        redirect_uri: Option<String>,
    ) -> Result<AccessToken, Error> {
        let (manager, app_id) = self.manager_and_app_id("OAuth::create_access_token")?;
        let sent_at = Instant::now();
        let token = self.exchange_code(code, redirect_uri).await?;
        manager.insert(app_id, "AIS", &token, sent_at)?;
        Ok(token)
    }

    pub(crate) async fn cached_token(&self, scope: &str) -> Result<CachedToken, Error> {
        let (manager, app_id) = self.manager_and_app_id("token manager")?;
        manager.token(self, app_id, scope).await
    }

    pub(crate) fn invalidate_token(&self, scope: &str, generation: u64) {
        if let Ok((manager, app_id)) = self.manager_and_app_id("token manager") {
            manager.invalidate(app_id, scope, generation);
        }
    }

    fn manager_and_app_id(&self, endpoint: &'static str) -> Result<(&TokenManager, &str), Error> {
        match (self.token_manager(), self.credentials()) {
            (Some(manager), Some(credentials)) => Ok((manager, credentials.app_id())),
            _ => Err(Error::Build(crate::error::BuildError::NoCredentials {
                endpoint,
            })),
        }
    }
}

/// A cached access token; the text is only reachable through `expose_secret`.
#[derive(Clone)]
pub struct CachedToken {
    /// `Bearer …`, sensitive.
    pub(crate) header: HeaderValue,
    pub(crate) expires_at: Instant,
    pub(crate) generation: u64,
}

impl CachedToken {
    /// A stored token, with a header of its own.
    fn of(token: &StoredToken) -> Self {
        CachedToken {
            header: copy(&token.header),
            expires_at: token.expires_at,
            generation: token.generation,
        }
    }

    /// The access token text.
    pub fn expose_secret(&self) -> &str {
        let header = self.header.to_str().unwrap_or_default();
        header.strip_prefix("Bearer ").unwrap_or_default()
    }

    /// When it expires.
    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }

    fn remaining(&self) -> Duration {
        self.expires_at.saturating_duration_since(Instant::now())
    }
}

/// A header value with bytes of its own.
fn copy(header: &HeaderValue) -> HeaderValue {
    let mut copy = HeaderValue::from_bytes(header.as_bytes()).unwrap_or_else(|_| header.clone());
    copy.set_sensitive(true);
    copy
}

impl fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedToken")
            .field("token", &"[REDACTED]")
            .field("remaining", &self.remaining())
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
