//! Renewing a grant's token: alone, or coordinated through the shared store; retried with
//! backoff while the current token is still valid, never replacing it with nothing.

use crate::error::Error;
use crate::token_manager::cached::Token;
use crate::token_manager::endpoint::TokenEndpoint;
use crate::token_manager::fetch::Base;
use crate::token_manager::manager::TokenManager;
use crate::token_manager::slots::Slot;
use crate::token_store::Grant;
use std::sync::Arc;
use tokio::time::Instant;

impl TokenManager {
    /// Renews `slot` until it has a new token, retrying with backoff while its current
    /// token is still valid; the error once none is.
    pub(crate) async fn renew_with_backoff<E: TokenEndpoint>(
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
            return self.renew_alone(endpoint, slot).await;
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
                self.renew_alone(endpoint, slot).await
            }
            // A customer's refresh without the store's lease could race another replica's,
            // and the loser's rotation would cost the customer's consent: refused.
            other => other,
        }
    }

    /// A renewal with no one to coordinate with, from the slot's own token.
    async fn renew_alone<E: TokenEndpoint>(
        &self,
        endpoint: &E,
        slot: &Slot,
    ) -> Result<Arc<Token>, Error> {
        let current = slot.token.load_full();
        let token = self
            .fetch(endpoint, slot, &Base::of(current.as_deref()))
            .await?;
        Ok(self.slots.install(slot, token))
    }
}
