//! The whole story in one run: tokens, a bearer call through a declared endpoint, the AIS
//! code exchange, a refresh with rotation, a cached read, and an error as you would see it.
//!
//! ```sh
//! cargo run --example quickstart          # against the built-in emulator: no account, no network
//! FINTECTURE_APP_ID=… FINTECTURE_APP_SECRET=… cargo run --example quickstart   # the sandbox
//! ```

use examples::{Ais, ConnectQuery, Pis, credentials_from_env, environment_from_env, payment};
use fintecture_emulator::Emulator;
use fintecture_oauth::{AuthorizationCode, Client, Error, Scope};
use std::process::ExitCode;
use std::time::Instant;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("quickstart failed: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // Kept alive for the whole run when used: dropping it stops the server.
    let mut emulator = None;
    let client = match credentials_from_env() {
        Some(credentials) => {
            let environment = environment_from_env()?;
            println!(
                "fintecture-oauth quickstart, against {}",
                environment.base_url()
            );
            Client::builder(environment)
                .credentials(credentials)
                .build()?
        }
        None => {
            let started = Emulator::start().await?;
            println!(
                "fintecture-oauth quickstart, against the built-in emulator at {}\n\
                 (set FINTECTURE_APP_ID and FINTECTURE_APP_SECRET to run it against the sandbox)",
                started.url()
            );
            let client = started.client()?;
            emulator = Some(started);
            client
        }
    };

    step(
        1,
        "A PIS token (client credentials, HTTP Basic), fetched and cached by the token manager",
    );
    let token = client.access_token(&Scope::Pis).await?;
    println!("   POST /oauth/accesstoken -> {token}");

    step(
        2,
        "A bearer call through a declared endpoint (the token manager supplies the token)",
    );
    let query = ConnectQuery {
        state: "order-1234",
        redirect_uri: "https://shop.example/done",
    };
    let session = client
        .connect(&query, &payment("12.50", "Order 1234"))
        .await?;
    println!(
        "   POST /pis/v2/connect -> session {}",
        session.meta.session_id
    );
    if let Some(url) = &session.meta.url {
        println!("   send the payer to {url}");
    }
    let read = client.payment(&session.meta.session_id).await?;
    println!(
        "   GET /pis/v2/payments/{{session_id}} -> status {}",
        read.meta.status.as_deref().unwrap_or("unknown")
    );

    step(
        3,
        "AIS: exchanging the authorization code from the bank redirect",
    );
    let customer_id = "customer-42";
    let code = match (&emulator, std::env::var("FINTECTURE_AUTH_CODE")) {
        (Some(emulator), _) => Some(emulator.issue_code(customer_id)),
        (None, Ok(code)) => Some(AuthorizationCode::new(code)),
        (None, Err(_)) => None,
    };
    match code {
        Some(code) => {
            println!("   redirect: ?code={code}&customer_id={customer_id}");
            // A client bound to this customer: its AIS calls carry the customer's own token.
            let customer = client.customer(customer_id);
            let ais = customer.authorize(code, None).await?;
            println!("   POST /oauth/accesstoken (authorization_code) -> {ais}");
            let accounts = customer.accounts(customer_id).await?;
            let count = accounts["data"].as_array().map_or(0, Vec::len);
            println!("   GET /ais/v1/customer/{customer_id}/accounts -> {count} account(s)");
            if let Some(emulator) = &emulator {
                // Another customer: another grant, another token; neither sees the other's.
                let other = client.customer("customer-43");
                other
                    .authorize(emulator.issue_code("customer-43"), None)
                    .await?;
                other.accounts("customer-43").await?;
                let refused = other.accounts(customer_id).await.is_err();
                println!(
                    "   customer-43 authorized too: {} customer grants cached; \
                     customer-43's token on {customer_id}'s accounts refused: {refused}",
                    client.cached_customers()
                );
            }

            step(
                4,
                "A refresh with rotation (the token manager does this by itself at expiry)",
            );
            // By hand here, on a token of another customer's, so the cached one stays valid.
            let other = match &emulator {
                Some(emulator) => {
                    client
                        .exchange_code(emulator.issue_code("customer-44"), None)
                        .await?
                }
                None => ais,
            };
            if let Some(old) = other.refresh_token {
                let renewed = client.refresh(old.clone()).await?;
                println!("   POST /oauth/refreshtoken -> {renewed}");
                match client.refresh(old).await {
                    Err(error) => println!("   the old refresh token again -> refused: {error}"),
                    Ok(_) => {
                        println!("   the old refresh token again -> accepted (no rotation here)")
                    }
                }
            }
        }
        None => println!("   skipped: set FINTECTURE_AUTH_CODE to a code from a bank redirect"),
    }

    step(5, "A cached token read: no I/O");
    let token_requests = || {
        emulator
            .as_ref()
            .map(|e| e.requests_to("/oauth/accesstoken").len())
    };
    let before = token_requests();
    let started = Instant::now();
    let cached = client.access_token(&Scope::Pis).await?;
    println!(
        "   client.access_token(PIS) -> {cached}, served in {:?}",
        started.elapsed()
    );
    if let (Some(before), Some(after)) = (before, token_requests()) {
        println!("   token requests before: {before}, after: {after}");
    }

    step(6, "An error, as you would see it");
    let error: Error = client
        .exchange_code(AuthorizationCode::new("a-code-that-was-never-issued"), None)
        .await
        .err()
        .ok_or("the made-up code was accepted")?;
    println!("   {error}");
    if let Some(api) = error.api() {
        println!(
            "   status {}, code {:?}, log_id {:?}, x-request-id {:?}",
            api.status(),
            api.code(),
            api.log_id(),
            api.request_id()
        );
    }
    println!("\nDone.");
    Ok(())
}

fn step(number: u32, title: &str) {
    println!("\n{number}. {title}");
}
