//! Writing a token the store could not take when it was fetched: now, or later in the
//! background, until the store has it or a newer token replaces it here. A customer's
//! refresh token is their consent, never dropped.

use crate::token_manager::cached::Token;
use crate::token_manager::manager::TokenManager;
use crate::token_manager::slots::Slot;
use crate::token_store::{GrantKey, StoreError, Swap, TokenStore};
use std::sync::Arc;

impl TokenManager {
    /// Writes a token the store could not take, in the background, until it does or a
    /// newer token replaces it here: a customer's refresh token is their consent, never
    /// dropped.
    pub(crate) fn write_later(self: &Arc<Self>, key: GrantKey, slot: Arc<Slot>, token: Arc<Token>) {
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
    pub(crate) async fn persist(
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
}
