//! Procedural macros behind [`fintecture-oauth`](https://docs.rs/fintecture-oauth).
//!
//! Use them through `fintecture_oauth::api`; the generated code names everything through
//! `fintecture_oauth::__private`, so this crate is not meant to be depended on directly.
//!
//! The pipeline has one module per stage: [`attr`] parses `#[endpoint(...)]` and argument
//! attributes, [`ast`] reads the trait into a model, [`valid`] checks the model, and
//! [`expand`] generates the code.

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
mod valid;

use proc_macro::TokenStream;

/// Turns a trait whose methods carry `#[endpoint(...)]` into an HTTP API.
///
/// See the `fintecture_oauth::api` documentation for the full syntax.
#[proc_macro_attribute]
pub fn api(args: TokenStream, input: TokenStream) -> TokenStream {
    let args = proc_macro2::TokenStream::from(args);
    let item = syn::parse_macro_input!(input as syn::ItemTrait);
    expand::api(args, item).into()
}
