//! The Redis store's connection: made on first use, left for a new one when the node behind
//! the URL was demoted (`READONLY`), its TLS failures named as such, and each write waited
//! for by the replicas the store was told to count on (`WAIT`, in the same round trip, on
//! the same node: in a cluster, the one that owns the grant's slot).

#[cfg(feature = "redis-sentinel")]
use crate::redis_sentinel::RedisSentinel;
use crate::redis_tls::{TlsFailure, install_crypto_provider};
use crate::token_store::StoreError;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{
    Cmd, FromRedisValue, Pipeline, RedisError, RedisFuture, RedisResult, Script, ServerErrorKind,
    Value,
};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How long a Redis command may take before the store reports Redis unavailable (the
/// token manager then goes on with the tokens it has).
pub(crate) const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// How many replicas must acknowledge a write, and how long to wait for them.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Acks {
    pub(crate) replicas: u32,
    pub(crate) timeout: Duration,
}

/// Where the store connects.
#[derive(Clone)]
pub(crate) enum Target {
    /// One URL (a node, or a managed service's primary endpoint).
    Node(Box<redis::Client>),
    /// The primary the sentinels name.
    #[cfg(feature = "redis-sentinel")]
    Sentinel(Arc<RedisSentinel>),
    /// A Redis Cluster: each command goes to the node that owns its keys' slot.
    #[cfg(feature = "redis-cluster")]
    Cluster(Box<redis::cluster::ClusterClient>),
}

/// A connection made: to one node (reconnecting by itself), or to a cluster.
#[derive(Clone)]
enum Connected {
    Node(ConnectionManager),
    #[cfg(feature = "redis-cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

impl ConnectionLike for Connected {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connected::Node(connection) => connection.req_packed_command(cmd),
            #[cfg(feature = "redis-cluster")]
            Connected::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connected::Node(connection) => connection.req_packed_commands(pipeline, offset, count),
            #[cfg(feature = "redis-cluster")]
            Connected::Cluster(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connected::Node(connection) => connection.get_db(),
            #[cfg(feature = "redis-cluster")]
            Connected::Cluster(connection) => connection.get_db(),
        }
    }
}

/// One connection to Redis, shared by every clone of the store.
#[derive(Clone)]
pub(crate) struct RedisConnection {
    target: Target,
    /// Made on first use and again after a `READONLY` answer: a node behind the URL was
    /// demoted, and a new connection reaches the new primary (a DNS name that follows it).
    connection: Arc<Mutex<Option<Connected>>>,
    /// Whether it connects over TLS: its connection failures then say so.
    tls: bool,
    pub(crate) acks: Acks,
}

impl RedisConnection {
    /// A connection to `target`, made on first use.
    ///
    /// # Errors
    /// Over TLS, when no rustls crypto provider can be had: the crate was built without
    /// `rustls` or `rustls-ring`, and the program installed none.
    pub(crate) fn new(target: Target, tls: bool) -> Result<Self, StoreError> {
        if tls && !install_crypto_provider() {
            return Err(StoreError::new(
                "TLS to Redis needs the `rustls` or `rustls-ring` feature, or a rustls crypto \
                 provider installed by the program",
            ));
        }
        Ok(RedisConnection {
            target,
            connection: Arc::new(Mutex::new(None)),
            tls,
            acks: Acks::default(),
        })
    }

