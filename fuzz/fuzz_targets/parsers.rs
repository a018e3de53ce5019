//! Feeds arbitrary bytes to the parsers that read what servers send: the token body and the
//! error body. Neither may panic, and their Display and Debug may not either.
#![no_main]

use fintecture_oauth::http::{HeaderMap, StatusCode};
use fintecture_oauth::{AccessToken, ApiError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = AccessToken::from_json(data) {
        let _ = (token.to_string(), format!("{token:?}"), token.expose_json());
    } else if let Err(error) = AccessToken::from_json(data) {
        let _ = (error.to_string(), format!("{error:?}"));
    }
    let status = data.first().map_or(400, |b| 400 + u16::from(*b) % 200);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let error = ApiError::from_response("fuzz", status, HeaderMap::new(), bytes::Bytes::copy_from_slice(data));
    let _ = (error.to_string(), format!("{error:?}"), error.code(), error.message());
});
