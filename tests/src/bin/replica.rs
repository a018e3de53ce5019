//! One replica of a service, as its own process, for the fleet tests that stop
//! (`SIGSTOP`) or kill (`SIGKILL`) a replica: a client on the emulator at `EMULATOR_URL`,
//! with the Redis token store at `REDIS_URL` and a lease of `LEASE_MS`.
//!
//! It reads one command a line on standard input and answers one line each on standard
//! output, in order:
//! - `authorize CUSTOMER CODE` → `ok` or `error MESSAGE`;
//! - `call CUSTOMER` (the customer's accounts) → `ok`, `reauthorize` (the customer must
//!   consent again) or `error MESSAGE`.

use fintecture_oauth::{AuthorizationCode, Client, Credentials, Environment, Error};
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;
use tests::Sample;

fn setting(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

fn client() -> Client {
    let store = tests::redis_store(&setting("REDIS_URL"));
    let lease = Duration::from_millis(setting("LEASE_MS").parse().unwrap());
    Client::builder(Environment::Custom(
        setting("EMULATOR_URL").parse().unwrap(),
    ))
    .credentials(Credentials::new(setting("APP_ID"), setting("APP_SECRET")))
    .token_store(Arc::new(store))
    .token_lease(lease)
    .build()
    .unwrap()
}

fn answer<T>(result: Result<T, Error>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(error) if tests::is_reauthorize(&error) => "reauthorize".into(),
        Err(error) => format!("error {}", tests::with_causes(&error).replace('\n', " ")),
    }
}

#[tokio::main]
async fn main() {
    let client = client();
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        let reply = match words.as_slice() {
            ["authorize", customer, code] => {
                let code = AuthorizationCode::new(*code);
                answer(client.customer(customer).authorize(code, None).await)
            }
            ["call", customer] => {
                answer(client.customer(customer).customer_accounts(customer).await)
            }
            _ => format!("error unknown command {line:?}"),
        };
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{reply}");
        let _ = stdout.flush();
    }
}
