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
    /// Items whose expansion the macro cannot see (macro invocations, unparsed tokens).
    pub(crate) unsupported: Vec<&'a TraitItem>,
}

/// One method with `#[endpoint(...)]`.
pub(crate) struct Endpoint<'a> {
    /// Its position among the trait's items: two methods may share a name under
    /// different `#[cfg]`s, so the position, not the name, identifies it.
    pub(crate) index: usize,
    pub(crate) func: &'a TraitItemFn,
    pub(crate) attr: EndpointAttr,
    pub(crate) args: Vec<Arg<'a>>,
}

/// One typed argument (the receiver is not one).
pub(crate) struct Arg<'a> {
    pub(crate) pat: &'a Pat,
    pub(crate) ty: &'a Type,
    pub(crate) attrs: &'a [syn::Attribute],
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
        let mut unsupported = Vec::new();
        for (index, trait_item) in item.items.iter().enumerate() {
            match trait_item {
                TraitItem::Fn(func) => match attr::endpoint(&func.attrs, errors) {
                    Some(attr) => endpoints.push(Endpoint::from_syn(index, func, attr, errors)),
                    None if func.default.is_none() => unimplementable.push(trait_item),
                    None => {}
                },
                TraitItem::Const(c) if c.default.is_none() => unimplementable.push(trait_item),
                TraitItem::Type(t) if t.default.is_none() => unimplementable.push(trait_item),
                TraitItem::Macro(_) | TraitItem::Verbatim(_) => unsupported.push(trait_item),
                _ => {}
            }
        }
        Api {
            item,
            endpoints,
            unimplementable,
            unsupported,
        }
    }
}

impl<'a> Endpoint<'a> {
    fn from_syn(
        index: usize,
        func: &'a TraitItemFn,
        attr: EndpointAttr,
        errors: &mut Errors,
    ) -> Self {
        let args = func
            .sig
            .inputs
            .iter()
            .filter_map(|input| match input {
                FnArg::Typed(typed) => Some(Arg {
                    pat: &typed.pat,
                    ty: &typed.ty,
                    attrs: &typed.attrs,
                    role: attr::role(&typed.attrs, errors),
                }),
                FnArg::Receiver(_) => None,
            })
            .collect();
        Endpoint {
            index,
            func,
            attr,
            args,
        }
    }

    /// The `Ok` type of the declared `Result` and how to decode it; `None` when the return
    /// type is not a `Result<T, E>` (or a one-parameter `Result<T>` alias).
    pub(crate) fn response(&self) -> Option<(Decode, &'a Type)> {
        let syn::ReturnType::Type(_, ty) = &self.func.sig.output else {
            return None;
        };
        let (ok, _) = result_types(ty)?;
        let decode = match ungroup(ok) {
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

/// The type inside the invisible group a `macro_rules!` `$t:ty` fragment arrives in (and
/// inside parentheses), as serde's `ungroup` does: `$t` is then seen as what it is.
pub(crate) fn ungroup(mut ty: &Type) -> &Type {
    loop {
        match ty {
            Type::Group(group) => ty = &group.elem,
            Type::Paren(paren) => ty = &paren.elem,
            _ => return ty,
        }
    }
}

fn is_scalar(ty: &Type) -> bool {
    const SCALARS: &[&str] = &[
        "str", "String", "bool", "char", "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16",
        "u32", "u64", "u128", "usize", "f32", "f64",
    ];
    match ungroup(ty) {
        Type::Reference(reference) => is_scalar(&reference.elem),
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

/// An identifier's name without `r#` (`r#type` fills `{type}`).
pub(crate) fn unraw(ident: &Ident) -> String {
    let name = ident.to_string();
    name.strip_prefix("r#").map(str::to_string).unwrap_or(name)
}

fn last_ident_is(path: &syn::Path, name: &str) -> bool {
    path.segments
        .last()
        .is_some_and(|segment| segment.ident == name)
}

/// The `Ok` and (when written) `Err` types of a `Result<T, E>` or `Result<T>` alias.
pub(crate) fn result_types(ty: &Type) -> Option<(&Type, Option<&Type>)> {
    let Type::Path(path) = ungroup(ty) else {
        return None;
    };
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
    let err = types.next();
    types.next().is_none().then_some((ok, err))
}
