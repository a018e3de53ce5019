//! Verifying Fintecture HTTP signatures, when the emulator is given the app's public key.

use base64::Engine as _;
use fintecture_oauth::signature::digest;
use http::{HeaderMap, Method, Uri};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::sha2::Sha256;
use rsa::signature::Verifier;
use std::time::{Duration, SystemTime};

/// How far a signed `Date` may be from the emulator's clock, either way.
const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// The app's public key, ready to verify.
pub(super) struct SignatureVerifier {
    key_id: String,
    key: VerifyingKey<Sha256>,
}

impl SignatureVerifier {
    /// Reads an SPKI PEM public key (`-----BEGIN PUBLIC KEY-----`).
    pub(super) fn from_pem(key_id: &str, pem: &str) -> std::io::Result<Self> {
        let key = rsa::PublicKey::from_public_key_pem(pem.trim()).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("public key: {e}"))
        })?;
        Ok(SignatureVerifier {
            key_id: key_id.to_owned(),
            key: VerifyingKey::new(key),
        })
    }

    /// Checks the `Signature` header against the request as received; the error says why.
    pub(super) fn verify(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), String> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let fields = parse_signature(header("signature").ok_or("missing Signature header")?);
        let field = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .ok_or(format!("Signature has no {name}"))
        };
        if field("keyId")? != self.key_id {
            return Err("unknown keyId".into());
        }
        if field("algorithm")? != "rsa-sha256" {
            return Err("algorithm must be rsa-sha256".into());
        }
        let with_body = matches!(*method, Method::POST | Method::PUT | Method::PATCH);
        let signed: Vec<String> = field("headers")?
            .split_ascii_whitespace()
            .map(str::to_ascii_lowercase)
            .collect();
        let required: &[&str] = if with_body {
            &["(request-target)", "date", "digest", "x-request-id"]
        } else {
            &["(request-target)", "date", "x-request-id"]
        };
        if let Some(missing) = required.iter().find(|r| !signed.iter().any(|s| s == *r)) {
            return Err(format!("the signed headers must include {missing}"));
        }
        if with_body && header("digest") != Some(digest(body).as_str()) {
            return Err("Digest does not match the body".into());
        }
        let date = header("date").ok_or("missing Date header")?;
        let date = httpdate::parse_http_date(date).map_err(|_| "Date is not an HTTP date")?;
        let now = SystemTime::now();
        let skew = now
            .duration_since(date)
            .or_else(|_| date.duration_since(now))
            .unwrap_or(Duration::MAX);
        if skew > MAX_CLOCK_SKEW {
            return Err("the signed Date is more than 5 minutes off".into());
        }
        // The signing string lists the signed headers in the order the client gave.
        let mut lines = Vec::with_capacity(signed.len());
        for name in &signed {
            if name == "(request-target)" {
                let target = uri.path_and_query().map_or("/", |p| p.as_str());
                let method = method.as_str().to_ascii_lowercase();
                lines.push(format!("(request-target): {method} {target}"));
            } else {
                let value = header(name).ok_or(format!("signed header {name} is missing"))?;
                lines.push(format!("{name}: {value}"));
            }
        }
        let string = lines.join("\n");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(field("signature")?)
            .map_err(|_| "the signature is not base64")?;
        let signature = Signature::try_from(bytes.as_slice()).map_err(|_| "malformed signature")?;
        self.key
            .verify(string.as_bytes(), &signature)
            .map_err(|_| "the signature does not verify".into())
    }
}

/// `k1="v1",k2="v2"` into pairs.
fn parse_signature(header: &str) -> Vec<(String, String)> {
    header
        .split(',')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            Some((
                key.trim().to_owned(),
                value.trim().trim_matches('"').to_owned(),
            ))
        })
        .collect()
}
