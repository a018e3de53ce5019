//! Over https, against a local TLS server with a test certificate: production calls are
//! signed by default and sandbox calls are not. The client's own reqwest client is used
//! only to reach the local server under Fintecture's host names.

use fintecture_oauth::{Client, Credentials, Environment, SignRequests};
use tests::{Sample, TlsServer};

const PRIVATE: &str = include_str!("../keys/app-test-only.pem");

/// A client for `environment` whose connections go to the local TLS server.
fn client(server: &TlsServer, environment: Environment, sign: Option<SignRequests>) -> Client {
    let certificate = reqwest::Certificate::from_pem(TlsServer::CERTIFICATE_PEM).unwrap();
    let http = reqwest::Client::builder()
        .resolve("api.fintecture.com", server.address)
        .resolve("api-sandbox.fintecture.com", server.address)
        .tls_certs_only([certificate])
        .build()
        .unwrap();
    let mut builder = Client::builder(environment)
        .credentials(Credentials::new("app-id-1", "secret"))
        .bearer_token("fixed-token".to_string().into())
        .signing_key_pem(PRIVATE)
        .http_client(http);
    if let Some(sign) = sign {
        builder = builder.sign_requests(sign);
    }
    builder.build().unwrap()
}

fn signed(head: &str) -> bool {
    head.lines()
        .any(|line| line.to_ascii_lowercase().starts_with("signature:"))
}

#[tokio::test]
async fn by_default_production_calls_are_signed_and_sandbox_calls_are_not() {
    let server = TlsServer::start("{}").await;
    client(&server, Environment::Production, None)
        .maybe(None)
        .await
        .unwrap();
    client(&server, Environment::Sandbox, None)
        .maybe(None)
        .await
        .unwrap();
    // `Never` wins over production.
    client(&server, Environment::Production, Some(SignRequests::Never))
        .maybe(None)
        .await
        .unwrap();
    let heads = server.heads();
    let signed: Vec<bool> = heads.iter().map(|head| signed(head)).collect();
    assert_eq!(signed, [true, false, false], "{heads:#?}");
    assert!(
        heads[0].contains("host: api.fintecture.com")
            || heads[0].contains("Host: api.fintecture.com"),
        "{heads:#?}"
    );
}

#[tokio::test]
async fn the_reqwest_client_given_is_the_one_exposed_for_requests_of_ones_own() {
    let server = TlsServer::start("{}").await;
    let client = client(&server, Environment::Sandbox, None);
    // Only the client given trusts the test certificate.
    let url = format!("https://127.0.0.1:{}/own", server.address.port());
    let response = client.http_client().get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(reqwest::Client::new().get(&url).send().await.is_err());
}
