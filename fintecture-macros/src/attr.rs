//! Parsing of the attributes the macro reads: `#[endpoint(...)]` on methods and the role
//! attributes (`#[query]`, `#[header("Name")]`, `#[body]`) on arguments.
//!
//! Parsing only records what was written, with the tokens to point at; whether it makes
//! sense is `valid.rs`'s business. Problems are collected, not returned early, so one error
//! never hides another.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::{Attribute, Ident, LitStr, Token};

/// The keys `#[endpoint(...)]` understands, for "did you mean" suggestions.
const KEYS: &[&str] = &[
    "get",
    "post",
    "put",
    "patch",
    "delete",
    "form",
    "json",
    "auth",
    "scope",
    "timeout",
    "max_body",
    "header",
    "retry",
    "spec",
    "operation",
];

/// An HTTP method key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Verb {
    fn from_key(key: &str) -> Option<Self> {
        Some(match key {
            "get" => Verb::Get,
            "post" => Verb::Post,
            "put" => Verb::Put,
            "patch" => Verb::Patch,
            "delete" => Verb::Delete,
            _ => return None,
        })
    }

    /// The name of the `http::Method` associated constant.
    pub(crate) fn constant(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }
}

/// How the body argument is encoded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Form,
    Json,
}

/// Which credentials an endpoint sends.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthKind {
    None,
    Client,
    Bearer,
    App,
}

/// `#[endpoint(...)]` as written. Every item keeps the token that introduced it.
pub(crate) struct EndpointAttr {
    /// The `endpoint` path of the attribute, to point at when something is missing.
    pub(crate) span_tokens: syn::Path,
    pub(crate) verbs: Vec<(Verb, Ident, LitStr)>,
    pub(crate) encodings: Vec<(Encoding, Ident)>,
    pub(crate) auth: Option<(AuthKind, Ident)>,
    pub(crate) scope: Option<LitStr>,
    pub(crate) timeout: Option<(u64, LitStr)>,
    pub(crate) max_body: Option<(u64, syn::Lit)>,
    pub(crate) retry: Option<(u32, syn::LitInt)>,
    pub(crate) headers: Vec<(LitStr, LitStr)>,
    /// `spec = skip`: not checked against the trait's OpenAPI document.
    pub(crate) spec_skip: Option<Ident>,
    /// `operation = "operationId"`: the document's operation this endpoint is, when its
    /// path and method alone do not say.
    pub(crate) operation: Option<LitStr>,
    /// The path was given under a key that is not a method (`path = "/x"`): that error
    /// stands for the missing method too.
    pub(crate) path_without_method: bool,
}

/// `#[api(...)]` as written.
pub(crate) struct ApiArgs {
    /// The path the generated code names the runtime by.
    pub(crate) krate: syn::Path,
    /// Whether the user wrote it (`crate = ...`): its tokens then keep their spans.
    pub(crate) krate_given: bool,
    /// `spec = "openapi.yaml"`: the document to check the endpoints against, relative to
    /// the declaring file.
    pub(crate) spec: Option<LitStr>,
}

