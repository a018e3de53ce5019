//! The macro run in-process on every `#[api]` trait the workspace's tests declare: the
//! compile-fail cases of `tests/ui` and the valid traits of the integration tests and the
//! runtime crate. Each case must produce exactly the errors its `.stderr` shows, pointing
//! at the same line and column (none for a valid trait). The same expectations as trybuild's, checked in milliseconds instead of a
//! compiler run per case, which is what makes mutation testing of this crate affordable.

// A test states its expectation by panicking.
#![allow(clippy::expect_used, clippy::panic)]

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens as _;
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
                let Some(api) = item.attrs.iter().find_map(api_attribute) else {
                    continue;
                };
                let args = match api {
                    Meta::List(list) => list.tokens,
                    _ => TokenStream::new(),
                };
                item.attrs
                    .retain(|a| !a.path().is_ident("cfg_attr") && !a.path().is_ident("api"));
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

/// `#[api(...)]`, or `#[cfg_attr(feature = "spec", api(...))]` /
/// `#[cfg_attr(not(feature = "spec"), api)]` whose condition holds in this build.
fn api_attribute(attr: &syn::Attribute) -> Option<Meta> {
    if attr.path().is_ident("api") {
        return Some(attr.meta.clone());
    }
    if !attr.path().is_ident("cfg_attr") {
        return None;
    }
    let parts = attr
        .parse_args_with(syn::punctuated::Punctuated::<Meta, syn::Token![,]>::parse_terminated)
        .ok()?;
    let mut parts = parts.into_iter();
    let condition = parts.next()?.to_token_stream().to_string();
    let holds = match condition.as_str() {
        "feature = \"spec\"" => cfg!(feature = "spec"),
        "not (feature = \"spec\")" => !cfg!(feature = "spec"),
        _ => return None,
    };
    let api = parts.next()?;
    (holds && api.path().is_ident("api")).then_some(api)
}

