//! Traits a user may write in valid Rust expand and build the right requests: arguments
//! named like the generated code's own names, types arriving through `macro_rules!`,
//! lifetimes and generics, `#[cfg]` and docs on methods, other items in the trait, and a
//! runtime reached through another path (`#[api(crate = ...)]`).

// Some traits here are exercised only through their request builders; one has the
// parenthesised types other macros may write, which the macro must see through.
#![allow(dead_code, unused_parens)]

use fintecture_oauth::{Client, Environment, Error, api};
use serde::{Deserialize, Serialize};
use wiremock::matchers::{body_string, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A client of a server that expects exactly one call, which `mock` answers.
async fn serving(mock: Mock) -> (MockServer, Client) {
    let server = MockServer::start().await;
    mock.expect(1).mount(&server).await;
    let client = Client::builder(Environment::Custom(server.uri().parse().unwrap()))
        .build()
        .unwrap();
    (server, client)
}

fn client() -> Client {
    Client::builder(Environment::Custom("http://127.0.0.1:9/".parse().unwrap()))
        .build()
        .unwrap()
}

#[derive(Serialize)]
struct Note<'a> {
    text: &'a str,
}

#[derive(Deserialize, Debug, PartialEq)]
struct Echo {
    ok: bool,
}

/// Every argument is named like a local, parameter or static of the generated builder.
#[api]
trait Reserved {
    #[endpoint(post = "/r/{__client}/{ENDPOINT}", json)]
    #[allow(non_snake_case)]
    async fn reserved(
        &self,
        __client: &str,
        ENDPOINT: u32,
        #[query] __builder: &str,
        #[header("X-Headers")] HEADERS: &str,
        #[body] body: &Note<'_>,
    ) -> Result<(), Error>;
}

