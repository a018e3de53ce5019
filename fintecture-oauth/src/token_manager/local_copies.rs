//! Each thread's own copies of the app tokens it hands out: reading a shared one would make
//! every read touch shared memory (a lock, a reference count), and readers on several cores
//! would contend for it. A copy is labelled with the epoch it was made at, and is used only
//! while the app tokens have not changed since.

use crate::token_manager::cached::CachedToken;
use std::cell::RefCell;

/// How many header copies a thread keeps (one per manager and scope in use, typically).
const LOCAL_COPIES: usize = 8;

/// A thread's copy of an app token.
struct LocalToken {
    manager: u64,
    scope: Box<str>,
    epoch: u64,
    token: CachedToken,
}

thread_local! {
    static LOCAL_TOKENS: RefCell<Vec<LocalToken>> = const { RefCell::new(Vec::new()) };
}

/// This thread's copy of the token of `manager` for `scope`, if it was made at `epoch`.
#[inline]
pub(crate) fn find(manager: u64, scope: &str, epoch: u64) -> Option<CachedToken> {
    LOCAL_TOKENS
        .try_with(|copies| {
            let copies = copies.borrow();
            // Newest first: the copy in use is usually the one made last.
            let copy = copies
                .iter()
                .rev()
                .find(|c| c.manager == manager && *c.scope == *scope)?;
            (copy.epoch == epoch).then(|| copy.token.clone())
        })
        .ok()
        .flatten()
}

/// Keeps `token` as this thread's copy for `manager` and `scope`, made at `epoch`.
pub(crate) fn keep(manager: u64, scope: &str, epoch: u64, token: &CachedToken) {
    let _ = LOCAL_TOKENS.try_with(|copies| {
        let mut copies = copies.borrow_mut();
        copies.retain(|c| !(c.manager == manager && *c.scope == *scope));
        if copies.len() >= LOCAL_COPIES {
            copies.remove(0);
        }
        copies.push(LocalToken {
            manager,
            scope: scope.into(),
            epoch,
            token: token.clone(),
        });
    });
}
