//! A [`TokenStore`] on Redis (feature `redis`), shared by every replica of a service: one
//! renewal per grant across the fleet, tokens that survive restarts, and token values
//! encrypted at rest.
//!
//! Each grant has three keys, hash-tagged so that they live on one Redis Cluster slot:
//! `{prefix}:{<environment>|<app>|<grant>}` (a hash: `version`, `fence`, `data`), the same
//! with `:lock` (the lease: `SET NX PX`, holding a random owner id) and with `:fence` (the
//! fence counter, `INCR`ed by every lease). Writes are Lua scripts that refuse a stale
//! version or an older fence; releases check the owner. Key names hold no secret: the
//! environment's base URL, the app id, and the scope or customer id.

use crate::token_store::{
    Grant, GrantKey, Lease, StoreError, StoreFuture, Swap, TokenRecord, TokenStore,
};
use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::OnceCell;

/// How token values are kept in Redis.
#[derive(Clone)]
#[non_exhaustive]
pub enum AtRest {
    /// Encrypted with AES-256-GCM under this key (32 bytes), bound to the grant's key name.
    Encrypted(Box<Aes256Gcm>),
    /// In plain text: anyone who can read Redis can use the tokens. An explicit choice.
    Plaintext,
}

impl AtRest {
    /// AES-256-GCM with a 32-byte key (from your secret manager; keep it out of the
    /// code and of Redis).
    ///
    /// # Errors
    /// When the key is not 32 bytes long.
    pub fn aes_256_gcm(key: &[u8]) -> Result<AtRest, StoreError> {
        Aes256Gcm::new_from_slice(key)
            .map(|cipher| AtRest::Encrypted(Box::new(cipher)))
            .map_err(|_| StoreError::new("an AES-256-GCM key is 32 bytes"))
    }
}

impl fmt::Debug for AtRest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AtRest::Encrypted(_) => f.write_str("Encrypted([REDACTED])"),
            AtRest::Plaintext => f.write_str("Plaintext"),
        }
    }
}

/// The token store on Redis. Cheap to clone; clones share one reconnecting connection.
#[derive(Clone)]
pub struct RedisTokenStore {
    client: redis::Client,
    /// Made on first use, on the runtime that uses it: building the store needs none.
    connection: Arc<OnceCell<ConnectionManager>>,
    prefix: String,
    at_rest: AtRest,
}

impl fmt::Debug for RedisTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTokenStore")
            .field("prefix", &self.prefix)
            .field("at_rest", &self.at_rest)
            .finish_non_exhaustive()
    }
}

/// How long a Redis command may take before the store reports Redis unavailable (the
/// token manager then goes on with the tokens it has).
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

impl RedisTokenStore {
    /// A store on the Redis at `url` (`redis://host:port/db`), with keys under
    /// `fintecture` (see [`with_prefix`](Self::with_prefix)). It connects on first use
    /// and reconnects by itself: a Redis that is down now fails the calls that need it,
    /// not this one, and no runtime is needed here.
    ///
    /// # Errors
    /// When the URL is not a Redis URL.
    pub fn new(url: &str, at_rest: AtRest) -> Result<RedisTokenStore, StoreError> {
        Ok(RedisTokenStore {
            client: redis::Client::open(url).map_err(StoreError::new)?,
            connection: Arc::new(OnceCell::new()),
            prefix: "fintecture".into(),
            at_rest,
        })
    }