/// Parses the arguments of `#[api(...)]`: `crate = path::to::fintecture_oauth` (a path, or
/// a string holding one, as serde's `crate = "..."`), for crates that re-export
/// fintecture-oauth, and `spec = "openapi.yaml"`.
pub(crate) fn api_args(args: TokenStream, errors: &mut Errors) -> ApiArgs {
    let default = || syn::parse_quote!(::fintecture_oauth);
    let mut krate: Option<syn::Path> = None;
    let mut spec: Option<LitStr> = None;
    let parser = |input: ParseStream| {
        while !input.is_empty() {
            let key: Ident = input.call(syn::ext::IdentExt::parse_any)?;
            if key == "spec" {
                input.parse::<Token![=]>()?;
                let path: LitStr = input.parse()?;
                if spec.is_some() {
                    errors.push(syn::Error::new_spanned(&key, "`spec` is given twice"));
                }
                spec = Some(path);
            } else if key != "crate" {
                errors.push(syn::Error::new_spanned(
                    &key,
                    format!(
                        "unknown #[api] argument `{key}`; expected `crate = path::to::fintecture_oauth` \
                         or `spec = \"openapi.yaml\"`"
                    ),
                ));
                skip_to_comma(input)?;
            } else {
                input.parse::<Token![=]>()?;
                let path = if input.peek(LitStr) {
                    input.parse::<LitStr>()?.parse::<syn::Path>()?
                } else {
                    input.call(syn::Path::parse_mod_style)?
                };
                if krate.is_some() {
                    errors.push(syn::Error::new_spanned(&key, "`crate` is given twice"));
                }
                krate = Some(path);
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(())
    };
    if let Err(e) = parser.parse2(args) {
        errors.push(e);
    }
    ApiArgs {
        krate_given: krate.is_some(),
        krate: krate.unwrap_or_else(default),
        spec,
    }
}

/// Finds and parses the `#[endpoint(...)]` attribute of a method, if it has one.
pub(crate) fn endpoint(attrs: &[Attribute], errors: &mut Errors) -> Option<EndpointAttr> {
    let attr = attrs.iter().find(|a| a.path().is_ident("endpoint"))?;
    for extra in attrs
        .iter()
        .filter(|a| a.path().is_ident("endpoint"))
        .skip(1)
    {
        errors.push(syn::Error::new_spanned(
            extra,
            "a method takes one #[endpoint(...)]",
        ));
    }
    let mut parsed = EndpointAttr {
        span_tokens: attr.path().clone(),
        verbs: Vec::new(),
        encodings: Vec::new(),
        auth: None,
        scope: None,
        timeout: None,
        max_body: None,
        retry: None,
        headers: Vec::new(),
        spec_skip: None,
        operation: None,
        path_without_method: false,
    };
    let list = match &attr.meta {
        syn::Meta::List(list) => list,
        other => {
            errors.push(syn::Error::new_spanned(
                other,
                "expected #[endpoint(get = \"/path\", ...)]",
            ));
            return Some(parsed);
        }
    };
    let parser = |input: ParseStream| {
        while !input.is_empty() {
            let key: Ident = input.call(syn::ext::IdentExt::parse_any)?;
            if let Err(e) = parse_item(&key, input, &mut parsed) {
                errors.push(e);
                skip_to_comma(input)?;
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(())
    };
    if let Err(e) = parser.parse2(list.tokens.clone()) {
        errors.push(e);
    }
    Some(parsed)
}

fn parse_item(key: &Ident, input: ParseStream, out: &mut EndpointAttr) -> syn::Result<()> {
    let name = key.to_string();
    if let Some(verb) = Verb::from_key(&name) {
        if input.peek(syn::token::Paren) {
            // `post("/x")`: the method kept (so nothing else reports it missing), and one
            // error with the form to write.
            let content;
            syn::parenthesized!(content in input);
            let path: LitStr = content.parse()?;
            let message = format!("write `{name} = {:?}`", path.value());
            out.verbs.push((verb, key.clone(), path.clone()));
            return Err(syn::Error::new_spanned(key, message));
        }
        input.parse::<Token![=]>()?;
        out.verbs.push((verb, key.clone(), input.parse()?));
        return Ok(());
    }
    match name.as_str() {
        "path" | "url" | "uri" | "route" | "method" => {
            out.path_without_method = true;
            let value = input
                .parse::<Token![=]>()
                .and_then(|_| input.parse::<LitStr>())
                .map(|value| value.value());
            // `method = "POST"` names the method; `path = "/x"` (and the like) the path.
            let value = value.unwrap_or_default();
            let lower = value.to_ascii_lowercase();
            let message = match Verb::from_key(&lower) {
                Some(_) => format!("the HTTP method is the key: `{lower} = \"/path\"`"),
                None => {
                    let path = if value.is_empty() { "/path" } else { &value };
                    format!(
                        "the HTTP method is the key: `get = {path:?}` (or `post`, `put`, \
                         `patch`, `delete`)"
                    )
                }
            };
            return Err(syn::Error::new_spanned(key, message));
        }
        "form" => out.encodings.push((Encoding::Form, key.clone())),
        "json" => out.encodings.push((Encoding::Json, key.clone())),
        "auth" => {
            input.parse::<Token![=]>()?;
            if input.peek(LitStr) {
                let quoted: LitStr = input.parse()?;
                return Err(syn::Error::new_spanned(
                    &quoted,
                    format!("`auth` takes a bare word: `auth = {}`", quoted.value()),
                ));
            }
            let value: Ident = input.call(syn::ext::IdentExt::parse_any)?;
            let kind = match value.to_string().as_str() {
                "none" => AuthKind::None,
                "client" => AuthKind::Client,
                "bearer" => AuthKind::Bearer,
                "app" => AuthKind::App,
                _ => {
                    return Err(syn::Error::new_spanned(
                        &value,
                        "expected `none`, `client` (HTTP Basic client credentials), `bearer` \
                         or `app` (the `app_id` header, no token)",
                    ));
                }
            };
            set_once(&mut out.auth, (kind, value), key)?;
        }
        "scope" => {
            input.parse::<Token![=]>()?;
            let scope: LitStr = string(input, |bare| {
                format!("quote the scope: `scope = \"{bare}\"`")
            })?;
            if scope.value().trim().is_empty() {
                return Err(syn::Error::new_spanned(
                    &scope,
                    "the scope must not be empty",
                ));
            }
            set_once(&mut out.scope, scope, key)?;
        }
        "timeout" => {
            input.parse::<Token![=]>()?;
            let lit: LitStr = string(input, |bare| {
                format!(
                    "a timeout is a duration in a string: `timeout = \"{bare}s\"` (or \"500ms\", \"2m\")"
                )
            })?;
            let millis = parse_duration_ms(&lit.value()).ok_or_else(|| {
                syn::Error::new_spanned(
                    &lit,
                    "expected a duration such as \"500ms\", \"30s\" or \"2m\" (greater than zero)",
                )
            })?;
            set_once(&mut out.timeout, (millis, lit), key)?;
        }
        "max_body" => {
            input.parse::<Token![=]>()?;
            let lit: syn::Lit = input.parse()?;
            let bytes = match &lit {
                syn::Lit::Int(int) => int.base10_parse::<u64>().ok(),
                syn::Lit::Str(s) => parse_size(&s.value()),
                _ => None,
            }
            .filter(|&b| b > 0)
            .ok_or_else(|| {
                syn::Error::new_spanned(
                    &lit,
                    "expected a size in bytes such as 65536, \"64KiB\" or \"1MiB\"",
                )
            })?;
            set_once(&mut out.max_body, (bytes, lit), key)?;
        }
        "retry" => {
            input.parse::<Token![=]>()?;
            let lit: syn::LitInt = input.parse()?;
            let retries = lit
                .base10_parse::<u32>()
                .ok()
                .filter(|n| (1..=10).contains(n))
                .ok_or_else(|| {
                    syn::Error::new_spanned(&lit, "expected a number of retries from 1 to 10")
                })?;
            set_once(&mut out.retry, (retries, lit), key)?;
        }
        "spec" => {
            input.parse::<Token![=]>()?;
            let value: Ident = input.call(syn::ext::IdentExt::parse_any)?;
            if value != "skip" {
                return Err(syn::Error::new_spanned(
                    &value,
                    "expected `spec = skip` (not checked against the OpenAPI document)",
                ));
            }
            set_once(&mut out.spec_skip, value, key)?;
        }
        "operation" => {
            input.parse::<Token![=]>()?;
            let id: LitStr = input.parse()?;
            set_once(&mut out.operation, id, key)?;
        }
        "header" => {
            let content;
            syn::parenthesized!(content in input);
            let name: LitStr = content.parse()?;
            content.parse::<Token![=]>()?;
            let value: LitStr = content.parse()?;
            out.headers.push((name, value));
        }
        _ => {
            let message = match closest(&name) {
                Some(known) => format!("unknown key `{name}`; did you mean `{known}`?"),
                None => format!("unknown key `{name}`; expected one of: {}", KEYS.join(", ")),
            };
            return Err(syn::Error::new_spanned(key, message));
        }
    }
    Ok(())
}

/// A string literal; for anything else written bare (`PIS`, `15`), the error `explain` gives
/// for it, on it.
fn string(input: ParseStream, explain: impl Fn(&str) -> String) -> syn::Result<LitStr> {
    if input.peek(LitStr) {
        return input.parse();
    }
    let bare: TokenTree = input.parse()?;
    Err(syn::Error::new_spanned(&bare, explain(&bare.to_string())))
}

fn set_once<T>(slot: &mut Option<T>, value: T, key: &Ident) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new_spanned(
            key,
            format!("`{key}` is given twice"),
        ));
    }
    *slot = Some(value);
    Ok(())
}

/// After a bad item, drops its remaining tokens so parsing can go on with the next one.
fn skip_to_comma(input: ParseStream) -> syn::Result<()> {
    input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            if matches!(&tt, TokenTree::Punct(p) if p.as_char() == ',') {
                return Ok(((), rest));
            }
            rest = next;
        }
        Ok(((), rest))
    })
}

