//! The layers stay layers: no file of the published crates refers to a file that refers
//! back to it, directly or through others, and no runtime file grows past 400 lines.
//!
//! An arrow is every `crate::` or `super::` path outside comments and `#[cfg(test)]`
//! modules: in `use` items (braces included), types, expressions and macro arguments alike.
//! A path to a name the crate root re-exports (`crate::Client`) points at the file that
//! defines it; a path to something outside the crate (`crate::api`, re-exported from the
//! macro crate) points nowhere.

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::ToTokens;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use syn::punctuated::Punctuated;
use syn::{Attribute, Item, UseTree};

/// The crates whose files must form no circle.
const CRATES: &[&str] = &[
    "fintecture-oauth",
    "fintecture-emulator",
    "fintecture-macros",
];

/// The largest file allowed in the runtime crates, and the one file exempt from it.
const MAX_LINES: usize = 400;
const LONG_FILE_ALLOWED: &str = "error.rs";

/// A module path inside a crate: `[]` for the root, `["token_manager", "slots"]`.
type ModPath = Vec<String>;

/// One crate's files and the arrows between them.
#[derive(Debug, Default)]
struct Graph {
    /// Each module that has a file of its own, and that file (relative to the crate).
    files: BTreeMap<ModPath, PathBuf>,
    /// Arrows between files, by module path.
    arrows: BTreeMap<ModPath, BTreeSet<ModPath>>,
}

/// A source file to read: its module path, and whether its parent declared it with a
/// `#[path]` (then its children sit in a folder named after the module).
struct Pending {
    module: ModPath,
    file: PathBuf,
    is_dir_owner: bool,
}

fn is_cfg_test(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .meta
                .require_list()
                .is_ok_and(|list| list.tokens.to_string().replace(' ', "") == "test")
    })
}

fn path_attr(attrs: &[Attribute]) -> Option<String> {
    attrs.iter().find_map(|attr| {
        let syn::Meta::NameValue(nv) = &attr.meta else {
            return None;
        };
        if !nv.path.is_ident("path") {
            return None;
        }
        match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(text),
                ..
            }) => Some(text.value()),
            _ => None,
        }
    })
}

/// Reads a crate from `src_root` (its `lib.rs`, or another root file), following `mod`
/// declarations: the modules with a file of their own, and every file's paths.
fn read_crate(src: &Path, root_file: &str) -> (Graph, BTreeMap<ModPath, Vec<Vec<String>>>) {
    let mut graph = Graph::default();
    let mut paths_of: BTreeMap<ModPath, Vec<Vec<String>>> = BTreeMap::new();
    let mut pending = vec![Pending {
        module: Vec::new(),
        file: PathBuf::from(root_file),
        is_dir_owner: true,
    }];
    while let Some(next) = pending.pop() {
        let text = std::fs::read_to_string(src.join(&next.file))
            .unwrap_or_else(|e| panic!("{}: {e}", next.file.display()));
        let parsed = syn::parse_file(&text)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", next.file.display()));
        // Where the children of this module live.
        let dir = match (next.is_dir_owner, next.file.parent()) {
            (true, Some(parent)) => parent.to_path_buf(),
            (_, parent) => parent
                .unwrap_or(Path::new(""))
                .join(next.module.last().map(String::as_str).unwrap_or_default()),
        };
        let mut found = Vec::new();
        collect(
            &parsed.items,
            &next.module,
            &mut found,
            &mut |child, attrs| {
                let (file, is_dir_owner) = match path_attr(attrs) {
                    Some(path) => (
                        next.file.parent().unwrap_or(Path::new("")).join(path),
                        false,
                    ),
                    None => {
                        let name = child.last().cloned().unwrap_or_default();
                        let flat = dir.join(format!("{name}.rs"));
                        if src.join(&flat).is_file() {
                            (flat, false)
                        } else {
                            (dir.join(name).join("mod.rs"), true)
                        }
                    }
                };
                pending.push(Pending {
                    module: child.to_vec(),
                    file,
                    is_dir_owner,
                });
            },
        );
        graph.files.insert(next.module.clone(), next.file.clone());
        paths_of.insert(next.module, found);
    }
    (graph, paths_of)
}