#[test]
fn arguments_named_like_generated_names_are_the_users_own() {
    let request =
        ReservedRequests::reserved(&client(), "c 1", 7, "b&2", "h3", &Note { text: "n" }).unwrap();
    assert_eq!(
        request.url(),
        "http://127.0.0.1:9/r/c%201/7?__builder=b%262"
    );
    assert_eq!(request.headers()["x-headers"], "h3");
    assert_eq!(request.body(), Some(&br#"{"text":"n"}"#[..]));
    assert_eq!(request.endpoint().name(), "Reserved::reserved");
}

/// Declares a trait the way a crate generates several from one template: every type comes
/// in as a `$t:ty` fragment, in an invisible group.
macro_rules! declare {
    ($name:ident, $ok:ty, $id:ty, $page:ty, $path:literal) => {
        #[api]
        trait $name {
            #[endpoint(get = $path)]
            async fn read(&self, id: $id, #[query] page: $page) -> Result<$ok, Error>;
        }
    };
}

declare!(FromMacro, Echo, u64, u32, "/things/{id}");

#[tokio::test]
async fn a_trait_from_macro_rules_builds_and_calls() {
    let request = FromMacroRequests::read(&client(), 42, 3).unwrap();
    // A scalar `$t` is a named query parameter, not a struct to flatten.
    assert_eq!(request.url(), "http://127.0.0.1:9/things/42?page=3");

    let (_server, client) = serving(
        Mock::given(method("GET"))
            .and(path("/things/42"))
            .and(query_param("page", "3"))
            .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"ok":true}"#)),
    )
    .await;
    // The `$ok` type is decoded as JSON: the `Result<$t, Error>` return type was understood.
    assert_eq!(client.read(42, 3).await.unwrap(), Echo { ok: true });
}

/// A one-parameter alias, as many crates declare.
mod alias {
    pub(crate) type Result<T> = std::result::Result<T, fintecture_oauth::Error>;
}

/// Lifetimes and type parameters on methods and arguments, `impl Trait` arguments, doc
/// comments and `#[cfg]` on methods, and items that are not endpoints.
#[api]
trait Shapes {
    /// A constant with a default is not the macro's business.
    const PAGE: u32 = 10;

    /// An explicit lifetime, shared by two arguments.
    #[endpoint(get = "/l/{id}")]
    async fn lifetimes<'a>(&self, id: &'a str, #[query] q: &'a str) -> alias::Result<()>;

    /// A generic body and a generic path parameter.
    #[endpoint(put = "/g/{id}", form)]
    async fn generic<T: Serialize + Sync, I>(&self, id: I, #[body] body: &T) -> alias::Result<()>
    where
        I: std::fmt::Display + Send;

    /// `impl Trait` in argument position.
    #[endpoint(post = "/i", json)]
    async fn impl_arg(&self, #[body] body: impl Serialize + Send) -> alias::Result<()>;

    /// Two methods of one name, one of them compiled out.
    #[cfg(target_pointer_width = "16")]
    #[endpoint(get = "/never")]
    async fn conditional(&self) -> alias::Result<()>;
    #[cfg(not(target_pointer_width = "16"))]
    #[endpoint(get = "/always")]
    async fn conditional(&self) -> alias::Result<()>;

    /// Parenthesised types (as other macros may write them) are seen through.
    #[endpoint(get = "/p")]
    async fn paren(&self, #[query] page: (u32)) -> alias::Result<(())>;

    /// Optional and borrowed scalars are query parameters named after the argument.
    #[endpoint(get = "/o")]
    async fn optional(
        &self,
        #[query] page: Option<u32>,
        #[query] name: std::borrow::Cow<'_, str>,
    ) -> alias::Result<()>;

    /// A tuple other than `()` is decoded, from a JSON array.
    #[endpoint(get = "/t")]
    async fn tuple(&self) -> alias::Result<(u32, String)>;

    /// A provided method that uses an endpoint.
    fn provided(&self) -> fintecture_oauth::BoxFuture<'_, alias::Result<()>> {
        self.conditional()
    }
}

#[test]
fn lifetimes_generics_cfg_and_other_items_expand() {
    let client = client();
    assert_eq!(
        ShapesRequests::lifetimes(&client, "a", "b c")
            .unwrap()
            .url(),
        "http://127.0.0.1:9/l/a?q=b+c"
    );
    let generic = ShapesRequests::generic(&client, 5u8, &Note { text: "x y" }).unwrap();
    assert_eq!(generic.url(), "http://127.0.0.1:9/g/5");
    assert_eq!(generic.body(), Some(&b"text=x+y"[..]));
    let impl_arg = ShapesRequests::impl_arg(&client, Note { text: "z" }).unwrap();
    assert_eq!(impl_arg.body(), Some(&br#"{"text":"z"}"#[..]));
    assert_eq!(
        ShapesRequests::conditional(&client).unwrap().url(),
        "http://127.0.0.1:9/always"
    );
    assert_eq!(
        ShapesRequests::optional(&client, Some(2), "a b".into())
            .unwrap()
            .url(),
        "http://127.0.0.1:9/o?page=2&name=a+b"
    );
    assert_eq!(
        ShapesRequests::optional(&client, None, "".into())
            .unwrap()
            .url(),
        "http://127.0.0.1:9/o?name="
    );
    assert_eq!(<Client as Shapes>::PAGE, 10);
}

#[tokio::test]
async fn a_provided_method_calls_the_generated_one() {
    let (_server, client) = serving(
        Mock::given(method("GET"))
            .and(path("/always"))
            .respond_with(ResponseTemplate::new(204)),
    )
    .await;
    // The generated futures are `Send`: they can be spawned.
    tokio::spawn(async move { client.provided().await })
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_tuple_is_decoded_and_only_the_empty_one_ignores_the_body() {
    let (_server, client) = serving(
        Mock::given(method("GET"))
            .and(path("/t"))
            .respond_with(ResponseTemplate::new(200).set_body_string(r#"[7,"x"]"#)),
    )
    .await;
    assert_eq!(client.tuple().await.unwrap(), (7, "x".to_owned()));
}

#[tokio::test]
async fn parenthesised_types_are_seen_through() {
    let (_server, client) = serving(
        Mock::given(method("GET"))
            .and(path("/p"))
            .and(query_param("page", "2"))
            .respond_with(ResponseTemplate::new(200).set_body_string("not JSON")),
    )
    .await;
    // `(())` ignores the body, `(u32)` is one query parameter.
    client.paren(2).await.unwrap();
}

/// A crate that re-exports fintecture-oauth under another path.
mod facade {
    pub(crate) use fintecture_oauth as runtime;
}

#[api(crate = facade::runtime)]
trait ThroughFacade {
    #[endpoint(post = "/f", form)]
    async fn through(&self, #[body] note: &Note<'_>) -> Result<Echo, Error>;
}

#[api(crate = "crate::facade::runtime")]
trait ThroughQuotedPath {
    #[endpoint(delete = "/q/{id}")]
    async fn quoted(&self, id: &str) -> Result<(), Error>;
}

#[tokio::test]
async fn the_runtime_may_be_named_through_another_path() {
    let (_server, client) = serving(
        Mock::given(method("POST"))
            .and(path("/f"))
            .and(body_string("text=hi"))
            .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"ok":false}"#)),
    )
    .await;
    assert_eq!(
        client.through(&Note { text: "hi" }).await.unwrap(),
        Echo { ok: false }
    );
    let quoted = ThroughQuotedPathRequests::quoted(&client, "7").unwrap();
    assert_eq!(quoted.method(), "DELETE");
    assert!(quoted.url().ends_with("/q/7"), "{}", quoted.url());
}

/// A user error type: anything `From<fintecture_oauth::Error>`.
#[derive(Debug)]
struct MyError(Error);

impl From<Error> for MyError {
    fn from(error: Error) -> Self {
        MyError(error)
    }
}

#[api]
trait OwnError {
    #[endpoint(get = "/e")]
    async fn own_error(&self) -> Result<(), MyError>;
}

#[tokio::test]
async fn the_error_type_may_be_the_users() {
    let (_server, client) = serving(
        Mock::given(method("GET"))
            .and(path("/e"))
            .respond_with(ResponseTemplate::new(404)),
    )
    .await;
    let MyError(error) = client.own_error().await.unwrap_err();
    assert_eq!(
        error.status(),
        Some(fintecture_oauth::http::StatusCode::NOT_FOUND)
    );
}

/// Every key of `#[endpoint]`, to read back through `Endpoint`'s accessors.
#[api]
trait Declared {
    /// One of everything.
    #[endpoint(
        patch = "/d/{id}",
        json,
        scope = "PIS",
        timeout = "7s",
        max_body = "2KiB",
        retry = 2,
        header("X-One" = "1")
    )]
    async fn declared(&self, id: u8, #[body] note: &Note<'_>) -> Result<(), Error>;
}

#[test]
fn the_declaration_is_readable_from_the_request() {
    let request = DeclaredRequests::declared(&client(), 1, &Note { text: "t" }).unwrap();
    let endpoint = request.endpoint();
    assert_eq!(endpoint.name(), "Declared::declared");
    assert_eq!(endpoint.method(), "PATCH");
    assert_eq!(endpoint.path(), "/d/{id}");
    assert_eq!(
        endpoint.auth(),
        fintecture_oauth::Auth::Bearer { scope: Some("PIS") }
    );
    assert_eq!(endpoint.timeout(), Some(std::time::Duration::from_secs(7)));
    assert_eq!(endpoint.max_body(), Some(2048));
    assert_eq!(endpoint.retries(), 2);
    let headers: Vec<(&str, &str)> = endpoint
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), value.to_str().unwrap()))
        .collect();
    assert_eq!(headers, [("x-one", "1")]);
}