fn parse_duration_ms(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        _ => return None,
    };
    number.checked_mul(factor).filter(|&ms| ms > 0)
}

fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(factor)
}

/// The known key closest to a misspelt one, if any is close enough to be a plausible typo.
fn closest(name: &str) -> Option<&'static str> {
    crate::suggest::closest(name, KEYS.iter().copied())
}

/// The role an argument plays in the request, from its attribute.
pub(crate) enum Role {
    /// `#[query]` (a struct or map, flattened; or a scalar named after the argument) or
    /// `#[query("name")]` (a scalar under that name).
    Query(Option<LitStr>),
    /// `#[header("Name")]`.
    Header(LitStr),
    /// `#[body]`.
    Body(Ident),
    /// `#[path("customer-id")]`: fills the placeholder of that name, for names that are
    /// not Rust identifiers.
    Path(LitStr),
}

/// Whether an attribute is one of the argument-role attributes this macro consumes.
pub(crate) fn is_role_attr(attr: &Attribute) -> bool {
    ["query", "header", "body", "path"]
        .iter()
        .any(|name| attr.path().is_ident(name))
}

/// Reads the role attribute of an argument. `None` means a path parameter (or a mistake,
/// which validation reports).
pub(crate) fn role(attrs: &[Attribute], errors: &mut Errors) -> Option<Role> {
    let mut found: Option<Role> = None;
    for attr in attrs.iter().filter(|a| is_role_attr(a)) {
        if found.is_some() {
            errors.push(syn::Error::new_spanned(
                attr,
                "an argument has one role attribute",
            ));
            continue;
        }
        let parsed = if attr.path().is_ident("body") {
            attr.meta
                .require_path_only()
                .map(|p| Role::Body(ident_of(p)))
        } else if attr.path().is_ident("path") {
            attr.parse_args::<LitStr>()
                .map(Role::Path)
                .map_err(|e| syn::Error::new(e.span(), "expected #[path(\"placeholder-name\")]"))
        } else if attr.path().is_ident("header") {
            attr.parse_args::<LitStr>()
                .map(Role::Header)
                .map_err(|e| syn::Error::new(e.span(), "expected #[header(\"Header-Name\")]"))
        } else {
            match &attr.meta {
                syn::Meta::Path(_) => Ok(Role::Query(None)),
                _ => attr
                    .parse_args::<LitStr>()
                    .map(|name| Role::Query(Some(name))),
            }
        };
        match parsed {
            Ok(role) => found = Some(role),
            Err(e) => errors.push(e),
        }
    }
    found
}

