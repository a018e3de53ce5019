//! A Redis Cluster of a test's own: primaries with a replica each, on free 127.0.0.1 ports,
//! joined by `redis-cli --cluster create`; stopped when dropped.

use crate::{RedisServer, redis_command, until_answers};

/// The cluster's nodes: the primaries first, then their replicas, as `redis-cli` paired
/// them (see [`primary_of`](Self::primary_of) and [`replica_of`](Self::replica_of)).
pub struct ClusterServers {
    /// Every node, by index.
    pub nodes: Vec<RedisServer>,
}

impl ClusterServers {
    /// Starts `primaries` primaries and as many replicas, and waits until every node says
    /// the cluster is up. With `tls`, the nodes serve TLS too (see
    /// [`RedisServer::start_cluster_node`]) and meet over it; the plain ports stay for the
    /// tests' own commands (a node shows a plain connection the plain ports of the others,
    /// and a TLS connection their TLS ports).
    /// Panics when it cannot.
    pub async fn start(primaries: usize, tls: bool) -> ClusterServers {
        let nodes: Vec<RedisServer> = (0..primaries * 2)
            .map(|_| RedisServer::start_cluster_node(tls))
            .collect();
        let mut create = std::process::Command::new("redis-cli");
        if tls {
            let ca = crate::keys_dir().join("redis-ca-test-only.crt");
            create.arg("--tls").arg("--cacert").arg(ca);
        }
        let met_on = |node: &RedisServer| if tls { node.tls_port() } else { node.port() };
        let created = create
            .args(["--cluster", "create"])
            .args(nodes.iter().map(|n| format!("127.0.0.1:{}", met_on(n))))
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("redis-cli could not run: {e}"));
        assert!(created.success(), "redis-cli --cluster create failed");
        let cluster = ClusterServers { nodes };
        for node in 0..cluster.nodes.len() {
            cluster.until_up(node).await;
        }
        cluster
    }

    /// The node URLs.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// The node URLs over TLS (`rediss://`), of a cluster started with `tls`.
    pub fn tls_urls(&self) -> Vec<String> {
        let url = |node: &RedisServer| format!("rediss://127.0.0.1:{}/", node.tls_port());
        self.nodes.iter().map(url).collect()
    }

    /// Waits (at most 30 s each) until node `node` says the cluster is up and knows every
    /// node, and, if it is a replica, that it is in sync with its primary.
    pub async fn until_up(&self, node: usize) {
        let url = self.nodes[node].url();
        let known = format!("cluster_known_nodes:{}", self.nodes.len());
        until_answers(&url, &["CLUSTER", "INFO"], |info| {
            info.contains("cluster_state:ok") && info.contains(&known)
        })
        .await;
        until_answers(&url, &["INFO", "replication"], |replication| {
            replication.contains("role:master") || replication.contains("master_link_status:up")
        })
        .await;
    }

    /// The index of the node that serves `key`'s slot as primary now, as node `asked` sees
    /// it.
    pub async fn primary_of(&self, key: &str, asked: usize) -> usize {
        let slot = match redis_command(&self.nodes[asked].url(), &["CLUSTER", "KEYSLOT", key]).await
        {
            redis::Value::Int(slot) => slot,
            other => panic!("CLUSTER KEYSLOT: {other:?}"),
        };
        let address = self.owner(asked, slot).await;
        self.index_of(&address)
    }

    /// The index of the replica of the primary at index `primary`.
    pub async fn replica_of(&self, primary: usize) -> usize {
        let nodes = self.nodes_table(primary).await;
        let id = nodes
            .lines()
            .find(|line| line.contains("myself"))
            .and_then(|line| line.split(' ').next())
            .expect("CLUSTER NODES names the node itself")
            .to_owned();
        let replica = nodes
            .lines()
            .find(|line| line.split(' ').nth(3) == Some(id.as_str()))
            .unwrap_or_else(|| panic!("node {primary} has no replica: {nodes}"));
        self.index_of(replica.split(' ').nth(1).expect("an address"))
    }

    /// The `host:port` of the primary that owns `slot`, as node `asked` sees it.
    async fn owner(&self, asked: usize, slot: i64) -> String {
        let nodes = self.nodes_table(asked).await;
        nodes
            .lines()
            .filter(|line| line.contains("master") && !line.contains("fail"))
            .find(|line| {
                line.split(' ').skip(8).any(|range| {
                    let (start, end) = range.split_once('-').unwrap_or((range, range));
                    let within = |s: &str| s.parse::<i64>().ok();
                    matches!((within(start), within(end)), (Some(a), Some(b)) if a <= slot && slot <= b)
                })
            })
            .and_then(|line| line.split(' ').nth(1))
            .unwrap_or_else(|| panic!("no primary owns slot {slot}: {nodes}"))
            .to_owned()
    }

    async fn nodes_table(&self, asked: usize) -> String {
        match redis_command(&self.nodes[asked].url(), &["CLUSTER", "NODES"]).await {
            redis::Value::BulkString(text) => String::from_utf8_lossy(&text).into_owned(),
            redis::Value::VerbatimString { text, .. } => text,
            other => panic!("CLUSTER NODES: {other:?}"),
        }
    }

    /// The index of the node at `address` (`127.0.0.1:PORT@BUS`).
    fn index_of(&self, address: &str) -> usize {
        let port: u16 = address
            .split(['@', ','])
            .next()
            .and_then(|host_port| host_port.rsplit(':').next()?.parse().ok())
            .unwrap_or_else(|| panic!("an address: {address}"));
        self.nodes
            .iter()
            .position(|node| node.port() == port)
            .unwrap_or_else(|| panic!("no node on port {port}"))
    }
}
