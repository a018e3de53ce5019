//! The benchmarks, side by side in one run: `bash scripts/bench` (or
//! `cargo bench -p benches --bench bench`). Each comparison ends in a line
//! `NAME: ratio=X.XXX (A=… B=…)`.

use benches::{CountingAllocator, HandWritten, allocations, live_bytes, median, start_server};
use fintecture_oauth::{
    AccessTokenGrant, AtRest, AuthorizationCode, Client, Credentials, Environment, Error,
    MemoryTokenStore, OAuth, OAuthRequests, RedisTokenStore, Scope, TokenStore, api,
};
use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, TokenResponse, TokenUrl};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tests::CountingStore;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const APP_ID: &str = "bench-app";
const APP_SECRET: &str = "bench-secret";
const ROUNDS: usize = 21;

/// A declared bearer endpoint, as users declare theirs.
#[api]
pub trait Payments {
    /// Reads a payment.
    #[endpoint(get = "/pis/v2/payments/{session_id}", scope = "PIS")]
    async fn payment(&self, session_id: &str) -> Result<serde_json::Value, Error>;
}

struct Summary(Vec<String>);

impl Summary {
    fn ratio(&mut self, name: &str, a_name: &str, a: f64, b_name: &str, b: f64, unit: &str) {
        self.0.push(format!(
            "{name}: ratio={:.3} ({a_name}={a:.1}{unit} {b_name}={b:.1}{unit})",
            a / b
        ));
    }
}