fn ident_of(path: &syn::Path) -> Ident {
    path.get_ident()
        .cloned()
        .unwrap_or_else(|| Ident::new("body", Span::call_site()))
}

/// A parsed path template: literal pieces and `{placeholders}`.
pub(crate) enum Piece {
    Literal(String),
    Param(String),
}

/// Splits `/a/{b}/c` into pieces; `Err` carries a message about a malformed template.
pub(crate) fn template(path: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find(['{', '}']) {
        let (literal, tail) = rest.split_at(open);
        if tail.starts_with('}') {
            return Err("unmatched `}` in the path".into());
        }
        let close = tail
            .find('}')
            .ok_or_else(|| "unclosed `{` in the path".to_string())?;
        let written = tail.get(1..close).unwrap_or_default();
        // Any name a URL template may hold: keywords (`{type}`, or `{r#type}` as before,
        // filled by `r#type`) and names that are not identifiers (`{customer-id}`, filled
        // by a `#[path("customer-id")]` argument).
        let name = written.strip_prefix("r#").unwrap_or(written);
        let valid = |c: char| c.is_ascii_alphanumeric() || "_-.".contains(c);
        if name.is_empty() || !name.chars().all(valid) {
            return Err(format!("`{{{written}}}` is not a valid placeholder name"));
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal.to_string()));
        }
        pieces.push(Piece::Param(name.to_string()));
        rest = tail.get(close + 1..).unwrap_or_default();
    }
    if !rest.is_empty() {
        pieces.push(Piece::Literal(rest.to_string()));
    }
    Ok(pieces)
}

