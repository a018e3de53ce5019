//! Fintecture's HTTP Signature: `Date`, `Digest` (body requests), `X-Request-ID` and
//! `Signature` headers, signed with the app's RSA key (RSASSA-PKCS1-v1_5, SHA-256) over the
//! exact bytes sent.
//!
//! Configure it once per client with `ClientBuilder::signing_key_pem`; [`digest`] and
//! [`signing_string`] are public so that a verifier (the emulator, your tests) builds the
//! same string.

use crate::error::Error;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::sha2::{Digest as _, Sha256};
use rsa::signature::{SignatureEncoding, Signer};
use url::Url;

static DIGEST: HeaderName = HeaderName::from_static("digest");
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static SIGNATURE: HeaderName = HeaderName::from_static("signature");

/// Signs requests with the app's private key; `keyId` is the app id. No `Debug`: nothing
/// prints a signer, and one that did must not show the key.
#[derive(Clone)]
pub(crate) struct RequestSigner {
    key_id: String,
    key: SigningKey<Sha256>,
}

/// The headers that are signed, in order: `digest` only on requests with a body.
const WITH_DIGEST: &str = "(request-target) date digest x-request-id";
const WITHOUT_DIGEST: &str = "(request-target) date x-request-id";

impl RequestSigner {
    /// Reads a PKCS#8 PEM RSA private key. The error says what is wrong with the key, never
    /// what is in it.
    pub(crate) fn from_pem(key_id: &str, pem: &str) -> Result<Self, Error> {
        let key = rsa::PrivateKey::from_pkcs8_pem(pem.trim()).map_err(|e| {
            Error::Config(format!(
                "the HTTP-signature private key is not a PKCS#8 PEM RSA key \
                 (\"-----BEGIN PRIVATE KEY-----\"): {e}"
            ))
        })?;
        Ok(RequestSigner {
            key_id: key_id.to_owned(),
            key: SigningKey::new(key),
        })
    }

    /// Adds `Date`, `Digest` (POST, PUT, PATCH), `X-Request-ID` (kept if already set) and
    /// `Signature` to `headers`. The caller names the endpoint in the error.
    pub(crate) fn sign(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&[u8]>,
        headers: &mut HeaderMap,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let date = httpdate::fmt_http_date(std::time::SystemTime::now());
        let request_id = match headers.get(&X_REQUEST_ID).and_then(|v| v.to_str().ok()) {
            Some(id) => id.to_owned(),
            None => uuid::Uuid::new_v4().to_string(),
        };
        let digest = has_body(method).then(|| digest(body.unwrap_or_default()));
        let string = signing_string(method, url, &date, digest.as_deref(), &request_id);
        let signature = self.key.try_sign(string.as_bytes())?;
        let header = format!(
            "keyId=\"{}\",algorithm=\"rsa-sha256\",headers=\"{}\",signature=\"{}\"",
            self.key_id,
            if digest.is_some() {
                WITH_DIGEST
            } else {
                WITHOUT_DIGEST
            },
            BASE64.encode(signature.to_bytes())
        );
        let value = |text: String| {
            HeaderValue::try_from(text)
                .map_err(|_| "a signed header (the app id?) is not a valid header value")
        };
        headers.insert(http::header::DATE, value(date)?);
        if let Some(digest) = digest {
            headers.insert(DIGEST.clone(), value(digest)?);
        }
        headers.insert(X_REQUEST_ID.clone(), value(request_id)?);
        headers.insert(SIGNATURE.clone(), value(header)?);
        Ok(())
    }
}

/// Whether the method carries a body, and so a `Digest`.
fn has_body(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH)
}

/// `SHA-256=` + base64(sha256(body)).
pub fn digest(body: &[u8]) -> String {
    format!("SHA-256={}", BASE64.encode(Sha256::digest(body)))
}

/// The string to sign: `name: value` lines joined by `\n`, no trailing newline.
/// `(request-target)` is the lowercase method, a space, the path and the query (no `?` when
/// there is no query).
pub fn signing_string(
    method: &Method,
    url: &Url,
    date: &str,
    digest: Option<&str>,
    request_id: &str,
) -> String {
    let mut target = url.path().to_owned();
    if let Some(query) = url.query().filter(|q| !q.is_empty()) {
        target.push('?');
        target.push_str(query);
    }
    let method = method.as_str().to_ascii_lowercase();
    let mut lines = vec![
        format!("(request-target): {method} {target}"),
        format!("date: {date}"),
    ];
    if let Some(digest) = digest {
        lines.push(format!("digest: {digest}"));
    }
    lines.push(format!("x-request-id: {request_id}"));
    lines.join("\n")
}