fn main() {
    // `BENCH_ONLY=generated|hand BENCH_CALLS=N`: just N sequential token calls, for counting
    // instructions under callgrind (scripts/bench subtracts a run with N=0).
    if let Ok(only) = std::env::var("BENCH_ONLY") {
        let calls = std::env::var("BENCH_CALLS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        return instructions_run(&only, calls);
    }
    let base = start_server();
    assert!(!base.is_empty(), "the benchmark server did not start");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (client, hand) = contenders(&base);
    let http = hand.http.clone();
    let oauth2_client = BasicClient::new(ClientId::new(APP_ID.into()))
        .set_client_secret(ClientSecret::new(APP_SECRET.into()))
        .set_token_uri(TokenUrl::new(format!("{base}/oauth/accesstoken")).unwrap());
    let oauth2_http = |request: oauth2::HttpRequest| {
        let http = http.clone();
        async move { send_oauth2(&http, request).await }
    };
    let mut summary = Summary(Vec::new());
    println!("| benchmark | contender | median |\n|---|---|---|");

    // 1. Overhead: one client-credentials token request, sequential, interleaved rounds.
    let grant = AccessTokenGrant::client_credentials(APP_ID, Scope::Pis);
    let per_round = 400;
    let (mut generated, mut handwritten, mut oauth2s) = (Vec::new(), Vec::new(), Vec::new());
    runtime.block_on(async {
        for round in 0..ROUNDS {
            // Rotate the order so that no contender always runs first.
            for slot in 0..3 {
                match (round + slot) % 3 {
                    0 => generated.push(
                        per_call(per_round, || async {
                            client
                                .create_access_token(&grant)
                                .await
                                .map(|_| ())
                                .map_err(|e| e.to_string())
                        })
                        .await,
                    ),
                    1 => handwritten.push(
                        per_call(per_round, || async {
                            hand.token().await.map(|_| ()).map_err(|e| e.to_string())
                        })
                        .await,
                    ),
                    _ => oauth2s.push(
                        per_call(per_round, || async {
                            oauth2_client
                                .exchange_client_credentials()
                                .add_scope(oauth2::Scope::new("PIS".into()))
                                .request_async(&oauth2_http)
                                .await
                                .map(|t| {
                                    std::hint::black_box(t.access_token().secret().len());
                                })
                                .map_err(|e| e.to_string())
                        })
                        .await,
                    ),
                }
            }
        }
    });
    let (g, h, o) = (
        median(&mut generated),
        median(&mut handwritten),
        median(&mut oauth2s),
    );
    println!(
        "| token request | generated | {g:.1} µs |\n| token request | hand-written reqwest | {h:.1} µs |\n| token request | oauth2-rs | {o:.1} µs |"
    );
    summary.ratio("overhead", "generated", g, "hand", h, "µs");
    summary.ratio("vs_oauth2", "generated", g, "oauth2", o, "µs");

    // 1b. A declared bearer call (cached token), sequential, against the same call by hand
    // with the same token and request timeout.
    let token = runtime
        .block_on(client.access_token(&Scope::Pis))
        .unwrap()
        .expose_secret()
        .to_owned();
    let (mut generated, mut handwritten) = (Vec::new(), Vec::new());
    runtime.block_on(async {
        for round in 0..ROUNDS {
            for slot in 0..2 {
                if (round + slot) % 2 == 0 {
                    generated.push(
                        per_call(per_round, || async {
                            client
                                .payment("s-1")
                                .await
                                .map(drop)
                                .map_err(|e| e.to_string())
                        })
                        .await,
                    );
                } else {
                    handwritten.push(
                        per_call(per_round, || async {
                            hand.payment(&token, "s-1")
                                .await
                                .map(drop)
                                .map_err(|e| e.to_string())
                        })
                        .await,
                    );
                }
            }
        }
    });
    let (g, h) = (median(&mut generated), median(&mut handwritten));
    println!(
        "| bearer call | generated | {g:.1} µs |\n| bearer call | hand-written reqwest | {h:.1} µs |"
    );
    summary.ratio("bearer_call", "generated", g, "hand", h, "µs");
    let g = count_async(&runtime, 200, || async {
        client.payment("s-1").await.unwrap();
    });
    let h = count_async(&runtime, 200, || async {
        hand.payment(&token, "s-1").await.unwrap();
    });
    println!(
        "| allocations per bearer call | generated | {g:.1} |\n| allocations per bearer call | hand-written | {h:.1} |"
    );
    summary.ratio("allocations_bearer", "generated", g, "hand", h, "");

    // 2. Building the request alone, no I/O.
    let iterations = 20_000;
    let (mut generated, mut handwritten) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        generated.push(per_iteration_ns(iterations, || {
            let request = OAuthRequests::create_access_token(&client, &grant).unwrap();
            std::hint::black_box(request.into_http().unwrap());
        }));
        handwritten.push(per_iteration_ns(iterations, || {
            std::hint::black_box(hand.build_token_request().unwrap());
        }));
    }
    let (g, h) = (median(&mut generated), median(&mut handwritten));
    println!(
        "| build request | generated | {g:.0} ns |\n| build request | hand-written | {h:.0} ns |"
    );
    summary.ratio("build", "generated", g, "hand", h, "ns");

    // 3. A cached token read through the token manager, from 1 and from 2 threads.
    runtime.block_on(client.access_token(&Scope::Pis)).unwrap();
    let one = cached_read_ns(&client);
    let two = std::thread::scope(|scope| {
        let a = scope.spawn(|| cached_read_ns(&client));
        let b = scope.spawn(|| cached_read_ns(&client));
        (a.join().unwrap() + b.join().unwrap()) / 2.0
    });
    println!(
        "| cached token read | 1 thread | {one:.1} ns |\n| cached token read | 2 threads at once | {two:.1} ns |"
    );
    summary.0.push(format!(
        "cached_read: ratio={:.3} (ns_1_thread={one:.1} target_ns=50)",
        one / 50.0
    ));
    summary.0.push(format!(
        "cached_read_2_threads: ratio={:.3} (ns_2_threads={two:.1} target_ns=50)",
        two / 50.0
    ));

    // 3b. Customer grants: 100,000 customers authorized (64 at a time), the memory each
    // costs, and a cached read of one of them.
    let count = 100_000;
    let ids: Vec<String> = (0..count).map(|i| format!("customer-{i}")).collect();
    let before = live_bytes();
    runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..64 {
            let (client, ids) = (client.clone(), ids.clone());
            tasks.spawn(async move {
                for id in ids.iter().skip(worker).step_by(64) {
                    let customer = client.customer(id);
                    let code = AuthorizationCode::new("code");
                    customer.authorize(code, None).await.unwrap();
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
    });
    assert_eq!(client.cached_customers(), count);
    let per_grant = (live_bytes() - before) as f64 / count as f64;
    // One customer read over and over (its grant in cache, as for a customer whose requests
    // come in a burst), through a new `client.customer(id)` each time and through a kept
    // one; then every customer in turn, each read missing the CPU caches.
    let hot_id = &ids[count / 2];
    let kept_customer = client.customer(hot_id);
    let time_reads = |read: &dyn Fn(usize)| {
        let mut samples = Vec::new();
        for _ in 0..ROUNDS {
            let started = Instant::now();
            runtime.block_on(async {
                for i in 0..count {
                    read(i);
                }
            });
            samples.push(started.elapsed().as_nanos() as f64 / count as f64);
        }
        median(&mut samples)
    };
    let hot_new = time_reads(&|_| {
        let customer = client.customer(hot_id);
        std::hint::black_box(customer.cached_access_token(&Scope::Ais).unwrap());
    });
    let hot_kept = time_reads(&|_| {
        std::hint::black_box(kept_customer.cached_access_token(&Scope::Ais).unwrap());
    });
    let round_robin = time_reads(&|i| {
        let customer = client.customer(&ids[i]);
        std::hint::black_box(customer.cached_access_token(&Scope::Ais).unwrap());
    });
    println!(
        "| customer grants, 100,000 cached | memory per grant | {per_grant:.0} bytes |\n\
         | customer token read, 100,000 cached | client.customer(id), then the read | {hot_new:.1} ns |\n\
         | customer token read, 100,000 cached | on a kept customer client | {hot_kept:.1} ns |\n\
         | customer token read, 100,000 cached | each customer in turn (cache misses) | {round_robin:.1} ns |"
    );
    summary.0.push(format!(
        "customer_grant_memory: ratio={:.3} (bytes_per_grant={per_grant:.0} target_bytes=1024)",
        per_grant / 1024.0
    ));
    summary.0.push(format!(
        "customer_read: ratio={:.3} (ns_new_handle={hot_new:.1} ns_kept_handle={hot_kept:.1} \
         ns_round_robin={round_robin:.1} target_ns=100)",
        hot_new / 100.0
    ));

    // 5. Heap allocations per call, on the calling thread (current-thread runtime).
    let calls = 200;
    let g = count_async(&runtime, calls, || async {
        client.create_access_token(&grant).await.unwrap();
    });
    let h = count_async(&runtime, calls, || async {
        hand.token().await.unwrap();
    });
    println!(
        "| allocations per token call | generated | {g:.1} |\n| allocations per token call | hand-written | {h:.1} |"
    );
    summary.ratio("allocations", "generated", g, "hand", h, "");
    let gb = count_sync(calls, || {
        drop(
            OAuthRequests::create_access_token(&client, &grant)
                .unwrap()
                .into_http()
                .unwrap(),
        )
    });
    let hb = count_sync(calls, || drop(hand.build_token_request().unwrap()));
    println!(
        "| allocations per build | generated | {gb:.1} |\n| allocations per build | hand-written | {hb:.1} |"
    );
    summary.ratio("allocations_build", "generated", gb, "hand", hb, "");

    // 4. Throughput: bearer calls per second from 64 tasks. Fresh clients: pooled
    // connections belong to the runtime that opened them.
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (client, hand) = contenders(&base);
    let token = multi
        .block_on(client.access_token(&Scope::Pis))
        .unwrap()
        .expose_secret()
        .to_owned();
    let (mut generated, mut handwritten) = (Vec::new(), Vec::new());
    for round in 0..7 {
        let g = || {
            throughput(&multi, {
                let client = client.clone();
                move || {
                    let client = client.clone();
                    async move {
                        client
                            .payment("s-1")
                            .await
                            .map(drop)
                            .map_err(|e| e.to_string())
                    }
                }
            })
        };
        let h = || {
            throughput(&multi, {
                let hand = std::sync::Arc::new(hand.clone());
                let token = token.clone();
                move || {
                    let (hand, token) = (hand.clone(), token.clone());
                    async move {
                        hand.payment(&token, "s-1")
                            .await
                            .map(drop)
                            .map_err(|e| e.to_string())
                    }
                }
            })
        };
        if round % 2 == 0 {
            generated.push(g());
            handwritten.push(h());
        } else {
            handwritten.push(h());
            generated.push(g());
        }
    }
    let (g, h) = (median(&mut generated), median(&mut handwritten));
    println!(
        "| bearer calls, 64 tasks | generated | {g:.0}/s |\n| bearer calls, 64 tasks | hand-written | {h:.0}/s |"
    );
    summary.ratio("throughput", "generated", g, "hand", h, "/s");

    // 7. A shared store: a token fetched with nothing cached anywhere (a fresh client, a
    // grant the store has never seen), through Redis and through the memory store (the
    // same protocol: the lease with the record, the write with the release), and its round
    // trips to Redis; a fresh client finding the token in Redis; and a cached read with the
    // Redis store configured.
    if redis_server_installed() {
        let redis = tests::RedisServer::start(false);
        let redis_store =
            RedisTokenStore::new(&redis.url(), AtRest::aes_256_gcm(&[7; 32]).unwrap()).unwrap();
        let build = |store: Arc<dyn TokenStore>| {
            Client::builder(Environment::Custom(base.parse().unwrap()))
                .credentials(Credentials::new(APP_ID, APP_SECRET))
                .http_client(hand.http.clone())
                .token_store(store)
                .build()
                .unwrap()
        };
        // Round trips of one renewal through Redis, nothing cached anywhere: each call to
        // the Redis store is one.
        let counted = Arc::new(CountingStore::new(
            redis_store.clone().with_prefix("bench-round-trips"),
        ));
        runtime.block_on(async {
            build(counted.clone())
                .access_token(&Scope::Pis)
                .await
                .unwrap();
            // An app's token is written behind the caller: its write is counted too.
            tokio::time::sleep(Duration::from_millis(200)).await;
        });
        let round_trips = counted.calls();
        let fresh = std::sync::atomic::AtomicU64::new(0);
        let (mut via_redis, mut via_memory, mut adopted) = (Vec::new(), Vec::new(), Vec::new());
        runtime.block_on(async {
            for round in 0..ROUNDS {
                let redis_cold = || async {
                    let n = fresh.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let store = redis_store.clone().with_prefix(format!("bench-{n}"));
                    let client = build(Arc::new(store));
                    client
                        .access_token(&Scope::Pis)
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string())
                };
                let memory_cold = || async {
                    let client = build(Arc::new(MemoryTokenStore::default()));
                    client
                        .access_token(&Scope::Pis)
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string())
                };
                if round % 2 == 0 {
                    via_redis.push(per_call(100, redis_cold).await);
                    via_memory.push(per_call(100, memory_cold).await);
                } else {
                    via_memory.push(per_call(100, memory_cold).await);
                    via_redis.push(per_call(100, redis_cold).await);
                }
                adopted.push(
                    per_call(100, || async {
                        let client = build(Arc::new(redis_store.clone()));
                        client
                            .access_token(&Scope::Pis)
                            .await
                            .map(drop)
                            .map_err(|e| e.to_string())
                    })
                    .await,
                );
            }
        });
        let (r, m, a) = (
            median(&mut via_redis),
            median(&mut via_memory),
            median(&mut adopted),
        );
        let on_redis = build(Arc::new(redis_store.clone()));
        runtime
            .block_on(on_redis.access_token(&Scope::Pis))
            .unwrap();
        let read = cached_read_ns(&on_redis);
        println!(
            "| cold token fetch, shared store | Redis | {r:.1} µs |\n\
             | cold token fetch, shared store | memory store | {m:.1} µs |\n\
             | fresh client, token already in Redis | Redis | {a:.1} µs |\n\
             | cached token read, Redis store configured | 1 thread | {read:.1} ns |"
        );
        println!("| a renewal through Redis, nothing cached | round trips | {round_trips} |");
        summary.ratio("cold_fetch_redis", "redis", r, "memory", m, "µs");
        summary.0.push(format!(
            "round_trips_per_renewal: ratio={:.3} (round_trips={round_trips} target=2)",
            round_trips as f64 / 2.0
        ));
        summary.0.push(format!(
            "cached_read_with_redis: ratio={:.3} (ns={read:.1} target_ns=50)",
            read / 50.0
        ));
    } else {
        println!(
            "| shared store | skipped: redis-server not found (apt-get install redis-server) | |"
        );
    }

    println!();
    for line in summary.0 {
        println!("{line}");
    }
}

