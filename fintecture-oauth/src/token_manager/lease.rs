//! Renewing through a store shared with other clients: a newer token another client saved
//! is used as is; else the grant's lease is taken, the token endpoint called once, and the
//! new token written with a compare-and-swap: before anyone gets it when it carries a
//! customer's consent (a refresh token), behind the caller for an app's token.

use crate::error::Error;
use crate::token_manager::cached::Token;
use crate::token_manager::endpoint::TokenEndpoint;
use crate::token_manager::fetch::Base;
use crate::token_manager::manager::TokenManager;
use crate::token_manager::slots::Slot;
use crate::token_manager::store_writes::release;
use crate::token_store::{GrantKey, Lease, StoreError, Swap, TokenRecord, TokenStore};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// How long a grant's lease lasts by default: a renewal's request is given two thirds of it.
pub const DEFAULT_TOKEN_LEASE: Duration = Duration::from_secs(15);

/// How often a client waiting for another's renewal looks at the store.
const LEASE_POLL: Duration = Duration::from_millis(25);

/// How often a client that got `invalid_grant` looks for the token that rotated the
/// refresh token it used (and keeps its lease).
const ROTATION_POLL: Duration = Duration::from_millis(100);

impl TokenManager {
    /// A renewal shared through the store: a newer token another client saved, if there is
    /// one; else, under the grant's lease, the token endpoint, the new token written with a
    /// compare-and-swap (before anyone gets it, when it carries a refresh token). A client that finds the lease taken waits
    /// (bounded) for the holder's token instead of calling the token endpoint.
    ///
    /// Two round trips to the store per renewal: the lease taken with the record read, and
    /// the new token written with the lease released. A token another client saved is one
    /// round trip away: the store hands it out without a lease.
    ///
    /// # Errors
    /// `Error::Store` when the store cannot be used before anything was fetched.
    pub(crate) async fn renew_shared<E: TokenEndpoint>(
        self: &Arc<Self>,
        endpoint: &E,
        slot: &Arc<Slot>,
        store: &Arc<dyn TokenStore>,
        key: &GrantKey,
    ) -> Result<Arc<Token>, Error> {
        let deadline = Instant::now().checked_add(self.lease.saturating_mul(2));
        loop {
            let known = slot.token.load().as_ref().map_or(0, |t| t.version);
            // A record that will still be adopted when it arrives: valid past the margin,
            // with a second to spare.
            let fresh_until = self
                .clock
                .now()
                .checked_add(self.schedule.margin.saturating_add(Duration::from_secs(1)))
                .unwrap_or(SystemTime::UNIX_EPOCH);
            let locked = store
                .lock_and_load(key, self.lease, known, fresh_until)
                .await
                .map_err(store_error)?;
            if let Some(token) = self.newer(slot, locked.record.as_ref()) {
                if let Some(lease) = &locked.lease {
                    release(store, key, lease).await;
                }
                return Ok(self.slots.install(slot, token));
            }
            if let Some(lease) = locked.lease {
                return self
                    .renew_leased(endpoint, slot, store, key, lease, locked.record)
                    .await;
            }
            if deadline.is_none_or(|deadline| Instant::now() >= deadline) {
                return Err(slot.unfinished());
            }
            tokio::time::sleep(LEASE_POLL).await;
        }
    }

