//! A small CLI that prints a Fintecture access token as JSON.
//!
//! ```sh
//! cargo run --example token -- --scope PIS
//! cargo run --example token -- --code CODE [--redirect-uri URI]
//! cargo run --example token -- --refresh-token RT
//! ```
//!
//! Options: `--timeout SECS`. Credentials from `FINTECTURE_APP_ID` and
//! `FINTECTURE_APP_SECRET`; environment from `FINTECTURE_ENV` (`sandbox` by default, or
//! `production`); `FINTECTURE_BASE_URL` overrides both (plain http only for loopback hosts).
//!
//! Success: the token as one JSON object on stdout, exit 0. Failure: one line on stderr,
//! exit 1 (the request failed) or 2 (bad usage or configuration).

use examples::{credentials_from_env, environment_from_env};
use fintecture_oauth::{AuthorizationCode, Client, RefreshToken, Scope};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: token (--scope SCOPE | --code CODE [--redirect-uri URI] | \
                     --refresh-token RT) [--timeout SECS]";

enum Grant {
    Scope(Scope),
    Code(AuthorizationCode, Option<String>),
    Refresh(RefreshToken),
}

struct Args {
    grant: Grant,
    timeout: Option<Duration>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut scope, mut code, mut redirect_uri, mut refresh, mut timeout) =
        (None, None, None, None, None);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--scope" => scope = Some(value()?),
            "--code" => code = Some(value()?),
            "--redirect-uri" => redirect_uri = Some(value()?),
            "--refresh-token" => refresh = Some(value()?),
            "--timeout" => {
                let text = value()?;
                let seconds: f64 = text
                    .parse()
                    .map_err(|_| format!("--timeout: `{text}` is not a number"))?;
                timeout = Some(
                    Duration::try_from_secs_f64(seconds)
                        .ok()
                        .filter(|d| !d.is_zero())
                        .ok_or("--timeout must be a positive number of seconds")?,
                );
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}`; {USAGE}")),
        }
    }
    let grant = match (scope, code, refresh) {
        (Some(scope), None, None) if redirect_uri.is_none() => {
            Grant::Scope(scope.parse().unwrap_or_else(|never| match never {}))
        }
        (None, Some(code), None) => Grant::Code(AuthorizationCode::new(code), redirect_uri),
        (None, None, Some(refresh)) if redirect_uri.is_none() => {
            Grant::Refresh(RefreshToken::new(refresh))
        }
        _ => {
            return Err(format!(
                "give exactly one of --scope, --code or --refresh-token; {USAGE}"
            ));
        }
    };
    Ok(Args { grant, timeout })
}

/// Exit 2: the request was never sent.
fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("token: {message}");
    ExitCode::from(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => return usage_error(message),
    };
    let Some(credentials) = credentials_from_env() else {
        return usage_error("set FINTECTURE_APP_ID and FINTECTURE_APP_SECRET");
    };
    let environment = match environment_from_env() {
        Ok(environment) => environment,
        Err(message) => return usage_error(message),
    };
    let mut builder = Client::builder(environment).credentials(credentials);
    if let Some(timeout) = args.timeout {
        builder = builder.timeout(timeout).connect_timeout(timeout);
    }
    let client = match builder.build() {
        Ok(client) => client,
        Err(error) => return usage_error(error),
    };
    let result = match args.grant {
        Grant::Scope(scope) => client.client_credentials_token(scope).await,
        Grant::Code(code, redirect_uri) => client.exchange_code(code, redirect_uri).await,
        Grant::Refresh(refresh_token) => client.refresh(refresh_token).await,
    };
    match result {
        Ok(token) => {
            println!("{}", token.expose_json());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("token: {}", with_causes(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, as `anyhow`'s `{:#}` prints them: each error's
/// message says what happened, its `source()` why.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        line.push_str(": ");
        line.push_str(&error.to_string());
        cause = error.source();
    }
    line
}
