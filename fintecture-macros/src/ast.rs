//! The model of an `#[api]` trait: its endpoint methods, their arguments and return types,
//! read from the syntax tree. Nothing here judges; `valid.rs` does.

use crate::attr::{self, EndpointAttr, Errors, Role};
use syn::{
    FnArg, GenericArgument, Ident, ItemTrait, Pat, PathArguments, TraitItem, TraitItemFn, Type,
};

/// The trait and what the macro read of each method.
pub(crate) struct Api<'a> {
    pub(crate) item: &'a ItemTrait,
    pub(crate) endpoints: Vec<Endpoint<'a>>,
    /// Required items the runtime client could not implement (no `#[endpoint]`, no default).
    pub(crate) unimplementable: Vec<&'a TraitItem>,
}

/// One method with `#[endpoint(...)]`.
pub(crate) struct Endpoint<'a> {
    pub(crate) func: &'a TraitItemFn,
    pub(crate) attr: EndpointAttr,
    pub(crate) args: Vec<Arg<'a>>,
}

/// One typed argument (the receiver is not one).
pub(crate) struct Arg<'a> {
    pub(crate) pat: &'a Pat,
    pub(crate) ty: &'a Type,
    pub(crate) role: Option<Role>,
}

/// How a successful response becomes the method's `Ok` value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decode {
    /// `()`: the body is ignored.
    Empty,
    /// `RawResponse`: status, headers and bytes as received.
    Raw,
    /// Any other type: JSON.
    Json,
}

impl<'a> Api<'a> {
    pub(crate) fn from_syn(item: &'a ItemTrait, errors: &mut Errors) -> Self {
        let mut endpoints = Vec::new();
        let mut unimplementable = Vec::new();
        for trait_item in &item.items {
            match trait_item {
                TraitItem::Fn(func) => match attr::endpoint(&func.attrs, errors) {
                    Some(attr) => endpoints.push(Endpoint::from_syn(func, attr, errors)),
                    None if func.default.is_none() => unimplementable.push(trait_item),
                    None => {}
                },
                TraitItem::Const(c) if c.default.is_none() => unimplementable.push(trait_item),
                TraitItem::Type(t) if t.default.is_none() => unimplementable.push(trait_item),
                _ => {}
            }
        }
        Api {
            item,
            endpoints,
            unimplementable,
        }
    }
}

impl<'a> Endpoint<'a> {
    fn from_syn(func: &'a TraitItemFn, attr: EndpointAttr, errors: &mut Errors) -> Self {
        let args = func
            .sig
            .inputs
            .iter()
            .filter_map(|input| match input {
                FnArg::Typed(typed) => Some(Arg {
                    pat: &typed.pat,
                    ty: &typed.ty,
                    role: attr::role(&typed.attrs, errors),
                }),
                FnArg::Receiver(_) => None,
            })
            .collect();
        Endpoint { func, attr, args }
    }

    /// The `Ok` type of the declared `Result` and how to decode it; `None` when the return
    /// type is not a `Result<T, E>` (or a one-parameter `Result<T>` alias).
    pub(crate) fn response(&self) -> Option<(Decode, &'a Type)> {
        let syn::ReturnType::Type(_, ty) = &self.func.sig.output else {
            return None;
        };
        let ok = result_ok_type(ty)?;
        let decode = match ok {
            Type::Tuple(tuple) if tuple.elems.is_empty() => Decode::Empty,
            Type::Path(path)
                if path.qself.is_none() && last_ident_is(&path.path, "RawResponse") =>
            {
                Decode::Raw
            }
            _ => Decode::Json,
        };
        Some((decode, ok))
    }
}

impl Arg<'_> {
    /// The argument's name, when its pattern is a plain identifier.
    pub(crate) fn ident(&self) -> Option<&Ident> {
        match self.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => Some(&pat.ident),
            _ => None,
        }
    }

    /// Whether the type (behind references) is a scalar that `#[query]` names after the
    /// argument rather than flattening its fields.
    pub(crate) fn is_scalar(&self) -> bool {
        is_scalar(self.ty)
    }
}

fn is_scalar(ty: &Type) -> bool {
    const SCALARS: &[&str] = &[
        "str", "String", "bool", "char", "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16",
        "u32", "u64", "u128", "usize", "f32", "f64",
    ];
    match ty {
        Type::Reference(reference) => is_scalar(&reference.elem),
        Type::Paren(paren) => is_scalar(&paren.elem),
        Type::Path(path) if path.qself.is_none() => {
            let Some(last) = path.path.segments.last() else {
                return false;
            };
            let name = last.ident.to_string();
            match (&last.arguments, name.as_str()) {
                (PathArguments::None, _) => SCALARS.contains(&name.as_str()),
                (PathArguments::AngleBracketed(args), "Option" | "Cow") => args
                    .args
                    .iter()
                    .any(|arg| matches!(arg, GenericArgument::Type(t) if is_scalar(t))),
                _ => false,
            }
        }
        _ => false,
    }
}

fn last_ident_is(path: &syn::Path, name: &str) -> bool {
    path.segments
        .last()
        .is_some_and(|segment| segment.ident == name)
}

fn result_ok_type(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|arg| match arg {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    });
    let ok = types.next()?;
    (types.count() <= 1).then_some(ok)
}
