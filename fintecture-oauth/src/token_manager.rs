//! Cached, single-flight, rotation-safe bearer tokens.
//!
//! A cached token is read without I/O and without waiting on any lock held across I/O.
//! When one is needed, exactly one fetch runs per scope, in a task of its own (a cancelled
//! caller cannot abort a refresh on the wire), and every waiter gets its result.

use crate::error::Error;
use crate::scope::Scope;
use crate::secret::{AuthorizationCode, RefreshToken};
use crate::token::AccessToken;
use crate::token_store::{StoredToken, TokenStore};
use crate::{Client, ExposeSecret};
use http::HeaderValue;
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
}

impl TokenManager {
    pub(crate) fn new(store: Arc<dyn TokenStore>, margin: Duration) -> Self {
        TokenManager {
            store,
            margin,
            inflight: Mutex::new(HashMap::new()),
            generations: AtomicU64::new(0),
        }
    }

    /// The cached token if it has more than the margin left.
    fn fresh(&self, app_id: &str, scope: &str) -> Option<Arc<StoredToken>> {
        let token = self.store.get(app_id, scope)?;
        (Instant::now() + self.margin < token.expires_at).then_some(token)
    }

    /// A token for `scope`: the cached one, or one fetched (once, whoever else asks).
    pub(crate) async fn token(
        &self,
        client: &Client,
        app_id: &str,
        scope: &str,
    ) -> Result<Arc<StoredToken>, Error> {
        if let Some(token) = self.fresh(app_id, scope) {
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
            Some(Ok(token)) => Ok(token),
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
            self.store.put(app_id, scope, Arc::new(stale));
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
        self.store.put(app_id, scope, stored.clone());
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
                manager.store.remove(app_id, scope);
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
            manager.store.put(app_id, scope, stored.clone());
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
        let scope = scope.to_string();
        let token = self.cached_token(&scope).await?;
        Ok(CachedToken(token))
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

    pub(crate) async fn cached_token(&self, scope: &str) -> Result<Arc<StoredToken>, Error> {
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
pub struct CachedToken(Arc<StoredToken>);

impl CachedToken {
    /// The access token text.
    pub fn expose_secret(&self) -> &str {
        let header = self.0.header.to_str().unwrap_or_default();
        header.strip_prefix("Bearer ").unwrap_or_default()
    }

    /// When it expires.
    pub fn expires_at(&self) -> Instant {
        self.0.expires_at
    }
}

impl CachedToken {
    fn remaining(&self) -> Duration {
        self.0.expires_at.saturating_duration_since(Instant::now())
    }
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