/// The absolute paths (`crate`-relative segments) that `items` name through `crate::` or
/// `super::`, skipping `#[cfg(test)]` modules; `on_file_mod` hears of each module declared
/// with a file of its own.
fn collect(
    items: &[Item],
    module: &[String],
    found: &mut Vec<Vec<String>>,
    on_file_mod: &mut dyn FnMut(&[String], &[Attribute]),
) {
    for item in items {
        if let Item::Mod(m) = item {
            if is_cfg_test(&m.attrs) {
                continue;
            }
            let mut child = module.to_vec();
            child.push(m.ident.to_string());
            match &m.content {
                Some((_, inner)) => collect(inner, &child, found, on_file_mod),
                None => on_file_mod(&child, &m.attrs),
            }
            continue;
        }
        scan(item.to_token_stream(), module, found);
    }
}

/// Finds `crate :: …` and `super :: …` in a token stream, at any depth.
fn scan(tokens: TokenStream, module: &[String], found: &mut Vec<Vec<String>>) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut i = 0;
    while i < tokens.len() {
        if let TokenTree::Group(group) = &tokens[i] {
            scan(group.stream(), module, found);
            i += 1;
            continue;
        }
        let start = match &tokens[i] {
            TokenTree::Ident(ident) if ident == "crate" => Some(Vec::new()),
            TokenTree::Ident(ident) if ident == "super" => {
                Some(module[..module.len().saturating_sub(1)].to_vec())
            }
            _ => None,
        };
        let Some(mut base) = start else {
            i += 1;
            continue;
        };
        let mut j = i + 1;
        let mut segments: Vec<String> = Vec::new();
        // `pub(crate)` and `pub(super)` are no paths: only a `::` makes one.
        let mut is_path = false;
        loop {
            if !is_path_sep(&tokens, j) {
                break;
            }
            is_path = true;
            j += 2;
            match tokens.get(j) {
                Some(TokenTree::Ident(ident)) if ident == "super" && segments.is_empty() => {
                    base.pop();
                    j += 1;
                }
                Some(TokenTree::Ident(ident)) => {
                    segments.push(ident.to_string());
                    j += 1;
                }
                Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Brace => {
                    for tail in use_group(group.stream()) {
                        found.push([base.clone(), segments.clone(), tail].concat());
                    }
                    j += 1;
                    segments.clear();
                    base.clear();
                    break;
                }
                _ => break,
            }
        }
        if is_path && !(segments.is_empty() && base.is_empty()) {
            found.push([base, segments].concat());
        }
        i = j.max(i + 1);
    }
}

fn is_path_sep(tokens: &[TokenTree], at: usize) -> bool {
    matches!(
        (tokens.get(at), tokens.get(at + 1)),
        (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b))) if a.as_char() == ':' && b.as_char() == ':'
    )
}

/// The paths a `use` group `{a, b::{c, d as e}, *}` names, relative to its prefix.
fn use_group(tokens: TokenStream) -> Vec<Vec<String>> {
    let parser = Punctuated::<UseTree, syn::Token![,]>::parse_terminated;
    let Ok(trees) = syn::parse::Parser::parse2(parser, tokens) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for tree in trees {
        flatten(&tree, Vec::new(), &mut out);
    }
    out
}

fn flatten(tree: &UseTree, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    match tree {
        UseTree::Path(path) => {
            let mut prefix = prefix;
            prefix.push(path.ident.to_string());
            flatten(&path.tree, prefix, out);
        }
        UseTree::Name(name) => out.push([prefix, vec![name.ident.to_string()]].concat()),
        UseTree::Rename(rename) => out.push([prefix, vec![rename.ident.to_string()]].concat()),
        UseTree::Glob(_) => out.push(prefix),
        UseTree::Group(group) => {
            for tree in &group.items {
                flatten(tree, prefix.clone(), out);
            }
        }
    }
}

/// The names the crate root re-exports (`pub use client::Client;`), each with the path it
/// stands for, and the names of the items the root defines itself (each its own path).
fn root_names(src: &Path, root_file: &str) -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(src.join(root_file)).expect("the crate root");
    let parsed = syn::parse_file(&text).expect("the crate root parses");
    let mut names = BTreeMap::new();
    for item in &parsed.items {
        let own = match item {
            Item::Use(item) => {
                let mut paths = Vec::new();
                flatten(&item.tree, Vec::new(), &mut paths);
                for path in paths {
                    if let Some(name) = path.last() {
                        names.insert(name.clone(), path);
                    }
                }
                continue;
            }
            Item::Struct(item) => &item.ident,
            Item::Enum(item) => &item.ident,
            Item::Fn(item) => &item.sig.ident,
            Item::Type(item) => &item.ident,
            Item::Const(item) => &item.ident,
            Item::Static(item) => &item.ident,
            Item::Trait(item) => &item.ident,
            _ => continue,
        };
        names.insert(own.to_string(), Vec::new());
    }
    names
}

