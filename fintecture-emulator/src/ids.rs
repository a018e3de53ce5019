//! Fresh identifiers: tokens, codes, log ids, session ids and recorded-request ids.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

/// Hands out identifiers, each one once.
pub(super) struct Ids {
    counter: AtomicU64,
    random: RandomState,
}

impl Ids {
    pub(super) fn new() -> Self {
        Ids {
            counter: AtomicU64::new(0),
            random: RandomState::new(),
        }
    }

    /// The next number, never handed out before.
    pub(super) fn next(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    /// A fresh, unguessable-enough identifier (tokens, codes, log ids).
    pub(super) fn new_id(&self, prefix: &str) -> String {
        let n = self.next();
        format!("{prefix}-{n}-{:016x}", self.random.hash_one(n))
    }
}
