//! Code generation: the trait with `Send` futures, a request-builder type, and the trait's
//! implementation for the runtime client. Everything is named by absolute path through the
//! runtime crate (`::fintecture_oauth` unless `#[api(crate = ...)]` says otherwise), so user
//! crates need no other dependency.
//!
//! On a mistake the same items are emitted with bodies that cannot fail to compile (as
//! thiserror's `fallback.rs` does), so code using the trait, its `...Requests` type or the
//! client's methods adds no error of its own to the real one.

use crate::ast::{self, Api, Decode, Endpoint, unraw};
use crate::attr::{self, AuthKind, Encoding, Errors, Piece, Role};
use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ItemTrait, Pat, TraitItem};

/// The macro's entry: parse, validate, expand; on error, fallback items plus every error.
///
/// `declaring_dir` is the directory of the file that declares the trait, where the compiler
/// says (an OpenAPI document named by `spec` is found from there).
pub(crate) fn api(
    args: TokenStream,
    item: ItemTrait,
    declaring_dir: Option<&std::path::Path>,
) -> TokenStream {
    let mut errors = Errors::default();
    let attr::ApiArgs {
        krate,
        krate_given,
        spec,
    } = attr::api_args(args, &mut errors);
    let api = Api::from_syn(&item, &mut errors);
    api.validate(&mut errors);
    let tracking = spec
        .as_ref()
        .and_then(|spec| crate::spec::check(&api, spec, declaring_dir, &mut errors));
    let cx = Context::new(&api, krate, krate_given);
    match errors.into_result() {
        Ok(()) => {
            let items = cx.generate();
            quote!(#items #tracking)
        }
        Err(error) => {
            let fallback = cx.fallback();
            let error = error.into_compile_error();
            quote!(#fallback #tracking #error)
        }
    }
}

/// What every generated item needs: the trait, the runtime's path, and the names the
/// generated code uses for itself.
struct Context<'a> {
    api: &'a Api<'a>,
    krate: syn::Path,
    /// Whether the user wrote the runtime's path: its tokens then keep their own spans.
    krate_given: bool,
    private: TokenStream,
    requests: Ident,
    /// The builder's client parameter and local, with mixed-site hygiene: a user argument of
    /// the same name is a different variable.
    client: Ident,
    builder: Ident,
}

impl<'a> Context<'a> {
    fn new(api: &'a Api<'a>, krate: syn::Path, krate_given: bool) -> Self {
        Context {
            api,
            private: quote!(#krate::__private),
            requests: format_ident!("{}Requests", api.item.ident),
            client: Ident::new("__client", Span::mixed_site()),
            builder: Ident::new("__builder", Span::mixed_site()),
            krate,
            krate_given,
        }
    }

    fn generate(&self) -> TokenStream {
        let builders = self.api.endpoints.iter().map(|e| self.builder(e));
        let callers = self.api.endpoints.iter().map(|e| self.caller(e));
        self.items(quote!(#(#builders)*), Some(quote!(#(#callers)*)))
    }

    /// The same items as [`Context::generate`], with bodies that add no error: a builder that
    /// is never reached, and for the client's methods a future that never completes (or
    /// `unimplemented!()` for methods the macro does not rewrite).
    fn fallback(&self) -> TokenStream {
        let krate = &self.krate;
        let builders = self.api.endpoints.iter().map(|endpoint| {
            let sig = &endpoint.func.sig;
            let (name, generics, where_clause) =
                (&sig.ident, &sig.generics, &sig.generics.where_clause);
            let cfgs = cfg_attrs(&endpoint.func.attrs);
            let types = endpoint.args.iter().map(|arg| arg.ty);
            let vis = &self.api.item.vis;
            quote! {
                #(#cfgs)*
                #vis fn #name #generics(
                    _: &#krate::Client, #(_: #types),*
                ) -> ::core::result::Result<#krate::Request, #krate::Error> #where_clause {
                    ::core::unimplemented!()
                }
            }
        });
        // Required items other than methods have no body that is sure to compile, and a
        // generic trait's implementation would need arguments: the error about them is the
        // one to see.
        let generic = !self.api.item.generics.params.is_empty();
        let only_methods = !generic
            && self.api.item.items.iter().all(|item| match item {
                TraitItem::Const(c) => c.default.is_some(),
                TraitItem::Type(t) => t.default.is_some(),
                TraitItem::Macro(_) | TraitItem::Verbatim(_) => false,
                _ => true,
            });
        let callers = only_methods.then(|| {
            let methods = self.trait_items().filter_map(|(item, rewritten)| {
                let TraitItem::Fn(func) = item else {
                    return None;
                };
                if func.default.is_some() {
                    return None;
                }
                let mut sig = func.sig.clone();
                for input in &mut sig.inputs {
                    if let FnArg::Typed(typed) = input {
                        *typed.pat = Pat::Verbatim(quote!(_));
                    }
                }
                let cfgs = cfg_attrs(&func.attrs);
                let body = if rewritten {
                    quote!(::std::boxed::Box::pin(::core::future::pending()))
                } else {
                    quote!(::core::unimplemented!())
                };
                Some(quote!(#(#cfgs)* #sig { #body }))
            });
            quote!(#(#methods)*)
        });
        self.items(quote!(#(#builders)*), callers)
    }

    /// The trait, the `...Requests` type with the given builders, and (when given) the
    /// trait's implementation for the client with the given methods.
    fn items(&self, builders: TokenStream, callers: Option<TokenStream>) -> TokenStream {
        let item = self.api.item;
        let (trait_ident, vis, requests, krate) =
            (&item.ident, &item.vis, &self.requests, &self.krate);
        let trait_item = ItemTrait {
            items: self.trait_items().map(|(item, _)| item).collect(),
            ..item.clone()
        };
        let link = krate.to_token_stream().to_string().replace(' ', "");
        let requests_doc = format!(
            "Request builders for the endpoints of [`{trait_ident}`]: each turns its arguments \
             into a [`Request`]({}::Request) without any I/O, to inspect or to send.",
            link.trim_start_matches("::")
        );
        let unsafety = &item.unsafety;
        let implementation = callers.map(|callers| {
            quote! {
                #unsafety impl #trait_ident for #krate::Client {
                    #callers
                }
            }
        });
        quote! {
            #trait_item

            #[doc = #requests_doc]
            // Private traits are often used only through the client.
            #[allow(dead_code)]
            #vis struct #requests;

            #[allow(dead_code)]
            impl #requests {
                #builders
            }

            #implementation
        }
    }

    /// Every item of the trait as emitted, with whether it was rewritten: helper
    /// attributes removed from methods, and each `async fn` endpoint without a body turned
    /// into a method returning a boxed `Send` future (other items stay as written).
    fn trait_items(&self) -> impl Iterator<Item = (TraitItem, bool)> + '_ {
        self.api.item.items.iter().enumerate().map(|(index, item)| {
            let TraitItem::Fn(func) = item else {
                return (item.clone(), false);
            };
            let mut func = func.clone();
            func.attrs.retain(|a| !a.path().is_ident("endpoint"));
            for input in &mut func.sig.inputs {
                if let FnArg::Typed(typed) = input {
                    typed.attrs.retain(|a| !attr::is_role_attr(a));
                }
            }
            let endpoint = self.api.endpoints.iter().any(|e| e.index == index);
            if endpoint {
                // Rejected by rustc in a trait as well: one error (ours) is enough.
                func.sig.constness = None;
                func.sig.variadic = None;
            }
            let rewrite = endpoint && func.sig.asyncness.is_some() && func.default.is_none();
            if rewrite {
                func.sig.asyncness = None;
                let future = self.send_future(&func.sig);
                func.sig.output = syn::parse_quote!(-> #future);
            }
            (TraitItem::Fn(func), rewrite)
        })
    }

    /// The return type of a trait method and of its implementation: a boxed `Send` future
    /// that may borrow `self`, so calls can be spawned and a test double can return any
    /// future. A named type, not `impl Future + Send`: checking each implementation of an
    /// opaque return type made compiling 100 endpoints about 20% slower than plain methods.
    /// (Only an erroneous method, emitted as fallback, has no `&self`: its future is
    /// `'static`.)
    fn send_future(&self, sig: &syn::Signature) -> TokenStream {
        let krate = &self.krate;
        let output = output_type(sig);
        let borrows_self = sig
            .receiver()
            .is_some_and(|r| matches!(r.kind, syn::ReceiverKind::Reference(..)));
        let lifetime = if borrows_self {
            quote!('_)
        } else {
            quote!('static)
        };
        quote!(#krate::BoxFuture<#lifetime, #output>)
    }

    /// The request-builder function of one endpoint.
    fn builder(&self, endpoint: &Endpoint) -> TokenStream {
        let (private, krate, client, builder) =
            (&self.private, &self.krate, &self.client, &self.builder);
        let func = endpoint.func;
        let sig = &func.sig;
        let (name, generics, where_clause) =
            (&sig.ident, &sig.generics, &sig.generics.where_clause);
        let vis = &self.api.item.vis;
        let attrs = func
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("doc") || a.path().is_ident("cfg"));
        let args = endpoint.args.iter().map(|arg| {
            let (ident, ty) = (arg.ident(), arg.ty);
            quote!(#ident: #ty)
        });
        let attr = &endpoint.attr;
        let Some((verb, _, path_lit)) = attr.verbs.first() else {
            return TokenStream::new();
        };
        let method = Ident::new(verb.constant(), Span::call_site());
        let endpoint_name = format!("{}::{name}", self.api.item.ident);
        let auth = match (attr.auth.as_ref().map(|(kind, _)| *kind), &attr.scope) {
            (Some(AuthKind::Client), _) => quote!(#private::Auth::Client),
            (Some(AuthKind::App), _) => quote!(#private::Auth::App),
            (Some(AuthKind::Bearer), scope) | (None, scope @ Some(_)) => {
                let scope = option(scope.as_ref().map(ToTokens::to_token_stream));
                quote!(#private::Auth::Bearer { scope: #scope })
            }
            (Some(AuthKind::None) | None, _) => quote!(#private::Auth::None),
        };
        let timeout = option(
            attr.timeout
                .as_ref()
                .map(|(ms, _)| quote!(#private::Duration::from_millis(#ms))),
        );
        let retries = attr.retry.as_ref().map_or(0, |(n, _)| *n);
        let max_body = option(attr.max_body.as_ref().map(|(bytes, _)| quote!(#bytes)));
        let header_count = attr.headers.len();
        let headers = attr.headers.iter().map(|(name, value)| {
            let name = name.value().to_ascii_lowercase();
            quote!((#private::HeaderName::from_static(#name), #private::HeaderValue::from_static(#value)))
        });

        let path_steps = attr::template(&path_lit.value())
            .unwrap_or_default()
            .into_iter()
            .map(|piece| match piece {
                Piece::Literal(text) => quote!(#builder.path(#text);),
                Piece::Param(param) => {
                    let ident = endpoint
                        .args
                        .iter()
                        .find(|arg| match (&arg.role, arg.ident()) {
                            (Some(Role::Path(name)), _) => name.value() == param,
                            (None, Some(ident)) => unraw(ident) == param,
                            _ => false,
                        })
                        .and_then(|arg| arg.ident());
                    quote!(#builder.path_param(&#ident)?;)
                }
            });
        // Each step spanned at its argument's type: a type without the trait the step needs
        // (`Serialize`, `Display`) is reported on the argument, not on `#[api]`.
        let mut steps = Vec::new();
        for arg in &endpoint.args {
            let (ident, at) = (arg.ident(), arg.ty.span());
            match &arg.role {
                Some(Role::Query(Some(key))) => {
                    steps.push(quote_spanned!(at=> #builder.query_pair(#key, &#ident)?;))
                }
                Some(Role::Query(None)) if arg.is_scalar() => {
                    let key = ident.map(unraw);
                    steps.push(quote_spanned!(at=> #builder.query_pair(#key, &#ident)?;));
                }
                Some(Role::Query(None)) => {
                    steps.push(quote_spanned!(at=> #builder.query(&#ident)?;))
                }
                _ => {}
            }
        }
        for arg in &endpoint.args {
            let (ident, at) = (arg.ident(), arg.ty.span());
            if let Some(Role::Header(header)) = &arg.role {
                let header = header.value().to_ascii_lowercase();
                let name = quote!(#private::HeaderName::from_static(#header));
                steps.push(quote_spanned!(at=> #builder.header(#name, &#ident)?;));
            }
        }
        let body = endpoint
            .args
            .iter()
            .find(|a| matches!(a.role, Some(Role::Body(_))));
        if let (Some(arg), Some((encoding, _))) = (body, attr.encodings.first()) {
            let (ident, at) = (arg.ident(), arg.ty.span());
            steps.push(match encoding {
                Encoding::Form => quote_spanned!(at=> #builder.form(&#ident)?;),
                Encoding::Json => quote_spanned!(at=> #builder.json(&#ident)?;),
            });
        }

        quote! {
            #(#attrs)*
            // The trait's declaration already warns about the user's argument names, and
            // about a missing doc comment (the builder has the method's).
            #[allow(non_snake_case, missing_docs)]
            #vis fn #name #generics(
                #client: &#krate::Client,
                #(#args),*
            ) -> ::core::result::Result<#krate::Request, #krate::Error> #where_clause {
                #[allow(unused_mut)]
                let mut #builder = {
                    // Statics in a block of their own, out of the arguments' scope: an
                    // argument may be named like them. `HEADERS` is a static, not a promoted
                    // temporary, because header values are interior-mutable.
                    static HEADERS: [(#private::HeaderName, #private::HeaderValue); #header_count] =
                        [#(#headers),*];
                    static ENDPOINT: #private::Endpoint = #private::endpoint(
                        #endpoint_name,
                        #private::Method::#method,
                        #path_lit,
                        #auth,
                        #timeout,
                        #max_body,
                        #retries,
                        &HEADERS,
                    );
                    #private::builder(#client, &ENDPOINT)
                };
                #(#path_steps)*
                #(#steps)*
                #builder.finish()
            }
        }
    }

    /// The trait method implemented for the runtime client. Not an `async fn` per endpoint:
    /// it builds the request and hands it to one generic future shared by every endpoint with
    /// the same response type, which keeps the generated code (and its compile time) small.
    fn caller(&self, endpoint: &Endpoint) -> TokenStream {
        let (krate, private, requests) = (&self.krate, &self.private, &self.requests);
        let sig = &endpoint.func.sig;
        let (name, generics, where_clause) =
            (&sig.ident, &sig.generics, &sig.generics.where_clause);
        let cfgs = cfg_attrs(&endpoint.func.attrs);
        let params = endpoint.args.iter().map(|arg| {
            let (ident, ty) = (arg.ident(), arg.ty);
            quote!(#ident: #ty)
        });
        let idents = endpoint.args.iter().map(|arg| arg.ident());
        let response = endpoint.response();
        let decoder = match response {
            Some((Decode::Json, ok)) => {
                // Located at the `Ok` type: a type that is not deserializable is reported
                // there.
                let json = locate(quote!(#private::Json), ok.span());
                quote_spanned!(ok.span()=> #json<#ok>)
            }
            Some((Decode::Raw, _)) => quote!(#private::Raw),
            Some((Decode::Empty, _)) | None => quote!(#private::Empty),
        };
        // Spanned so that an error type without `From<fintecture_oauth::Error>` (or an `Ok`
        // type that is not deserializable) is reported on the user's return type.
        let error_span = match &sig.output {
            syn::ReturnType::Type(_, ty) => ast::result_types(ty)
                .and_then(|(_, err)| err)
                .map_or_else(|| ty.span(), Spanned::span),
            syn::ReturnType::Default => sig.ident.span(),
        };
        // Where the call is: at the `Ok` type when it is decoded from JSON (a type that is
        // not deserializable is reported there once, not again at `#[api]`), else at the
        // error type. `_` is the error type: its bound is reported where `_` is.
        let call_span = match response {
            Some((Decode::Json, ok)) => ok.span(),
            _ => error_span,
        };
        // The default runtime path is placed with the call; one the user wrote keeps its
        // spans, so that an unresolved one is reported once, where it is written.
        let krate = if self.krate_given {
            quote!(#krate)
        } else {
            locate(quote!(#krate), call_span)
        };
        let call = locate(quote!(__private::call), call_span);
        let placeholder = quote_spanned!(error_span=> _);
        let call = quote_spanned!(call_span=> #krate::#call::<#decoder, #placeholder>);
        let future = self.send_future(sig);
        let invoke = quote_spanned!(call_span=>
            ::std::boxed::Box::pin(#call(self, #requests::#name(self, #(#idents),*)))
        );
        quote! {
            #(#cfgs)*
            #[allow(non_snake_case)]
            fn #name #generics(&self, #(#params),*) -> #future #where_clause {
                #invoke
            }
        }
    }
}

/// The tokens, given `span`: errors about them are reported there, not at `#[api]`. Only
/// for paths inside the runtime crate, which resolve the same from any span (the user's
/// tokens, the crate path included, keep their own).
fn locate(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut located = Group::new(group.delimiter(), locate(group.stream(), span));
                located.set_span(group.span());
                token = TokenTree::Group(located);
            }
            token.set_span(span);
            token
        })
        .collect()
}

/// The `#[cfg(...)]` attributes of a method, which its generated counterparts share.
fn cfg_attrs(attrs: &[syn::Attribute]) -> impl Iterator<Item = &syn::Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("cfg"))
}

fn output_type(sig: &syn::Signature) -> TokenStream {
    match &sig.output {
        syn::ReturnType::Type(_, ty) => quote!(#ty),
        syn::ReturnType::Default => quote!(()),
    }
}

fn option(value: Option<TokenStream>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}
