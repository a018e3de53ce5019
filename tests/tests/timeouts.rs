//! The promised timeouts, on tokio's paused clock (so a 30 s timeout takes no real time):
//! 30 s in total and 10 s to connect by default, each configurable, and an endpoint's own.

use fintecture_oauth::{Client, Environment, Error};
use std::time::Duration;
use tests::Sample;
use tokio::time::Instant;

/// A server that accepts connections and never answers.
async fn silent_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream);
        }
    });
    format!("http://{address}")
}

/// A listener whose accept queue is full and never drained: a new connection is never
/// established (the kernel drops its handshake), so connecting hangs.
async fn unconnectable_server() -> (String, Vec<tokio::net::TcpStream>) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let address = listener.local_addr().unwrap();
    // Fill the queue (a backlog of 1 holds a couple of connections); these complete.
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match tokio::time::timeout(
            Duration::from_millis(200),
            tokio::net::TcpStream::connect(address),
        )
        .await
        {
            Ok(Ok(stream)) => fillers.push(stream),
            _ => break,
        }
    }
    // The listener must stay open: leak it into a task that holds it.
    tokio::spawn(async move {
        let _listener = listener;
        std::future::pending::<()>().await;
    });
    (format!("http://{address}"), fillers)
}

async fn time_to_fail(client: &Client) -> (Error, Duration) {
    let started = Instant::now();
    let error = client.delete_thing("1").await.unwrap_err();
    (error, started.elapsed())
}

fn client(
    url: &str,
    configure: impl FnOnce(fintecture_oauth::ClientBuilder) -> fintecture_oauth::ClientBuilder,
) -> Client {
    configure(Client::builder(Environment::Custom(url.parse().unwrap())))
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_total_timeout_is_30_seconds_by_default_and_configurable() {
    let url = silent_server().await;
    let (error, waited) = time_to_fail(&client(&url, |b| b)).await;
    assert!(error.is_timeout(), "{error:?}");
    assert!(
        (Duration::from_secs(30)..Duration::from_secs(31)).contains(&waited),
        "{waited:?}"
    );
    let (error, waited) = time_to_fail(&client(&url, |b| b.timeout(Duration::from_secs(5)))).await;
    assert!(error.is_timeout(), "{error:?}");
    assert!(
        (Duration::from_secs(5)..Duration::from_secs(6)).contains(&waited),
        "{waited:?}"
    );
    // An endpoint's own timeout replaces the client's.
    let started = Instant::now();
    let error = client(&url, |b| b).slow().await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    let waited = started.elapsed();
    assert!(
        (Duration::from_millis(300)..Duration::from_millis(400)).contains(&waited),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn connecting_gives_up_after_10_seconds_by_default_and_as_configured() {
    let (url, _fillers) = unconnectable_server().await;
    let (error, waited) = time_to_fail(&client(&url, |b| b)).await;
    assert!(!matches!(error, Error::Api(_)), "{error:?}");
    assert!(
        (Duration::from_secs(10)..Duration::from_secs(11)).contains(&waited),
        "{waited:?}: {error:?}"
    );
    let (_, waited) =
        time_to_fail(&client(&url, |b| b.connect_timeout(Duration::from_secs(2)))).await;
    assert!(
        (Duration::from_secs(2)..Duration::from_secs(3)).contains(&waited),
        "{waited:?}"
    );
}
