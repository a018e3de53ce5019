//! TLS configuration. reqwest's `rustls-no-provider` panics when a client is built without a
//! process-wide crypto provider, so we build the rustls config ourselves on `ring`, with the
//! platform's certificate verifier, and hand it to reqwest: no global state, no panic.

use crate::Error;
use std::sync::Arc;

/// A rustls client config on `ring`, verifying certificates with the platform verifier.
pub(crate) fn rustls_config() -> Result<rustls::ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|e| Error::Config(format!("TLS certificate verifier: {e}")))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS protocol versions: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
