//! Each endpoint of a trait checked against its OpenAPI document: the path, the method, the
//! placeholders, the required parameters, the scalar query and header arguments, the body
//! and its encoding, the authentication. Every problem is a compile error on the token that
//! causes it, with the document's alternatives where it has some.

use crate::ast::{Api, Endpoint, unraw};
use crate::attr::{AuthKind, Encoding, Errors, Role};
use crate::spec_model::{Document, Location, Operation, shape};
use crate::suggest::closest;
use syn::LitStr;

/// Headers the runtime sends itself, which a declaration need not name.
const RUNTIME_HEADERS: &[&str] = &[
    "authorization",
    "date",
    "x-date",
    "digest",
    "signature",
    "x-request-id",
    "content-type",
    "accept",
    "app_id",
];

/// Checks every endpoint of `api` (but those with `spec = skip`) against `document`, read
/// from the file `spec` names.
pub(crate) fn check(api: &Api, document: &Document, spec: &LitStr, errors: &mut Errors) {
    let file = spec.value();
    for (reference, place) in &document.dangling {
        errors.push(syn::Error::new_spanned(
            spec,
            format!(
                "`{file}` has a dangling `$ref`: `{reference}` (at {place}) points nowhere in it"
            ),
        ));
    }
    for endpoint in &api.endpoints {
        if endpoint.attr.spec_skip.is_none() {
            Check {
                endpoint,
                document,
                file: &file,
                errors: &mut *errors,
            }
            .run();
        }
    }
}

/// One endpoint's check: what it is checked against, and where its errors go.
struct Check<'a, 'e> {
    endpoint: &'a Endpoint<'a>,
    document: &'a Document,
    file: &'a str,
    errors: &'e mut Errors,
}

