//! The token manager of one client: its configuration and its grants' slots. What it does
//! is spread over the files beside this one, one concern each (see `token_manager.rs`).

use crate::clock::Clock;
use crate::retry::RetryPolicy;
use crate::token_manager::slots::Slots;
use crate::token_manager::window::{RefreshWindow, Schedule};
use crate::token_store::{Grant, GrantKey, TokenStore};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Gets, caches and renews the bearer tokens of one client.
pub(crate) struct TokenManager {
    pub(super) environment: Arc<str>,
    pub(super) app_id: Arc<str>,
    pub(super) store: Option<Arc<dyn TokenStore>>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) schedule: Schedule,
    pub(super) backoff: RetryPolicy,
    pub(super) lease: Duration,
    pub(super) slots: Arc<Slots>,
    /// Tells managers apart in the per-thread copies.
    pub(super) id: u64,
}

static NEXT_MANAGER_ID: AtomicU64 = AtomicU64::new(0);

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
            schedule: Schedule {
                margin: config.margin,
                window: config.window,
            },
            backoff: config.backoff,
            lease: config.lease,
            slots: Arc::new(Slots::new()),
            id: NEXT_MANAGER_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The wall clock of token records.
    pub(crate) fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    /// The grants' slots.
    pub(crate) fn slots(&self) -> &Slots {
        &self.slots
    }

    /// Where a store keeps `grant`'s token.
    pub(super) fn key(&self, grant: &Grant) -> GrantKey {
        GrantKey {
            environment: self.environment.clone(),
            app_id: self.app_id.clone(),
            grant: grant.clone(),
        }
    }
}
