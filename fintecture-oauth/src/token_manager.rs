//! Cached, single-flight, rotation-safe bearer tokens, one per grant, renewed ahead of
//! expiry.
//!
//! Each grant (the app's for a scope, or one customer's) has a slot holding its current
//! token. Reads take no lock and do no I/O: the app's tokens are mirrored in an `ArcSwap`,
//! and each thread keeps its own copy of the header, revalidated by one read-only atomic
//! load; a customer's token is one map lookup away.
//!
//! A token is handed out until a small margin before it expires. Once it enters its refresh
//! window, the first caller starts one renewal in a task of its own and every caller keeps
//! the current token; callers wait only when no valid token exists. A renewal that fails
//! while the token is valid is retried with backoff; it never replaces a valid token.
//! Whatever way a renewal task ends (success, error, panic, cancellation), a guard clears
//! the grant's in-flight state and answers its waiters, so nothing wedges.

//!
//! One concern per file, each depending only on the ones listed before it:
//!
//! | file | concern |
//! |---|---|
//! | `window` | the margin and the refresh window: when a token stops being handed out, when it is renewed |
//! | `cached` | a token in use and its `Bearer …` header ([`CachedToken`](crate::CachedToken)) |
//! | `endpoint` | the fetching side: what is asked of the token endpoints, and which of their errors mean the grant is dead |
//! | `slots` | one slot per grant (its token, its renewal on the way); installing, burying (dead grant) and invalidating (after a 401) a token |
//! | `flight_guard` | the drop guard that ends a renewal's in-flight state and answers its waiters, whatever way it ends |
//! | `local_copies` | each thread's copies of the app tokens, labelled with an epoch |
//! | `manager` | the token manager: configuration and slots |
//! | `fetch` | a request to the token endpoint, and a token built from its answer or a store's record |
//! | `store_writes` | writing a token to the store now, or later in the background |
//! | `lease` | renewing through a shared store: lease, re-read, compare-and-swap, `invalid_grant` against a rotation |
//! | `renewal` | one renewal, alone or through the store, retried with backoff |
//! | `single_flight` | starting a grant's one renewal, in a task of its own |
//! | `read` | the hot read path, and waiting for a renewal |
//! | `consent` | a customer's authorization and disconnection |

pub(crate) mod cached;
pub(crate) mod consent;
pub(crate) mod endpoint;
pub(crate) mod fetch;
pub(crate) mod flight_guard;
pub(crate) mod lease;
pub(crate) mod local_copies;
pub(crate) mod manager;
pub(crate) mod read;
pub(crate) mod renewal;
pub(crate) mod single_flight;
pub(crate) mod slots;
pub(crate) mod store_writes;
pub(crate) mod window;
