//! The guard of a renewal on the way: whatever way the renewal ends, its grant's in-flight
//! state is cleared and its waiters are answered, so nothing wedges.

use crate::error::Error;
use crate::token_manager::cached::Token;
use crate::token_manager::slots::{Outcome, Slot, Slots};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use tokio::sync::watch;

/// Clears a renewal's in-flight state and answers its waiters on every way out: success,
/// error, panic (the guard drops while unwinding) or cancellation (the task is dropped).
pub(crate) struct FlightGuard {
    slots: Arc<Slots>,
    slot: Arc<Slot>,
    sender: watch::Sender<Outcome>,
    released: bool,
}

impl FlightGuard {
    /// Marks `slot` busy with a renewal whose waiters `sender` answers.
    pub(crate) fn new(slots: Arc<Slots>, slot: Arc<Slot>, sender: watch::Sender<Outcome>) -> Self {
        slot.busy.store(true, Ordering::Release);
        FlightGuard {
            slots,
            slot,
            sender,
            released: false,
        }
    }

    /// The grant's slot.
    pub(crate) fn slot(&self) -> &Arc<Slot> {
        &self.slot
    }

    /// Ends the renewal's in-flight state, once: callers from now on start a new one.
    fn release(&mut self) {
        if !self.released {
            self.released = true;
            *self
                .slot
                .flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = None;
            self.slot.busy.store(false, Ordering::Release);
        }
    }

    /// Answers the waiters, after the in-flight state is gone: a waiter that gets an error
    /// and calls again starts a new renewal rather than reading this one's outcome.
    pub(crate) fn finish(mut self, outcome: Result<Arc<Token>, Arc<Error>>) {
        self.release();
        self.sender.send_replace(Some(outcome));
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        self.release();
        self.sender.send_if_modified(|outcome| {
            let unanswered = outcome.is_none();
            if unanswered {
                *outcome = Some(Err(Arc::new(self.slot.unfinished())));
            }
            unanswered
        });
        self.slots.drop_if_empty(&self.slot);
    }
}
