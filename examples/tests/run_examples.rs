//! Runs every example as a binary, as a user would: the quickstart and extend stories
//! against their own emulator, and the token CLI against an emulator started here, for
//! success and for each class of failure (stdout, stderr and exit code).
//!
//! The binaries are the ones `cargo test` builds next to this test (target/…/examples).

use base64::Engine as _;
use fintecture_emulator::{Emulator, EmulatorConfig, Fault};
use fintecture_oauth::{Credentials, ExposeSecret};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

fn example(name: &str) -> Command {
    // target/<profile>/deps/<this test> -> target/<profile>/examples/<name>
    let exe = std::env::current_exe().unwrap();
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("examples");
    let path: PathBuf = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: `cargo test --workspace` builds the examples (or `cargo build --examples`)",
        path.display()
    );
    let mut command = Command::new(path);
    for var in [
        "FINTECTURE_APP_ID",
        "FINTECTURE_APP_SECRET",
        "FINTECTURE_ENV",
        "FINTECTURE_BASE_URL",
    ] {
        command.env_remove(var);
    }
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a blocking command off the async runtime, so the emulator keeps serving.
async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn quickstart_runs_the_whole_story_offline() {
    let output = run(example("quickstart")).await;
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for expected in [
        "built-in emulator",
        "1. A PIS token",
        "POST /pis/v2/connect -> session",
        "status payment_created",
        "1 account(s)",
        "2 customer grants cached; customer-43's token on customer-42's accounts refused: true",
        "the old refresh token again -> refused",
        "token requests before: 4, after: 4",
        "HTTP 400 Bad Request invalid_grant",
        "Done.",
    ] {
        assert!(
            stdout.contains(expected),
            "missing `{expected}` in:\n{stdout}"
        );
    }
    let secret = EmulatorConfig::default()
        .credentials
        .app_secret()
        .expose_secret()
        .to_owned();
    assert!(!stdout.contains(&secret) && !stderr.contains(&secret));
    assert!(
        !stdout.contains("at-"),
        "an access token was printed:\n{stdout}"
    );
}

#[tokio::test]
async fn extend_declares_and_calls_its_own_endpoints() {
    let output = run(example("extend")).await;
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    assert!(
        stdout.contains(
            "/pis/v2/connect?state=cart-7&redirect_uri=https%3A%2F%2Fshop.example%2Fback"
        )
    );
    assert!(
        stdout.contains("x-request-id Some(\"my-trace-id-1\")"),
        "{stdout}"
    );
    assert!(stdout.contains("token requests: 1"), "{stdout}");
}

fn token_cli(emulator: &Emulator, credentials: &Credentials, args: &[&str]) -> Command {
    let mut command = example("token");
    command
        .args(args)
        .env("FINTECTURE_APP_ID", credentials.app_id())
        .env(
            "FINTECTURE_APP_SECRET",
            credentials.app_secret().expose_secret(),
        )
        .env("FINTECTURE_BASE_URL", emulator.url().as_str());
    command
}

/// Success: one JSON object on stdout, nothing on stderr, exit 0.
fn json_token(output: &Output) -> serde_json::Value {
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        text(&output.stderr)
    );
    assert!(output.stderr.is_empty(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    serde_json::from_str(&stdout).unwrap()
}

/// Failure: nothing on stdout, one line on stderr, the given exit code.
/// The failure's one line on stderr, checked: the exit code, nothing on stdout, no panic,
/// and neither the emulator's app secret nor its Basic credentials, whatever went wrong.
fn failure(output: &Output, code: i32) -> String {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "stderr: {stderr}");
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let credentials = EmulatorConfig::default().credentials;
    let secret = credentials.app_secret().expose_secret();
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{secret}", credentials.app_id()));
    assert!(
        !stderr.contains(secret) && !stderr.contains(&basic),
        "{stderr}"
    );
    stderr
}

#[tokio::test]
async fn token_cli_prints_each_grant_as_json() {
    let emulator = Emulator::start().await.unwrap();
    let credentials = emulator.credentials();

    let pis = json_token(&run(token_cli(&emulator, &credentials, &["--scope", "PIS"])).await);
    assert_eq!(pis["token_type"], "Bearer");
    assert_eq!(pis["scope"], "PIS");
    assert!(pis["access_token"].as_str().unwrap().starts_with("at-"));

    let code = emulator.issue_code("customer-1");
    let args = [
        "--code",
        code.expose_secret(),
        "--redirect-uri",
        "https://app.example/cb",
    ];
    let ais = json_token(&run(token_cli(&emulator, &credentials, &args)).await);
    let refresh_token = ais["refresh_token"].as_str().unwrap().to_owned();
    let sent = emulator.requests_to("/oauth/accesstoken").pop().unwrap();
    assert_eq!(
        sent.form_field("redirect_uri").as_deref(),
        Some("https://app.example/cb")
    );

    let args = ["--refresh-token", refresh_token.as_str(), "--timeout", "5"];
    let renewed = json_token(&run(token_cli(&emulator, &credentials, &args)).await);
    assert_ne!(renewed["refresh_token"], refresh_token.as_str());
}

