//! One renewal per grant at a time, in a task of its own, however many callers ask.

use crate::token_manager::cached::Token;
use crate::token_manager::endpoint::TokenEndpoint;
use crate::token_manager::flight_guard::FlightGuard;
use crate::token_manager::manager::TokenManager;
use crate::token_manager::slots::{Outcome, Slot};
use std::sync::{Arc, PoisonError};
use tokio::sync::watch;
use tokio::time::Instant;

/// What a caller gets from a slot: its valid token, or a renewal to wait for.
pub(crate) enum Flight {
    Valid(Arc<Token>),
    Wait(watch::Receiver<Outcome>),
}

impl TokenManager {
    /// Under the slot's lock, where renewals start and end: the slot's token if it is
    /// valid (starting its renewal first if it is due and none is on the way), else the
    /// renewal to wait for, the one on the way or a new one. Checking here, not only before,
    /// means a renewal that finished since the caller looked is never repeated.
    pub(crate) fn flight<E: TokenEndpoint>(
        self: &Arc<Self>,
        endpoint: &E,
        slot: &Arc<Slot>,
        runtime: &tokio::runtime::Handle,
    ) -> Flight {
        let mut flight = slot.flight.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let valid = slot.token.load_full().filter(|t| now < t.valid_until);
        if let Some(token) = &valid
            && (now < token.refresh_at || flight.is_some())
        {
            return Flight::Valid(token.clone());
        }
        if let Some(receiver) = &*flight {
            return Flight::Wait(receiver.clone());
        }
        let (sender, receiver) = watch::channel(None);
        *flight = Some(receiver.clone());
        let guard = FlightGuard::new(self.slots.clone(), slot.clone(), sender);
        runtime.spawn(fly(self.clone(), guard, endpoint.clone()));
        match valid {
            Some(token) => Flight::Valid(token),
            None => Flight::Wait(receiver),
        }
    }
}

/// The renewal task.
async fn fly<E: TokenEndpoint>(manager: Arc<TokenManager>, guard: FlightGuard, endpoint: E) {
    let outcome = manager
        .renew_with_backoff(&endpoint, guard.slot())
        .await
        .map_err(Arc::new);
    guard.finish(outcome);
}
