//! Shared fixtures of the integration tests: an API declared with the macro from a crate
//! that depends on nothing but `fintecture-oauth` (plus serde for its own types), and
//! helpers to build clients against local servers.
//!
//! The tests themselves live in `tests/`; run them with `cargo test`.

mod cluster;
mod fleet;
pub use cluster::ClusterServers;
pub use fleet::{
    everyone_is_served_again_and_no_refresh_token_twice, refresh_tokens, serve_round, until_answers,
};

use fintecture_oauth::{
    Client, Credentials, Environment, Error, GrantKey, Lease, Locked, RawResponse, StoreFuture,
    Swap, TokenRecord, TokenStore, api,
};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// A body sent as form or JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thing {
    /// A name, possibly with characters that need encoding.
    pub name: String,
    /// A count.
    pub count: u32,
    /// Optional, skipped when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A query struct.
#[derive(Debug, Serialize)]
pub struct Filter<'a> {
    /// A state filter.
    pub state: &'a str,
    /// Absent fields are left out of the query.
    pub since: Option<u32>,
}

/// An enum passed as a named query scalar.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

/// A token-like form body.
#[derive(Debug, Serialize)]
pub struct Grant<'a> {
    /// The grant type.
    pub grant_type: &'a str,
    /// The scope.
    pub scope: &'a str,
}