#[tokio::test]
async fn token_cli_reports_each_failure_on_one_line() {
    let emulator = Emulator::start().await.unwrap();
    let good = emulator.credentials();

    // Wrong secret: 401 invalid_client, the envelope's log_id and the x-request-id.
    let wrong = Credentials::new(good.app_id(), "not-the-secret");
    let stderr = failure(
        &run(token_cli(&emulator, &wrong, &["--scope", "PIS"])).await,
        1,
    );
    for expected in [
        "HTTP 401 Unauthorized",
        "invalid_client",
        "log_id log-",
        "x-request-id req-",
    ] {
        assert!(stderr.contains(expected), "missing `{expected}`: {stderr}");
    }
    assert!(!stderr.contains("not-the-secret"), "{stderr}");

    // A code that was never issued: 400 invalid_grant.
    let stderr = failure(
        &run(token_cli(&emulator, &good, &["--code", "made-up"])).await,
        1,
    );
    assert!(
        stderr.contains("HTTP 400 Bad Request invalid_grant"),
        "{stderr}"
    );
    assert!(!stderr.contains("made-up"), "{stderr}");

    // Server trouble: 503, malformed JSON, a dropped connection, a timeout.
    emulator.inject(
        "/oauth",
        Fault::Status {
            status: 503,
            retry_after: Some(7),
        },
    );
    let stderr = failure(
        &run(token_cli(&emulator, &good, &["--scope", "PIS"])).await,
        1,
    );
    assert!(stderr.contains("HTTP 503 Service Unavailable"), "{stderr}");

    emulator.inject("/oauth", Fault::MalformedJson);
    let stderr = failure(
        &run(token_cli(&emulator, &good, &["--scope", "PIS"])).await,
        1,
    );
    assert!(stderr.contains("cannot decode the response"), "{stderr}");
    assert!(
        !stderr.contains("trunc"),
        "the body must not be echoed: {stderr}"
    );

    emulator.inject("/oauth", Fault::DropConnection);
    let stderr = failure(
        &run(token_cli(&emulator, &good, &["--scope", "PIS"])).await,
        1,
    );
    assert!(stderr.contains("the connection failed: "), "{stderr}");

    emulator.inject("/oauth", Fault::Delay(Duration::from_secs(3)));
    let args = ["--scope", "PIS", "--timeout", "0.5"];
    let stderr = failure(&run(token_cli(&emulator, &good, &args)).await, 1);
    assert!(stderr.contains("timed out"), "{stderr}");

    // Nobody listening.
    let mut command = token_cli(&emulator, &good, &["--scope", "PIS"]);
    command.env("FINTECTURE_BASE_URL", "http://127.0.0.1:9");
    let stderr = failure(&run(command).await, 1);
    assert!(stderr.contains("Connection refused"), "{stderr}");

    // Usage and configuration: exit 2, nothing sent.
    let sent_before = emulator.requests().len();
    for args in [
        &[][..],
        &["--scope"],
        &["--scope", "PIS", "--code", "c"],
        &["--bogus"],
        &["--scope", "PIS", "--timeout", "-1"],
    ] {
        failure(&run(token_cli(&emulator, &good, args)).await, 2);
    }
    let mut command = token_cli(&emulator, &good, &["--scope", "PIS"]);
    command.env("FINTECTURE_BASE_URL", "http://api.example.test");
    let stderr = failure(&run(command).await, 2);
    assert!(stderr.contains("refusing plain http"), "{stderr}");
    let mut command = token_cli(&emulator, &good, &["--scope", "PIS"]);
    command.env_remove("FINTECTURE_APP_SECRET");
    let stderr = failure(&run(command).await, 2);
    assert!(stderr.contains("FINTECTURE_APP_SECRET"), "{stderr}");
    assert_eq!(emulator.requests().len(), sent_before);
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn the_fleet_example_shows_one_request_and_one_refresh_for_three_replicas() {
    let redis = tests::RedisServer::start(false);
    let mut fleet = example("fleet");
    fleet.env("REDIS_URL", redis.url());
    let output = run(fleet).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "3 replicas, 1 distinct token(s), 1 token request(s)",
        "replica 3: 1 account(s), with the grant from Redis",
        "1 distinct token(s), 1 refresh request(s) for the whole fleet",
        "Done.",
    ] {
        assert!(
            stdout.contains(expected),
            "missing `{expected}` in:\n{stdout}"
        );
    }
}

#[tokio::test]
async fn the_default_tls_stack_verifies_certificates_with_no_provider_installed() {
    // https to a local server whose certificate the system does not trust; `SSL_CERT_FILE`
    // (read by the platform verifier on Linux) makes it trusted for one run. The client is
    // the one fintecture-oauth builds by default: reqwest's rustls, no process-wide state.
    let server = tests::TlsServer::start(r#"{"access_token":"over-tls","expires_in":60}"#).await;
    let url = format!("https://localhost:{}", server.address.port());
    let command = |trusted: bool| {
        let mut command = example("token");
        command
            .args(["--scope", "PIS"])
            .env("FINTECTURE_APP_ID", "app")
            .env("FINTECTURE_APP_SECRET", "secret")
            .env("FINTECTURE_BASE_URL", &url)
            .env_remove("SSL_CERT_DIR");
        if trusted {
            command.env("SSL_CERT_FILE", tests::TlsServer::certificate_path());
        } else {
            command.env_remove("SSL_CERT_FILE");
        }
        command
    };
    let token = json_token(&run(command(true)).await);
    assert_eq!(token["access_token"], "over-tls");
    assert_eq!(server.heads().len(), 1);
    // Not trusted: the handshake fails, nothing is sent.
    let stderr = failure(&run(command(false)).await, 1);
    assert!(stderr.contains("could not connect"), "{stderr}");
    assert_eq!(server.heads().len(), 1);
}

#[tokio::test]
async fn the_merchant_example_serves_its_routes_until_stopped() {
    use std::io::{BufRead, BufReader};
    let mut child = example("merchant")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let url = BufReader::new(stdout).lines().next().unwrap().unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let http = reqwest::Client::new();
    let anonymous = http.get(format!("{url}/accounts")).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let paid = http
        .post(format!("{url}/pay"))
        .header("content-type", "application/json")
        .body(r#"{"amount": "12.50", "communication": "Order 42"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status().as_u16(), 200);
    child.kill().unwrap();
    child.wait().unwrap();
}
