//! `fintecture-emulator`: the emulator as a standalone server, for tests in any language.
//! Prints its base URL as the first line on stdout, then one line per request.

use fintecture_emulator::{Emulator, EmulatorConfig};
use fintecture_oauth::Credentials;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

const HELP: &str = "\
fintecture-emulator: an emulator of the Fintecture API, for tests in any language

USAGE:
    fintecture-emulator [OPTIONS]

OPTIONS:
    --port PORT             Port to listen on; 0 picks a free one [default: 0]
    --host ADDRESS          Address to listen on; 0.0.0.0 to serve other containers
                            [default: 127.0.0.1]
    --app-id ID             The app id it accepts [default: emulator-app-id]
    --app-secret SECRET     The app secret it accepts; or set FINTECTURE_APP_SECRET, which
                            keeps it out of the process list [default: emulator-app-secret]
    --public-key FILE       The app's public key (SPKI PEM): signed requests are then
                            required on every endpoint but the token ones
    --token-lifetime SECS   Lifetime of the access tokens it issues, 1 to 86400
                            [default: 3600]
    -h, --help              Print this help

OUTPUT:
    The base URL first (http://HOST:PORT), then one line per request: method, path and
    status. Never a secret. Stops on Ctrl-C or SIGTERM.

CONTROL API (JSON, under /__emulator/):
    POST   /__emulator/codes      {\"customer_id\": \"c1\"} -> {\"code\": \"...\"}
    POST   /__emulator/consents   how the next consent ends: {\"customer_id\": \"c1\"} or
                                  {\"error\": \"access_denied\", \"error_description\": \"...\"}
    GET    /__emulator/consent/ID the consent page a consent URL points at: 302 to the app's
                                  redirect_uri with code, customer_id and state (or error)
    POST   /__emulator/faults     {\"path_prefix\": \"/oauth/\", \"kind\": \"status\", \"status\": 503}
                                  kinds: status (retry_after), delay (millis), malformed_json,
                                  drop_connection
    POST   /__emulator/expire     {\"access_token\": \"...\"} | {\"customer_id\": \"c1\"} | {\"scope\": \"PIS\"}
    POST   /__emulator/revoke     same selectors; the grants' refresh tokens stop working too
    GET    /__emulator/requests   the requests so far, secrets redacted
    DELETE /__emulator/requests   forget them
";

/// What the command line asked for.
#[derive(Debug)]
struct Options {
    address: SocketAddr,
    app_id: String,
    app_secret: Option<String>,
    public_key: Option<String>,
    token_lifetime: Duration,
}

/// Reads the arguments; `Ok(None)` when help was asked for.
fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut host = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut port = 0u16;
    let mut app_id = "emulator-app-id".to_string();
    let mut app_secret = None;
    let mut public_key = None;
    let mut token_lifetime = Duration::from_secs(3600);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(None);
        }
        // `--name value` or `--name=value`.
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (arg, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "--port" => {
                let text = value()?;
                port = text
                    .parse()
                    .map_err(|_| format!("--port: `{text}` is not a port (0 to 65535)"))?;
            }
            "--host" => {
                let text = value()?;
                host = text
                    .parse()
                    .map_err(|_| format!("--host: `{text}` is not an IP address"))?;
            }
            "--app-id" => app_id = value()?,
            "--app-secret" => app_secret = Some(value()?),
            "--public-key" => {
                let path = value()?;
                let pem = std::fs::read_to_string(&path)
                    .map_err(|e| format!("--public-key: cannot read {path}: {e}"))?;
                public_key = Some(pem);
            }
            "--token-lifetime" => {
                let text = value()?;
                let seconds = text
                    .parse::<u64>()
                    .ok()
                    .filter(|s| (1..=86_400).contains(s))
                    .ok_or_else(|| {
                        format!(
                            "--token-lifetime: `{text}` is not a number of seconds from 1 to 86400"
                        )
                    })?;
                token_lifetime = Duration::from_secs(seconds);
            }
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    Ok(Some(Options {
        address: SocketAddr::new(host, port),
        app_id,
        app_secret,
        public_key,
        token_lifetime,
    }))
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("fintecture-emulator: {message}\n(see --help)");
            return ExitCode::from(2);
        }
    };
    let app_secret = options
        .app_secret
        .or_else(|| std::env::var("FINTECTURE_APP_SECRET").ok())
        .unwrap_or_else(|| "emulator-app-secret".to_string());
    let config = EmulatorConfig {
        credentials: Credentials::new(options.app_id, app_secret),
        token_lifetime: options.token_lifetime,
        signature_public_key_pem: options.public_key,
        address: options.address,
        on_request: Some(Arc::new(|method, path, status| {
            println!("{method} {path} {}", status.as_u16());
        })),
    };
    let emulator = match Emulator::start_with(config).await {
        Ok(emulator) => emulator,
        Err(e) => {
            eprintln!(
                "fintecture-emulator: cannot start on {}: {e}",
                options.address
            );
            return ExitCode::FAILURE;
        }
    };
    // The URL has a trailing slash from `Url`; print it as users write base URLs.
    println!("{}", emulator.url().as_str().trim_end_matches('/'));
    match stopped().await {
        Ok(()) => {
            drop(emulator);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fintecture-emulator: cannot wait for signals: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Waits for Ctrl-C or (on Unix) SIGTERM, what `docker stop` and test harnesses send.
async fn stopped() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

#[cfg(test)]
// A test states its expectation by panicking.
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn options_are_read_in_both_forms() {
        let options = parse(args(
            "--port 8080 --host=0.0.0.0 --app-id id --app-secret=s --token-lifetime 60",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(options.address, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(options.app_id, "id");
        assert_eq!(options.app_secret.as_deref(), Some("s"));
        assert_eq!(options.token_lifetime, Duration::from_secs(60));
        let defaults = parse(Vec::new()).unwrap().unwrap();
        assert_eq!(defaults.address, "127.0.0.1:0".parse().unwrap());
        assert_eq!(defaults.token_lifetime, Duration::from_secs(3600));
        assert!(parse(args("--port 1 --help")).unwrap().is_none());
    }

    #[test]
    fn mistakes_are_named() {
        for (line, expected) in [
            ("--port", "--port needs a value"),
            ("--port 70000", "`70000` is not a port"),
            ("--host localhost", "`localhost` is not an IP address"),
            ("--token-lifetime 0", "from 1 to 86400"),
            ("--token-lifetime 86401", "from 1 to 86400"),
            (
                "--public-key /nonexistent.pem",
                "cannot read /nonexistent.pem",
            ),
            ("--verbose", "unknown option `--verbose`"),
        ] {
            let error = parse(args(line)).unwrap_err();
            assert!(error.contains(expected), "{line}: {error}");
        }
    }
}
