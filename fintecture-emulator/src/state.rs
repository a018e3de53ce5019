//! The emulator's memory: issued tokens, codes, refresh tokens, payment sessions, queued
//! faults and recorded requests.

use super::EmulatorConfig;
use super::faults::Fault;
use super::record::RecordedRequest;
use super::reply;
use super::signature::SignatureVerifier;
use crate::AuthorizationCode;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use tokio::time::Instant;

/// What a token or a refresh token was issued for.
#[derive(Clone, Debug)]
pub(super) struct Grant {
    pub(super) scope: String,
    pub(super) customer_id: Option<String>,
}

struct AccessGrant {
    grant: Grant,
    expires_at: Instant,
}

#[derive(Default)]
struct Memory {
    access_tokens: HashMap<String, AccessGrant>,
    refresh_tokens: HashMap<String, Grant>,
    codes: HashMap<String, String>,
    sessions: HashMap<String, serde_json::Value>,
    faults: VecDeque<(String, Fault)>,
    requests: Vec<RecordedRequest>,
}

pub(super) struct State {
    pub(super) config: EmulatorConfig,
    pub(super) signatures: Option<SignatureVerifier>,
    memory: Mutex<Memory>,
    counter: AtomicU64,
    random: std::collections::hash_map::RandomState,
}

impl State {
    pub(super) fn new(config: EmulatorConfig) -> std::io::Result<Self> {
        let signatures = match &config.signature_public_key_pem {
            Some(pem) => Some(SignatureVerifier::from_pem(
                config.credentials.app_id(),
                pem,
            )?),
            None => None,
        };
        Ok(State {
            config,
            signatures,
            memory: Mutex::new(Memory::default()),
            counter: AtomicU64::new(0),
            random: std::collections::hash_map::RandomState::new(),
        })
    }

    fn memory(&self) -> MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A fresh, unguessable-enough identifier (tokens, codes, log ids).
    pub(super) fn new_id(&self, prefix: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}-{n}-{:016x}", self.random.hash_one(n))
    }

    pub(super) fn issue_code(&self, customer_id: &str) -> AuthorizationCode {
        let code = self.new_id("code");
        self.memory()
            .codes
            .insert(code.clone(), customer_id.to_owned());
        AuthorizationCode::new(code)
    }

    /// Uses up a code: it works once.
    pub(super) fn redeem_code(&self, code: &str) -> Option<String> {
        self.memory().codes.remove(code)
    }

    /// Uses up a refresh token: the service invalidates the previous one.
    pub(super) fn redeem_refresh_token(&self, refresh_token: &str) -> Option<Grant> {
        self.memory().refresh_tokens.remove(refresh_token)
    }

    /// Issues an access token (and a refresh token when asked) and returns the token body.
    pub(super) fn issue_token(&self, grant: Grant, with_refresh: bool) -> serde_json::Value {
        let lifetime = self.config.token_lifetime;
        let access_token = self.new_id("at");
        let mut body = serde_json::Map::new();
        body.insert("access_token".into(), access_token.clone().into());
        body.insert("token_type".into(), "Bearer".into());
        body.insert("expires_in".into(), lifetime.as_secs().into());
        body.insert("scope".into(), grant.scope.clone().into());
        if grant.scope.contains(':') {
            body.insert("type".into(), "oac_token".into());
        }
        let mut memory = self.memory();
        if with_refresh {
            let refresh_token = self.new_id("rt");
            body.insert("refresh_token".into(), refresh_token.clone().into());
            memory.refresh_tokens.insert(refresh_token, grant.clone());
        }
        let expires_at = Instant::now() + lifetime;
        memory
            .access_tokens
            .insert(access_token, AccessGrant { grant, expires_at });
        serde_json::Value::Object(body)
    }

    /// Checks `Authorization: Bearer …` for a live token of `scope`.
    pub(super) fn check_bearer(&self, headers: &HeaderMap, scope: &str) -> Result<Grant, Response> {
        let token = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                reply::error(
                    self,
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "A bearer token is required",
                )
            })?;
        let memory = self.memory();
        let Some(issued) = memory.access_tokens.get(token) else {
            return Err(reply::error(
                self,
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "Unknown access token",
            ));
        };
        if Instant::now() >= issued.expires_at {
            return Err(reply::error(
                self,
                StatusCode::UNAUTHORIZED,
                "token_expired",
                "The access token has expired",
            ));
        }
        if issued.grant.scope != scope {
            return Err(reply::error(
                self,
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                &format!("This endpoint needs a {scope} token"),
            ));
        }
        Ok(issued.grant.clone())
    }

    pub(super) fn save_session(&self, session_id: &str, session: serde_json::Value) {
        self.memory()
            .sessions
            .insert(session_id.to_owned(), session);
    }

    pub(super) fn session(&self, session_id: &str) -> Option<serde_json::Value> {
        self.memory().sessions.get(session_id).cloned()
    }

    pub(super) fn inject(&self, path_prefix: &str, fault: Fault) {
        self.memory()
            .faults
            .push_back((path_prefix.to_owned(), fault));
    }

    pub(super) fn take_fault(&self, path: &str) -> Option<Fault> {
        let mut memory = self.memory();
        let index = memory
            .faults
            .iter()
            .position(|(prefix, _)| path.starts_with(prefix.as_str()))?;
        memory.faults.remove(index).map(|(_, fault)| fault)
    }

    pub(super) fn record(&self, request: RecordedRequest) {
        self.memory().requests.push(request);
    }

    pub(super) fn requests(&self) -> Vec<RecordedRequest> {
        self.memory().requests.clone()
    }
}