/// The module with a file of its own that `path` points into, if it points into the crate.
fn resolve(
    path: &[String],
    files: &BTreeMap<ModPath, PathBuf>,
    reexports: &BTreeMap<String, Vec<String>>,
    depth: usize,
) -> Option<ModPath> {
    let owner = (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| files.contains_key(prefix));
    match owner {
        Some(owner) => Some(owner),
        // `crate::Name`: a re-export of the root, followed once (`crate::Name` in the root's
        // own `use` would loop); anything the root neither defines as a module nor
        // re-exports from one is the root's own or outside the crate.
        None => {
            let first = path.first()?;
            let target = reexports.get(first)?;
            if target.is_empty() {
                // Defined by the root itself.
                return Some(Vec::new());
            }
            if depth > 0 || target.first() == path.first() {
                return None;
            }
            resolve(target, files, reexports, depth + 1)
        }
    }
}

/// Every arrow of one crate rooted at `root_file` in `src`.
fn graph_of(src: &Path, root_file: &str) -> Graph {
    let (mut graph, paths_of) = read_crate(src, root_file);
    let reexports = root_names(src, root_file);
    for (module, paths) in &paths_of {
        let from = owner_file(module, &graph.files);
        for path in paths {
            if let Some(to) = resolve(path, &graph.files, &reexports, 0)
                && to != from
            {
                graph.arrows.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    graph
}

fn owner_file(module: &[String], files: &BTreeMap<ModPath, PathBuf>) -> ModPath {
    (0..=module.len())
        .rev()
        .map(|n| module[..n].to_vec())
        .find(|prefix| files.contains_key(prefix))
        .unwrap_or_default()
}

/// A circle of files, as their paths, if there is one.
fn find_circle(graph: &Graph) -> Option<Vec<PathBuf>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Unseen,
        OnStack,
        Done,
    }
    fn visit(
        node: &ModPath,
        graph: &Graph,
        marks: &mut BTreeMap<ModPath, Mark>,
        stack: &mut Vec<ModPath>,
    ) -> Option<Vec<ModPath>> {
        marks.insert(node.clone(), Mark::OnStack);
        stack.push(node.clone());
        for next in graph.arrows.get(node).into_iter().flatten() {
            match marks.get(next).copied().unwrap_or(Mark::Unseen) {
                Mark::OnStack => {
                    let start = stack.iter().position(|m| m == next).unwrap_or(0);
                    let mut circle = stack[start..].to_vec();
                    circle.push(next.clone());
                    return Some(circle);
                }
                Mark::Unseen => {
                    if let Some(circle) = visit(next, graph, marks, stack) {
                        return Some(circle);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks.insert(node.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.files.keys() {
        if marks.get(node).copied().unwrap_or(Mark::Unseen) == Mark::Unseen {
            let mut stack = Vec::new();
            if let Some(circle) = visit(node, graph, &mut marks, &mut stack) {
                return Some(circle.iter().map(|m| graph.files[m].clone()).collect());
            }
        }
    }
    None
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

/// The crate roots of a package's `src`: the library, and a binary's `main.rs` (a crate of
/// its own).
fn roots(src: &Path) -> Vec<&'static str> {
    ["lib.rs", "main.rs"]
        .into_iter()
        .filter(|root| src.join(root).is_file())
        .collect()
}

#[test]
fn no_file_of_the_published_crates_refers_back_to_a_file_it_refers_to() {
    for krate in CRATES {
        let src = workspace().join(krate).join("src");
        for root in roots(&src) {
            let graph = graph_of(&src, root);
            assert!(
                graph.files.len() > 1 || root == "main.rs",
                "{krate}: only {} file(s) found from {root}: the module walk is broken",
                graph.files.len()
            );
            if let Some(circle) = find_circle(&graph) {
                let names: Vec<String> = circle.iter().map(|f| f.display().to_string()).collect();
                panic!(
                    "{krate}/src: these files refer to each other in a circle: {}\n\
                     See ARCHITECTURE.md for the layers and the direction allowed.",
                    names.join(" → ")
                );
            }
        }
    }
}

#[test]
fn the_runtime_files_stay_under_400_lines() {
    for krate in ["fintecture-oauth", "fintecture-emulator"] {
        let src = workspace().join(krate).join("src");
        let graph = graph_of(&src, "lib.rs");
        for file in graph.files.values() {
            if file
                .file_name()
                .is_some_and(|name| name == LONG_FILE_ALLOWED)
            {
                continue;
            }
            let lines = std::fs::read_to_string(src.join(file))
                .expect("a source file")
                .lines()
                .count();
            assert!(
                lines <= MAX_LINES,
                "{krate}/src/{} has {lines} lines: split it by concern (at most {MAX_LINES})",
                file.display()
            );
        }
    }
}

/// A small crate written for the test, its files given as (path, text).
fn fixture(files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "layering-{}-{}",
        std::process::id(),
        files.len() * 31 + files.iter().map(|(_, text)| text.len()).sum::<usize>()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("the fixture folder");
        std::fs::write(path, text).expect("a fixture file");
    }
    dir
}

/// A fixture crate: what it shows, its files, and whether they form a circle.
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);

/// The checker sees circles however they are written, and nothing else.
#[test]
fn the_checker_finds_circles_through_reexports_groups_super_and_nested_files() {
    let cases: &[Case] = &[
        (
            "a direct circle",
            &[
                ("lib.rs", "mod a; mod b;"),
                ("a.rs", "use crate::b::B; pub struct A;"),
                ("b.rs", "pub struct B(crate::a::A);"),
            ],
            true,
        ),
        (
            "one way only",
            &[
                ("lib.rs", "mod a; mod b;"),
                ("a.rs", "use crate::b::B; pub struct A;"),
                ("b.rs", "pub struct B;"),
            ],
            false,
        ),
        (
            "through a re-export of the root, a use group and three files",
            &[
                ("lib.rs", "mod a; mod b; mod c; pub use c::C;"),
                ("a.rs", "use crate::{b::{B, Other}, x}; pub struct A;"),
                ("b.rs", "pub fn b() -> crate::C { todo!() }"),
                ("c.rs", "pub struct C; fn f() { let _ = crate::a::A; }"),
            ],
            true,
        ),
        (
            "super from a nested file, a name defined by the root, a macro's arguments",
            &[
                ("lib.rs", "mod outer; pub struct Root;"),
                ("outer.rs", "mod inner; pub fn f() { g!(super::Root); }"),
                ("outer/inner.rs", "fn h() { super::f(); }"),
            ],
            false,
        ),
        (
            "super from a nested file, back to its parent that uses it",
            &[
                ("lib.rs", "mod outer;"),
                (
                    "outer.rs",
                    "mod inner; pub fn f() { crate::outer::inner::h(); }",
                ),
                ("outer/inner.rs", "pub fn h() { super::f(); }"),
            ],
            true,
        ),
        (
            "a path inside a macro invocation",
            &[
                ("lib.rs", "mod a; mod b;"),
                ("a.rs", "pub fn a() { log!(crate::b::b()); }"),
                ("b.rs", "pub fn b() { crate::a::a(); }"),
            ],
            true,
        ),
        (
            "comments, doc links and test modules are not arrows",
            &[
                ("lib.rs", "mod a; mod b;"),
                (
                    "a.rs",
                    "/// See [`B`](crate::b::B).\npub struct A; // crate::b::B\n\
                     #[cfg(test)] mod tests { use crate::b::B; }",
                ),
                ("b.rs", "pub struct B(crate::a::A);"),
            ],
            false,
        ),
        (
            "a module given a #[path]",
            &[
                ("lib.rs", "#[path = \"hidden.rs\"] mod shown; mod b;"),
                ("hidden.rs", "pub fn s() { crate::b::b(); }"),
                ("b.rs", "pub fn b() { crate::shown::s(); }"),
            ],
            true,
        ),
    ];
    for (name, files, circle) in cases {
        let src = fixture(files);
        let graph = graph_of(&src, "lib.rs");
        let found = find_circle(&graph);
        let _ = std::fs::remove_dir_all(&src);
        assert_eq!(found.is_some(), *circle, "{name}: {found:?} in {graph:?}");
    }
}
