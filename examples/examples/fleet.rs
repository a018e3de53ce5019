//! Three replicas of one service sharing their tokens through Redis, against the built-in
//! emulator: one token request for all three, a customer's grant authorized on one and
//! used by the others, and one refresh for all three when it expires.
//!
//! ```sh
//! redis-server --port 6379 --save "" --appendonly no   # Debian: apt-get install redis-server
//! cargo run --example fleet                            # or REDIS_URL=redis://host:port/
//! ```

use examples::Ais;
use fintecture_emulator::{Emulator, EmulatorConfig};
use fintecture_oauth::{AtRest, Client, RedisTokenStore, Scope, TokenStore};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fleet failed: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    // Short-lived tokens, so that the refresh comes within the run.
    let lifetime = Duration::from_secs(3);
    let emulator = Emulator::start_with(EmulatorConfig {
        token_lifetime: lifetime,
        ..EmulatorConfig::default()
    })
    .await?;
    // In production the key comes from your secret manager; here, one for this run.
    let key: [u8; 32] = std::array::from_fn(|_| rand_byte());
    let replicas = (0..3)
        .map(|_| -> Result<Client, Box<dyn std::error::Error>> {
            let store = RedisTokenStore::new(&url, AtRest::aes_256_gcm(&key)?)?;
            Ok(Client::builder(emulator.environment())
                .credentials(emulator.credentials())
                .token_store(Arc::new(store))
                .build()?)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let probe = RedisTokenStore::new(&url, AtRest::Plaintext)?;
    let grant = fintecture_oauth::GrantKey::new(
        "probe",
        "probe",
        fintecture_oauth::Grant::App {
            scope: "probe".into(),
        },
    );
    if let Err(error) = probe.load(&grant).await {
        // The deepest cause says why (connection refused, unknown host, ...).
        let why = std::iter::successors(Some(&error as &dyn std::error::Error), |e| e.source())
            .last()
            .map(ToString::to_string)
            .unwrap_or_default();
        return Err(format!(
            "cannot reach Redis at {url} ({why}): start one with \
             `redis-server --port 6379 --save \"\" --appendonly no`, or set REDIS_URL"
        )
        .into());
    }
    println!(
        "fleet: three replicas on Redis at {url}, against the emulator at {}",
        emulator.url()
    );

    println!("\n1. All three want a PIS token at once");
    let tokens = all_at_once(replicas.iter().map(|r| {
        let r = r.clone();
        async move { r.access_token(&Scope::Pis).await }
    }))
    .await?;
    println!(
        "   {} replicas, {} distinct token(s), {} token request(s)",
        tokens.len(),
        distinct(&tokens),
        emulator.requests_to("/oauth/accesstoken").len()
    );

    println!("\n2. A customer authorizes through replica 1; replicas 2 and 3 use the grant");
    replicas[0]
        .customer("customer-42")
        .authorize(emulator.issue_code("customer-42"), None)
        .await?;
    for (n, replica) in replicas.iter().enumerate().skip(1) {
        let accounts = replica
            .customer("customer-42")
            .accounts("customer-42")
            .await?;
        let count = accounts["data"].as_array().map_or(0, Vec::len);
        println!(
            "   replica {}: {count} account(s), with the grant from Redis",
            n + 1
        );
    }

    println!("\n3. The token expires; all three call at once");
    tokio::time::sleep(lifetime).await;
    let tokens = all_at_once(replicas.iter().map(|r| {
        let customer = r.customer("customer-42");
        async move { customer.access_token(&Scope::Ais).await }
    }))
    .await?;
    println!(
        "   {} distinct token(s), {} refresh request(s) for the whole fleet",
        distinct(&tokens),
        emulator.requests_to("/oauth/refreshtoken").len()
    );
    println!("\nDone.");
    Ok(())
}

/// Runs the futures at the same time, in tasks of their own.
async fn all_at_once<F, T>(
    futures: impl Iterator<Item = F>,
) -> Result<Vec<T>, Box<dyn std::error::Error>>
where
    F: std::future::Future<Output = Result<T, fintecture_oauth::Error>> + Send + 'static,
    T: Send + 'static,
{
    let tasks: Vec<_> = futures.map(tokio::spawn).collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await??);
    }
    Ok(results)
}

fn distinct(tokens: &[fintecture_oauth::CachedToken]) -> usize {
    let texts: std::collections::HashSet<_> = tokens.iter().map(|t| t.expose_secret()).collect();
    texts.len()
}

/// A random byte from the standard library's randomly keyed hasher.
fn rand_byte() -> u8 {
    use std::hash::BuildHasher;
    (std::collections::hash_map::RandomState::new().hash_one(0u8) & 0xff) as u8
}
