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

use crate::at_rest::{AtRest, epoch_millis};
use crate::redis_scripts::{EXTEND, LOCK_AND_LOAD, REMOVE, SWAP, SWAP_AND_UNLOCK, UNLOCK};
use crate::redis_tls::{RedisTls, TlsFailure, install_crypto_provider, is_tls};
use crate::token_store::{
    Grant, GrantKey, Lease, Locked, StoreError, StoreFuture, Swap, TokenRecord, TokenStore,
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// The token store on Redis. Cheap to clone; clones share one reconnecting connection.
#[derive(Clone)]
pub struct RedisTokenStore {
    client: redis::Client,
    /// Made on first use, on the runtime that uses it: building the store needs none.
    /// Made on first use and again after a `READONLY` answer: a node behind the URL was
    /// demoted, and a new connection reaches the new primary (a DNS name that follows it).
    connection: Arc<Mutex<Option<ConnectionManager>>>,
    /// Whether it connects over TLS: its connection failures then say so.
    tls: bool,
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
        let client = redis::Client::open(url).map_err(StoreError::new)?;
        Ok(RedisTokenStore::with_client(client, at_rest))
    }

    /// The shared connection, made on first use (it connects lazily).
    fn connection(&self) -> Result<ConnectionManager, StoreError> {
        let mut connection = self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(connection) = &*connection {
            return Ok(connection.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(REDIS_TIMEOUT);
        let made = ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            .map_err(StoreError::new)?;
        Ok(connection.insert(made).clone())
    }

    /// Runs a script. A node that answers `READONLY` was demoted: the connection is dropped
    /// and the script runs once more on a new one, which reaches the new primary when the
    /// URL's name follows it (the primary endpoint of a managed service).
    async fn run<T: redis::FromRedisValue>(
        &self,
        script: &redis::ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        let mut connection = self.connection()?;
        match script.invoke_async(&mut connection).await {
            Err(error) if is_read_only(&error) => {
                self.connection
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                let mut connection = self.connection()?;
                script
                    .invoke_async(&mut connection)
                    .await
                    .map_err(|error| self.failure(error))
            }
            other => other.map_err(|error| self.failure(error)),
        }
    }

    /// A Redis error as the store's: a TLS store's failure to connect (a certificate not
    /// trusted, a handshake refused) says it was TLS.
    fn failure(&self, error: redis::RedisError) -> StoreError {
        if self.tls && error.is_io_error() && !error.is_connection_refusal() {
            return StoreError::new(TlsFailure(error));
        }
        StoreError::new(error)
    }

    /// Runs a prepared swap script and reads its outcome.
    async fn swapped(&self, script: redis::ScriptInvocation<'_>) -> Result<Swap, StoreError> {
        let outcome: u8 = self.run(&script).await?;
        Ok(match outcome {
            0 => Swap::Written,
            1 => Swap::StaleVersion,
            _ => Swap::StaleFence,
        })
    }

    /// A store on the Redis at `url`, which must be `rediss://` (TLS), trusting `tls`'s CA
    /// instead of the platform's roots when it names one, and presenting its client
    /// certificate when it has one. Certificates are always verified: there is no way to
    /// turn that off.
    ///
    /// # Errors
    /// When the URL is not a `rediss://` URL, or a certificate or key does not parse.
    pub fn with_tls(
        url: &str,
        at_rest: AtRest,
        tls: RedisTls,
    ) -> Result<RedisTokenStore, StoreError> {
        if !is_tls(url) {
            return Err(StoreError::new("TLS settings need a rediss:// URL"));
        }
        let client =
            redis::Client::build_with_tls(url, tls.certificates()).map_err(StoreError::new)?;
        Ok(RedisTokenStore::with_client(client, at_rest))
    }

    fn with_client(client: redis::Client, at_rest: AtRest) -> RedisTokenStore {
        let tls = matches!(
            client.get_connection_info().addr(),
            redis::ConnectionAddr::TcpTls { .. }
        );
        if tls {
            install_crypto_provider();
        }
        RedisTokenStore {
            client,
            tls,
            connection: Arc::new(Mutex::new(None)),
            prefix: "fintecture".into(),
            at_rest,
        }
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

impl TokenStore for RedisTokenStore {
    fn load<'a>(&'a self, key: &'a GrantKey) -> StoreFuture<'a, Option<TokenRecord>> {
        Box::pin(async move {
            let name = self.key_name(key);
            // A read: a demoted node answers it too (with what it replicates).
            let mut connection = self.connection()?;
            let (version, data): (Option<u64>, Option<String>) = redis::cmd("HMGET")
                .arg(&name)
                .arg("version")
                .arg("data")
                .query_async(&mut connection)
                .await
                .map_err(|error| self.failure(error))?;
            match (version, data) {
                (Some(version), Some(data)) => self.at_rest.open(&name, version, &data).map(Some),
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
            let data = self.at_rest.seal(&name, record)?;
            let mut script = SWAP.prepare_invoke();
            script
                .key(&name)
                .arg(expected)
                .arg(record.version)
                .arg(fence)
                .arg(data)
                .arg(epoch_millis(record.expires_at));
            self.swapped(script).await
        })
    }

    fn swap_and_unlock<'a>(
        &'a self,
        key: &'a GrantKey,
        expected: u64,
        record: &'a TokenRecord,
        lease: &'a Lease,
    ) -> StoreFuture<'a, Swap> {
        Box::pin(async move {
            let name = self.key_name(key);
            let data = self.at_rest.seal(&name, record)?;
            let mut script = SWAP_AND_UNLOCK.prepare_invoke();
            script
                .key(&name)
                .key(format!("{name}:lock"))
                .arg(expected)
                .arg(record.version)
                .arg(lease.fence)
                .arg(data)
                .arg(epoch_millis(record.expires_at))
                .arg(&lease.owner);
            self.swapped(script).await
        })
    }

    fn remove<'a>(&'a self, key: &'a GrantKey, version: Option<u64>) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let removed: u8 = self
                .run(
                    REMOVE
                        .key(self.key_name(key))
                        .arg(version.map(|v| v.to_string()).unwrap_or_default()),
                )
                .await?;
            Ok(removed == 1)
        })
    }

    fn lock<'a>(&'a self, key: &'a GrantKey, duration: Duration) -> StoreFuture<'a, Option<Lease>> {
        Box::pin(async move {
            let taken = self.lock_and_load(key, duration, u64::MAX, SystemTime::UNIX_EPOCH);
            Ok(taken.await?.lease)
        })
    }

    fn lock_and_load<'a>(
        &'a self,
        key: &'a GrantKey,
        duration: Duration,
        newer_than: u64,
        fresh_until: SystemTime,
    ) -> StoreFuture<'a, Locked> {
        Box::pin(async move {
            let name = self.key_name(key);
            let owner = uuid::Uuid::new_v4().to_string();
            let (fence, version, data): (u64, Option<u64>, Option<String>) = self
                .run(
                    LOCK_AND_LOAD
                        .key(&name)
                        .key(format!("{name}:lock"))
                        .key(format!("{name}:fence"))
                        .arg(&owner)
                        .arg(millis(duration))
                        .arg(newer_than)
                        .arg(epoch_millis(fresh_until)),
                )
                .await?;
            let record = match (version, data) {
                (Some(version), Some(data)) => Some(self.at_rest.open(&name, version, &data)?),
                _ => None,
            };
            let lease = (fence > 0).then_some(Lease { owner, fence });
            Ok(Locked::new(lease, record))
        })
    }

    fn extend<'a>(
        &'a self,
        key: &'a GrantKey,
        lease: &'a Lease,
        duration: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let held: u8 = self
                .run(
                    EXTEND
                        .key(format!("{}:lock", self.key_name(key)))
                        .arg(&lease.owner)
                        .arg(millis(duration)),
                )
                .await?;
            Ok(held == 1)
        })
    }

    fn unlock<'a>(&'a self, key: &'a GrantKey, lease: &'a Lease) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let _released: u8 = self
                .run(
                    UNLOCK
                        .key(format!("{}:lock", self.key_name(key)))
                        .arg(&lease.owner),
                )
                .await?;
            Ok(())
        })
    }
}

/// A lease's duration in whole milliseconds, at least one (`PX 0` is an error).
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Whether Redis refused a write because the node is a replica now.
fn is_read_only(error: &redis::RedisError) -> bool {
    error.code() == Some("READONLY")
}