fn expand_file(path: &Path) -> Vec<Vec<String>> {
    let source = std::fs::read_to_string(path).expect("the case is readable");
    let file = syn::parse_file(&source).expect("the case parses");
    let mut traits = Vec::new();
    api_traits(&file.items, &mut traits);
    traits
        .into_iter()
        // Traits checked against a document need the `spec` feature (the workspace's build
        // has it; `cargo test -p fintecture-macros` alone does not).
        .filter(|(args, _)| cfg!(feature = "spec") || !args.to_string().contains("spec"))
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
        "fintecture-oauth/src/ais_consent.rs",
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

/// The expansion with `spec` is the one without, plus the `include_bytes!` that makes cargo
/// rebuild when the document changes.
#[cfg(feature = "spec")]
#[test]
fn the_expansion_is_the_same_with_and_without_spec() {
    let item: ItemTrait = syn::parse_quote! {
        pub trait Api {
            #[endpoint(get = "/pis/v2/payments/{session_id}", scope = "PIS")]
            async fn payment(&self, session_id: &str) -> Result<(), Error>;
            #[endpoint(post = "/pis/v2/connect", json, scope = "PIS")]
            async fn connect(&self, #[query] redirect_uri: &str, #[body] body: &Body)
                -> Result<Session, Error>;
        }
    };
    let dir = workspace().join("tests/ui");
    let spec = quote::quote!(spec = "spec/shop.yaml");
    let with = crate::expand::api(spec, item.clone(), Some(&dir)).to_string();
    let without = crate::expand::api(TokenStream::new(), item, Some(&dir)).to_string();
    let tracking = "const _ : & [u8] = include_bytes ! (\"spec/shop.yaml\") ;";
    assert!(with.contains(tracking), "{with}");
    assert_eq!(with.replacen(tracking, "", 1).trim(), without.trim());
    assert!(!without.contains("compile_error"), "{without}");
}

/// Hostile documents: an error each, quickly, never a panic or a hang.
#[cfg(feature = "spec")]
#[test]
fn hostile_documents_are_refused() {
    use crate::spec_load::parse;
    let deep_flow = format!("openapi: 3.1.0\npaths: {}", "[".repeat(100_000));
    let mut deep_block = String::from("openapi: 3.1.0\npaths:\n");
    for level in 0..2_000 {
        deep_block.push_str(&format!("{}a{level}:\n", " ".repeat(level + 1)));
    }
    let mut laughs = String::from("openapi: 3.1.0\na: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (name, previous) in ["b", "c", "d", "e", "f", "g", "h", "i"]
        .iter()
        .zip(["a", "b", "c", "d", "e", "f", "g", "h"])
    {
        let refs = vec![format!("*{previous}"); 10].join(", ");
        laughs.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    for (document, expected) in [
        (deep_flow.as_str(), "nests deeper"),
        (deep_block.as_str(), "indented deeper"),
        (laughs.as_str(), "does not parse"),
        ("\u{0}\u{1}\u{fffd}\u{7f}garbage: [", "does not parse"),
        ("", "empty"),
        ("- just\n- a list\n", "openapi"),
        ("openapi: 2.0\n", "only OpenAPI 3.x"),
    ] {
        match parse(document) {
            Ok(_) => panic!(
                "accepted: {}",
                document.chars().take(60).collect::<String>()
            ),
            Err(message) => assert!(message.contains(expected), "{message}"),
        }
    }
}

#[cfg(feature = "spec")]
proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Any text is a document or an error, never a panic.
    #[test]
    fn any_text_parses_or_fails(text in "(openapi: 3.1.0\n)?[ -~\n\t\u{80}-\u{2ff}]{0,300}") {
        let _ = crate::spec_load::parse(&text);
    }

    /// Any bytes in a file are a document or an error (not UTF-8 among them).
    #[test]
    fn any_file_loads_or_fails(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        let dir = std::env::temp_dir().join(format!("fintecture-spec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let path = dir.join(format!("{}.yaml", bytes.len()));
        std::fs::write(&path, &bytes).expect("a temporary file");
        let _ = crate::spec_load::load(&path);
        let _ = std::fs::remove_file(&path);
    }
}

/// Not a test: what checking a second trait of 100 endpoints against a 100-operation
/// document costs once the document is read (the compiler process has parsed it for the
/// first trait). `scripts/bench` runs it and reads the line it prints; nothing is asserted
/// on time here.
#[cfg(feature = "spec")]
#[test]
#[ignore = "a benchmark: scripts/bench runs it"]
fn bench_a_second_trait_against_a_read_document() {
    use std::fmt::Write as _;
    let (mut document, mut methods) = (String::new(), String::new());
    document.push_str("openapi: 3.1.0\nsecurity: [{ BearerAuth: [] }]\npaths:\n");
    for i in 1..=100 {
        let _ = writeln!(
            document,
            "  /things/{{id}}/item{i}:\n    parameters: [{{ in: path, name: id, required: true }}]\n    get:\n      operationId: item{i}\n      parameters: [{{ in: query, name: page }}]"
        );
        let _ = writeln!(
            methods,
            "#[endpoint(get = \"/things/{{id}}/item{i}\", scope = \"PIS\")] async fn item_{i}(&self, id: &str, #[query] page: u32) -> Result<Item, Error>;"
        );
    }
    let dir = std::env::temp_dir().join(format!("fintecture-spec-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    std::fs::write(dir.join("openapi.yaml"), document).expect("the document");
    let item: ItemTrait =
        syn::parse_str(&format!("pub trait Endpoints {{ {methods} }}")).expect("the trait");
    let spec = quote::quote!(spec = "openapi.yaml");
    // The first trait reads the document.
    let first = crate::expand::api(spec.clone(), item.clone(), Some(&dir)).to_string();
    assert!(!first.contains("compile_error"), "{first}");
    let median = |args: &TokenStream| {
        let mut times: Vec<f64> = (0..21)
            .map(|_| {
                let start = std::time::Instant::now();
                let _ = crate::expand::api(args.clone(), item.clone(), Some(&dir));
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times.get(10).copied().unwrap_or_default()
    };
    let (with, without) = (median(&spec), median(&TokenStream::new()));
    let extra = with - without;
    println!(
        "spec_second_trait: ratio={:.3} (extra_ms={extra:.3} with_ms={with:.3} without_ms={without:.3} target_ms=5)",
        extra / 5.0
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The errors of `trait_source` checked against the document `yaml`, messages only.
#[cfg(feature = "spec")]
fn spec_errors(yaml: &str, trait_source: &str) -> Vec<String> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static CASE: AtomicUsize = AtomicUsize::new(0);
    let case = CASE.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("fintecture-spec-{}-{case}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    std::fs::write(dir.join("api.yaml"), yaml).expect("the document");
    let item: ItemTrait = syn::parse_str(trait_source).expect("the trait");
    let mut messages = Vec::new();
    compile_errors(
        crate::expand::api(quote::quote!(spec = "api.yaml"), item, Some(&dir)),
        &mut messages,
    );
    let _ = std::fs::remove_dir_all(&dir);
    // Without the line and column the in-process spans carry.
    messages
        .into_iter()
        .map(|m| m.split_once(": ").map_or(m.clone(), |(_, m)| m.to_owned()))
        .collect()
}

#[cfg(feature = "spec")]
#[test]
fn each_check_says_what_the_document_says() {
    const DOC: &str = "openapi: 3.0.3
security: [{ BearerAuth: [] }]
paths:
  /items/{id}:
    parameters:
      - { in: query, name: page, required: true }
    get:
      operationId: getItem
      parameters:
        - { in: query, name: page, required: false }
    post:
      operationId: addItem
      requestBody: { content: { application/json: {} } }
  /open:
    get:
      operationId: open
      security: []
      parameters: [{ in: header, name: x-listed }]
  /refs:
    get:
      operationId: refs
      parameters:
        - { $ref: '#/paths/~1open/get/parameters/0' }
        - { in: header, name: x-kept }
components: {}
";
    let check = |methods: &str| spec_errors(DOC, &format!("pub trait Api {{ {methods} }}"));
    // An operation-level parameter overrides the path item's of the same name and place.
    assert_eq!(
        check(
            r#"#[endpoint(get = "/items/{id}", scope = "PIS")] async fn a(&self, id: &str) -> Result<(), Error>;"#
        ),
        Vec::<String>::new()
    );
    // A body the document does not require may be left out (the path item's required
    // query parameter still applies).
    assert_eq!(
        check(
            r#"#[endpoint(post = "/items/{id}", scope = "PIS")] async fn a(&self, id: &str, #[query] page: u32) -> Result<(), Error>;"#
        ),
        Vec::<String>::new()
    );
    // Nothing said of authentication where the document requires it.
    let none = check(
        r#"#[endpoint(get = "/items/{id}")] async fn a(&self, id: &str) -> Result<(), Error>;"#,
    );
    assert_eq!(none.len(), 1, "{none:?}");
    assert!(
        none.iter()
            .all(|m| m.contains("give the endpoint a `scope")),
        "{none:?}"
    );
    // An operation named, whose method or path is another.
    let named = check(
        r#"#[endpoint(post = "/items/{id}", scope = "PIS", operation = "getItem")] async fn a(&self, id: &str) -> Result<(), Error>;"#,
    );
    assert_eq!(
        named,
        ["operation `getItem` of `api.yaml` is `GET /items/{id}`"]
    );
    let named = check(
        r#"#[endpoint(get = "/open", scope = "PIS", operation = "getItem")] async fn a(&self) -> Result<(), Error>;"#,
    );
    assert_eq!(
        named,
        ["operation `getItem` of `api.yaml` is `GET /items/{id}`"]
    );
    // A query parameter where the operation declares none.
    let query = check(
        r#"#[endpoint(get = "/open", auth = none)] async fn a(&self, #[query("q")] q: &str) -> Result<(), Error>;"#,
    );
    assert_eq!(
        query,
        ["`GET /open` declares no query parameter `q` in `api.yaml`; it has no query parameter"]
    );
    // A `$ref` into a list resolves; one that points past its end dangles.
    let refs = check(
        r#"#[endpoint(get = "/refs", scope = "PIS", header("x-kept" = "1"))] async fn a(&self, #[header("x-listed")] v: &str) -> Result<(), Error>;"#,
    );
    assert_eq!(refs, Vec::<String>::new());
    let unlisted = DOC.replace("      parameters: [{ in: header, name: x-listed }]\n", "");
    let refs = spec_errors(
        &unlisted,
        r#"pub trait Api { #[endpoint(get = "/refs", scope = "PIS", header("x-kept" = "1"))] async fn a(&self) -> Result<(), Error>; }"#,
    );
    assert_eq!(refs.len(), 1, "{refs:?}");
    assert!(
        refs.iter()
            .all(|m| m.contains("dangling `$ref`: `#/paths/~1open/get/parameters/0`")),
        "{refs:?}"
    );
}

#[cfg(feature = "spec")]
#[test]
fn a_document_is_read_once_until_it_changes() {
    use crate::spec_load::{Failure, load};
    let dir = std::env::temp_dir().join(format!("fintecture-spec-cache-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let path = dir.join("api.yaml");
    std::fs::write(&path, "openapi: 3.1.0\npaths: {}\n").expect("the document");
    let first = load(&path);
    assert!(std::sync::Arc::ptr_eq(&first, &load(&path)), "read twice");
    std::fs::write(&path, "openapi: 2.0\n").expect("the document");
    let changed = load(&path);
    assert!(!std::sync::Arc::ptr_eq(&first, &changed));
    assert!(matches!(&*changed, Err(Failure::Invalid(m)) if m.contains("3.x")));
    assert!(matches!(&*load(&dir), Err(Failure::Unreadable(m)) if m == "not a file"));
    // The size bound, at its edge.
    let big = dir.join("big.yaml");
    let size = usize::try_from(crate::spec_load::MAX_BYTES).expect("a size");
    std::fs::write(&big, " ".repeat(size + 1)).expect("a large file");
    assert!(matches!(&*load(&big), Err(Failure::Invalid(m)) if m.contains("bytes long")));
    std::fs::write(&big, format!("#{}", " ".repeat(size - 1))).expect("a large file");
    assert!(matches!(&*load(&big), Err(Failure::Invalid(m)) if !m.contains("bytes long")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "spec")]
#[test]
fn nesting_is_bounded_at_its_edges_and_counted_outside_strings_and_comments() {
    use crate::spec_load::{MAX_FLOW_DEPTH, MAX_INDENT, too_deep};
    let flow = |depth: usize| format!("a: {}", "[".repeat(depth));
    assert!(too_deep(&flow(MAX_FLOW_DEPTH)).is_ok());
    assert!(too_deep(&flow(MAX_FLOW_DEPTH + 1)).is_err());
    let indent = |columns: usize| format!("a:\n{}b: 1\n", " ".repeat(columns));
    assert!(too_deep(&indent(MAX_INDENT)).is_ok());
    assert!(too_deep(&indent(MAX_INDENT + 1)).is_err());
    let many = "[".repeat(MAX_FLOW_DEPTH + 1);
    // Closed brackets do not add up; brackets in strings and comments do not count.
    assert!(too_deep(&"[]".repeat(MAX_FLOW_DEPTH * 2)).is_ok());
    assert!(too_deep(&format!("a: \"{many}{many}\"")).is_ok());
    assert!(too_deep(&format!("a: '{many}{many}'")).is_ok());
    assert!(too_deep(&format!("a: 1 # {many}")).is_ok());
    // A string ends at its own quote, not at the other kind.
    assert!(too_deep(&format!("a: \"it's\" {many}")).is_err());
    // A single quote left open ends with its line (an apostrophe in plain text).
    assert!(too_deep(&format!("a: it's\nb: {many}")).is_err());
}
