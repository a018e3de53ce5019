//! The consents the emulator has started: where each one returns to, and how the next one
//! ends (a customer id fixed by a test, or a refusal).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// How the next consent ends, as a test set it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum NextConsent {
    /// The customer consents, under a fresh customer id.
    #[default]
    Granted,
    /// The customer consents, under this customer id.
    GrantedAs(String),
    /// The consent fails: the redirect carries `error` (`access_denied`, say) and
    /// `error_description`.
    Refused {
        /// The redirect's `error`.
        error: String,
        /// The redirect's `error_description`.
        description: String,
    },
}

/// A consent started and not yet ended.
#[derive(Clone, Debug)]
pub(super) struct Started {
    pub(super) redirect_uri: url::Url,
    pub(super) state: Option<String>,
    pub(super) provider: Option<String>,
}

/// The started consents, by session id (redirect) or polling id (decoupled).
#[derive(Default)]
pub(super) struct Consents {
    inner: Mutex<Memory>,
}

#[derive(Default)]
struct Memory {
    started: HashMap<String, Started>,
    next: NextConsent,
    /// Decoupled consents polled once already: the next poll completes them.
    polled: HashMap<String, u32>,
}

impl Consents {
    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn start(&self, id: &str, started: Started) {
        self.memory().started.insert(id.to_owned(), started);
    }

    /// Ends a consent: what it was, and how it ends (the next outcome set, used once).
    pub(super) fn end(&self, id: &str) -> Option<(Started, NextConsent)> {
        let mut memory = self.memory();
        let started = memory.started.remove(id)?;
        Some((started, std::mem::take(&mut memory.next)))
    }

    /// Counts a poll of a decoupled consent: whether it is the first.
    pub(super) fn first_poll(&self, id: &str) -> bool {
        let mut memory = self.memory();
        if !memory.started.contains_key(id) {
            return false;
        }
        let polls = memory.polled.entry(id.to_owned()).or_default();
        *polls = polls.saturating_add(1);
        *polls == 1
    }

    pub(super) fn set_next(&self, next: NextConsent) {
        self.memory().next = next;
    }
}