    /// The shared connection, made on first use (to a node, it connects lazily; through
    /// Sentinel, once the sentinels named the primary; to a cluster, once a node told
    /// which node owns which slots).
    async fn connection(&self) -> RedisResult<Connected> {
        if let Some(connection) = &*self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
        {
            return Ok(connection.clone());
        }
        let client = match &self.target {
            Target::Node(client) => (**client).clone(),
            #[cfg(feature = "redis-sentinel")]
            Target::Sentinel(sentinel) => sentinel.primary().await?,
            #[cfg(feature = "redis-cluster")]
            Target::Cluster(cluster) => {
                let made = Connected::Cluster(cluster.get_async_connection().await?);
                return Ok(self.keep(made));
            }
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(REDIS_TIMEOUT);
        let made = Connected::Node(ConnectionManager::new_lazy_with_config(client, config)?);
        Ok(self.keep(made))
    }

    /// Keeps `made` as the shared connection, unless another call made one first.
    fn keep(&self, made: Connected) -> Connected {
        let mut connection = self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        connection.get_or_insert(made).clone()
    }

    /// Forgets the connection: the next call makes a new one (asking the sentinels again).
    fn forget(&self) {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// Whether a failure means the connection leads to the wrong place now: a demoted
    /// node (`READONLY`); through Sentinel, also a node that cannot be reached (a failover
    /// may have moved the primary). A cluster connection finds the new primaries itself.
    fn misdirected(&self, error: &RedisError) -> bool {
        match &self.target {
            #[cfg(feature = "redis-cluster")]
            Target::Cluster(_) => false,
            Target::Node(_) => error.code() == Some("READONLY"),
            #[cfg(feature = "redis-sentinel")]
            Target::Sentinel(_) => {
                error.code() == Some("READONLY")
                    || error.is_io_error()
                    || error.is_connection_refusal()
                    || error.is_timeout()
                    || error.is_connection_dropped()
            }
        }
    }

    /// Runs a read-only command.
    pub(crate) async fn read<T: FromRedisValue>(&self, command: &Cmd) -> Result<T, StoreError> {
        let mut connection = self
            .connection()
            .await
            .map_err(|error| self.failure(error))?;
        command.query_async(&mut connection).await.map_err(|error| {
            if self.misdirected(&error) {
                self.forget();
            }
            self.failure(error)
        })
    }

    /// Runs a script's `call` (see [`evalsha`]); when replicas must acknowledge writes,
    /// with `WAIT` in the same round trip. The script's answer, and whether the replicas
    /// acknowledged everything this connection wrote so far (always, when none are counted
    /// on).
    ///
    /// A node that answers `READONLY` was demoted: the connection is dropped and the call
    /// made once more on a new one, which reaches the new primary when the URL's name
    /// follows it (the primary endpoint of a managed service), or, through Sentinel, where
    /// the sentinels say it is now.
    pub(crate) async fn run<T: FromRedisValue>(
        &self,
        script: &Script,
        call: &Cmd,
    ) -> Result<(T, bool), StoreError> {
        match self.attempt(script, call).await {
            Err(error) if self.misdirected(&error) => {
                self.forget();
                self.attempt(script, call).await.map_err(|error| {
                    if self.misdirected(&error) {
                        self.forget();
                    }
                    self.failure(error)
                })
            }
            other => other.map_err(|error| self.failure(error)),
        }
    }

    async fn attempt<T: FromRedisValue>(
        &self,
        script: &Script,
        call: &Cmd,
    ) -> RedisResult<(T, bool)> {
        let mut connection = self.connection().await?;
        let mut pipeline = redis::pipe();
        pipeline.add_command(call.clone());
        let Acks { replicas, timeout } = self.acks;
        if replicas > 0 {
            let millis = u64::try_from(timeout.as_millis())
                .unwrap_or(u64::MAX)
                .max(1);
            // A cluster sends a pipeline where its first keyed command goes: this `WAIT`
            // reaches the grant's own primary (alone, redis-rs would send it to them all).
            pipeline.cmd("WAIT").arg(replicas).arg(millis);
        }
        let values: Vec<Value> = match pipeline.query_async(&mut connection).await {
            Err(error) if error.kind() == redis::ErrorKind::Server(ServerErrorKind::NoScript) => {
                script.prepare_invoke().load_async(&mut connection).await?;
                pipeline.query_async(&mut connection).await?
            }
            other => other?,
        };
        let mut values = values.into_iter();
        let answer = T::from_redis_value(values.next().unwrap_or(Value::Nil))?;
        let acknowledged = match values.next() {
            Some(count) => i64::from_redis_value(count)? >= i64::from(replicas),
            None => true,
        };
        Ok((answer, acknowledged))
    }

    /// A Redis error as the store's: a TLS store's failure to connect (a certificate not
    /// trusted, a handshake refused) says it was TLS.
    fn failure(&self, error: RedisError) -> StoreError {
        if self.tls && error.is_io_error() && !error.is_connection_refusal() {
            return StoreError::new(TlsFailure(error));
        }
        StoreError::new(error)
    }
}

/// A script's call: `EVALSHA` with its keys; the caller adds the arguments.
pub(crate) fn evalsha(script: &Script, keys: &[&str]) -> Cmd {
    let mut call = redis::cmd("EVALSHA");
    call.arg(script.get_hash()).arg(keys.len()).arg(keys);
    call
}

/// A write the replicas did not acknowledge in time: as unsafe as none, since a failover
/// could lose it.
#[derive(Debug)]
pub(crate) struct NotAcknowledged(pub(crate) Acks);

impl fmt::Display for NotAcknowledged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fewer than {} replica(s) acknowledged the write within {:?}",
            self.0.replicas, self.0.timeout
        )
    }
}

impl std::error::Error for NotAcknowledged {}
