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
#[cfg(feature = "redis-cluster")]
use crate::redis_cluster::RedisCluster;
use crate::redis_connection::{Acks, NotAcknowledged, RedisConnection, Target, evalsha};
use crate::redis_scripts::{
    EXTEND, KEEP_STATE, LOCK_AND_LOAD, REMOVE, SWAP, SWAP_AND_UNLOCK, TAKE_STATE, UNLOCK,
};
#[cfg(feature = "redis-sentinel")]
use crate::redis_sentinel::RedisSentinel;
use crate::redis_tls::{RedisTls, is_tls};
use crate::token_store::{
    Grant, GrantKey, Lease, Locked, StoreError, StoreFuture, Swap, TokenRecord, TokenStore,
};
use std::fmt;
use std::time::{Duration, SystemTime};

/// The token store on Redis. Cheap to clone; clones share one reconnecting connection.
#[derive(Clone)]
pub struct RedisTokenStore {
    connection: RedisConnection,
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
        RedisTokenStore::with_client(client, at_rest)
    }

    /// Runs a write script: its answer, or an error when the replicas the store counts on
    /// did not acknowledge it.
    async fn write<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        call: &redis::Cmd,
    ) -> Result<T, StoreError> {
        let (answer, acknowledged) = self.connection.run(script, call).await?;
        if !acknowledged {
            return Err(StoreError::new(NotAcknowledged(self.connection.acks)));
        }
        Ok(answer)
    }

    /// Requires `replicas` replicas to acknowledge each lease taken and each write within
    /// `timeout` (Redis `WAIT`, in the same round trip as the script): a lease they do not
    /// acknowledge is released and the renewal refused, as with Redis down; a write they do
    /// not acknowledge is an error, and the renewed token is written again in the
    /// background until they do. 0, the default, for a single node: a failover to a
    /// replica can then lose the last writes (asynchronous replication).
    #[must_use]
    pub fn with_replica_acks(mut self, replicas: u32, timeout: Duration) -> Self {
        self.connection.acks = Acks { replicas, timeout };
        self
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
        RedisTokenStore::with_client(client, at_rest)
    }

    fn with_client(client: redis::Client, at_rest: AtRest) -> Result<RedisTokenStore, StoreError> {
        let tls = matches!(
            client.get_connection_info().addr(),
            redis::ConnectionAddr::TcpTls { .. }
        );
        RedisTokenStore::with_target(Target::Node(Box::new(client)), tls, at_rest)
    }

    /// A store on the primary the sentinels of `sentinel` name, asking them again after a
    /// failover (feature `redis-sentinel`). It connects on first use, as
    /// [`new`](Self::new) does.
    ///
    /// # Errors
    /// When the nodes are reached over TLS and no rustls crypto provider can be had.
    #[cfg(feature = "redis-sentinel")]
    pub fn with_sentinel(
        sentinel: RedisSentinel,
        at_rest: AtRest,
    ) -> Result<RedisTokenStore, StoreError> {
        let tls = sentinel.is_tls();
        RedisTokenStore::with_target(
            Target::Sentinel(std::sync::Arc::new(sentinel)),
            tls,
            at_rest,
        )
    }

    /// A store on the Redis Cluster `cluster` (feature `redis-cluster`): each grant's keys
    /// on one slot, each script and its `WAIT` on that slot's primary. It connects on first
    /// use. With [`with_replica_acks`](Self::with_replica_acks), a write counts on the
    /// replicas of the grant's own primary.
    ///
    /// # Errors
    /// When a node URL does not parse, the node URLs mix `redis://` and `rediss://` or
    /// carry different credentials, TLS settings come with `redis://` URLs, or TLS has no
    /// rustls crypto provider.
    #[cfg(feature = "redis-cluster")]
    pub fn with_cluster(
        cluster: RedisCluster,
        at_rest: AtRest,
    ) -> Result<RedisTokenStore, StoreError> {
        let client = cluster.client(crate::redis_connection::REDIS_TIMEOUT)?;
        RedisTokenStore::with_target(Target::Cluster(Box::new(client)), cluster.is_tls(), at_rest)
    }

    fn with_target(
        target: Target,
        tls: bool,
        at_rest: AtRest,
    ) -> Result<RedisTokenStore, StoreError> {
        Ok(RedisTokenStore {
            connection: RedisConnection::new(target, tls)?,
            prefix: "fintecture".into(),
            at_rest,
        })
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

impl RedisTokenStore {
    /// The key of a started consent's state: its digest, under the prefix.
    fn state_key(&self, name: &str) -> String {
        format!("{}:consent:{}", self.prefix, escape(name))
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
            let mut read = redis::cmd("HMGET");
            read.arg(&name).arg("version").arg("data");
            let (version, data): (Option<u64>, Option<String>) =
                self.connection.read(&read).await?;
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
            let mut call = evalsha(&SWAP, &[&name]);
            call.arg(expected)
                .arg(record.version)
                .arg(fence)
                .arg(data)
                .arg(epoch_millis(record.expires_at));
            Ok(swapped(self.write(&SWAP, &call).await?))
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
            let lock = format!("{name}:lock");
            let mut call = evalsha(&SWAP_AND_UNLOCK, &[&name, &lock]);
            call.arg(expected)
                .arg(record.version)
                .arg(lease.fence)
                .arg(data)
                .arg(epoch_millis(record.expires_at))
                .arg(&lease.owner);
            Ok(swapped(self.write(&SWAP_AND_UNLOCK, &call).await?))
        })
    }

    fn remove<'a>(&'a self, key: &'a GrantKey, version: Option<u64>) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut call = evalsha(&REMOVE, &[&self.key_name(key)]);
            call.arg(version.map(|v| v.to_string()).unwrap_or_default());
            let removed: u8 = self.write(&REMOVE, &call).await?;
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
            let (lock, counter) = (format!("{name}:lock"), format!("{name}:fence"));
            let mut call = evalsha(&LOCK_AND_LOAD, &[&name, &lock, &counter]);
            call.arg(&owner)
                .arg(millis(duration))
                .arg(newer_than)
                .arg(epoch_millis(fresh_until));
            let ((fence, version, data), acknowledged): ((u64, Option<u64>, Option<String>), bool) =
                self.connection.run(&LOCK_AND_LOAD, &call).await?;
            let record = match (version, data) {
                (Some(version), Some(data)) => Some(self.at_rest.open(&name, version, &data)?),
                _ => None,
            };
            let lease = (fence > 0).then_some(Lease { owner, fence });
            if let Some(lease) = &lease
                && !acknowledged
            {
                // A lease a failover could lose is no lease: given back at once.
                let _ = self.unlock(key, lease).await;
                return Err(StoreError::new(NotAcknowledged(self.connection.acks)));
            }
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
            let mut call = evalsha(&EXTEND, &[&format!("{}:lock", self.key_name(key))]);
            call.arg(&lease.owner).arg(millis(duration));
            let held: u8 = self.write(&EXTEND, &call).await?;
            Ok(held == 1)
        })
    }

    fn unlock<'a>(&'a self, key: &'a GrantKey, lease: &'a Lease) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut call = evalsha(&UNLOCK, &[&format!("{}:lock", self.key_name(key))]);
            call.arg(&lease.owner);
            let _released: u8 = self.write(&UNLOCK, &call).await?;
            Ok(())
        })
    }

    fn keep_state<'a>(&'a self, name: &'a str, lifetime: Duration) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut call = evalsha(&KEEP_STATE, &[&self.state_key(name)]);
            call.arg(millis(lifetime));
            let _kept: redis::Value = self.write(&KEEP_STATE, &call).await?;
            Ok(())
        })
    }

    fn take_state<'a>(&'a self, name: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let call = evalsha(&TAKE_STATE, &[&self.state_key(name)]);
            let taken: u8 = self.write(&TAKE_STATE, &call).await?;
            Ok(taken == 1)
        })
    }
}

/// A swap script's answer.
fn swapped(outcome: u8) -> Swap {
    match outcome {
        0 => Swap::Written,
        1 => Swap::StaleVersion,
        _ => Swap::StaleFence,
    }
}

/// A lease's duration in whole milliseconds, at least one (`PX 0` is an error).
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}