impl<'a> Check<'a, '_> {
    fn error(&mut self, tokens: &dyn quote::ToTokens, message: String) {
        self.errors.push(syn::Error::new_spanned(tokens, message));
    }

    fn run(mut self) {
        let endpoint = self.endpoint;
        let Some((verb, verb_ident, path)) = endpoint.attr.verbs.first() else {
            return;
        };
        let method = verb.constant().to_ascii_lowercase();
        let Some(operation) = self.operation(&method, verb_ident, path) else {
            return;
        };
        let here = format!("`{} {}`", operation.method.to_uppercase(), operation.path);
        self.placeholders(path, operation);
        self.parameters(operation, &here);
        self.body(operation, &here);
        self.authentication(operation, &here);
    }

    /// The document's operation for this endpoint: named by `operation = "..."`, or found
    /// by path (placeholders aside) and method.
    fn operation(
        &mut self,
        method: &str,
        verb_ident: &syn::Ident,
        path: &LitStr,
    ) -> Option<&'a Operation> {
        let document = self.document;
        let file = self.file;
        let endpoint = self.endpoint;
        if let Some(id) = &endpoint.attr.operation {
            let wanted = id.value();
            if let Some(op) = document
                .operations
                .iter()
                .find(|op| op.id.as_deref() == Some(&wanted))
            {
                if op.shape != shape(&path.value()) || op.method != method {
                    self.error(
                        path,
                        format!(
                            "operation `{wanted}` of `{file}` is `{} {}`",
                            op.method.to_uppercase(),
                            op.path
                        ),
                    );
                    return None;
                }
                return Some(op);
            }
            let ids = document.operations.iter().filter_map(|op| op.id.as_deref());
            let message = match closest(&wanted, ids) {
                Some(near) => {
                    format!("`{file}` has no operation `{wanted}`; did you mean `{near}`?")
                }
                None => format!("`{file}` has no operation `{wanted}`"),
            };
            self.error(id, message);
            return None;
        }
        let written = path.value();
        let same_path: Vec<&Operation> = document.with_shape(&shape(&written)).collect();
        if same_path.is_empty() {
            let paths = document.operations.iter().map(|op| op.path.as_str());
            let message = match closest(&written, paths) {
                Some(near) => {
                    format!("`{written}` is not a path of `{file}`; did you mean `{near}`?")
                }
                None => format!("`{written}` is not a path of `{file}`"),
            };
            self.error(path, message);
            return None;
        }
        let same_method: Vec<&Operation> = same_path
            .iter()
            .copied()
            .filter(|op| op.method == method)
            .collect();
        match same_method.as_slice() {
            [op] => Some(*op),
            [] => {
                let mut has: Vec<String> = same_path
                    .iter()
                    .map(|op| op.method.to_uppercase())
                    .collect();
                has.dedup();
                self.error(
                    verb_ident,
                    format!(
                        "`{written}` has no {} operation in `{file}`; it has {}",
                        method.to_uppercase(),
                        has.join(", ")
                    ),
                );
                None
            }
            several => {
                let paths: Vec<&str> = several.iter().map(|op| op.path.as_str()).collect();
                self.error(
                    path,
                    format!(
                        "`{written}` matches several paths of `{file}` ({}): name one with \
                         `operation = \"operationId\"`",
                        paths.join(", ")
                    ),
                );
                None
            }
        }
    }

    fn placeholders(&mut self, path: &LitStr, operation: &Operation) {
        let written = placeholders(&path.value());
        let documented = placeholders(&operation.path);
        for (mine, theirs) in written.iter().zip(&documented) {
            if mine.trim_start_matches("r#") != theirs {
                self.error(
                    path,
                    format!(
                        "`{}` names this placeholder `{{{theirs}}}`, not `{{{mine}}}`",
                        self.file
                    ),
                );
            }
        }
    }

    fn parameters(&mut self, operation: &Operation, here: &str) {
        let args = &self.endpoint.args;
        let whole_query = args
            .iter()
            .any(|arg| matches!(arg.role, Some(Role::Query(None))) && !arg.is_scalar());
        let query_names: Vec<(String, &dyn quote::ToTokens)> = args
            .iter()
            .filter_map(|arg| match &arg.role {
                Some(Role::Query(Some(name))) => Some((name.value(), name as &dyn quote::ToTokens)),
                Some(Role::Query(None)) if arg.is_scalar() => arg
                    .ident()
                    .map(|ident| (unraw(ident), ident as &dyn quote::ToTokens)),
                _ => None,
            })
            .collect();
        let header_args: Vec<(String, &LitStr)> = args
            .iter()
            .filter_map(|arg| match &arg.role {
                Some(Role::Header(name)) => Some((name.value().to_ascii_lowercase(), name)),
                _ => None,
            })
            .collect();
        let static_headers = self.endpoint.attr.headers.iter();
        let header_names: Vec<String> = header_args
            .iter()
            .map(|(name, _)| name.clone())
            .chain(static_headers.map(|(name, _)| name.value().to_ascii_lowercase()))
            .collect();
        let declared = |location: Location| -> Vec<&str> {
            operation
                .params
                .iter()
                .filter(|p| p.location == location)
                .map(|p| p.name.as_str())
                .collect()
        };
        let file = self.file;
        for param in operation.params.iter().filter(|p| p.required) {
            let missing = match param.location {
                Location::Query => {
                    !whole_query && !query_names.iter().any(|(n, _)| *n == param.name)
                }
                Location::Header => {
                    let name = param.name.to_ascii_lowercase();
                    !RUNTIME_HEADERS.contains(&name.as_str()) && !header_names.contains(&name)
                }
            };
            if missing {
                let how = match param.location {
                    Location::Header => format!("`#[header(\"{}\")]` argument", param.name),
                    _ => format!(
                        "`#[query(\"{}\")]` argument (or a `#[query]` struct)",
                        param.name
                    ),
                };
                let ident = &self.endpoint.func.sig.ident;
                self.error(
                    ident,
                    format!(
                        "{here} requires the {} parameter `{}` in `{file}`: add a {how}",
                        param.location.name(),
                        param.name
                    ),
                );
            }
        }
        let queries = declared(Location::Query);
        for (name, tokens) in &query_names {
            if !queries.contains(&name.as_str()) {
                let message = undeclared(here, file, "query parameter", name, &queries);
                self.error(*tokens, message);
            }
        }
        let headers = declared(Location::Header);
        let lower: Vec<String> = headers.iter().map(|h| h.to_ascii_lowercase()).collect();
        for (name, tokens) in &header_args {
            if !RUNTIME_HEADERS.contains(&name.as_str()) && !lower.contains(name) {
                let message = undeclared(here, file, "header", &tokens.value(), &headers);
                self.error(*tokens, message);
            }
        }
    }

    fn body(&mut self, operation: &Operation, here: &str) {
        let file = self.file;
        let body_arg = self.endpoint.args.iter().find_map(|arg| match &arg.role {
            Some(Role::Body(ident)) => Some(ident),
            _ => None,
        });
        match (&operation.body, body_arg) {
            (Some(body), None) if body.required => {
                let ident = &self.endpoint.func.sig.ident;
                self.error(
                    ident,
                    format!("{here} requires a request body in `{file}`: add a `#[body]` argument"),
                );
            }
            (None, Some(ident)) => {
                self.error(ident, format!("{here} takes no request body in `{file}`"));
            }
            _ => {}
        }
        let (Some(body), Some((encoding, ident))) =
            (&operation.body, self.endpoint.attr.encodings.first())
        else {
            return;
        };
        if body.media.is_empty() {
            return;
        }
        let json = body
            .media
            .iter()
            .any(|m| m == "application/json" || m.ends_with("+json"));
        let form = body
            .media
            .iter()
            .any(|m| m == "application/x-www-form-urlencoded");
        let takes = body.media.join(", ");
        match encoding {
            Encoding::Json if !json => self.error(
                ident,
                format!(
                    "{here} takes {takes} in `{file}`, not JSON{}",
                    if form { ": write `form`" } else { "" }
                ),
            ),
            Encoding::Form if !form => self.error(
                ident,
                format!(
                    "{here} takes {takes} in `{file}`, not a form{}",
                    if json { ": write `json`" } else { "" }
                ),
            ),
            _ => {}
        }
    }

    fn authentication(&mut self, operation: &Operation, here: &str) {
        if !operation.secured {
            return;
        }
        let file = self.file;
        let attr = &self.endpoint.attr;
        let message =
            format!("{here} requires authentication in `{file}`, and `auth = none` sends none");
        match (&attr.auth, &attr.scope) {
            (Some((AuthKind::None, ident)), _) => self.error(ident, message),
            (None, None) => {
                if let Some((_, verb, _)) = attr.verbs.first() {
                    self.error(
                        verb,
                        format!(
                            "{here} requires authentication in `{file}`: give the endpoint a \
                             `scope = \"...\"` (a bearer token) or an `auth = ...`"
                        ),
                    );
                }
            }
            _ => {}
        }
    }
}

/// "`GET /x` declares no query parameter `y` in `f`; it has: a, b" (with a suggestion).
fn undeclared(here: &str, file: &str, what: &str, name: &str, known: &[&str]) -> String {
    let mut message = format!("{here} declares no {what} `{name}` in `{file}`");
    match closest(name, known.iter().copied()) {
        Some(near) => message.push_str(&format!("; did you mean `{near}`?")),
        None if known.is_empty() => message.push_str(&format!("; it has no {what}")),
        None => message.push_str(&format!("; it has: {}", known.join(", "))),
    }
    message
}

/// The placeholder names of a path, in order.
fn placeholders(path: &str) -> Vec<String> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
        .collect()
}
