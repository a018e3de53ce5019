//! Fixtures of the benchmarks (`benches/bench.rs`, run by `bash scripts/bench`): a loopback
//! server answering fixed bodies, the hand-written reqwest baseline, a counting allocator,
//! and the statistics.

use axum::Router;
use axum::routing::{get, post};
use bytes::Bytes;
use serde::Deserialize;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

/// The request timeout a careful user sets (and fintecture-oauth always sets).
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The token the server hands out.
pub const TOKEN_BODY: &str =
    r#"{"access_token":"bench-token","token_type":"Bearer","expires_in":3600,"scope":"PIS"}"#;
/// The payment the server returns.
pub const PAYMENT_BODY: &str =
    r#"{"meta":{"session_id":"s-1","status":"payment_created","url":null}}"#;

/// Starts the fixed-answer server on its own thread and runtime, so the server is the same
/// for every contender and never what is measured. Returns its base URL.
pub fn start_server() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let Ok(runtime) = runtime else { return };
        runtime.block_on(async move {
            let router = Router::new()
                .route("/oauth/accesstoken", post(|| async { json(TOKEN_BODY) }))
                .route(
                    "/pis/v2/payments/{id}",
                    get(|| async { json(PAYMENT_BODY) }),
                )
                // `authorize` reads the customer's accounts before keeping their token.
                .route(
                    "/ais/v1/customer/{id}/accounts",
                    get(|| async { json(r#"{"data":[]}"#) }),
                );
            let Ok(listener) = tokio::net::TcpListener::bind("127.0.0.1:0").await else {
                return;
            };
            let Ok(address) = listener.local_addr() else {
                return;
            };
            let _ = tx.send(format!("http://{address}"));
            let _ = axum::serve(listener, router).await;
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default()
}

fn json(body: &'static str) -> ([(http::HeaderName, &'static str); 1], &'static str) {
    ([(http::header::CONTENT_TYPE, "application/json")], body)
}

/// The token response, as a hand-written client would declare it.
#[derive(Debug, Deserialize)]
pub struct HandToken {
    /// The token.
    pub access_token: String,
    /// Its lifetime.
    pub expires_in: u64,
}

/// A payment, as the hand-written client reads it.
#[derive(Debug, Deserialize)]
pub struct HandPayment {
    /// The session.
    pub meta: serde_json::Value,
}

/// The hand-written client: what a careful user writes with reqwest alone.
#[derive(Clone)]
pub struct HandWritten {
    /// The shared reqwest client.
    pub http: reqwest::Client,
    /// The token URL, formatted once.
    pub token_url: String,
    /// The base URL.
    pub base: String,
    /// `Basic …`, computed once.
    pub basic: http::HeaderValue,
    /// The app id.
    pub app_id: String,
}

impl HandWritten {
    /// A client-credentials token.
    pub async fn token(&self) -> Result<HandToken, Box<dyn std::error::Error>> {
        let response = self
            .http
            .post(&self.token_url)
            .header(http::header::AUTHORIZATION, self.basic.clone())
            .header(http::header::ACCEPT, "application/json")
            .form(&[
                ("grant_type", "client_credentials"),
                ("app_id", &self.app_id),
                ("scope", "PIS"),
            ])
            .timeout(TIMEOUT)
            .send()
            .await?
            .error_for_status()?;
        Ok(serde_json::from_slice(&response.bytes().await?)?)
    }

    /// A bearer call.
    pub async fn payment(
        &self,
        token: &str,
        id: &str,
    ) -> Result<HandPayment, Box<dyn std::error::Error>> {
        let response = self
            .http
            .get(format!("{}/pis/v2/payments/{id}", self.base))
            .bearer_auth(token)
            .timeout(TIMEOUT)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await?
            .error_for_status()?;
        Ok(serde_json::from_slice(&response.bytes().await?)?)
    }

    /// The token request built by hand as an `http::Request`, without sending it.
    pub fn build_token_request(&self) -> Result<http::Request<Bytes>, Box<dyn std::error::Error>> {
        let body = serde_urlencoded::to_string([
            ("grant_type", "client_credentials"),
            ("app_id", &self.app_id),
            ("scope", "PIS"),
        ])?;
        Ok(http::Request::post(&self.token_url)
            .header(http::header::AUTHORIZATION, self.basic.clone())
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::USER_AGENT, "bench/0")
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(Bytes::from(body))?)
    }
}

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static LIVE_BYTES: Cell<i64> = const { Cell::new(0) };
}

/// Counts the allocations made on each thread, and the bytes allocated less those freed.
pub struct CountingAllocator;

fn count(bytes: i64, allocation: bool) {
    let _ = LIVE_BYTES.try_with(|live| live.set(live.get() + bytes));
    if allocation {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
    }
}

fn signed(size: usize) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

// Delegates to the system allocator; the counters are const thread-locals, which never
// allocate themselves.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(signed(layout.size()), true);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        count(-signed(layout.size()), false);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        count(signed(size) - signed(layout.size()), true);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(pointer, layout, size) }
    }
}

/// Allocations made on this thread so far.
pub fn allocations() -> u64 {
    ALLOCATIONS.try_with(Cell::get).unwrap_or(0)
}

/// Bytes allocated on this thread and not freed on it (a block freed by another thread
/// counts there).
pub fn live_bytes() -> i64 {
    LIVE_BYTES.try_with(Cell::get).unwrap_or(0)
}

/// The median of some samples.
pub fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    match samples.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => samples[n / 2],
        n => (samples[n / 2 - 1] + samples[n / 2]) / 2.0,
    }
}
