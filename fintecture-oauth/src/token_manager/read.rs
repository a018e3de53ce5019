//! Reading a grant's token: the hot path (no I/O, no lock for app grants), and the slow
//! path that waits for the grant's one renewal.

use crate::error::Error;
use crate::token_manager::cached::CachedToken;
use crate::token_manager::endpoint::TokenEndpoint;
use crate::token_manager::local_copies;
use crate::token_manager::manager::TokenManager;
use crate::token_manager::single_flight::Flight;
use crate::token_manager::slots::{GrantRef, Slot};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::time::Instant;

impl TokenManager {
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
            GrantRef::Customer(customer_id) => CachedToken::shared(
                self.slots
                    .customer_slot(customer_id)?
                    .token
                    .load()
                    .as_deref()?,
            ),
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
        let slot = self.slots.slot(grant)?;
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
        let epoch = self.slots.epoch();
        match local_copies::find(self.id, scope, epoch) {
            Some(token) => Some(token),
            None => self.copy_app_token(scope, epoch),
        }
    }

    /// Reads an app token and keeps this thread's copy of it.
    fn copy_app_token(&self, scope: &str, epoch: u64) -> Option<CachedToken> {
        let slot = self.slots.app_slot(scope)?;
        let token = CachedToken::owned(slot.token.load().as_deref()?);
        local_copies::keep(self.id, scope, epoch, &token);
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
        let slot = self.slots.slot_or_new(grant);
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
            None => Err(slot.unfinished()),
        }
    }
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
