//! `#[api(spec = "openapi.yaml")]`: the trait's endpoints checked against an OpenAPI
//! document at compile time (feature `spec`). The path is relative to the file that
//! declares the trait, as `include_str!` resolves it; the expansion gains one
//! `include_bytes!` of the document, so that cargo rebuilds when it changes, and is
//! otherwise the same with and without `spec`.

use crate::ast::Api;
use crate::attr::Errors;
use proc_macro2::TokenStream;
#[cfg(feature = "spec")]
use quote::quote_spanned;
use std::path::Path;
use syn::LitStr;

/// Checks `api` against the document `spec` names, relative to `declaring_dir` (the
/// declaring file's directory; `None` where the compiler does not say, as in
/// rust-analyzer: then nothing is checked). Returns the item that makes cargo rebuild when
/// the document changes, unless it cannot be read.
#[cfg(feature = "spec")]
pub(crate) fn check(
    api: &Api,
    spec: &LitStr,
    declaring_dir: Option<&Path>,
    errors: &mut Errors,
) -> Option<TokenStream> {
    use crate::spec_load::{Failure, load};
    let file = spec.value();
    let tracking = quote_spanned!(spec.span()=> const _: &[u8] = include_bytes!(#spec););
    let Some(dir) = declaring_dir else {
        return Some(tracking);
    };
    let path = dir.join(&file);
    match &*load(&path) {
        Ok(document) => {
            crate::spec_check::check(api, document, spec, errors);
            Some(tracking)
        }
        Err(Failure::Unreadable(reason)) => {
            errors.push(syn::Error::new_spanned(
                spec,
                format!(
                    "cannot read the OpenAPI document `{file}` (looked for {}, relative to the \
                     file that declares the trait): {reason}",
                    path.display()
                ),
            ));
            None
        }
        Err(Failure::Invalid(reason)) => {
            errors.push(syn::Error::new_spanned(
                spec,
                format!("`{file}` is not a usable OpenAPI document: {reason}"),
            ));
            Some(tracking)
        }
    }
}

/// Without the feature: says how to get it.
#[cfg(not(feature = "spec"))]
pub(crate) fn check(
    _: &Api,
    spec: &LitStr,
    _: Option<&Path>,
    errors: &mut Errors,
) -> Option<TokenStream> {
    errors.push(syn::Error::new_spanned(
        spec,
        "checking against an OpenAPI document needs the `spec` feature of fintecture-oauth \
         (features = [\"spec\"])",
    ));
    None
}
