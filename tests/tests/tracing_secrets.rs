//! Tracing: every request gets a span (endpoint, method, path template, status, duration),
//! and at TRACE level, across every flow, no secret text reaches the subscriber.

use fintecture_emulator::{Emulator, EmulatorConfig, Fault};
use fintecture_oauth::{Client, ClientAuthMethod, Credentials, ExposeSecret, Scope};
use std::io::Write;
use std::sync::{Arc, Mutex};
use tests::Sample;

/// A bearer endpoint that is retried, so the retry's log line is captured too.
#[fintecture_oauth::api]
pub trait Retried {
    /// A payment read, retried after a 503.
    #[endpoint(get = "/pis/v2/payments/{session_id}", scope = "PIS", retry = 2)]
    async fn retried_payment(
        &self,
        session_id: &str,
    ) -> Result<serde_json::Value, fintecture_oauth::Error>;
}

/// Collects everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// Current-thread runtime: the thread-local subscriber sees the spawned token fetches too.
#[tokio::test]
async fn spans_describe_requests_and_never_hold_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app_secret = "s3cret+/=:%&é-app";
    let config = EmulatorConfig {
        credentials: Credentials::new("app-id", app_secret),
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::start_with(config).await.unwrap();
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("app-id:{app_secret}"));
    let mut secrets = vec![app_secret.to_string(), basic];
    for method in [ClientAuthMethod::Basic, ClientAuthMethod::RequestBody] {
        let client = Client::builder(emulator.environment())
            .credentials(emulator.credentials())
            .client_auth_method(method)
            .build()
            .unwrap();
        let pis = client.access_token(&Scope::Pis).await.unwrap();
        secrets.push(pis.expose_secret().to_owned());
        client
            .protected_pis_payment("unknown-session")
            .await
            .unwrap_err();
        emulator.inject(
            "/pis/v2/payments/",
            Fault::Status {
                status: 503,
                retry_after: Some(0),
            },
        );
        let error = client.retried_payment("retried").await.unwrap_err();
        assert_eq!(
            error.status().map(|s| s.as_u16()),
            Some(404),
            "retried after the 503"
        );

        let code = emulator.issue_code("customer");
        secrets.push(code.expose_secret().to_owned());
        let ais = client
            .customer("customer")
            .authorize(code.clone(), None)
            .await
            .unwrap();
        secrets.push(ais.access_token.expose_secret().to_owned());
        let refresh = ais.refresh_token.unwrap();
        secrets.push(refresh.expose_secret().to_owned());
        let renewed = client.refresh(refresh.clone()).await.unwrap();
        secrets.push(renewed.access_token.expose_secret().to_owned());
        secrets.push(renewed.refresh_token.unwrap().expose_secret().to_owned());
        // Errors too: a used code, a dead refresh token.
        client.exchange_code(code, None).await.unwrap_err();
        client.refresh(refresh).await.unwrap_err();
    }

    let output = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        output.contains("fintecture_request"),
        "no request span:\n{output}"
    );
    assert!(
        output.contains("endpoint=\"OAuth::create_access_token\""),
        "{output}"
    );
    assert!(
        output.contains("path=\"/pis/v2/payments/{session_id}\""),
        "{output}"
    );
    assert!(output.contains("status=404"), "{output}");
    assert!(
        output.contains("retrying"),
        "the retry is logged:\n{output}"
    );
    assert!(output.contains("duration_ms="), "{output}");
    assert!(
        !output.contains("unknown-session"),
        "path parameters are not logged:\n{output}"
    );
    for secret in &secrets {
        assert!(
            !output.contains(secret.as_str()),
            "`{secret}` leaked into tracing:\n{output}"
        );
    }
}
