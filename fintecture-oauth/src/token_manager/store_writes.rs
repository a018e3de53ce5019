//! Writing a token the store could not take when it was fetched: now, or later in the
//! background, until the store has it or a newer token replaces it here. A customer's
//! refresh token is their consent, never dropped.

use crate::token_manager::cached::Token;
use crate::token_manager::manager::TokenManager;
use crate::token_manager::slots::Slot;
use crate::token_store::{GrantKey, Lease, StoreError, Swap, TokenStore};
use std::sync::Arc;
use std::time::SystemTime;

impl TokenManager {
    /// Writes a token the store could not take, in the background, until it does or a
    /// newer token replaces it here: a customer's refresh token is their consent, never
    /// dropped. With the lease of the renewal that got the token, kept meanwhile: no other
    /// client refreshes with the refresh token this one replaced.
    pub(crate) fn write_later(
        self: &Arc<Self>,
        key: GrantKey,
        slot: Arc<Slot>,
        token: Arc<Token>,
        lease: Option<Lease>,
    ) {
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
                let written = match &lease {
                    Some(lease) => manager.write_under(store, &key, &token, lease).await,
                    None => manager.persist(store, &key, &token).await,
                };
                match written {
                    Ok(()) => {
                        tracing::info!(grant = %key, "saved the renewed token");
                        return;
                    }
                    Err(error) => {
                        tracing::warn!(grant = %key, error = %error, attempt, "could not save a renewed token yet");
                    }
                }
            }
            // Replaced here by a newer token, which its own write takes care of.
            if let Some(lease) = &lease {
                release(store, &key, lease).await;
            }
        });
    }

    /// Writes `token` under a lease of its own, over whatever older version the store
    /// holds (a store restarted empty holds none); done when the store already has it or a
    /// newer one.
    pub(crate) async fn persist(
        &self,
        store: &Arc<dyn TokenStore>,
        key: &GrantKey,
        token: &Token,
    ) -> Result<(), StoreError> {
        // Never "fresh": the lease is wanted whatever the store holds.
        let locked = store
            .lock_and_load(key, self.lease, u64::MAX, SystemTime::UNIX_EPOCH)
            .await?;
        let Some(lease) = locked.lease else {
            return Err(StoreError::new("another client holds the grant's lease"));
        };
        write(
            store,
            key,
            token,
            &lease,
            locked.record.map_or(0, |r| r.version),
        )
        .await
    }

    /// Writes `token` under the lease of the renewal that got it, kept meanwhile.
    async fn write_under(
        &self,
        store: &Arc<dyn TokenStore>,
        key: &GrantKey,
        token: &Token,
        lease: &Lease,
    ) -> Result<(), StoreError> {
        // Lost if the store lost it (a restart without persistence): the write goes on
        // with its fence, which the store still checks.
        store.extend(key, lease, self.lease).await?;
        let stored = store.load(key).await?.map_or(0, |r| r.version);
        write(store, key, token, lease, stored).await
    }
}

/// Writes `token` over version `stored` and releases `lease`; done when the store already
/// has it or a newer one.
async fn write(
    store: &Arc<dyn TokenStore>,
    key: &GrantKey,
    token: &Token,
    lease: &Lease,
    stored: u64,
) -> Result<(), StoreError> {
    if stored >= token.version {
        return store.unlock(key, lease).await;
    }
    match store
        .swap_and_unlock(key, stored, &token.record(), lease)
        .await?
    {
        Swap::Written => Ok(()),
        refused => Err(StoreError::new(format!(
            "the store refused the write: {refused:?}"
        ))),
    }
}

/// Releases a lease; one that cannot be released expires by itself.
pub(crate) async fn release(store: &Arc<dyn TokenStore>, key: &GrantKey, lease: &Lease) {
    if let Err(error) = store.unlock(key, lease).await {
        tracing::warn!(grant = %key, error = %error, "could not release a lease; it expires by itself");
    }
}
