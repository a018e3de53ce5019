//! The HTTP TLS that fintecture-oauth's features chose (this package's features pass theirs
//! on: `.ci/run` runs it once with each alone) makes a verified HTTPS call to a local server
//! presenting the test certificate (`tests/keys/tls-test-only.crt`, for `localhost`): it
//! succeeds when `SSL_CERT_FILE` names that certificate, and fails when nothing trusts it.

use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn keys() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../keys")
}

/// An https server on 127.0.0.1 answering every request with a token.
async fn server() -> u16 {
    let certificates = CertificateDer::pem_file_iter(keys().join("tls-test-only.crt"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(keys().join("tls-test-only.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut request = vec![0u8; 8192];
                let _ = tls.read(&mut request).await;
                let body = r#"{"access_token":"over-tls","expires_in":60}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

async fn call(port: u16, trusted: bool) -> std::process::Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tls-backends"));
    command.arg(format!("https://localhost:{port}/"));
    if trusted {
        command.env("SSL_CERT_FILE", keys().join("tls-test-only.crt"));
    } else {
        // An empty set of roots: nothing is trusted.
        command.env("SSL_CERT_FILE", keys().join("README.md"));
    }
    command.output().await.unwrap()
}

#[tokio::test]
async fn a_trusted_certificate_is_verified_and_the_call_made() {
    let port = server().await;
    let output = call(port, true).await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{stdout}{stderr}");
    assert_eq!(stdout.trim(), "token over-tls");
}

#[tokio::test]
async fn an_untrusted_certificate_fails_the_call() {
    let port = server().await;
    let output = call(port, false).await;
    assert!(
        !output.status.success(),
        "the call succeeded without trusting the server"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("connect"), "{stderr}");
}
