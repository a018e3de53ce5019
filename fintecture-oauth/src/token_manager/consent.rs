//! A customer's consent: keeping the token an authorization code bought, and forgetting
//! the grant when the customer disconnects, here and in the store.

use crate::error::Error;
use crate::token::AccessToken;
use crate::token_manager::lease::store_error;
use crate::token_manager::manager::TokenManager;
use crate::token_manager::slots::GrantRef;
use crate::token_store::Grant;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::time::Instant;

impl TokenManager {
    /// Caches a customer's token from an authorization-code exchange, above any version
    /// the grant had.
    pub(crate) async fn authorized(
        self: &Arc<Self>,
        customer_id: &str,
        fetched: &AccessToken,
        sent_at: Instant,
        sent_wall: SystemTime,
    ) -> Result<(), Error> {
        let key = self.key(&GrantRef::Customer(customer_id).to_grant());
        let mut version = self
            .slots
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
        let (slot, token) = self.slots.install_customer(customer_id, token);
        if let Some(store) = &self.store
            && let Err(error) = self.persist(store, &key, &token).await
        {
            tracing::warn!(grant = %key, error = %error, "could not save an authorization yet; retrying in the background");
            self.write_later(key, slot, token, None);
        }
        Ok(())
    }

    /// Forgets a customer's grant, here and in the store.
    pub(crate) async fn disconnect(&self, customer_id: &str) -> Result<(), Error> {
        self.slots.remove_customer(customer_id);
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
