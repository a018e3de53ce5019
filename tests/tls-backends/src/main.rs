//! Asks the token endpoint at the base URL given as the only argument for a PIS token, over
//! whatever TLS fintecture-oauth's features chose, and prints it; beside it, builds a
//! reqwest client of the program's own. Run by `tests/https.rs`, with `SSL_CERT_FILE`
//! naming the certificate the server presents (or not).

use fintecture_oauth::{Client, Credentials, Environment, ExposeSecret as _, Scope};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: tls-backends BASE_URL");
        return ExitCode::FAILURE;
    };
    let environment = match url.parse() {
        Ok(url) => Environment::Custom(url),
        Err(error) => {
            eprintln!("{url}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let client = Client::builder(environment)
        .credentials(Credentials::new("app", "secret"))
        .build();
    // The program's own reqwest client, built after ours: it must not panic either.
    let own = reqwest::Client::builder().build();
    let (client, own) = match (client, own) {
        (Ok(client), Ok(own)) => (client, own),
        (client, own) => {
            eprintln!("could not build: {:?} {:?}", client.err(), own.err());
            return ExitCode::FAILURE;
        }
    };
    drop(own);
    match client.client_credentials_token(Scope::Pis).await {
        Ok(token) => {
            println!("token {}", token.access_token.expose_secret());
            ExitCode::SUCCESS
        }
        Err(error) => {
            let mut line = error.to_string();
            let mut cause = std::error::Error::source(&error);
            while let Some(current) = cause {
                line.push_str(&format!(": {current}"));
                cause = current.source();
            }
            eprintln!("{line}");
            ExitCode::FAILURE
        }
    }
}