    /// The shared connection, made on first use.
    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        let connection = self
            .connection
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(REDIS_TIMEOUT))
                    .set_response_timeout(Some(REDIS_TIMEOUT))
                    .set_number_of_retries(1)
                    .set_max_delay(REDIS_TIMEOUT);
                ConnectionManager::new_lazy_with_config(self.client.clone(), config)
                    .map_err(StoreError::new)
            })
            .await?;
        Ok(connection.clone())
    }

    /// Puts the keys under another prefix (one per service or test, say).
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The name of the grant's record key; `:lock` and `:fence` follow it for the others.
    pub fn key_name(&self, key: &GrantKey) -> String {
        let grant = match &key.grant {
            Grant::App { scope } => format!("app:{}", escape(scope)),
            Grant::Customer { customer_id } => format!("customer:{}", escape(customer_id)),
        };
        format!(
            "{}:{{{}|{}|{}}}",
            self.prefix,
            escape(&key.environment),
            escape(&key.app_id),
            grant
        )
    }

    fn seal(&self, name: &str, record: &TokenRecord) -> Result<String, StoreError> {
        let data = Sealed {
            access_token: record.access_token.expose_secret().to_owned(),
            refresh_token: record
                .refresh_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned()),
            issued_at_ms: millis(record.issued_at),
            expires_at_ms: millis(record.expires_at),
        };
        let json = serde_json::to_vec(&data).map_err(StoreError::new)?;
        let engine = base64::engine::general_purpose::STANDARD;
        Ok(match &self.at_rest {
            AtRest::Plaintext => String::from_utf8(json).map_err(StoreError::new)?,
            AtRest::Encrypted(cipher) => {
                let nonce = Nonce::generate();
                let payload = Payload {
                    msg: &json,
                    aad: name.as_bytes(),
                };
                let sealed = cipher
                    .encrypt(&nonce, payload)
                    .map_err(|_| StoreError::new("could not encrypt a token record"))?;
                let mut bytes = nonce.to_vec();
                bytes.extend_from_slice(&sealed);
                format!("v1:{}", engine.encode(bytes))
            }
        })
    }

    fn open(&self, name: &str, version: u64, data: &str) -> Result<TokenRecord, StoreError> {
        let json = match (&self.at_rest, data.strip_prefix("v1:")) {
            (AtRest::Encrypted(cipher), Some(encoded)) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .map_err(|_| StoreError::new("a token record is not valid base64"))?;
                let (nonce, sealed) = bytes
                    .split_at_checked(12)
                    .ok_or_else(|| StoreError::new("a token record is too short"))?;
                let nonce = Nonce::try_from(nonce)
                    .map_err(|_| StoreError::new("a token record's nonce is malformed"))?;
                let payload = Payload {
                    msg: sealed,
                    aad: name.as_bytes(),
                };
                cipher.decrypt(&nonce, payload).map_err(|_| {
                    StoreError::new(
                        "a token record does not decrypt with this key (wrong key, or moved)",
                    )
                })?
            }
            (AtRest::Encrypted(_), None) => {
                return Err(StoreError::new(
                    "a token record is in plain text but the store expects encryption",
                ));
            }
            (AtRest::Plaintext, Some(_)) => {
                return Err(StoreError::new(
                    "a token record is encrypted but the store has no key",
                ));
            }
            (AtRest::Plaintext, None) => data.as_bytes().to_vec(),
        };
        let sealed: Sealed = serde_json::from_slice(&json)
            .map_err(|_| StoreError::new("a token record is malformed"))?;
        Ok(TokenRecord {
            access_token: SecretString::from(sealed.access_token),
            refresh_token: sealed.refresh_token.map(crate::secret::RefreshToken::new),
            issued_at: from_millis(sealed.issued_at_ms),
            expires_at: from_millis(sealed.expires_at_ms),
            version,
        })
    }
}

/// What the `data` field holds, before encryption.
#[derive(Serialize, Deserialize)]
struct Sealed {
    access_token: String,
    refresh_token: Option<String>,
    issued_at_ms: u64,
    expires_at_ms: u64,
}

fn millis(time: SystemTime) -> u64 {
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// A time from the store, bounded: a record that says "the end of time" is read as the
/// latest time this platform can hold, which the manager bounds again.
fn from_millis(millis: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_millis(millis))
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Keeps the parts of a key name apart: `|`, the braces of the hash tag, `%` and spaces are
/// percent-encoded.
fn escape(part: &str) -> String {
    percent_encoding::utf8_percent_encode(part, KEY_PART).to_string()
}

const KEY_PART: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'%')
    .add(b'|')
    .add(b'{')
    .add(b'}')
    .add(b':');

