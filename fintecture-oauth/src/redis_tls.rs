//! TLS for the Redis store (`rediss://`): the platform's roots by default, a CA of your own,
//! a client certificate; and the crypto provider, chosen explicitly.

use redis::{ClientTlsConfig, TlsCertificates};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// What a `rediss://` connection trusts and presents beyond the platform's roots: see
/// [`RedisTokenStore::with_tls`](crate::RedisTokenStore::with_tls). A `rediss://` URL given
/// to [`RedisTokenStore::new`](crate::RedisTokenStore::new) trusts the platform's roots and
/// presents no certificate.
#[derive(Clone, Default)]
pub struct RedisTls {
    ca_pem: Option<Vec<u8>>,
    client: Option<(Vec<u8>, SecretString)>,
}

impl RedisTls {
    /// The platform's roots, no client certificate.
    pub fn new() -> Self {
        RedisTls::default()
    }

    /// Trusts the CA certificate(s) in `pem` instead of the platform's roots (a private CA,
    /// a test CA).
    #[must_use]
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// Presents this client certificate (PEM) with its private key (PEM), for servers that
    /// ask for one (`tls-auth-clients yes`).
    #[must_use]
    pub fn client_certificate_pem(
        mut self,
        certificate: impl Into<Vec<u8>>,
        key: SecretString,
    ) -> Self {
        self.client = Some((certificate.into(), key));
        self
    }

    pub(crate) fn certificates(&self) -> TlsCertificates {
        TlsCertificates {
            client_tls: self
                .client
                .as_ref()
                .map(|(certificate, key)| ClientTlsConfig {
                    client_cert: certificate.clone(),
                    client_key: key.expose_secret().as_bytes().to_vec(),
                }),
            root_cert: self.ca_pem.clone(),
        }
    }
}

impl fmt::Debug for RedisTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTls")
            .field("ca", &self.ca_pem.as_ref().map(|_| "PEM"))
            .field(
                "client_certificate",
                &self.client.as_ref().map(|_| "PEM, key [REDACTED]"),
            )
            .finish()
    }
}

/// Whether `url` asks for TLS.
pub(crate) fn is_tls(url: &str) -> bool {
    url.get(..9)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("rediss://"))
}

/// redis-rs builds its TLS configuration with rustls' process-wide crypto provider, and
/// rustls panics when it has to guess one (a program whose crates enable both `ring` and
/// `aws-lc-rs`): the provider of the crate's TLS feature (aws-lc-rs with `rustls`, which
/// reqwest's TLS already builds; ring with `rustls-ring`) is installed unless the program
/// installed one itself. Whether a provider is there for `rediss://`.
pub(crate) fn install_crypto_provider() -> bool {
    #[cfg(feature = "rustls")]
    let provider = Some(rustls::crypto::aws_lc_rs::default_provider());
    #[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
    let provider = Some(rustls::crypto::ring::default_provider());
    #[cfg(not(any(feature = "rustls", feature = "rustls-ring")))]
    let provider: Option<rustls::crypto::CryptoProvider> = None;
    match provider {
        // An error means a provider is installed already: the program's choice stands.
        Some(provider) => {
            let _ = provider.install_default();
            true
        }
        None => rustls::crypto::CryptoProvider::get_default().is_some(),
    }
}

/// A connection over TLS that failed: a certificate not trusted, a handshake refused.
#[derive(Debug)]
pub(crate) struct TlsFailure(pub(crate) redis::RedisError);

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the TLS connection to Redis failed")
    }
}

impl std::error::Error for TlsFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}
