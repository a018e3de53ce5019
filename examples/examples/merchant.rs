//! A merchant backend on axum (see `examples/src/merchant.rs`): payments, a customer's bank
//! connection, their accounts. Against the built-in emulator unless `FINTECTURE_APP_ID` and
//! `FINTECTURE_APP_SECRET` are set.
//!
//! ```sh
//! cargo run --example merchant            # prints its URL, serves until Ctrl-C
//! curl -s -X POST localhost:PORT/pay -H 'content-type: application/json' \
//!      -d '{"amount": "12.50", "communication": "Order 42"}'
//! curl -si localhost:PORT/bank/connect -H 'x-user: julie'   # 303 to the bank picker
//! ```

use examples::{credentials_from_env, environment_from_env, merchant};
use fintecture_emulator::Emulator;
use fintecture_oauth::Client;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("merchant failed: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // Kept alive while serving: dropping it stops the emulator.
    let mut emulator = None;
    let client = match credentials_from_env() {
        Some(credentials) => Client::builder(environment_from_env()?)
            .credentials(credentials)
            .build()?,
        None => emulator.insert(Emulator::start().await?).client()?,
    };
    let port = std::env::var("MERCHANT_PORT").unwrap_or_else(|_| "0".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    let url = format!("http://{}", listener.local_addr()?);
    println!("{url}");
    axum::serve(listener, merchant::router(client, &url))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    drop(emulator);
    Ok(())
}