/// `KEYS[1]` record. `ARGV`: expected version, new version, fence, data.
/// 0 written, 1 stale version, 2 stale fence.
const SWAP: &str = r"
local stored = redis.call('HMGET', KEYS[1], 'version', 'fence')
if stored[2] and tonumber(ARGV[3]) < tonumber(stored[2]) then return 2 end
if (stored[1] or '0') ~= ARGV[1] then return 1 end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'fence', ARGV[3], 'data', ARGV[4])
return 0
";

/// `KEYS[1]` lock, `KEYS[2]` fence counter. `ARGV`: owner, lease in ms. The new fence, or
/// 0 when the lease is taken.
const LOCK: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0
";

/// `KEYS[1]` lock. `ARGV`: owner. Deletes the lock only if this owner still holds it.
const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// `KEYS[1]` record. `ARGV`: version, or '' for any. 1 removed, 0 not.
const REMOVE: &str = r"
if ARGV[1] == '' or redis.call('HGET', KEYS[1], 'version') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

impl TokenStore for RedisTokenStore {
    fn load<'a>(&'a self, key: &'a GrantKey) -> StoreFuture<'a, Option<TokenRecord>> {
        Box::pin(async move {
            let name = self.key_name(key);
            let mut connection = self.connection().await?;
            let (version, data): (Option<u64>, Option<String>) = redis::cmd("HMGET")
                .arg(&name)
                .arg("version")
                .arg("data")
                .query_async(&mut connection)
                .await
                .map_err(StoreError::new)?;
            match (version, data) {
                (Some(version), Some(data)) => self.open(&name, version, &data).map(Some),
                _ => Ok(None),
            }
        })
    }

    fn swap<'a>(
        &'a self,
        key: &'a GrantKey,
        expected: u64,
        record: &'a TokenRecord,
        fence: u64,
    ) -> StoreFuture<'a, Swap> {
        Box::pin(async move {
            let name = self.key_name(key);
            let data = self.seal(&name, record)?;
            let mut connection = self.connection().await?;
            let outcome: u8 = redis::Script::new(SWAP)
                .key(&name)
                .arg(expected)
                .arg(record.version)
                .arg(fence)
                .arg(data)
                .invoke_async(&mut connection)
                .await
                .map_err(StoreError::new)?;
            Ok(match outcome {
                0 => Swap::Written,
                1 => Swap::StaleVersion,
                _ => Swap::StaleFence,
            })
        })
    }

    fn remove<'a>(&'a self, key: &'a GrantKey, version: Option<u64>) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut connection = self.connection().await?;
            let removed: u8 = redis::Script::new(REMOVE)
                .key(self.key_name(key))
                .arg(version.map(|v| v.to_string()).unwrap_or_default())
                .invoke_async(&mut connection)
                .await
                .map_err(StoreError::new)?;
            Ok(removed == 1)
        })
    }

    fn lock<'a>(&'a self, key: &'a GrantKey, duration: Duration) -> StoreFuture<'a, Option<Lease>> {
        Box::pin(async move {
            let name = self.key_name(key);
            let owner = uuid::Uuid::new_v4().to_string();
            let millis = u64::try_from(duration.as_millis())
                .unwrap_or(u64::MAX)
                .max(1);
            let mut connection = self.connection().await?;
            let fence: u64 = redis::Script::new(LOCK)
                .key(format!("{name}:lock"))
                .key(format!("{name}:fence"))
                .arg(&owner)
                .arg(millis)
                .invoke_async(&mut connection)
                .await
                .map_err(StoreError::new)?;
            Ok((fence > 0).then_some(Lease { owner, fence }))
        })
    }

    fn unlock<'a>(&'a self, key: &'a GrantKey, lease: &'a Lease) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.connection().await?;
            let _released: u8 = redis::Script::new(UNLOCK)
                .key(format!("{}:lock", self.key_name(key)))
                .arg(&lease.owner)
                .invoke_async(&mut connection)
                .await
                .map_err(StoreError::new)?;
            Ok(())
        })
    }
}