/// A sample API covering each argument role, body kind, auth kind and return kind.
#[api]
pub trait Sample {
    /// Creates a thing from a form body.
    #[endpoint(post = "/things/{id}", form, header("X-Static" = "yes"))]
    async fn create_form(&self, id: &str, #[body] thing: &Thing) -> Result<Thing, Error>;

    /// Replaces a thing with a JSON body.
    #[endpoint(put = "/things/{id}/v{version}", json)]
    async fn replace_json(
        &self,
        id: u64,
        version: u8,
        #[body] thing: &Thing,
    ) -> Result<Thing, Error>;

    /// Reads a thing, with query parameters of every kind and a header argument.
    #[endpoint(get = "/things/{id}", timeout = "2s")]
    async fn get_thing(
        &self,
        id: &str,
        #[query] filter: &Filter<'_>,
        #[query] page: u32,
        #[query("sort")] order: Sort,
        #[header("X-Request-ID")] request_id: &str,
    ) -> Result<Thing, Error>;

    /// Deletes a thing; the answer has no body.
    #[endpoint(delete = "/things/{id}")]
    async fn delete_thing(&self, id: &str) -> Result<(), Error>;

    /// Returns the response as received.
    #[endpoint(get = "/raw", max_body = "1KiB")]
    async fn raw(&self) -> Result<RawResponse, Error>;

    /// Authenticates with the client credentials.
    #[endpoint(post = "/token", form, auth = client)]
    async fn token(&self, #[body] grant: &Grant<'_>) -> Result<serde_json::Value, Error>;

    /// Needs a bearer token.
    #[endpoint(get = "/protected", scope = "PIS")]
    async fn protected(&self) -> Result<serde_json::Value, Error>;

    /// Times out quickly, whatever the client's timeout.
    #[endpoint(get = "/slow", timeout = "300ms")]
    async fn slow(&self) -> Result<(), Error>;

    /// May be retried: safe to replay.
    #[endpoint(get = "/flaky", retry = 3)]
    async fn flaky(&self) -> Result<serde_json::Value, Error>;

    /// An optional query parameter: absent, no `?` at all.
    #[endpoint(get = "/maybe", scope = "PIS")]
    async fn maybe(&self, #[query] since: Option<u32>) -> Result<serde_json::Value, Error>;

    /// A customer's accounts (AIS): needs the customer's own token.
    #[endpoint(get = "/ais/v1/customer/{customer_id}/accounts", scope = "AIS")]
    async fn customer_accounts(&self, customer_id: &str) -> Result<serde_json::Value, Error>;

    /// A PIS endpoint the emulator serves.
    #[endpoint(get = "/pis/v2/payments/{session_id}", scope = "PIS")]
    async fn protected_pis_payment(&self, session_id: &str) -> Result<serde_json::Value, Error>;
}

/// Moves the tokio clock forward, then lets it run again in real time (HTTP calls that
/// follow must not be timed out by an auto-advancing paused clock). Current-thread runtime
/// only.
pub async fn jump(by: std::time::Duration) {
    tokio::time::pause();
    tokio::time::advance(by).await;
    tokio::time::resume();
}

/// A client for a local test server, with app credentials holding awkward characters.
pub fn client_for(base_url: &str) -> Client {
    let environment = Environment::Custom(base_url.parse().unwrap_or_else(|e| {
        panic!("test server URL {base_url}: {e}");
    }));
    Client::builder(environment)
        .credentials(Credentials::new(APP_ID, APP_SECRET))
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"))
}

/// The app id the fixtures use.
pub const APP_ID: &str = "app-id:é+/=";
/// The app secret the fixtures use: every character that needs care somewhere.
pub const APP_SECRET: &str = "s3cr3t+/=:%&é ü";

/// A `redis-server` of a test's own, on a free 127.0.0.1 port, in a directory of its own;
/// stopped when dropped.
pub struct RedisServer {
    child: Option<std::process::Child>,
    port: u16,
    dir: std::path::PathBuf,
    aof: bool,
    /// Arguments beyond the port, directory and persistence: TLS, cluster mode.
    args: Vec<String>,
}

impl RedisServer {
    /// Starts one without persistence (`--save "" --appendonly no`), or with AOF (every
    /// write synced) when `aof`. Panics when it cannot: the Redis tests are ignored on
    /// machines without `redis-server` (see `build.rs`), so here it must be there.
    pub fn start(aof: bool) -> RedisServer {
        RedisServer::start_with(aof, free_port(), Vec::new())
    }

    fn start_with(aof: bool, port: u16, args: Vec<String>) -> RedisServer {
        let dir =
            std::env::temp_dir().join(format!("fintecture-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let mut server = RedisServer {
            child: None,
            port,
            dir,
            aof,
            args,
        };
        server.restart();
        server
    }

    /// Starts one that also serves TLS on [`tls_port`](Self::tls_port), with the test
    /// server certificate (`keys/redis-server-test-only.crt`, signed by the test CA
    /// `keys/redis-ca-test-only.crt`), asking clients for a certificate signed by that CA
    /// when `client_certificates`. The plain port stays, for the tests' own commands.
    pub fn start_tls(client_certificates: bool) -> RedisServer {
        RedisServer::start_with(
            false,
            free_port(),
            tls_args(free_port(), client_certificates),
        )
    }

    /// Starts one in cluster mode, alone until [`ClusterServers::start`](crate::ClusterServers::start)
    /// joins it to others: a node that gives up on a silent peer after 1 s. With `tls`, it
    /// also serves TLS as [`start_tls`](Self::start_tls) does, and talks to the other nodes
    /// and its replica over TLS, presenting the test client certificate (a cluster bus
    /// always asks for one). The bus port (10000 above the port the nodes meet on: the TLS
    /// one with `tls`) is free too.
    pub fn start_cluster_node(tls: bool) -> RedisServer {
        let with_free_bus = || loop {
            let port = free_port();
            if port < 55_000 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
                break port;
            }
        };
        let port = if tls { free_port() } else { with_free_bus() };
        let mut args = ["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"]
            .map(String::from)
            .to_vec();
        if tls {
            args.extend(tls_args(with_free_bus(), false));
            let keys = keys_dir();
            args.extend([
                "--tls-cluster".into(),
                "yes".into(),
                "--tls-replication".into(),
                "yes".into(),
                "--tls-client-cert-file".into(),
                keys.join("redis-client-test-only.crt")
                    .display()
                    .to_string(),
                "--tls-client-key-file".into(),
                keys.join("redis-client-test-only.key")
                    .display()
                    .to_string(),
            ]);
        }
        RedisServer::start_with(false, port, args)
    }

    /// The TLS port of a server started with [`start_tls`](Self::start_tls).
    pub fn tls_port(&self) -> u16 {
        self.args
            .iter()
            .position(|arg| arg == "--tls-port")
            .and_then(|at| self.args.get(at + 1)?.parse().ok())
            .expect("a server started with start_tls")
    }

    /// Sends `signal` (`-STOP`, `-CONT`, ...) to the server process, if it runs.
    pub fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let sent = std::process::Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status()
                .unwrap_or_else(|e| panic!("kill could not run: {e}"));
            assert!(sent.success(), "kill {signal} failed");
        }
    }

    /// The port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server at once (no shutdown save): what a crash does.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and directory (an AOF server finds its data).
    pub fn restart(&mut self) {
        self.kill();
        let persistence: &[&str] = if self.aof {
            &["--appendonly", "yes", "--appendfsync", "always"]
        } else {
            &["--appendonly", "no"]
        };
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", ""])
            .args(persistence)
            .args(&self.args)
            .arg("--dir")
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("redis-server could not start: {e}"));
        self.child = Some(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !self.answers() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server on port {} did not answer",
                self.port
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    fn answers(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }
}

/// A Redis Sentinel on 127.0.0.1 (`redis-server FILE --sentinel`), monitoring the primary
/// on `primary_port` as `master` with a quorum of 2, declaring it down after 500 ms of
/// silence. Stopped when dropped.
pub struct SentinelServer {
    child: std::process::Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl SentinelServer {
    /// Starts one; panics when it cannot (see [`RedisServer::start`]).
    pub fn start(master: &str, primary_port: u16) -> SentinelServer {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("fintecture-sentinel-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let config = dir.join("sentinel.conf");
        std::fs::write(
            &config,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\n\
                 sentinel monitor {master} 127.0.0.1 {primary_port} 2\n\
                 sentinel down-after-milliseconds {master} 500\n\
                 sentinel failover-timeout {master} 3000\n\
                 sentinel parallel-syncs {master} 1\n",
                dir.display()
            ),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", config.display()));
        let child = std::process::Command::new("redis-server")
            .arg(&config)
            .arg("--sentinel")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("redis-server --sentinel could not start: {e}"));
        let sentinel = SentinelServer { child, port, dir };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the sentinel did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        sentinel
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for SentinelServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A TCP relay on 127.0.0.1 to a port that can change: what the primary endpoint of a
/// managed service is (a DNS name a failover moves; connections made before stay where they
/// were), a network link that can be cut, or a host that goes away.
pub struct Relay {
    port: u16,
    target: std::sync::Arc<std::sync::atomic::AtomicU16>,
    /// The connections relayed so far, to cut.
    links: Links,
    /// The task that accepts connections, which owns the listening socket.
    accepting: tokio::task::AbortHandle,
}

type Links = std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>;

impl Relay {
    /// Relays connections to 127.0.0.1:`target`.
    pub async fn start(target: u16) -> Relay {
        Relay::start_on(0, target).await
    }

    /// Relays connections made to 127.0.0.1:`port` (0: any free port) to
    /// 127.0.0.1:`target`.
    pub async fn start_on(port: u16, target: u16) -> Relay {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap_or_else(|e| panic!("no loopback port: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("{e}"))
            .port();
        let target = std::sync::Arc::new(std::sync::atomic::AtomicU16::new(target));
        let links = Links::default();
        let accepting = tokio::spawn(Relay::accept(listener, target.clone(), links.clone()));
        Relay {
            port,
            target,
            links,
            accepting: accepting.abort_handle(),
        }
    }

    async fn accept(
        listener: tokio::net::TcpListener,
        target: std::sync::Arc<std::sync::atomic::AtomicU16>,
        links: Links,
    ) {
        while let Ok((mut client, _)) = listener.accept().await {
            let upstream = target.load(std::sync::atomic::Ordering::SeqCst);
            let link = tokio::spawn(async move {
                if upstream == 0 {
                    return; // cut: the connection is closed at once
                }
                if let Ok(mut server) =
                    tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
            links
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(link.abort_handle());
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// New connections go to 127.0.0.1:`target`; the ones made before stay where they are.
    pub fn move_to(&self, target: u16) {
        self.target
            .store(target, std::sync::atomic::Ordering::SeqCst);
    }

    /// Cuts the link: every relayed connection is dropped, and new ones are closed at once.
    pub fn cut(&self) {
        self.move_to(0);
        for link in self
            .links
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain(..)
        {
            link.abort();
        }
    }

    /// Goes away: the link cut, and the port closed, so that connecting is refused (until
    /// a relay is started on it again with [`start_on`](Self::start_on)).
    pub async fn close(&self) {
        self.cut();
        self.accepting.abort();
        // The listening socket closes when the aborted task is dropped, on the runtime: at
        // most 5 s.
        for _ in 0..500 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_err()
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the relay on port {} did not close", self.port);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// The AES-256-GCM key of the Redis tests' token records.
pub const STORE_KEY: [u8; 32] = *b"an example key of 32 bytes, test";

/// A Redis token store at `url`, its records encrypted with [`STORE_KEY`].
pub fn redis_store(url: &str) -> fintecture_oauth::RedisTokenStore {
    let at_rest = fintecture_oauth::AtRest::aes_256_gcm(&STORE_KEY).expect("a 32-byte key");
    fintecture_oauth::RedisTokenStore::new(url, at_rest).unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// What the Redis at `url` answers to the command `args` (the tests' own commands).
pub async fn redis_command(url: &str, args: &[&str]) -> redis::Value {
    let client = redis::Client::open(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    redis::cmd(args[0])
        .arg(&args[1..])
        .query_async(&mut connection)
        .await
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Whether any error in `error`'s chain tells the customer to consent again.
pub fn is_reauthorize(error: &Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if let Some(Error::Reauthorize { .. }) = current.downcast_ref::<Error>() {
            return true;
        }
        cause = current.source();
    }
    false
}

/// A replica of a service on `emulator`: its own token manager and connection pool, the
/// shared `store`, and the wall clock `clock`.
pub fn replica(
    emulator: &fintecture_emulator::Emulator,
    store: std::sync::Arc<dyn TokenStore>,
    clock: &std::sync::Arc<TestClock>,
) -> Client {
    Client::builder(emulator.environment())
        .credentials(emulator.credentials())
        .token_store(store)
        .clock(clock.clone())
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The key of a customer's grant of the app `app` at `https://api.example`.
pub fn example_customer_key(customer_id: &str) -> GrantKey {
    GrantKey::new(
        "https://api.example",
        "app",
        fintecture_oauth::Grant::Customer {
            customer_id: customer_id.into(),
        },
    )
}

/// A record of `version` with a token valid for an hour from now, and no refresh token.
pub fn example_record(version: u64) -> TokenRecord {
    let now = SystemTime::now();
    TokenRecord::new(
        format!("at-{version}").into(),
        None,
        now,
        now + Duration::from_secs(3600),
        version,
    )
}

/// A wall clock the tests move by hand, shared by every client of a test.
#[derive(Debug)]
pub struct TestClock(std::sync::Mutex<SystemTime>);

impl TestClock {
    /// Starts at the real time.
    pub fn new() -> std::sync::Arc<TestClock> {
        std::sync::Arc::new(TestClock(std::sync::Mutex::new(SystemTime::now())))
    }

    /// Moves it forward.
    pub fn advance(&self, by: Duration) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) += by;
    }
}

impl fintecture_oauth::Clock for TestClock {
    fn now(&self) -> SystemTime {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The tests' certificates and keys.
pub fn keys_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("keys")
}

/// `redis-server`'s arguments to serve TLS on `tls_port` with the test server certificate,
/// asking clients for one signed by the test CA when `client_certificates`.
fn tls_args(tls_port: u16, client_certificates: bool) -> Vec<String> {
    let file = |name: &str| keys_dir().join(name).display().to_string();
    vec![
        "--tls-port".into(),
        tls_port.to_string(),
        "--tls-cert-file".into(),
        file("redis-server-test-only.crt"),
        "--tls-key-file".into(),
        file("redis-server-test-only.key"),
        "--tls-ca-cert-file".into(),
        file("redis-ca-test-only.crt"),
        "--tls-auth-clients".into(),
        if client_certificates { "yes" } else { "no" }.into(),
    ]
}

/// A port free on 127.0.0.1 now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A store that counts the calls reaching the one it wraps: with the Redis store, each is
/// one round trip.
pub struct CountingStore<S> {
    inner: S,
    calls: std::sync::atomic::AtomicUsize,
}

impl<S: TokenStore> CountingStore<S> {
    /// Counts the calls to `inner`.
    pub fn new(inner: S) -> Self {
        CountingStore {
            inner,
            calls: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// How many calls reached the store so far.
    pub fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn count(&self) {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl<S: TokenStore> TokenStore for CountingStore<S> {
    fn load<'a>(&'a self, key: &'a GrantKey) -> StoreFuture<'a, Option<TokenRecord>> {
        self.count();
        self.inner.load(key)
    }
    fn swap<'a>(
        &'a self,
        key: &'a GrantKey,
        expected: u64,
        record: &'a TokenRecord,
        fence: u64,
    ) -> StoreFuture<'a, Swap> {
        self.count();
        self.inner.swap(key, expected, record, fence)
    }
    fn remove<'a>(&'a self, key: &'a GrantKey, version: Option<u64>) -> StoreFuture<'a, bool> {
        self.count();
        self.inner.remove(key, version)
    }
    fn lock<'a>(&'a self, key: &'a GrantKey, duration: Duration) -> StoreFuture<'a, Option<Lease>> {
        self.count();
        self.inner.lock(key, duration)
    }
    fn unlock<'a>(&'a self, key: &'a GrantKey, lease: &'a Lease) -> StoreFuture<'a, ()> {
        self.count();
        self.inner.unlock(key, lease)
    }
    fn lock_and_load<'a>(
        &'a self,
        key: &'a GrantKey,
        duration: Duration,
        newer_than: u64,
        fresh_until: SystemTime,
    ) -> StoreFuture<'a, Locked> {
        self.count();
        self.inner
            .lock_and_load(key, duration, newer_than, fresh_until)
    }
    fn swap_and_unlock<'a>(
        &'a self,
        key: &'a GrantKey,
        expected: u64,
        record: &'a TokenRecord,
        lease: &'a Lease,
    ) -> StoreFuture<'a, Swap> {
        self.count();
        self.inner.swap_and_unlock(key, expected, record, lease)
    }
    fn extend<'a>(
        &'a self,
        key: &'a GrantKey,
        lease: &'a Lease,
        duration: Duration,
    ) -> StoreFuture<'a, bool> {
        self.count();
        self.inner.extend(key, lease, duration)
    }
}

/// A token store that passes every call to `inner`, with two hooks for tests: `on_load`
/// runs before each load (to panic, say), and each write waits `pause` first (a client
/// stopped between a token answer and its write) and keeps what the store answered.
pub struct HookedStore<S> {
    /// The store that answers.
    pub inner: S,
    /// Runs before each load.
    pub on_load: Box<dyn Fn() + Send + Sync>,
    /// How long each write waits.
    pub pause: std::time::Duration,
    /// What the writes answered, in order.
    pub outcomes: std::sync::Mutex<Vec<fintecture_oauth::Swap>>,
    /// How many writes have started.
    pub writes: std::sync::atomic::AtomicUsize,
}

impl<S> HookedStore<S> {
    /// A store with no hooks yet.
    pub fn new(inner: S) -> Self {
        HookedStore {
            inner,
            on_load: Box::new(|| {}),
            pause: std::time::Duration::ZERO,
            outcomes: std::sync::Mutex::new(Vec::new()),
            writes: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

impl<S: fintecture_oauth::TokenStore> fintecture_oauth::TokenStore for HookedStore<S> {
    fn load<'a>(
        &'a self,
        key: &'a fintecture_oauth::GrantKey,
    ) -> fintecture_oauth::StoreFuture<'a, Option<fintecture_oauth::TokenRecord>> {
        (self.on_load)();
        self.inner.load(key)
    }

    fn swap<'a>(
        &'a self,
        key: &'a fintecture_oauth::GrantKey,
        expected: u64,
        record: &'a fintecture_oauth::TokenRecord,
        fence: u64,
    ) -> fintecture_oauth::StoreFuture<'a, fintecture_oauth::Swap> {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async move {
            tokio::time::sleep(self.pause).await;
            let outcome = self.inner.swap(key, expected, record, fence).await?;
            if let Ok(mut outcomes) = self.outcomes.lock() {
                outcomes.push(outcome);
            }
            Ok(outcome)
        })
    }

    fn remove<'a>(
        &'a self,
        key: &'a fintecture_oauth::GrantKey,
        version: Option<u64>,
    ) -> fintecture_oauth::StoreFuture<'a, bool> {
        self.inner.remove(key, version)
    }

    fn lock<'a>(
        &'a self,
        key: &'a fintecture_oauth::GrantKey,
        duration: std::time::Duration,
    ) -> fintecture_oauth::StoreFuture<'a, Option<fintecture_oauth::Lease>> {
        self.inner.lock(key, duration)
    }

    fn unlock<'a>(
        &'a self,
        key: &'a fintecture_oauth::GrantKey,
        lease: &'a fintecture_oauth::Lease,
    ) -> fintecture_oauth::StoreFuture<'a, ()> {
        self.inner.unlock(key, lease)
    }
}

