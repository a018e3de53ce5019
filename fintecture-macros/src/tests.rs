//! The macro run in-process on every `#[api]` trait the workspace's tests declare: the
//! compile-fail cases of `tests/ui` and the valid traits of the integration tests and the
//! runtime crate. Each case must produce exactly the errors its `.stderr` shows, pointing
//! at the same line and column (none for a valid trait). The same expectations as trybuild's, checked in milliseconds instead of a
//! compiler run per case, which is what makes mutation testing of this crate affordable.

// A test states its expectation by panicking.
#![allow(clippy::expect_used, clippy::panic)]

use proc_macro2::{TokenStream, TokenTree};
use std::path::{Path, PathBuf};
use syn::{Item, ItemTrait, Meta};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate sits in the workspace")
        .to_path_buf()
}

/// Every trait with an `#[api]` attribute, at the top level or in inline modules, with the
/// attribute's arguments and the attribute removed (as rustc hands it to the macro).
fn api_traits(items: &[Item], found: &mut Vec<(TokenStream, ItemTrait)>) {
    for item in items {
        match item {
            Item::Trait(item) => {
                let mut item = item.clone();
                let Some(index) = item.attrs.iter().position(|a| a.path().is_ident("api")) else {
                    continue;
                };
                let args = match &item.attrs.remove(index).meta {
                    Meta::List(list) => list.tokens.clone(),
                    _ => TokenStream::new(),
                };
                found.push((args, item));
            }
            Item::Mod(module) => {
                if let Some((_, items)) = &module.content {
                    api_traits(items, found);
                }
            }
            _ => {}
        }
    }
}

/// The `compile_error!`s in an expansion, in order: where each points (line and column,
/// counted from 1 as rustc does) and its message.
fn compile_errors(tokens: TokenStream, messages: &mut Vec<String>) {
    let mut tokens = tokens.into_iter();
    while let Some(token) = tokens.next() {
        match token {
            TokenTree::Ident(ident) if ident == "compile_error" => {
                let start = ident.span().start();
                tokens.next(); // `!`
                if let Some(TokenTree::Group(group)) = tokens.next() {
                    let message: syn::LitStr =
                        syn::parse2(group.stream()).expect("compile_error! holds a string");
                    let (line, column) = (start.line, start.column + 1);
                    messages.push(format!("{line}:{column}: {}", message.value()));
                }
            }
            TokenTree::Group(group) => compile_errors(group.stream(), messages),
            _ => {}
        }
    }
}

fn expand_file(path: &Path) -> Vec<Vec<String>> {
    let source = std::fs::read_to_string(path).expect("the case is readable");
    let file = syn::parse_file(&source).expect("the case parses");
    let mut traits = Vec::new();
    api_traits(&file.items, &mut traits);
    traits
        .into_iter()
        .map(|(args, item)| {
            let mut messages = Vec::new();
            compile_errors(crate::expand::api(args, item, path.parent()), &mut messages);
            messages
        })
        .collect()
}

#[test]
fn each_compile_fail_case_reports_exactly_its_expected_errors() {
    let mut dir: Vec<PathBuf> = std::fs::read_dir(workspace().join("tests/ui"))
        .expect("tests/ui exists")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .collect();
    dir.sort();
    let mut checked = 0;
    for case in dir {
        // The spec cases need the `spec` feature (trybuild's build has it).
        let name = case
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with("spec_") && !cfg!(feature = "spec") {
            continue;
        }
        let expansions = expand_file(&case);
        // Cases the macro never sees as a trait (`#[api]` on a struct, inside
        // `macro_rules!`) are left to trybuild.
        if expansions.is_empty() {
            continue;
        }
        let stderr = std::fs::read_to_string(case.with_extension("stderr"))
            .expect("each case has its .stderr");
        // The macro's own errors carry no code; rustc's (`error[E0277]`, ...) do. Each is
        // followed by ` --> ui/case.rs:line:column`.
        let mut lines = stderr.lines();
        let mut expected = Vec::new();
        while let Some(line) = lines.next() {
            if let Some(message) = line.strip_prefix("error: ") {
                let at = lines.next().and_then(|l| l.rsplit_once(".rs:"));
                let (_, at) = at.unwrap_or_else(|| panic!("{}: {line}", case.display()));
                expected.push(format!("{at}: {message}"));
            }
        }
        // trybuild writes the tests package's directory as `$DIR`.
        let dir = workspace().join("tests").display().to_string();
        let mut got: Vec<String> = expansions
            .into_iter()
            .flatten()
            .map(|message| message.replace(&dir, "$DIR"))
            .collect();
        expected.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, expected, "{}", case.display());
        checked += 1;
    }
    assert!(checked >= 50, "only {checked} cases were checked");
}

#[test]
fn every_valid_trait_in_the_workspace_expands_without_error() {
    let files = [
        "tests/tests/macro_expansion.rs",
        "tests/tests/debug_secrets.rs",
        "tests/tests/errors.rs",
        "fintecture-oauth/src/oauth.rs",
        "examples/src/lib.rs",
        "examples/examples/extend.rs",
    ];
    let mut checked = 0;
    for file in files {
        for messages in expand_file(&workspace().join(file)) {
            assert_eq!(messages, Vec::<String>::new(), "{file}");
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} traits were checked");
}

#[test]
fn items_with_defaults_stay_the_traits_own() {
    // Associated type defaults are unstable, so no compiled test can hold one.
    let item: ItemTrait = syn::parse_quote! {
        pub trait Api {
            type Page = u32;
            const LIMIT: u32 = 10;
            fn helper(&self) -> u32 { 1 }
            #[endpoint(get = "/a")]
            async fn call(&self) -> Result<(), Error>;
        }
    };
    let mut messages = Vec::new();
    compile_errors(
        crate::expand::api(TokenStream::new(), item, None),
        &mut messages,
    );
    assert_eq!(messages, Vec::<String>::new());
}
