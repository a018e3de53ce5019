//! Redis watched by Sentinel (feature `redis-sentinel`): the store asks the sentinels where
//! the primary is, checks with the node itself that it is one, and asks again when the
//! connection fails or the node answers `READONLY` (a failover moved the primary).

use crate::token_store::StoreError;
use redis::RedisResult;
use std::fmt;
use std::time::Duration;
use url::Url;

/// How long one sentinel or node may take to answer while the primary is looked for.
const ASK_TIMEOUT: Duration = Duration::from_secs(1);

/// Where the store finds its primary through Sentinel: see
/// [`RedisTokenStore::with_sentinel`](crate::RedisTokenStore::with_sentinel).
#[derive(Clone)]
pub struct RedisSentinel {
    master: String,
    sentinels: Vec<String>,
    /// The nodes' URL, whose host and port are replaced; `redis://HOST:PORT/` without one.
    node: Option<Url>,
}

impl RedisSentinel {
    /// The primary the sentinels at `sentinels` (`redis://host:26379/`, each) monitor as
    /// `master`, reached as `redis://HOST:PORT/` (see [`node_url`](Self::node_url) for
    /// credentials, a database or TLS).
    pub fn new(
        master: impl Into<String>,
        sentinels: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        RedisSentinel {
            master: master.into(),
            sentinels: sentinels.into_iter().map(Into::into).collect(),
            node: None,
        }
    }

    /// How the data nodes are reached: `url` with its host and port replaced by the
    /// primary's, so it carries the credentials, the database and the scheme
    /// (`rediss://` for TLS), e.g. `redis://fintecture:PASSWORD@primary/0`.
    ///
    /// # Errors
    /// When `url` is not a `redis://` or `rediss://` URL.
    pub fn node_url(mut self, url: &str) -> Result<Self, StoreError> {
        let node = Url::parse(url).map_err(StoreError::new)?;
        if !matches!(node.scheme(), "redis" | "rediss") {
            return Err(StoreError::new("a node URL is redis:// or rediss://"));
        }
        self.node = Some(node);
        Ok(self)
    }

    /// Whether the nodes are reached over TLS.
    pub(crate) fn is_tls(&self) -> bool {
        self.node
            .as_ref()
            .is_some_and(|node| node.scheme() == "rediss")
    }

    /// The primary now: the first sentinel that names one that says it is one. Sentinels
    /// that do not answer, or name a node that is not a primary (yet), are passed over.
    pub(crate) async fn primary(&self) -> RedisResult<redis::Client> {
        for sentinel in &self.sentinels {
            if let Some(primary) = self.ask(sentinel).await {
                return Ok(primary);
            }
        }
        Err(redis::RedisError::from((
            redis::ErrorKind::Io,
            "no sentinel named a primary that says it is one",
        )))
    }

    async fn ask(&self, sentinel: &str) -> Option<redis::Client> {
        let mut connection = connect(redis::Client::open(sentinel).ok()?).await?;
        let mut question = redis::cmd("SENTINEL");
        question.arg("get-master-addr-by-name").arg(&self.master);
        let (host, port): (String, u16) =
            tokio::time::timeout(ASK_TIMEOUT, question.query_async(&mut connection))
                .await
                .ok()?
                .ok()?;
        let client = match &self.node {
            Some(template) => {
                let mut node = template.clone();
                node.set_host(Some(&host)).ok()?;
                node.set_port(Some(port)).ok()?;
                redis::Client::open(node).ok()?
            }
            None => redis::Client::open(format!("redis://{host}:{port}/")).ok()?,
        };
        let mut connection = connect(client.clone()).await?;
        let role: Vec<redis::Value> =
            tokio::time::timeout(ASK_TIMEOUT, redis::cmd("ROLE").query_async(&mut connection))
                .await
                .ok()?
                .ok()?;
        let is_primary =
            matches!(role.first(), Some(redis::Value::BulkString(role)) if role == b"master");
        is_primary.then_some(client)
    }
}

async fn connect(client: redis::Client) -> Option<redis::aio::MultiplexedConnection> {
    tokio::time::timeout(ASK_TIMEOUT, client.get_multiplexed_async_connection())
        .await
        .ok()?
        .ok()
}

impl fmt::Debug for RedisSentinel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URLs may carry passwords: only what is no secret.
        f.debug_struct("RedisSentinel")
            .field("master", &self.master)
            .field("sentinels", &self.sentinels.len())
            .field("node_scheme", &self.node.as_ref().map(Url::scheme))
            .finish()
    }
}
