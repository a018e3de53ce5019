//! The token store in memory: for clients of one process that share their tokens, and the
//! reference the other stores behave like.

use crate::token_store::{GrantKey, Lease, StoreFuture, Swap, TokenRecord, TokenStore};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// A store in memory, for clients of one process that should share their tokens (and for
/// tests: it behaves as the Redis store does).
#[derive(Default)]
pub struct MemoryTokenStore {
    grants: Mutex<HashMap<GrantKey, Entry>>,
    /// Started consents' states (by digest), until they expire.
    states: Mutex<HashMap<String, Instant>>,
}

#[derive(Default)]
struct Entry {
    record: Option<TokenRecord>,
    /// The fence of the lease the record was written under.
    written_fence: u64,
    /// The last fence handed out.
    fence: u64,
    lock: Option<(String, Instant)>,
}

impl MemoryTokenStore {
    fn grants(&self) -> std::sync::MutexGuard<'_, HashMap<GrantKey, Entry>> {
        // A panic elsewhere cannot leave the map half-written, so a poisoned lock is usable.
        self.grants.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many grants it holds.
    pub fn len(&self) -> usize {
        self.grants()
            .values()
            .filter(|entry| entry.record.is_some())
            .count()
    }

    /// Whether it holds no grant.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for MemoryTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryTokenStore")
            .field("grants", &self.len())
            .finish()
    }
}

fn ready<'a, T: Send + 'a>(value: T) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(Ok(value)))
}

impl TokenStore for MemoryTokenStore {
    fn load<'a>(&'a self, key: &'a GrantKey) -> StoreFuture<'a, Option<TokenRecord>> {
        ready(self.grants().get(key).and_then(|e| e.record.clone()))
    }

    fn swap<'a>(
        &'a self,
        key: &'a GrantKey,
        expected: u64,
        record: &'a TokenRecord,
        fence: u64,
    ) -> StoreFuture<'a, Swap> {
        let mut grants = self.grants();
        let entry = grants.entry(key.clone()).or_default();
        let stored = entry.record.as_ref().map_or(0, |r| r.version);
        let outcome = if fence < entry.written_fence {
            Swap::StaleFence
        } else if stored != expected {
            Swap::StaleVersion
        } else {
            entry.record = Some(record.clone());
            entry.written_fence = fence;
            Swap::Written
        };
        ready(outcome)
    }

    fn remove<'a>(&'a self, key: &'a GrantKey, version: Option<u64>) -> StoreFuture<'a, bool> {
        let mut grants = self.grants();
        let removed = grants.get_mut(key).is_some_and(|entry| {
            let matches = match (&entry.record, version) {
                (Some(_), None) => true,
                (Some(record), Some(version)) => record.version == version,
                (None, _) => false,
            };
            if matches {
                entry.record = None;
            }
            matches
        });
        ready(removed)
    }

    fn lock<'a>(&'a self, key: &'a GrantKey, duration: Duration) -> StoreFuture<'a, Option<Lease>> {
        let mut grants = self.grants();
        let entry = grants.entry(key.clone()).or_default();
        let now = Instant::now();
        let lease = match &entry.lock {
            Some((_, until)) if now < *until => None,
            _ => {
                entry.fence = entry.fence.saturating_add(1);
                let lease = Lease {
                    owner: uuid::Uuid::new_v4().to_string(),
                    fence: entry.fence,
                };
                let until = now.checked_add(duration).unwrap_or(now);
                entry.lock = Some((lease.owner.clone(), until));
                Some(lease)
            }
        };
        ready(lease)
    }

    fn extend<'a>(
        &'a self,
        key: &'a GrantKey,
        lease: &'a Lease,
        duration: Duration,
    ) -> StoreFuture<'a, bool> {
        let now = Instant::now();
        let held = self
            .grants()
            .get_mut(key)
            .is_some_and(|entry| match &mut entry.lock {
                Some((owner, until)) if *owner == lease.owner && now < *until => {
                    *until = now.checked_add(duration).unwrap_or(now);
                    true
                }
                _ => false,
            });
        ready(held)
    }

    fn unlock<'a>(&'a self, key: &'a GrantKey, lease: &'a Lease) -> StoreFuture<'a, ()> {
        if let Some(entry) = self.grants().get_mut(key)
            && entry
                .lock
                .as_ref()
                .is_some_and(|(owner, _)| *owner == lease.owner)
        {
            entry.lock = None;
        }
        ready(())
    }

    fn keep_state<'a>(&'a self, name: &'a str, lifetime: Duration) -> StoreFuture<'a, ()> {
        let now = Instant::now();
        let mut states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        // The expired go as new ones come: the map holds no more than a lifetime's worth.
        states.retain(|_, until| *until > now);
        states.insert(name.to_owned(), now.checked_add(lifetime).unwrap_or(now));
        ready(())
    }

    fn take_state<'a>(&'a self, name: &'a str) -> StoreFuture<'a, bool> {
        let mut states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        let taken = states.remove(name);
        ready(taken.is_some_and(|until| until > Instant::now()))
    }
}
