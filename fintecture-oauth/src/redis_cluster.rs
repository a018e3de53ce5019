//! Redis Cluster (feature `redis-cluster`): a grant's keys share one hash tag, so each of the
//! store's scripts runs on the primary that owns the grant's slot, and the `WAIT` that
//! follows it goes to that same primary, in the same pipeline. The cluster client follows
//! `MOVED` answers and failovers by itself.

use crate::redis_tls::{RedisTls, is_tls};
use crate::token_store::StoreError;
use redis::cluster::ClusterClient;
use std::fmt;
use std::time::Duration;

/// How many times the cluster client tries a command again after a `MOVED`, `TRYAGAIN` or a
/// lost node, and how long it waits in between at most: bounded, so a failover makes calls
/// fail within seconds (the token manager goes on with the tokens it has) instead of
/// waiting redis-rs' default of minutes.
const RETRIES: u32 = 3;
const MAX_RETRY_WAIT_MILLIS: u64 = 500;

/// Where the store finds a Redis Cluster: see
/// [`RedisTokenStore::with_cluster`](crate::RedisTokenStore::with_cluster).
#[derive(Clone)]
pub struct RedisCluster {
    nodes: Vec<String>,
    tls: Option<RedisTls>,
}

impl RedisCluster {
    /// A cluster reached first through `nodes` (`redis://host:port/` each, or
    /// `rediss://` for TLS; with credentials when the cluster asks for them: the same for
    /// every node). One node is enough; the rest are learnt from it.
    pub fn new(nodes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        RedisCluster {
            nodes: nodes.into_iter().map(Into::into).collect(),
            tls: None,
        }
    }

    /// Trusts `tls`'s CA and presents its client certificate, as
    /// [`RedisTokenStore::with_tls`](crate::RedisTokenStore::with_tls) does for one node.
    /// The node URLs must then be `rediss://`.
    #[must_use]
    pub fn tls(mut self, tls: RedisTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Whether the nodes are reached over TLS.
    pub(crate) fn is_tls(&self) -> bool {
        self.nodes.first().is_some_and(|node| is_tls(node))
    }

    /// The cluster client, each command waiting at most `timeout`.
    ///
    /// # Errors
    /// When there is no node, a node URL does not parse, the nodes' URLs mix TLS and plain
    /// or carry different credentials, or TLS settings come with plain URLs.
    pub(crate) fn client(&self, timeout: Duration) -> Result<ClusterClient, StoreError> {
        let tls = self.is_tls();
        if self.nodes.iter().any(|node| is_tls(node) != tls) {
            return Err(StoreError::new(
                "the cluster's node URLs are all rediss:// or all redis://",
            ));
        }
        let mut builder = ClusterClient::builder(self.nodes.iter().map(String::as_str))
            .connection_timeout(timeout)
            .response_timeout(timeout)
            .retries(RETRIES)
            .max_retry_wait(MAX_RETRY_WAIT_MILLIS);
        if let Some(settings) = &self.tls {
            if !tls {
                return Err(StoreError::new("TLS settings need rediss:// URLs"));
            }
            builder = builder.certs(settings.certificates());
        }
        builder.build().map_err(StoreError::new)
    }
}

impl fmt::Debug for RedisCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URLs may carry passwords: only what is no secret.
        f.debug_struct("RedisCluster")
            .field("nodes", &self.nodes.len())
            .field("tls", &self.is_tls())
            .finish()
    }
}