/// A cached PIS token read, in ns: the median over rounds of 100,000 reads on a runtime of
/// this thread's own.
fn cached_read_ns(client: &Client) -> f64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut samples = Vec::new();
    for _ in 0..ROUNDS {
        let started = Instant::now();
        runtime.block_on(async {
            for _ in 0..100_000 {
                std::hint::black_box(client.cached_access_token(&Scope::Pis).unwrap());
            }
        });
        samples.push(started.elapsed().as_nanos() as f64 / 100_000.0);
    }
    median(&mut samples)
}

fn redis_server_installed() -> bool {
    std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Allocations per call made on this thread (the current-thread runtime runs the client's
/// tasks here; the server has its own thread).
fn count_async<F, Fut>(runtime: &tokio::runtime::Runtime, calls: usize, f: F) -> f64
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    runtime.block_on(f()); // warm up: the pooled connection, lazy statics
    let before = allocations();
    runtime.block_on(async {
        for _ in 0..calls {
            f().await;
        }
    });
    (allocations() - before) as f64 / calls as f64
}

/// The generated client and the hand-written one, on one reqwest client (one pool).
fn contenders(base: &str) -> (Client, HandWritten) {
    let client = Client::builder(Environment::Custom(base.parse().unwrap()))
        .credentials(Credentials::new(APP_ID, APP_SECRET))
        .build()
        .unwrap();
    let hand = HandWritten {
        http: client.http_client().clone(),
        token_url: format!("{base}/oauth/accesstoken"),
        base: base.to_owned(),
        basic: http::HeaderValue::from_str(&format!(
            "Basic {}",
            base64_encode(&format!("{APP_ID}:{APP_SECRET}"))
        ))
        .unwrap(),
        app_id: APP_ID.into(),
    };
    (client, hand)
}

fn instructions_run(only: &str, calls: usize) {
    let base = start_server();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (client, hand) = contenders(&base);
    let grant = AccessTokenGrant::client_credentials(APP_ID, Scope::Pis);
    runtime.block_on(async {
        // One warm-up call each, so that N=0 and N>0 runs differ only by the N calls.
        client.create_access_token(&grant).await.unwrap();
        hand.token().await.unwrap();
        for _ in 0..calls {
            match only {
                "generated" => drop(client.create_access_token(&grant).await.unwrap()),
                _ => drop(hand.token().await.unwrap()),
            }
        }
    });
}

fn count_sync(calls: usize, f: impl Fn()) -> f64 {
    f();
    let before = allocations();
    for _ in 0..calls {
        f();
    }
    (allocations() - before) as f64 / calls as f64
}

/// Mean µs per call over `calls` sequential calls.
async fn per_call<F, Fut>(calls: usize, f: F) -> f64
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    for _ in 0..calls {
        f().await.expect("a benchmark call failed");
    }
    started.elapsed().as_secs_f64() * 1e6 / calls as f64
}

fn per_iteration_ns(iterations: usize, f: impl Fn()) -> f64 {
    let started = Instant::now();
    for _ in 0..iterations {
        f();
    }
    started.elapsed().as_nanos() as f64 / iterations as f64
}

/// Calls per second from 64 tasks for one second.
fn throughput<F, Fut>(runtime: &tokio::runtime::Runtime, make: F) -> f64
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let window = Duration::from_secs(1);
    runtime.block_on(async move {
        let started = Instant::now();
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let make = make.clone();
                tokio::spawn(async move {
                    let mut done = 0u64;
                    while started.elapsed() < window {
                        make().await.expect("a benchmark call failed");
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap();
        }
        total as f64 / started.elapsed().as_secs_f64()
    })
}

/// oauth2-rs's HTTP client, on the same reqwest client as the others.
async fn send_oauth2(
    http: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let (parts, body) = request.into_parts();
    let response = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut builder = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body = response.bytes().await?.to_vec();
    Ok(builder.body(body).expect("a valid response"))
}

fn base64_encode(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}