/// What every [`TokenStore`](fintecture_oauth::TokenStore) must do, checked on `store`:
/// versions compared and swapped, older fences refused, removal by version, leases
/// exclusive until released or expired.
pub async fn store_contract(store: &dyn fintecture_oauth::TokenStore) {
    use fintecture_oauth::{Grant, GrantKey, Swap, TokenRecord};
    use std::time::{Duration, SystemTime};
    let key = GrantKey::new(
        "https://api.example",
        "app",
        Grant::Customer {
            customer_id: "contract".into(),
        },
    );
    let record = |version: u64| {
        TokenRecord::new(
            format!("at-{version}").into(),
            Some(fintecture_oauth::RefreshToken::new(format!("rt-{version}"))),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_000),
            SystemTime::UNIX_EPOCH + Duration::from_secs(4_600),
            version,
        )
    };
    let text = |record: Option<TokenRecord>| {
        use fintecture_oauth::ExposeSecret as _;
        record.map(|r| {
            let refresh = r.refresh_token.map(|t| t.expose_secret().to_owned());
            (
                r.access_token.expose_secret().to_owned(),
                refresh,
                r.version,
            )
        })
    };
    assert!(store.load(&key).await.unwrap().is_none());

    let first = store
        .lock(&key, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .lock(&key, Duration::from_secs(5))
            .await
            .unwrap()
            .is_none(),
        "exclusive"
    );
    assert_eq!(
        store.swap(&key, 1, &record(2), first.fence).await.unwrap(),
        Swap::StaleVersion
    );
    assert_eq!(
        store.swap(&key, 0, &record(1), first.fence).await.unwrap(),
        Swap::Written
    );
    let loaded = store.load(&key).await.unwrap();
    assert_eq!(
        loaded.as_ref().map(|r| r.issued_at),
        Some(record(1).issued_at)
    );
    assert_eq!(
        loaded.as_ref().map(|r| r.expires_at),
        Some(record(1).expires_at)
    );
    assert_eq!(text(loaded), text(Some(record(1))));
    store.unlock(&key, &first).await.unwrap();

    let second = store
        .lock(&key, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert!(second.fence > first.fence, "fences grow");
    assert_ne!(second.owner, first.owner);
    // Releasing a lease that is not held (any more) leaves the holder's alone.
    store.unlock(&key, &first).await.unwrap();
    assert!(
        store
            .lock(&key, Duration::from_secs(5))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.swap(&key, 1, &record(2), second.fence).await.unwrap(),
        Swap::Written
    );
    // A late write under the first lease is refused by its fence, whatever its version.
    assert_eq!(
        store.swap(&key, 2, &record(3), first.fence).await.unwrap(),
        Swap::StaleFence
    );
    assert_eq!(
        store.swap(&key, 1, &record(3), first.fence).await.unwrap(),
        Swap::StaleFence
    );
    assert_eq!(text(store.load(&key).await.unwrap()), text(Some(record(2))));
    store.unlock(&key, &second).await.unwrap();

    // A lease expires by itself.
    let short = store
        .lock(&key, Duration::from_millis(50))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    let after = store
        .lock(&key, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert!(after.fence > short.fence);
    store.unlock(&key, &after).await.unwrap();

    assert!(
        !store.remove(&key, Some(1)).await.unwrap(),
        "not the stored version"
    );
    assert!(store.load(&key).await.unwrap().is_some());
    assert!(store.remove(&key, Some(2)).await.unwrap());
    assert!(store.load(&key).await.unwrap().is_none());
    assert!(!store.remove(&key, None).await.unwrap(), "nothing left");
    let lease = store
        .lock(&key, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.swap(&key, 0, &record(5), lease.fence).await.unwrap(),
        Swap::Written
    );
    assert!(store.remove(&key, None).await.unwrap());
    store.unlock(&key, &lease).await.unwrap();

    // A renewal's two round trips: the lease taken with the record read, the new record
    // written with the lease released.
    let lease_time = Duration::from_secs(5);
    // Never "fresh" (nothing is newer than u64::MAX): the lease is wanted.
    let (always, epoch) = (u64::MAX, SystemTime::UNIX_EPOCH);
    let first = store
        .lock_and_load(&key, lease_time, always, epoch)
        .await
        .unwrap();
    let lease = first.lease.expect("a free lease is taken");
    let written_fence = lease.fence;
    assert!(first.record.is_none());
    let held = store
        .lock_and_load(&key, lease_time, always, epoch)
        .await
        .unwrap();
    assert!(held.lease.is_none(), "a held lease is not taken twice");
    assert_eq!(
        store
            .swap_and_unlock(&key, 0, &record(6), &lease)
            .await
            .unwrap(),
        Swap::Written
    );
    // Released with the write: the next renewal gets the lease and the record at once.
    let next = store
        .lock_and_load(&key, lease_time, always, epoch)
        .await
        .unwrap();
    assert_eq!(text(next.record), text(Some(record(6))));
    let lease = next.lease.expect("released by the write");
    // A refused write releases the lease too.
    assert_eq!(
        store
            .swap_and_unlock(&key, 0, &record(7), &lease)
            .await
            .unwrap(),
        Swap::StaleVersion
    );
    // A record newer than the caller's version and fresh past the given time is handed out
    // without a lease; one that is not fresh, or not newer, comes with the lease.
    let fresh = store
        .lock_and_load(
            &key,
            lease_time,
            5,
            SystemTime::UNIX_EPOCH + Duration::from_secs(4_000),
        )
        .await
        .unwrap();
    assert!(
        fresh.lease.is_none(),
        "another client's fresh token needs no lease"
    );
    assert_eq!(text(fresh.record), text(Some(record(6))));
    let stale = store
        .lock_and_load(
            &key,
            lease_time,
            5,
            SystemTime::UNIX_EPOCH + Duration::from_secs(4_600),
        )
        .await
        .unwrap();
    let lease = stale
        .lease
        .expect("a record expiring by then is renewed, under the lease");
    store.unlock(&key, &lease).await.unwrap();
    let known = store
        .lock_and_load(&key, lease_time, 6, epoch)
        .await
        .unwrap();
    let lease = known
        .lease
        .expect("the caller's own version is renewed, under the lease");

    // A holder extends its lease: no one else takes it, even past its first term.
    let short = Duration::from_millis(200);
    store.unlock(&key, &lease).await.unwrap();
    let lease = store.lock(&key, short).await.unwrap().unwrap();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(store.extend(&key, &lease, short).await.unwrap());
    }
    assert!(store.lock(&key, short).await.unwrap().is_none(), "extended");
    store.unlock(&key, &lease).await.unwrap();
    assert!(
        !store.extend(&key, &lease, short).await.unwrap(),
        "a released lease is not extended"
    );
    let other = store.lock(&key, short).await.unwrap().unwrap();
    assert!(other.fence > lease.fence);
    assert!(
        !store.extend(&key, &lease, short).await.unwrap(),
        "not its owner"
    );
    store.unlock(&key, &other).await.unwrap();

    // A removed grant keeps the fence of its last write: a write under an older lease
    // cannot bring it back.
    assert!(store.remove(&key, None).await.unwrap());
    assert_eq!(
        store
            .swap(&key, 0, &record(8), written_fence - 1)
            .await
            .unwrap(),
        Swap::StaleFence
    );
    assert!(store.load(&key).await.unwrap().is_none());

    // A consent's state is taken once; one never kept, or expired, not at all.
    store
        .keep_state("env|app|state-1", Duration::from_secs(60))
        .await
        .unwrap();
    assert!(!store.take_state("env|app|state-2").await.unwrap());
    assert!(store.take_state("env|app|state-1").await.unwrap());
    assert!(!store.take_state("env|app|state-1").await.unwrap(), "once");
    store
        .keep_state("env|app|state-3", Duration::from_millis(50))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(
        !store.take_state("env|app|state-3").await.unwrap(),
        "expired"
    );
}