    /// The renewal proper, under the lease, from the record read with it. The lease is
    /// given back on every way out: released, released with the write, or kept by a write
    /// that waits for the store, so that no other client refreshes with the refresh token
    /// this renewal used up while its successor is not in the store.
    async fn renew_leased<E: TokenEndpoint>(
        self: &Arc<Self>,
        endpoint: &E,
        slot: &Arc<Slot>,
        store: &Arc<dyn TokenStore>,
        key: &GrantKey,
        lease: Lease,
        record: Option<TokenRecord>,
    ) -> Result<Arc<Token>, Error> {
        let current = slot.token.load_full();
        let base = Base::newest(current.as_deref(), record.as_ref());
        // Done well within the lease, so no other client takes it over meanwhile.
        let within = self.lease.saturating_mul(2) / 3;
        let fetched = tokio::time::timeout(within, self.fetch(endpoint, slot, &base)).await;
        let token = match fetched {
            Ok(Ok(token)) => token,
            // A refresh refused: the token that rotated its refresh token may be on its way.
            Ok(Err(error @ Error::Reauthorize { .. })) if base.refresh_token.is_some() => {
                let outcome = self
                    .dead_or_rotated(slot, store, key, &lease, &base, error)
                    .await;
                release(store, key, &lease).await;
                return outcome;
            }
            Ok(Err(error)) => {
                release(store, key, &lease).await;
                return Err(error);
            }
            Err(_) => {
                release(store, key, &lease).await;
                return Err(slot.unfinished());
            }
        };
        // Over what the store holds (a store restarted empty holds nothing); the new token's
        // version is above both.
        let stored = record.as_ref().map_or(0, |r| r.version);
        if token.refresh_token.is_some() {
            // A consent: handed out only once the store (and its replicas) have it.
            return self.save(slot, store, key, lease, stored, token).await;
        }
        // No refresh token (an app's token): a failover that loses it costs one more token
        // request, no consent. Handed out at once and written behind, under the lease,
        // which other clients wait for as before.
        let installed = self.slots.install(slot, token);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (manager, slot, store, key) =
                (self.clone(), slot.clone(), store.clone(), key.clone());
            let token = Token::clone(&installed);
            runtime.spawn(async move {
                let _ = manager
                    .save(&slot, &store, &key, lease, stored, token)
                    .await;
            });
        }
        Ok(installed)
    }

    /// Writes the renewed `token` over version `stored`, releasing `lease`, then installs
    /// it: the store's newer token instead if one was written meanwhile, and the token with
    /// a write that goes on in the background (keeping the lease) if the store fails now.
    ///
    /// # Errors
    /// `Error::Store` when the store refused the write and cannot be read.
    async fn save(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
        store: &Arc<dyn TokenStore>,
        key: &GrantKey,
        lease: Lease,
        stored: u64,
        token: Token,
    ) -> Result<Arc<Token>, Error> {
        match store
            .swap_and_unlock(key, stored, &token.record(), &lease)
            .await
        {
            Ok(Swap::Written) => Ok(self.slots.install(slot, token)),
            Ok(refused) => {
                // Written under a newer lease meanwhile (this client was paused past its
                // own): the store's token is the grant's.
                tracing::warn!(grant = %key, ?refused, "a newer token was saved meanwhile; using it");
                // (Compared with this token, not the slot's: an app's token is in the slot
                // already.)
                let record = store.load(key).await.map_err(store_error)?;
                let saved = record
                    .filter(|record| record.version >= token.version)
                    .and_then(|record| self.adopt(&record));
                Ok(self.slots.install(slot, saved.unwrap_or(token)))
            }
            Err(error) => {
                // Nothing is lost: the token serves from memory, and is written later,
                // under this lease.
                tracing::warn!(grant = %key, error = %error, "could not save a renewed token; retrying in the background");
                let token = self.slots.install(slot, token);
                self.write_later(key.clone(), slot.clone(), token.clone(), Some(lease));
                Ok(token)
            }
        }
    }

    /// `invalid_grant` on a refresh, with a store: the grant is dead only if, one full
    /// lease later, the store still holds the refresh token that was used (or nothing).
    /// Until then the token that rotated it may be on its way to the store (its client
    /// waiting for the store to come back): it is adopted as soon as it lands. The lease is
    /// kept meanwhile, so no other client tries the used refresh token again.
    async fn dead_or_rotated(
        &self,
        slot: &Slot,
        store: &Arc<dyn TokenStore>,
        key: &GrantKey,
        lease: &Lease,
        base: &Base,
        error: Error,
    ) -> Result<Arc<Token>, Error> {
        let until = Instant::now().checked_add(self.lease);
        loop {
            if let Ok(record) = store.load(key).await
                && let Some(newer) = self.newer(slot, record.as_ref())
            {
                return Ok(self.slots.install(slot, newer));
            }
            if until.is_none_or(|until| Instant::now() >= until) {
                break;
            }
            // A store that cannot be reached now may be back before the lease ends.
            let _ = store.extend(key, lease, self.lease).await;
            tokio::time::sleep(ROTATION_POLL).await;
        }
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
            self.slots.bury(slot);
            return Err(error);
        }
        match self.newer(slot, record.as_ref()) {
            Some(newer) => Ok(self.slots.install(slot, newer)),
            None => Err(error),
        }
    }

    /// The store's record as a token, if it is newer than the slot's and still fresh.
    fn newer(&self, slot: &Slot, record: Option<&TokenRecord>) -> Option<Token> {
        let record = record?;
        let current = slot.token.load();
        let newer = current.as_ref().is_none_or(|t| record.version > t.version);
        if newer { self.adopt(record) } else { None }
    }
}

/// A store's failure, as the error callers get.
pub(crate) fn store_error(error: StoreError) -> Error {
    Error::Store(Arc::new(error))
}
