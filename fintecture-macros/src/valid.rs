//! Checks on the model: everything that would make a request impossible or ambiguous is a
//! compile error pointing at the offending tokens. All problems are reported at once.

use crate::ast::{Api, Endpoint};
use crate::attr::{self, AuthKind, Encoding, Errors, Piece, Role, Verb};
use syn::{FnArg, LitStr};

impl Api<'_> {
    pub(crate) fn validate(&self, errors: &mut Errors) {
        let generics = &self.item.generics;
        if !generics.params.is_empty() {
            errors.push(syn::Error::new_spanned(
                &generics.params,
                "#[api] traits cannot be generic: the runtime client implements them",
            ));
        }
        for item in &self.unsupported {
            errors.push(syn::Error::new_spanned(
                item,
                "#[api] cannot see what a macro in a trait expands to: write the items out",
            ));
        }
        for item in &self.unimplementable {
            errors.push(syn::Error::new_spanned(
                item,
                "every required item of an #[api] trait must be a method with #[endpoint(...)] \
                 (or have a default)",
            ));
        }
        for endpoint in &self.endpoints {
            endpoint.validate(errors);
        }
    }
}

impl Endpoint<'_> {
    fn validate(&self, errors: &mut Errors) {
        self.validate_signature(errors);
        let verb = self.validate_verb(errors);
        let placeholders = self.validate_path(errors);
        self.validate_body(verb, errors);
        self.validate_auth(errors);
        for (name, value) in &self.attr.headers {
            check_header_name(name, errors);
            if !value
                .value()
                .bytes()
                .all(|b| (32..127).contains(&b) || b == b'\t')
            {
                errors.push(syn::Error::new_spanned(
                    value,
                    "a header value must be visible ASCII",
                ));
            }
        }
        self.validate_args(placeholders, errors);
        if self.response().is_none() {
            let message = "unsupported return type: expected `Result<T, E>` (or an alias \
                           named `Result`) with T a deserializable type, `()` for an empty \
                           body, or `RawResponse`";
            match &self.func.sig.output {
                syn::ReturnType::Type(_, ty) => errors.push(syn::Error::new_spanned(ty, message)),
                syn::ReturnType::Default => {
                    errors.push(syn::Error::new_spanned(&self.func.sig.ident, message))
                }
            }
        }
    }

    fn validate_signature(&self, errors: &mut Errors) {
        let sig = &self.func.sig;
        if sig.asyncness.is_none() {
            errors.push(syn::Error::new_spanned(
                sig.fn_token,
                "endpoint methods must be `async fn`",
            ));
        }
        if let Some(body) = &self.func.default {
            errors.push(syn::Error::new_spanned(
                body,
                "an #[endpoint] method has no body: the macro writes it (remove #[endpoint] \
                 to keep a provided method)",
            ));
        }
        if let Some(constness) = &sig.constness {
            errors.push(syn::Error::new_spanned(
                constness,
                "endpoint methods cannot be `const`",
            ));
        }
        if let syn::Safety::Unsafe(unsafety) = &sig.safety {
            errors.push(syn::Error::new_spanned(
                unsafety,
                "endpoint methods cannot be `unsafe`: calling one is always safe",
            ));
        }
        if let Some(abi) = &sig.abi {
            errors.push(syn::Error::new_spanned(
                abi,
                "endpoint methods use the Rust ABI: remove `extern`",
            ));
        }
        let by_shared_ref = match sig.inputs.first() {
            Some(FnArg::Receiver(receiver)) => {
                matches!(receiver.kind, syn::ReceiverKind::Reference(_, _, None))
                    && receiver.mutability.is_none()
            }
            _ => false,
        };
        if !by_shared_ref {
            let message = "endpoint methods take `&self` first";
            match sig.inputs.first() {
                Some(first @ FnArg::Receiver(_)) => {
                    errors.push(syn::Error::new_spanned(first, message))
                }
                _ => errors.push(syn::Error::new_spanned(&sig.ident, message)),
            }
        }
        if let Some(variadic) = &sig.variadic {
            errors.push(syn::Error::new_spanned(
                variadic,
                "endpoint methods are not variadic",
            ));
        }
    }

    fn validate_verb(&self, errors: &mut Errors) -> Option<Verb> {
        let mut verbs = self.attr.verbs.iter();
        let Some((verb, _, _)) = verbs.next() else {
            if self.attr.path_without_method {
                return None;
            }
            errors.push(syn::Error::new_spanned(
                &self.attr.span_tokens,
                "missing HTTP method: add one of get, post, put, patch or delete = \"/path\"",
            ));
            return None;
        };
        for (_, extra, _) in verbs {
            errors.push(syn::Error::new_spanned(
                extra,
                "an endpoint has one HTTP method; remove this one",
            ));
        }
        Some(*verb)
    }

    /// Checks the path template and returns its placeholder names.
    fn validate_path(&self, errors: &mut Errors) -> Vec<String> {
        let Some((_, _, path)) = self.attr.verbs.first() else {
            return Vec::new();
        };
        let text = path.value();
        if !text.starts_with('/') {
            errors.push(syn::Error::new_spanned(
                path,
                "the path must start with `/`",
            ));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/%{}".contains(c);
        if let Some(bad) = text
            .chars()
            .find(|&c| !allowed(c) && !matches!(c, '?' | '#'))
        {
            errors.push(syn::Error::new_spanned(
                path,
                format!("`{bad}` cannot appear in a URL path: percent-encode it"),
            ));
        }
        if text.contains(['?', '#']) {
            errors.push(syn::Error::new_spanned(
                path,
                "the path cannot hold a query or fragment: declare query parameters with #[query]",
            ));
        }
        let pieces = match attr::template(&text) {
            Ok(pieces) => pieces,
            Err(message) => {
                errors.push(syn::Error::new_spanned(path, message));
                return Vec::new();
            }
        };
        let mut names: Vec<String> = Vec::new();
        for piece in pieces {
            if let Piece::Param(name) = piece {
                if names.contains(&name) {
                    errors.push(syn::Error::new_spanned(
                        path,
                        format!("placeholder `{{{name}}}` appears twice"),
                    ));
                } else {
                    names.push(name);
                }
            }
        }
        names
    }

    fn validate_body(&self, verb: Option<Verb>, errors: &mut Errors) {
        let bodyless = matches!(verb, Some(Verb::Get | Verb::Delete));
        let mut encodings = self.attr.encodings.iter();
        if let Some((first, ident)) = encodings.next() {
            if bodyless {
                errors.push(syn::Error::new_spanned(
                    ident,
                    "GET and DELETE endpoints take no body",
                ));
            }
            for (other, ident) in encodings {
                let message = if other == first {
                    format!("`{ident}` is given twice")
                } else {
                    "`form` and `json` cannot be used together: pick one body encoding".to_string()
                };
                errors.push(syn::Error::new_spanned(ident, message));
            }
        }
        let mut bodies = self.args.iter().filter_map(|arg| match &arg.role {
            Some(Role::Body(ident)) => Some(ident),
            _ => None,
        });
        match bodies.next() {
            Some(body) => {
                if bodyless {
                    errors.push(syn::Error::new_spanned(
                        body,
                        "GET and DELETE endpoints take no body",
                    ));
                } else if self.attr.encodings.is_empty() {
                    errors.push(syn::Error::new_spanned(
                        body,
                        "a body needs an encoding: add `form` or `json` to #[endpoint(...)]",
                    ));
                }
                for extra in bodies {
                    errors.push(syn::Error::new_spanned(
                        extra,
                        "an endpoint has one #[body] argument",
                    ));
                }
            }
            None => {
                if let Some((_, ident)) = self.attr.encodings.first().filter(|_| !bodyless) {
                    errors.push(syn::Error::new_spanned(
                        ident,
                        "this encoding needs an argument marked #[body]",
                    ));
                }
            }
        }
    }

    fn validate_auth(&self, errors: &mut Errors) {
        if let (Some(_), Some((kind, ident))) = (&self.attr.scope, &self.attr.auth)
            && *kind != AuthKind::Bearer
        {
            errors.push(syn::Error::new_spanned(
                ident,
                "`scope` asks for a bearer token; it cannot go with this `auth`",
            ));
        }
        if self.attr.encodings.first().map(|(e, _)| *e) == Some(Encoding::Json)
            && self.attr.auth.as_ref().map(|(kind, _)| *kind) == Some(AuthKind::Client)
        {
            // Client authentication may travel in the form body (client_secret_post); a
            // JSON body has nowhere defined to put it.
            if let Some((_, ident)) = &self.attr.auth {
                errors.push(syn::Error::new_spanned(
                    ident,
                    "`auth = client` goes with `form` bodies or none",
                ));
            }
        }
    }

    fn validate_args(&self, placeholders: Vec<String>, errors: &mut Errors) {
        let mut unmatched = placeholders;
        for arg in &self.args {
            for cfg in arg
                .attrs
                .iter()
                .filter(|a| a.path().is_ident("cfg") || a.path().is_ident("cfg_attr"))
            {
                errors.push(syn::Error::new_spanned(
                    cfg,
                    "endpoint arguments cannot be conditional: put #[cfg] on the method",
                ));
            }
            let Some(ident) = arg.ident() else {
                errors.push(syn::Error::new_spanned(
                    arg.pat,
                    "endpoint arguments must be plain names",
                ));
                continue;
            };
            match &arg.role {
                None => {
                    let name = ident.to_string();
                    let name = name.strip_prefix("r#").unwrap_or(&name);
                    if let Some(index) = unmatched.iter().position(|p| p == name) {
                        unmatched.swap_remove(index);
                    } else {
                        errors.push(syn::Error::new_spanned(
                            ident,
                            format!(
                                "`{name}` matches no `{{{name}}}` in the path and has no role: \
                                 mark it #[query], #[header(\"Name\")] or #[body]"
                            ),
                        ));
                    }
                }
                Some(Role::Path(name)) => {
                    if let Some(index) = unmatched.iter().position(|p| *p == name.value()) {
                        unmatched.swap_remove(index);
                    } else {
                        errors.push(syn::Error::new_spanned(
                            name,
                            format!("`#[path]` names no `{{{}}}` in the path", name.value()),
                        ));
                    }
                }
                Some(Role::Header(name)) => check_header_name(name, errors),
                Some(Role::Query(Some(name))) if name.value().is_empty() => errors.push(
                    syn::Error::new_spanned(name, "the query name must not be empty"),
                ),
                Some(_) => {}
            }
        }
        if let Some((_, _, path)) = self.attr.verbs.first() {
            for name in unmatched {
                let message = if syn::parse_str::<syn::Ident>(&name).is_ok() {
                    format!("placeholder `{{{name}}}` has no argument named `{name}`")
                } else if syn::parse_str::<syn::Ident>(&format!("r#{name}")).is_ok() {
                    format!("placeholder `{{{name}}}` has no argument named `r#{name}`")
                } else {
                    let rust = name.replace(['-', '.'], "_");
                    format!(
                        "placeholder `{{{name}}}` has no argument: `{name}` is not a Rust name, \
                         so map one to it: `#[path(\"{name}\")] {rust}: &str`"
                    )
                };
                errors.push(syn::Error::new(path.span(), message));
            }
        }
    }
}

fn check_header_name(name: &LitStr, errors: &mut Errors) {
    let text = name.value();
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if text.is_empty() || !text.bytes().all(token) {
        errors.push(syn::Error::new_spanned(
            name,
            format!("`{text}` is not a valid HTTP header name"),
        ));
    }
}