/// An error and its causes on one line, as `anyhow`'s `{:#}` prints them.
pub fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        line.push_str(": ");
        line.push_str(&error.to_string());
        cause = error.source();
    }
    line
}

/// An https server on 127.0.0.1 with the test certificate (`keys/tls-test-only.crt`, valid
/// for `api.fintecture.com`, `api-sandbox.fintecture.com`, `localhost` and `127.0.0.1`),
/// answering every request with 200 and `body`, and keeping each request's head.
pub struct TlsServer {
    /// Where it listens.
    pub address: std::net::SocketAddr,
    heads: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl TlsServer {
    /// The certificate, PEM, for a client to trust.
    pub const CERTIFICATE_PEM: &'static [u8] = include_bytes!("../keys/tls-test-only.crt");

    /// The certificate's file, for `SSL_CERT_FILE`.
    pub fn certificate_path() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("keys/tls-test-only.crt")
    }

    /// Starts it on the current runtime.
    pub async fn start(body: &'static str) -> TlsServer {
        use tokio_rustls::rustls;
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certificates = CertificateDer::pem_slice_iter(Self::CERTIFICATE_PEM)
            .collect::<Result<Vec<_>, _>>()
            .expect("the test certificate parses");
        let key = PrivateKeyDer::from_pem_slice(include_bytes!("../keys/tls-test-only.key"))
            .expect("the test key parses");
        // A provider of its own: nothing process-wide is installed by the tests either.
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certificates, key)
            .expect("the test certificate and key match");
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let address = listener.local_addr().expect("its address");
        let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = heads.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, kept) = (acceptor.clone(), kept.clone());
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    answer(stream, body, kept).await;
                });
            }
        });
        TlsServer { address, heads }
    }

    /// The head (request line and headers) of every request so far.
    pub fn heads(&self) -> Vec<String> {
        self.heads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Reads one request (head, then the body its `content-length` announces) and answers it.
async fn answer<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    body: &str,
    heads: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let head_end = loop {
        let Ok(read) = stream.read(&mut buffer).await else {
            return;
        };
        if read == 0 {
            return;
        }
        received.extend_from_slice(buffer.get(..read).unwrap_or_default());
        if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if received.len() > 64 * 1024 {
            return;
        }
    };
    let head = String::from_utf8_lossy(received.get(..head_end).unwrap_or_default()).into_owned();
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while received.len() < head_end + 4 + length.min(1 << 20) {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => received.extend_from_slice(buffer.get(..read).unwrap_or_default()),
        }
    }
    heads
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(head);
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
