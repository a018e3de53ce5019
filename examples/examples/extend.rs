//! Declaring Fintecture endpoints of your own with the macro, and calling them with
//! automatic bearer auth, against the built-in emulator.
//!
//! The PIS and AIS declarations used here are in `examples/src/lib.rs`; this file adds one
//! of its own, to show the whole shape in one place.
//!
//! ```sh
//! cargo run --example extend
//! ```

use examples::{ConnectQuery, Pis, PisRequests, payment};
use fintecture_emulator::Emulator;
use fintecture_oauth::{Error, RawResponse, api};

/// An endpoint of your own: the same payment, returned as received (status, headers, bytes).
#[api]
pub trait PaymentsRaw {
    /// Reads a payment session without decoding it.
    #[endpoint(get = "/pis/v2/payments/{session_id}", scope = "PIS", timeout = "5s")]
    async fn payment_raw(
        &self,
        session_id: &str,
        #[header("X-Request-ID")] request_id: &str,
    ) -> Result<RawResponse, Error>;
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::start().await?;
    let client = emulator.client()?;

    let query = ConnectQuery {
        state: "cart-7",
        redirect_uri: "https://shop.example/back",
    };
    let body = payment("99.90", "Cart 7");

    // Requests can be built and inspected without any I/O...
    let request = PisRequests::connect(&client, &query, &body)?;
    println!("{} {}", request.method(), request.url());
    println!("content-type: {:?}", request.headers()["content-type"]);

    // ...or sent: the token manager fetches the PIS token once and caches it.
    let session = client.connect(&query, &body).await?;
    println!("session {}", session.meta.session_id);

    let raw = client
        .payment_raw(&session.meta.session_id, "my-trace-id-1")
        .await?;
    println!(
        "raw: HTTP {}, x-request-id {:?}, {} bytes",
        raw.status(),
        raw.headers().get("x-request-id"),
        raw.body().len()
    );
    println!(
        "token requests: {}",
        emulator.requests_to("/oauth/accesstoken").len()
    );
    Ok(())
}