/// Accumulates errors so that all of them are reported together.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn into_result(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
// A test states its expectation by panicking.
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("500ms"), Some(500));
        assert_eq!(parse_duration_ms("30s"), Some(30_000));
        assert_eq!(parse_duration_ms(" 2m "), Some(120_000));
        assert_eq!(parse_duration_ms("2 min"), Some(120_000));
        for bad in [
            "",
            "s",
            "30",
            "0s",
            "1h",
            "1.5s",
            "-1s",
            "30 seconds",
            "18446744073709551615m",
        ] {
            assert_eq!(parse_duration_ms(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536"), Some(65_536));
        assert_eq!(parse_size("12B"), Some(12));
        assert_eq!(parse_size("64KiB"), Some(64 << 10));
        assert_eq!(parse_size("1 MiB"), Some(1 << 20));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        for bad in [
            "",
            "MiB",
            "1MB",
            "1kib",
            "1.5MiB",
            "18446744073709551615KiB",
        ] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
    }

    fn pieces(path: &str) -> Result<Vec<String>, String> {
        let pieces = template(path)?;
        Ok(pieces
            .into_iter()
            .map(|piece| match piece {
                Piece::Literal(text) => format!("L:{text}"),
                Piece::Param(name) => format!("P:{name}"),
            })
            .collect())
    }

    #[test]
    fn path_templates() {
        assert_eq!(pieces("/a/b"), Ok(vec!["L:/a/b".to_string()]));
        assert_eq!(
            pieces("/a/{id}/b/{r#type}"),
            Ok(["L:/a/", "P:id", "L:/b/", "P:type"]
                .map(String::from)
                .to_vec())
        );
        assert_eq!(pieces("{x}{y}"), Ok(vec!["P:x".into(), "P:y".into()]));
        assert_eq!(pieces(""), Ok(vec![]));
        assert_eq!(pieces("/a}"), Err("unmatched `}` in the path".into()));
        assert_eq!(pieces("/a/{id"), Err("unclosed `{` in the path".into()));
        assert_eq!(
            pieces("/a/{}"),
            Err("`{}` is not a valid placeholder name".into())
        );
        assert_eq!(
            pieces("/a/{session-id}/{type}"),
            Ok(["L:/a/", "P:session-id", "L:/", "P:type"]
                .map(String::from)
                .to_vec())
        );
        assert_eq!(
            pieces("/a/{session id}"),
            Err("`{session id}` is not a valid placeholder name".into())
        );
        assert_eq!(
            pieces("/{a{b}}"),
            Err("`{a{b}` is not a valid placeholder name".into())
        );
    }

    #[test]
    fn suggestions_for_misspelt_keys() {
        assert_eq!(closest("tiemout"), Some("timeout"));
        assert_eq!(closest("gett"), Some("get"));
        assert_eq!(closest("max_bdy"), Some("max_body"));
        assert_eq!(closest("jsn"), Some("json"));
        assert_eq!(closest("cache_forever"), None);
        // Two edits are close enough for a three-letter key.
        assert_eq!(closest("gxx"), Some("get"));
        assert_eq!(crate::suggest::edit_distance("kitten", "sitting"), 3);
        assert_eq!(crate::suggest::edit_distance("", "abc"), 3);
        assert_eq!(crate::suggest::edit_distance("abc", ""), 3);
        assert_eq!(crate::suggest::edit_distance("ab", "ba"), 2);
        assert_eq!(crate::suggest::edit_distance("abc", "abc"), 0);
    }

    fn endpoint_of(tokens: TokenStream) -> (Option<EndpointAttr>, Result<(), syn::Error>) {
        let attrs = syn::Attribute::parse_outer
            .parse2(tokens)
            .expect("test attributes parse");
        let mut errors = Errors::default();
        (endpoint(&attrs, &mut errors), errors.into_result())
    }

    #[test]
    fn endpoint_attributes() {
        let (attr, errors) = endpoint_of(quote::quote!(
            #[endpoint(post = "/p", form, auth = client, timeout = "2s", max_body = "1KiB",
                       retry = 3, header("X-A" = "b"))]
        ));
        assert!(errors.is_ok());
        let attr = attr.expect("an #[endpoint]");
        assert_eq!(attr.verbs.len(), 1);
        assert_eq!(
            attr.verbs.first().map(|(_, _, p)| p.value()),
            Some("/p".into())
        );
        assert!(attr.encodings.iter().map(|(e, _)| *e).eq([Encoding::Form]));
        assert!(matches!(attr.auth, Some((AuthKind::Client, _))));
        assert_eq!(attr.timeout.map(|(ms, _)| ms), Some(2_000));
        assert_eq!(attr.max_body.map(|(b, _)| b), Some(1_024));
        assert_eq!(attr.retry.map(|(n, _)| n), Some(3));
        assert_eq!(attr.headers.len(), 1);

        for (tokens, verb) in [
            (quote::quote!(#[endpoint(get = "/")]), Verb::Get),
            (quote::quote!(#[endpoint(post = "/")]), Verb::Post),
            (quote::quote!(#[endpoint(put = "/")]), Verb::Put),
            (quote::quote!(#[endpoint(patch = "/")]), Verb::Patch),
            (quote::quote!(#[endpoint(delete = "/")]), Verb::Delete),
        ] {
            let (attr, errors) = endpoint_of(tokens);
            assert!(errors.is_ok());
            let verbs = attr.expect("an #[endpoint]").verbs;
            assert!(verbs.iter().map(|(v, _, _)| *v).eq([verb]));
        }
        for (tokens, auth) in [
            (
                quote::quote!(#[endpoint(get = "/", auth = none)]),
                AuthKind::None,
            ),
            (
                quote::quote!(#[endpoint(get = "/", auth = bearer)]),
                AuthKind::Bearer,
            ),
            (
                quote::quote!(#[endpoint(get = "/", auth = app)]),
                AuthKind::App,
            ),
        ] {
            let (attr, errors) = endpoint_of(tokens);
            assert!(errors.is_ok());
            assert!(
                attr.and_then(|a| a.auth)
                    .is_some_and(|(kind, _)| kind == auth)
            );
        }
        let (attr, errors) =
            endpoint_of(quote::quote!(#[endpoint(put = "/", json, max_body = 512)]));
        assert!(errors.is_ok());
        let attr = attr.expect("an #[endpoint]");
        assert!(attr.encodings.iter().map(|(e, _)| *e).eq([Encoding::Json]));
        assert_eq!(attr.max_body.map(|(b, _)| b), Some(512));
        for zero in [
            quote::quote!(#[endpoint(get = "/", max_body = 0)]),
            quote::quote!(#[endpoint(get = "/", max_body = "0KiB")]),
        ] {
            assert!(endpoint_of(zero).1.is_err());
        }

        // One bad item does not hide the next, even with tokens left over.
        let (attr, errors) = endpoint_of(quote::quote!(
            #[endpoint(get = "/g", timeout = "soon", retry = 0 junk, scope = "AIS")]
        ));
        let messages: Vec<String> = errors
            .expect_err("two mistakes")
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert_eq!(
            attr.and_then(|a| a.scope).map(|s| s.value()),
            Some("AIS".into())
        );

        let (attr, errors) = endpoint_of(quote::quote!(#[doc = "no endpoint"]));
        assert!(attr.is_none() && errors.is_ok());
    }

    #[test]
    fn role_attributes_are_recognised() {
        let attrs = syn::Attribute::parse_outer
            .parse2(quote::quote!(#[query] #[header("X")] #[body] #[cfg(test)] #[doc = "d"]))
            .expect("test attributes parse");
        let roles: Vec<bool> = attrs.iter().map(is_role_attr).collect();
        assert_eq!(roles, [true, true, true, false, false]);
    }

    #[test]
    fn api_arguments() {
        let mut errors = Errors::default();
        let path = api_args(quote::quote!(crate = my::runtime), &mut errors).krate;
        assert_eq!(quote::quote!(#path).to_string(), "my :: runtime");
        let path = api_args(quote::quote!(crate = "::other"), &mut errors).krate;
        assert_eq!(quote::quote!(#path).to_string(), ":: other");
        let args = api_args(TokenStream::new(), &mut errors);
        let path = args.krate;
        assert_eq!(quote::quote!(#path).to_string(), ":: fintecture_oauth");
        assert!(args.spec.is_none());
        let args = api_args(quote::quote!(spec = "api.yaml", crate = x), &mut errors);
        assert_eq!(args.spec.map(|s| s.value()).as_deref(), Some("api.yaml"));
        assert!(errors.into_result().is_ok());

        let mut errors = Errors::default();
        api_args(quote::quote!(krate = x), &mut errors);
        assert!(errors.into_result().is_err());
    }
}
