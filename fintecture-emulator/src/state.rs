//! The emulator's memory: issued tokens, codes, refresh tokens, payment sessions, queued
//! faults and recorded requests.

use super::consents::Consents;
use super::faults::Fault;
use super::ids::Ids;
use super::journal::Journal;
use super::signature::SignatureVerifier;
use crate::EmulatorConfig;
use http::{HeaderMap, StatusCode};
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use tokio::time::Instant;

/// Which access tokens the emulator expires or revokes when told to.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TokenSelector {
    /// This one access token.
    AccessToken(String),
    /// Every token of this customer's grant.
    CustomerId(String),
    /// Every token of this scope (`"PIS"`, `"AIS"`, ...).
    Scope(String),
}

impl TokenSelector {
    fn matches(&self, token: &str, grant: &Grant) -> bool {
        match self {
            TokenSelector::AccessToken(wanted) => wanted == token,
            TokenSelector::CustomerId(wanted) => grant.customer_id.as_ref() == Some(wanted),
            TokenSelector::Scope(wanted) => &grant.scope == wanted,
        }
    }
}

/// Why a bearer call is refused.
#[derive(Debug)]
pub(super) enum Denied {
    /// No `Authorization: Bearer …` header.
    NoToken,
    /// A token the emulator never issued, or revoked.
    UnknownToken,
    /// A token past its lifetime.
    Expired,
    /// A token of another scope than this one.
    Scope(String),
}

impl Denied {
    /// The status, error code and message of the refusal.
    pub(super) fn answer(&self) -> (StatusCode, &'static str, String) {
        match self {
            Denied::NoToken => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "A bearer token is required".into(),
            ),
            Denied::UnknownToken => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "Unknown access token".into(),
            ),
            Denied::Expired => (
                StatusCode::UNAUTHORIZED,
                "token_expired",
                "The access token has expired".into(),
            ),
            Denied::Scope(scope) => (
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("This endpoint needs a {scope} token"),
            ),
        }
    }
}

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
    /// Payment sessions in creation order, for the list endpoints.
    sessions: Vec<(String, serde_json::Value)>,
    faults: VecDeque<(String, Fault)>,
}

pub(super) struct State {
    pub(super) config: EmulatorConfig,
    pub(super) signatures: Option<SignatureVerifier>,
    pub(super) ids: Ids,
    pub(super) journal: Journal,
    pub(super) consents: Consents,
    memory: Mutex<Memory>,
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
            ids: Ids::new(),
            journal: Journal::default(),
            consents: Consents::default(),
            memory: Mutex::new(Memory::default()),
        })
    }

    fn memory(&self) -> MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn issue_code(&self, customer_id: &str) -> String {
        let code = self.ids.new_id("code");
        self.memory()
            .codes
            .insert(code.clone(), customer_id.to_owned());
        code
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
        let access_token = self.ids.new_id("at");
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
            let refresh_token = self.ids.new_id("rt");
            body.insert("refresh_token".into(), refresh_token.clone().into());
            memory.refresh_tokens.insert(refresh_token, grant.clone());
        }
        let expires_at = Instant::now() + lifetime;
        memory
            .access_tokens
            .insert(access_token, AccessGrant { grant, expires_at });
        serde_json::Value::Object(body)
    }

    /// Makes the matching access tokens expire now.
    pub(super) fn expire(&self, selector: &TokenSelector) -> usize {
        let now = Instant::now();
        let mut memory = self.memory();
        let mut matched = 0;
        for (token, issued) in &mut memory.access_tokens {
            if selector.matches(token, &issued.grant) {
                issued.expires_at = issued.expires_at.min(now);
                matched += 1;
            }
        }
        matched
    }

    /// Forgets the matching access tokens, and the refresh tokens of the same grants.
    pub(super) fn revoke(&self, selector: &TokenSelector) -> usize {
        let mut memory = self.memory();
        let mut revoked: Vec<Grant> = Vec::new();
        memory.access_tokens.retain(|token, issued| {
            let matched = selector.matches(token, &issued.grant);
            if matched {
                revoked.push(issued.grant.clone());
            }
            !matched
        });
        let same_grant = |grant: &Grant| {
            revoked
                .iter()
                .any(|r| r.scope == grant.scope && r.customer_id == grant.customer_id)
        };
        memory
            .refresh_tokens
            .retain(|token, grant| !(same_grant(grant) || selector.matches(token, grant)));
        revoked.len()
    }

    /// Checks `Authorization: Bearer …` for a live token of `scope`: the token's grant, or
    /// why the call is refused.
    pub(super) fn check_bearer(&self, headers: &HeaderMap, scope: &str) -> Result<Grant, Denied> {
        let token = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| credentials_of(v, "Bearer"))
            .ok_or(Denied::NoToken)?;
        let memory = self.memory();
        let issued = memory
            .access_tokens
            .get(token)
            .ok_or(Denied::UnknownToken)?;
        if Instant::now() >= issued.expires_at {
            return Err(Denied::Expired);
        }
        if issued.grant.scope != scope {
            return Err(Denied::Scope(scope.to_owned()));
        }
        Ok(issued.grant.clone())
    }

    pub(super) fn save_session(&self, session_id: &str, session: serde_json::Value) {
        self.memory()
            .sessions
            .push((session_id.to_owned(), session));
    }

    pub(super) fn session(&self, session_id: &str) -> Option<serde_json::Value> {
        let memory = self.memory();
        let found = memory.sessions.iter().find(|(id, _)| id == session_id);
        found.map(|(_, session)| session.clone())
    }

    /// The payment resources (`data` of each session), oldest first.
    pub(super) fn payments(&self) -> Vec<serde_json::Value> {
        let memory = self.memory();
        let resources = memory.sessions.iter().filter_map(|(_, s)| s.get("data"));
        resources.cloned().collect()
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
}

/// The credentials of an `Authorization` header with this scheme, which is matched without
/// regard to case (RFC 7235: `bearer` and `BASIC` are as good as `Bearer` and `Basic`).
pub(super) fn credentials_of<'a>(header: &'a str, scheme: &str) -> Option<&'a str> {
    let (sent, credentials) = header.split_once(' ')?;
    sent.eq_ignore_ascii_case(scheme)
        .then(|| credentials.trim_start_matches(' '))
}
