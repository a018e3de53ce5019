//! Decoding JSON bodies: fast when they match, and naming the failing field when not.

use crate::error::{DecodeError, Error};
use bytes::Bytes;
use serde::de::DeserializeOwned;

/// Decodes JSON bytes received from `endpoint`.
pub(crate) fn decode_bytes<T: DeserializeOwned>(
    endpoint: &'static str,
    body: &Bytes,
) -> Result<T, Error> {
    let fail = |path: String, error: serde_json::Error| {
        Error::Decode(Box::new(DecodeError::new(
            endpoint,
            path,
            &error,
            body.clone(),
        )))
    };
    // Fast path untracked; on failure, decode again with the path tracked (it allocates
    // for every key it passes) to name the failing field.
    serde_json::from_slice(body).map_err(|error| {
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
            Err(tracked) => fail(tracked.path().to_string(), tracked.into_inner()),
            Ok(_) => fail(".".to_string(), error),
        }
    })
}
