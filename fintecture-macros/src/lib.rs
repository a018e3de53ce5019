//! Procedural macros behind [`fintecture-oauth`](https://docs.rs/fintecture-oauth).
//!
//! Use them through `fintecture_oauth::api`; the generated code names everything through
//! `fintecture_oauth::__private`, so this crate is not meant to be depended on directly.
//!
//! The pipeline has one module per stage: `attr` parses `#[endpoint(...)]` and argument
//! attributes, `ast` reads the trait into a model, `valid` checks the model, and `expand`
//! generates the code.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::panic
)]

mod ast;
mod attr;
mod expand;
mod spec;
#[cfg(feature = "spec")]
mod spec_check;
#[cfg(feature = "spec")]
mod spec_load;
#[cfg(feature = "spec")]
mod spec_model;
mod suggest;
mod valid;

#[cfg(test)]
mod tests;

use proc_macro::TokenStream;

/// Turns a trait whose methods carry `#[endpoint(...)]` into an HTTP API: request builders
/// (inspectable without I/O) and async callers implemented for `fintecture_oauth::Client`.
///
/// ```
/// use fintecture_oauth::{Client, Environment, Error, api};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize)]
/// pub struct Search<'a> { pub state: &'a str }
///
/// #[derive(Deserialize)]
/// pub struct Payment { pub status: String }
///
/// #[api]
/// pub trait Payments {
///     /// Reads one payment session.
///     #[endpoint(get = "/pis/v2/payments/{session_id}", scope = "PIS", timeout = "10s")]
///     async fn payment(&self, session_id: &str, #[query] search: &Search<'_>) -> Result<Payment, Error>;
/// }
///
/// # fn main() -> Result<(), Error> {
/// let client = Client::builder(Environment::Sandbox).build()?;
/// // Build without sending: method, URL, headers and body are there to inspect.
/// let request = PaymentsRequests::payment(&client, "a/b", &Search { state: "x y" })?;
/// assert_eq!(
///     request.url(),
///     "https://api-sandbox.fintecture.com/pis/v2/payments/a%2Fb?state=x+y"
/// );
/// // Or call it: `client.payment("id", &search).await?` (a `Send` future).
/// # Ok(()) }
/// ```
///
/// # What it generates
/// - the trait, each endpoint's `async fn` turned into a method returning
///   `fintecture_oauth::BoxFuture<'_, Result<...>>`, a boxed `Send` future borrowing at most
///   `self`: calls can be spawned, and a test double implements the method with
///   `Box::pin(async move { ... })`;
/// - `<Trait>Requests`, a type with one builder function per endpoint, taking the client and
///   the method's arguments and returning a `Request` (or an `Error` when an argument cannot
///   be encoded), without I/O;
/// - `impl <Trait> for fintecture_oauth::Client`: build, send (with the client's tokens,
///   signing, timeouts and retries), decode.
///
/// Items other than endpoints may sit in the trait when they need no implementation:
/// provided methods, associated constants with a value.
///
/// # `#[api(...)]`
/// - `crate = path::to::fintecture_oauth` (or `crate = "path::to::fintecture_oauth"`): where
///   the generated code finds the runtime, for crates that re-export it. By default
///   `::fintecture_oauth`.
///
/// # `#[endpoint(...)]`
/// - one method key and its path template: `get`, `post`, `put`, `patch` or `delete`
///   `= "/path/{param}"`;
/// - the body encoding, when there is a `#[body]` argument: `form` or `json`;
/// - `auth = none` (the default), `auth = client` (the app's client credentials, HTTP Basic by
///   default), `auth = app` (the app's id in an `app_id` header and no token, as the
///   endpoints that start a consent take) or `auth = bearer`; `scope = "PIS"` asks for a bearer token of that scope
///   (`scope = "AIS"` for a customer's token: call it on `client.customer(id)`);
/// - `timeout = "30s"` (`ms`, `s`, `m`), `max_body = "1MiB"` (bytes, `KiB`, `MiB`, `GiB`),
///   and any number of static headers: `header("X-Name" = "value")`;
/// - `retry = 3`: retry up to 3 times after a connection failure (the request was not sent)
///   or a 429 or 503 answer, with exponential backoff and jitter, honouring `Retry-After` up
///   to a cap. Only for endpoints that are safe to replay.
///
/// # Arguments
/// - a plain argument fills the `{placeholder}` of the same name, percent-encoded as one path
///   segment (any `Display` type);
/// - `#[query]` on a struct or map adds its fields as query parameters (serde); on a scalar
///   (`&str`, `String`, numbers, `bool`, `Option` of these) it adds one parameter named after
///   the argument; `#[query("name")]` names it explicitly (use it for enums);
/// - `#[header("Name")]` sends the value (any `Display` type) as a header;
/// - `#[body]` is the body (any `Serialize` type), encoded as the endpoint says.
///
/// Arguments may have any name, lifetimes and generic types; methods may carry doc comments
/// and `#[cfg(...)]`. Types may come from `macro_rules!` fragments (`$t:ty`).
///
/// # Return types
/// `Result<T, E>` (or an alias named `Result`) where `E: From<fintecture_oauth::Error>`: `T`
/// is decoded from JSON, `()` ignores the body, and `RawResponse` keeps status, headers and
/// bytes.
///
/// # Errors
/// Every mistake is a compile error pointing at the offending tokens, all of them at once:
/// a missing or second HTTP method, a malformed path template, a placeholder without its
/// argument, an argument without a role, a body on GET, a body without an encoding, an
/// unknown key (with a suggestion), a method that is not `async`, has a body, or takes no
/// `&self`, a generic trait, and so on. The trait and the generated items are still emitted
/// then, so code using them reports nothing more.
#[proc_macro_attribute]
pub fn api(args: TokenStream, input: TokenStream) -> TokenStream {
    let args = proc_macro2::TokenStream::from(args);
    let item = syn::parse_macro_input!(input as syn::ItemTrait);
    // Where the trait is declared, for a `spec` path relative to it (rust-analyzer may not
    // say: then nothing is checked, and the code is the same).
    let file = proc_macro::Span::call_site().local_file();
    let dir = file.map(|file| {
        let dir = file
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        std::env::current_dir().map_or(dir.clone(), |cwd| cwd.join(dir))
    });
    expand::api(args, item, dir.as_deref()).into()
}
