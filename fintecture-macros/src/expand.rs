//! Code generation: the trait with `Send` futures, a request-builder type, and the trait's
//! implementation for the runtime client. Everything is named by absolute path through
//! `::fintecture_oauth::__private`, so user crates need no other dependency.

use crate::ast::{Api, Decode, Endpoint};
use crate::attr::{self, AuthKind, Encoding, Errors, Piece, Role};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{ItemTrait, TraitItem};

/// The macro's entry: parse, validate, expand; on error, the trait as written (without our
/// helper attributes) plus every error, so the IDE keeps seeing the trait.
pub(crate) fn api(args: TokenStream, item: ItemTrait) -> TokenStream {
    let mut errors = Errors::default();
    if !args.is_empty() {
        errors.push(syn::Error::new_spanned(&args, "#[api] takes no arguments"));
    }
    let api = Api::from_syn(&item, &mut errors);
    api.validate(&mut errors);
    match errors.into_result() {
        Ok(()) => generate(&api),
        Err(error) => {
            let mut item = item.clone();
            strip_helper_attrs(&mut item);
            let error = error.into_compile_error();
            quote!(#item #error)
        }
    }
}

/// Removes `#[endpoint]` from methods and role attributes from their arguments.
fn strip_helper_attrs(item: &mut ItemTrait) {
    for trait_item in &mut item.items {
        if let TraitItem::Fn(func) = trait_item {
            func.attrs.retain(|a| !a.path().is_ident("endpoint"));
            for input in &mut func.sig.inputs {
                if let syn::FnArg::Typed(typed) = input {
                    typed.attrs.retain(|a| !attr::is_role_attr(a));
                }
            }
        }
    }
}

fn generate(api: &Api) -> TokenStream {
    let krate = quote!(::fintecture_oauth);
    let private = quote!(#krate::__private);
    let trait_ident = &api.item.ident;
    let vis = &api.item.vis;
    let requests = format_ident!("{}Requests", trait_ident);

    let mut item = api.item.clone();
    strip_helper_attrs(&mut item);
    for trait_item in &mut item.items {
        if let TraitItem::Fn(func) = trait_item {
            let Some(endpoint) = api
                .endpoints
                .iter()
                .find(|e| e.func.sig.ident == func.sig.ident)
            else {
                continue;
            };
            let output = match &endpoint.func.sig.output {
                syn::ReturnType::Type(_, ty) => ty,
                syn::ReturnType::Default => continue,
            };
            func.sig.asyncness = None;
            let future = send_future(output);
            func.sig.output = syn::parse_quote!(-> #future);
        }
    }

    let builders = api
        .endpoints
        .iter()
        .map(|e| builder(e, trait_ident, vis, &private));
    let callers = api.endpoints.iter().map(|e| caller(e, &requests, &private));
    let requests_doc = format!(
        "Request builders for the endpoints of [`{trait_ident}`]: each turns its arguments into \
         a [`Request`](fintecture_oauth::Request) without any I/O, to inspect or to send."
    );
    quote! {
        #item

        #[doc = #requests_doc]
        #vis struct #requests;

        impl #requests {
            #(#builders)*
        }

        impl #trait_ident for #krate::Client {
            #(#callers)*
        }
    }
}

/// The request-builder function of one endpoint.
fn builder(
    endpoint: &Endpoint,
    trait_ident: &syn::Ident,
    vis: &syn::Visibility,
    private: &TokenStream,
) -> TokenStream {
    let func = endpoint.func;
    let name = &func.sig.ident;
    let docs = func.attrs.iter().filter(|a| a.path().is_ident("doc"));
    let args = endpoint.args.iter().map(|arg| {
        let (ident, ty) = (arg.ident(), arg.ty);
        quote!(#ident: #ty)
    });
    let attr = &endpoint.attr;
    let (verb, path_lit) = match attr.verbs.first() {
        Some((verb, _, path)) => (verb, path),
        None => return TokenStream::new(),
    };
    let method = syn::Ident::new(verb.constant(), Span::call_site());
    let endpoint_name = format!("{trait_ident}::{name}");
    let auth = match (attr.auth.as_ref().map(|(kind, _)| *kind), &attr.scope) {
        (Some(AuthKind::Client), _) => quote!(#private::Auth::Client),
        (Some(AuthKind::Bearer), scope) | (None, scope @ Some(_)) => {
            let scope = match scope {
                Some(scope) => quote!(::core::option::Option::Some(#scope)),
                None => quote!(::core::option::Option::None),
            };
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
            Piece::Literal(text) => quote!(__builder.path(#text);),
            Piece::Param(param) => {
                let ident = endpoint
                    .args
                    .iter()
                    .filter(|arg| arg.role.is_none())
                    .filter_map(|arg| arg.ident())
                    .find(|ident| ident.to_string().trim_start_matches("r#") == param);
                quote!(__builder.path_param(&#ident)?;)
            }
        });
    let mut steps = Vec::new();
    for arg in &endpoint.args {
        let ident = arg.ident();
        match &arg.role {
            Some(Role::Query(Some(key))) => {
                steps.push(quote!(__builder.query_pair(#key, &#ident)?;))
            }
            Some(Role::Query(None)) if arg.is_scalar() => {
                let key = ident.map(|i| i.to_string().trim_start_matches("r#").to_string());
                steps.push(quote!(__builder.query_pair(#key, &#ident)?;));
            }
            Some(Role::Query(None)) => steps.push(quote!(__builder.query(&#ident)?;)),
            _ => {}
        }
    }
    for arg in &endpoint.args {
        let ident = arg.ident();
        if let Some(Role::Header(header)) = &arg.role {
            let header = header.value().to_ascii_lowercase();
            steps.push(
                quote!(__builder.header(#private::HeaderName::from_static(#header), &#ident)?;),
            );
        }
    }
    let body = endpoint
        .args
        .iter()
        .find(|a| matches!(a.role, Some(Role::Body(_))));
    if let (Some(arg), Some((encoding, _))) = (body, attr.encodings.first()) {
        let ident = arg.ident();
        steps.push(match encoding {
            Encoding::Form => quote!(__builder.form(&#ident)?;),
            Encoding::Json => quote!(__builder.json(&#ident)?;),
        });
    }

    quote! {
        #(#docs)*
        #vis fn #name(
            __client: &::fintecture_oauth::Client,
            #(#args),*
        ) -> ::core::result::Result<::fintecture_oauth::Request, ::fintecture_oauth::Error> {
            // A static of its own: header values are interior-mutable, so the array cannot be
            // a promoted temporary.
            static HEADERS: [(#private::HeaderName, #private::HeaderValue); #header_count] =
                [#(#headers),*];
            static ENDPOINT: #private::Endpoint = #private::Endpoint {
                name: #endpoint_name,
                method: #private::Method::#method,
                path: #path_lit,
                auth: #auth,
                timeout: #timeout,
                max_body: #max_body,
                retries: #retries,
                headers: &HEADERS,
            };
            #[allow(unused_mut)]
            let mut __builder = #private::RequestBuilder::new(__client, &ENDPOINT);
            #(#path_steps)*
            #(#steps)*
            __builder.finish()
        }
    }
}

/// The trait method implemented for the runtime client: build, send, decode.
/// The trait method implemented for the runtime client. Not an `async fn` per endpoint:
/// it builds the request and hands it to one generic future shared by every endpoint with
/// the same response type, which keeps the generated code (and its compile time) small.
fn caller(endpoint: &Endpoint, requests: &syn::Ident, private: &TokenStream) -> TokenStream {
    let sig = &endpoint.func.sig;
    let name = &sig.ident;
    let params = endpoint.args.iter().map(|arg| {
        let (ident, ty) = (arg.ident(), arg.ty);
        quote!(#ident: #ty)
    });
    let idents = endpoint.args.iter().map(|arg| arg.ident());
    let decoder = match endpoint.response() {
        Some((Decode::Json, ok)) => quote!(#private::Json<#ok>),
        Some((Decode::Raw, _)) => quote!(#private::Raw),
        Some((Decode::Empty, _)) | None => quote!(#private::Empty),
    };
    let output = match &sig.output {
        syn::ReturnType::Type(_, ty) => quote!(#ty),
        syn::ReturnType::Default => quote!(()),
    };
    let future = send_future(&output);
    quote! {
        fn #name(&self, #(#params),*) -> #future {
            #private::call::<#decoder, _>(self, #requests::#name(self, #(#idents),*))
        }
    }
}

/// The return type of a trait method and of its implementation: a `Send` future, so callers
/// can `tokio::spawn` it.
fn send_future(output: &impl quote::ToTokens) -> TokenStream {
    quote!(impl ::core::future::Future<Output = #output> + ::core::marker::Send)
}

fn option(value: Option<TokenStream>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}
