//! The `fintecture-emulator` binary, started as a subprocess and driven over HTTP alone, as
//! a test suite in another language would: a token of each grant, a code from the control
//! API, a fault, expiry and revocation, the recorded requests, the log lines, a clean stop.

// A test states its expectation by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const APP_ID: &str = "app-under-test";
const APP_SECRET: &str = "s3cret-not-to-be-printed";

/// The running binary; killed if a test fails before stopping it.
struct Server {
    child: Child,
    url: String,
    lines: mpsc::Receiver<String>,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fintecture-emulator"))
            .args(["--port", "0", "--app-id", APP_ID, "--token-lifetime", "120"])
            .args(extra)
            // The secret through the environment, as the help recommends.
            .env("FINTECTURE_APP_SECRET", APP_SECRET)
            .stdout(Stdio::piped())
            .spawn()
            .expect("the emulator binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let url = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the base URL comes first");
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        Server { child, url, lines }
    }

    /// SIGTERM, as `docker stop` sends; returns the exit status and every later line.
    fn terminate(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let status = self.child.wait().unwrap();
        let lines = self.lines.try_iter().collect();
        (status, lines)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// A token request with Basic credentials, the scheme in lower case (RFC 7235).
async fn token(
    http: &reqwest::Client,
    url: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{APP_ID}:{APP_SECRET}"));
    let response = http
        .post(format!("{url}{path}"))
        .header("authorization", format!("basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).unwrap())
        .send()
        .await
        .unwrap();
    json(response).await
}

async fn control(http: &reqwest::Client, url: &str, path: &str, body: Value) -> (u16, Value) {
    let response = http
        .post(format!("{url}/__emulator/{path}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    json(response).await
}

async fn get(http: &reqwest::Client, url: &str, path: &str, token: &str) -> (u16, Value) {
    let response = http
        .get(format!("{url}{path}"))
        .header("authorization", format!("bearer {token}"))
        .send()
        .await
        .unwrap();
    json(response).await
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {value}"))
}

#[tokio::test]
async fn the_binary_serves_every_grant_and_is_controlled_over_http() {
    let server = Server::start(&[]);
    let (http, url) = (http(), server.url.clone());

    // Client credentials.
    let (status, app) = token(
        &http,
        &url,
        "/oauth/accesstoken",
        &[
            ("grant_type", "client_credentials"),
            ("app_id", APP_ID),
            ("scope", "PIS"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{app}");
    assert_eq!(app["expires_in"], 120);
    let pis = text(&app, "access_token").to_owned();
    let (status, _) = get(&http, &url, "/pis/v1/payments", &pis).await;
    assert_eq!(status, 200);

    // A code from the control API, exchanged for a customer's grant.
    let (status, issued) = control(
        &http,
        &url,
        "codes",
        serde_json::json!({ "customer_id": "c1" }),
    )
    .await;
    assert_eq!(status, 201, "{issued}");
    let code = text(&issued, "code").to_owned();
    let (status, customer) = token(
        &http,
        &url,
        "/oauth/accesstoken",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("scope", "AIS"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{customer}");
    let ais = text(&customer, "access_token").to_owned();
    let refresh = text(&customer, "refresh_token").to_owned();
    assert_eq!(
        get(&http, &url, "/ais/v1/customer/c1/accounts", &ais)
            .await
            .0,
        200
    );
    assert_eq!(
        get(&http, &url, "/ais/v1/customer/c2/accounts", &ais)
            .await
            .0,
        403
    );

    // Refresh: rotated, and the old refresh token is refused.
    let refresh_form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    let (status, renewed) = token(&http, &url, "/oauth/refreshtoken", &refresh_form).await;
    assert_eq!(status, 200, "{renewed}");
    let renewed_refresh = text(&renewed, "refresh_token").to_owned();
    assert_ne!(renewed_refresh, refresh);
    let (status, reused) = token(&http, &url, "/oauth/refreshtoken", &refresh_form).await;
    assert_eq!((status, text(&reused, "code")), (400, "invalid_grant"));

    // A fault, then the normal answer again.
    let (status, _) = control(
        &http,
        &url,
        "faults",
        serde_json::json!({ "path_prefix": "/oauth/", "kind": "status", "status": 503, "retry_after": 1 }),
    )
    .await;
    assert_eq!(status, 204);
    let app_form = [("grant_type", "client_credentials"), ("scope", "PIS")];
    assert_eq!(
        token(&http, &url, "/oauth/accesstoken", &app_form).await.0,
        503
    );
    assert_eq!(
        token(&http, &url, "/oauth/accesstoken", &app_form).await.0,
        200
    );

    // Expiry and revocation.
    let (_, expired) = control(
        &http,
        &url,
        "expire",
        serde_json::json!({ "access_token": pis }),
    )
    .await;
    assert_eq!(expired["matched"], 1);
    let (status, answer) = get(&http, &url, "/pis/v1/payments", &pis).await;
    assert_eq!((status, text(&answer, "code")), (401, "token_expired"));
    let (_, revoked) = control(
        &http,
        &url,
        "revoke",
        serde_json::json!({ "customer_id": "c1" }),
    )
    .await;
    assert_eq!(
        revoked["matched"], 2,
        "the first and the refreshed access token"
    );
    let (status, answer) = token(
        &http,
        &url,
        "/oauth/refreshtoken",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", renewed_refresh.as_str()),
        ],
    )
    .await;
    assert_eq!((status, text(&answer, "code")), (400, "invalid_grant"));

    // Mistakes in control requests are explained, in the envelope.
    let (status, answer) = control(
        &http,
        &url,
        "faults",
        serde_json::json!({ "kind": "sometimes" }),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        text(&answer["errors"][0], "message").contains("sometimes"),
        "{answer}"
    );

    // The recorded requests, with their statuses and no secret.
    let recorded = http
        .get(format!("{url}/__emulator/requests"))
        .send()
        .await
        .unwrap();
    let recorded_text = recorded.text().await.unwrap();
    let recorded: Value = serde_json::from_str(&recorded_text).unwrap();
    let statuses: Vec<u64> = recorded
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 403, 200, 400, 503, 200, 401, 400]
    );
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{APP_ID}:{APP_SECRET}"));
    for secret in [
        APP_SECRET,
        &basic,
        &pis,
        &ais,
        &code,
        &refresh,
        &renewed_refresh,
    ] {
        assert!(
            !recorded_text.contains(secret),
            "{secret} in {recorded_text}"
        );
    }
    let forgotten = http
        .delete(format!("{url}/__emulator/requests"))
        .send()
        .await
        .unwrap();
    assert_eq!(forgotten.status(), 204);
    let (_, after) = json(
        http.get(format!("{url}/__emulator/requests"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(after, serde_json::json!([]));

    // One line per request (control API excepted), never a secret; a clean stop.
    let (exit, lines) = server.terminate();
    assert!(exit.success(), "{exit:?}");
    assert_eq!(lines.len(), statuses.len(), "{lines:?}");
    assert_eq!(lines[0], "POST /oauth/accesstoken 200");
    assert_eq!(lines[4], "GET /ais/v1/customer/c2/accounts 403");
    assert_eq!(lines[7], "POST /oauth/accesstoken 503");
    let all = lines.join("\n");
    for secret in [APP_SECRET, &basic, &pis, &ais, &code, &refresh] {
        assert!(!all.contains(secret), "{secret} in {all}");
    }
}

#[test]
fn help_explains_every_option_and_mistakes_exit_with_2() {
    let help = Command::new(env!("CARGO_BIN_EXE_fintecture-emulator"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    let help = String::from_utf8(help.stdout).unwrap();
    for option in [
        "--port",
        "--host",
        "--app-id",
        "--app-secret",
        "--public-key",
        "--token-lifetime",
        "/__emulator/codes",
    ] {
        assert!(help.contains(option), "{option} missing from:\n{help}");
    }
    let wrong = Command::new(env!("CARGO_BIN_EXE_fintecture-emulator"))
        .args(["--token-lifetime", "forever"])
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("`forever` is not a number"));
}

/// A customer's accounts, declared as a user of the crate would.
#[fintecture_oauth::api]
trait Accounts {
    #[endpoint(get = "/ais/v1/customer/{customer_id}/accounts", scope = "AIS")]
    async fn accounts(&self, customer_id: &str) -> Result<Value, fintecture_oauth::Error>;
}

#[tokio::test]
async fn the_binary_plays_both_consent_flows_from_the_start_to_the_accounts() {
    use fintecture_oauth::{Client, ConsentRequest, Credentials, Environment};
    let server = Server::start(&[]);
    let client = Client::builder(Environment::Custom(server.url.parse().unwrap()))
        .credentials(Credentials::new(APP_ID, APP_SECRET))
        .build()
        .unwrap();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirect = "https://merchant.example/callback";
    // The first consent under a customer id of the test's choosing, over the control API.
    let (status, _) = control(
        &http(),
        &server.url,
        "consents",
        serde_json::json!({ "customer_id": "bin-customer" }),
    )
    .await;
    assert_eq!(status, 204);
    for (request, expected) in [
        (ConsentRequest::connect(redirect), Some("bin-customer")),
        (ConsentRequest::provider("cmcifrpp", redirect), None),
    ] {
        let started = client.start_consent(&request).await.unwrap();
        assert!(started.url().starts_with(&server.url), "{}", started.url());
        let answer = browser.get(started.url()).send().await.unwrap();
        assert_eq!(answer.status().as_u16(), 302);
        let location = answer.headers()["location"].to_str().unwrap();
        let (to, query) = location.split_once('?').unwrap();
        assert_eq!(to, redirect);
        let customer = client
            .complete_consent(started.state(), query)
            .await
            .unwrap();
        let id = customer.customer_id().unwrap().to_owned();
        if let Some(expected) = expected {
            assert_eq!(id, expected);
        }
        let accounts = customer.accounts(&id).await.unwrap();
        assert!(accounts["data"].is_array(), "{accounts}");
    }
    // The consent page works once.
    let (status, _) = control(
        &http(),
        &server.url,
        "consents",
        serde_json::json!({ "error": "access_denied" }),
    )
    .await;
    assert_eq!(status, 204);
    let started = client
        .start_consent(&ConsentRequest::connect(redirect))
        .await
        .unwrap();
    let answer = browser.get(started.url()).send().await.unwrap();
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("error=access_denied"), "{location}");
    let again = browser.get(started.url()).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 404);
}
