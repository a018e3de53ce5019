//! The TLS of the HTTP client, as the crate's features choose it: reqwest's own rustls on
//! aws-lc-rs (`rustls`, the default), rustls on ring (`rustls-ring`), or the platform's TLS
//! (`native-tls`). With several, the first of these wins; with none, only plain `http://`
//! (the emulator, a local proxy) can be reached.

use crate::error::Error;

/// `builder` with the TLS backend the features choose.
///
/// # Errors
/// [`Error::Config`] when the rustls-on-ring configuration cannot be built (the platform's
/// verifier is unavailable).
pub(crate) fn with_tls(builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder, Error> {
    #[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
    let builder = builder.tls_backend_preconfigured(ring_config()?);
    #[cfg(all(
        feature = "native-tls",
        not(any(feature = "rustls", feature = "rustls-ring"))
    ))]
    let builder = builder.tls_backend_native();
    Ok(builder)
}

/// rustls on ring, with the platform's verifier. ring is also made the process's rustls
/// provider unless the program chose one: another reqwest client in the program, built with
/// rustls and no provider of its own, then finds it instead of panicking.
#[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
fn ring_config() -> Result<rustls::ClientConfig, Error> {
    use rustls_platform_verifier::BuilderVerifierExt as _;
    let provider = rustls::crypto::ring::default_provider();
    let _ = provider.clone().install_default();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(provider))
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_platform_verifier())
        .map_err(|e| Error::Config(format!("TLS: {e}")))?
        .with_no_client_auth();
    Ok(config)
}
