//! One slot per grant, holding its current token and its renewal on the way: the app's
//! grants by scope, customers' by id. Slots know nothing of how tokens are fetched.

use crate::error::Error;
use crate::token_manager::cached::Token;
use crate::token_store::Grant;
use arc_swap::{ArcSwap, ArcSwapOption};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use tokio::sync::watch;
use tokio::time::Instant;

/// The grant a call needs, borrowed: no allocation on the hot path.
#[derive(Clone, Copy, Debug)]
pub(crate) enum GrantRef<'a> {
    App(&'a str),
    Customer(&'a str),
}

impl GrantRef<'_> {
    pub(crate) fn to_grant(self) -> Grant {
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

/// The outcome of one renewal, shared by all its waiters.
pub(crate) type Outcome = Option<Result<Arc<Token>, Arc<Error>>>;

/// One grant's token and renewal.
pub(crate) struct Slot {
    pub(crate) grant: Grant,
    pub(crate) token: ArcSwapOption<Token>,
    /// The renewal on the way, if any; waiters subscribe to its outcome.
    pub(crate) flight: Mutex<Option<watch::Receiver<Outcome>>>,
    /// Whether a renewal is on the way: the hot path's check, without the lock.
    pub(crate) busy: AtomicBool,
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

    pub(crate) fn customer_id(&self) -> Option<&str> {
        match &self.grant {
            Grant::Customer { customer_id } => Some(customer_id),
            Grant::App { .. } => None,
        }
    }

    pub(crate) fn scope(&self) -> &str {
        match &self.grant {
            Grant::App { scope } => scope,
            Grant::Customer { .. } => "AIS",
        }
    }

    /// The error of a renewal that ended without an outcome: it panicked or was cancelled.
    pub(crate) fn unfinished(&self) -> Error {
        Error::Token {
            scope: self.scope().to_owned(),
            customer: self.customer_id().map(str::to_owned),
            source: None,
        }
    }
}

/// Every grant's slot.
pub(crate) struct Slots {
    /// The app's grants, by scope: a handful, so a scan beats hashing.
    apps: ArcSwap<Vec<(Box<str>, Arc<Slot>)>>,
    /// Serializes adding app slots (reads never take it).
    apps_write: Mutex<()>,
    customers: RwLock<HashMap<Box<str>, Arc<Slot>>>,
    /// Bumped after every change of an app token, so threads know when their copies are
    /// stale.
    epoch: AtomicU64,
}

impl Slots {
    pub(crate) fn new() -> Self {
        Slots {
            apps: ArcSwap::from_pointee(Vec::new()),
            apps_write: Mutex::new(()),
            customers: RwLock::new(HashMap::new()),
            epoch: AtomicU64::new(0),
        }
    }

    /// The number of app-token changes so far; read before the tokens, so a copy made
    /// after this read is never newer than its label.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub(crate) fn app_slot(&self, scope: &str) -> Option<Arc<Slot>> {
        let apps = self.apps.load();
        let (_, slot) = apps.iter().find(|(name, _)| **name == *scope)?;
        Some(slot.clone())
    }

    pub(crate) fn customer_slot(&self, customer_id: &str) -> Option<Arc<Slot>> {
        let customers = self
            .customers
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        customers.get(customer_id).cloned()
    }

    pub(crate) fn slot(&self, grant: GrantRef<'_>) -> Option<Arc<Slot>> {
        match grant {
            GrantRef::App(scope) => self.app_slot(scope),
            GrantRef::Customer(customer_id) => self.customer_slot(customer_id),
        }
    }

    /// The slot of `grant`, created when missing.
    pub(crate) fn slot_or_new(&self, grant: GrantRef<'_>) -> Arc<Slot> {
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

    /// Installs a customer's token under the map's lock, where empty slots are dropped: the
    /// token lands in the slot callers will find.
    pub(crate) fn install_customer(
        &self,
        customer_id: &str,
        token: Token,
    ) -> (Arc<Slot>, Arc<Token>) {
        let mut customers = self
            .customers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let slot = customers
            .entry(customer_id.into())
            .or_insert_with(|| Slot::new(GrantRef::Customer(customer_id).to_grant()))
            .clone();
        let token = self.install(&slot, token);
        (slot, token)
    }

    /// Forgets a customer's slot and its token.
    pub(crate) fn remove_customer(&self, customer_id: &str) {
        let removed = self
            .customers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(customer_id);
        if let Some(slot) = removed {
            slot.token.store(None);
        }
    }

    /// Drops a customer's slot once it holds no token (a dead or missing grant), so that
    /// customers who are gone cost no memory.
    pub(crate) fn drop_if_empty(&self, slot: &Arc<Slot>) {
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

    /// Makes `token` the grant's current one, unless a newer one arrived meanwhile (an
    /// authorization during a refresh): the newest wins, and is returned.
    pub(crate) fn install(&self, slot: &Slot, token: Token) -> Arc<Token> {
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
    pub(crate) fn bury(&self, slot: &Slot) {
        slot.token.rcu(|current| {
            current
                .as_ref()
                .filter(|t| Instant::now() < t.valid_until)
                .map(|t| Arc::new(t.orphan()))
        });
        self.changed(slot);
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

    fn changed(&self, slot: &Slot) {
        if let Grant::App { .. } = slot.grant {
            self.epoch.fetch_add(1, Ordering::Release);
        }
    }
}
