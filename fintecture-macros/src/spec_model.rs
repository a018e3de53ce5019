//! The few parts of an OpenAPI document the checks need (`openapi`, `paths`, operations,
//! `parameters` at both levels, `requestBody` media types, `security`), read tolerantly from
//! 3.0 and 3.1 alike, with local `$ref`s followed. Anything else is ignored.

use saphyr::Yaml;
use std::collections::HashMap;

/// The methods an OpenAPI path item may hold, as its keys.
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// How many `$ref`s one lookup follows before giving up (a cycle).
const MAX_REFS: usize = 16;

/// A document, as the checks see it.
pub(crate) struct Document {
    pub(crate) operations: Vec<Operation>,
    /// The operations by path shape, so that each endpoint finds its own without looking
    /// at every operation.
    by_shape: HashMap<String, Vec<usize>>,
    /// `$ref`s that point nowhere in the document, with where they were met.
    pub(crate) dangling: Vec<(String, String)>,
}

/// One operation: a method of a path.
pub(crate) struct Operation {
    pub(crate) path: String,
    /// The path with its placeholders blanked (see [`shape`]).
    pub(crate) shape: String,
    /// Lower case, as in the document.
    pub(crate) method: &'static str,
    pub(crate) id: Option<String>,
    /// The path item's query and header parameters, overridden by the operation's (by name
    /// and location). Path parameters are checked through the placeholders; cookies are not
    /// sent.
    pub(crate) params: Vec<Param>,
    pub(crate) body: Option<Body>,
    /// Whether a security requirement applies and none of its alternatives is empty.
    pub(crate) secured: bool,
}

#[derive(Clone)]
pub(crate) struct Param {
    pub(crate) name: String,
    pub(crate) location: Location,
    pub(crate) required: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Location {
    Query,
    Header,
}

impl Location {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Location::Query => "query",
            Location::Header => "header",
        }
    }
}

pub(crate) struct Body {
    pub(crate) required: bool,
    /// The media types of `content` (`application/json`, ...).
    pub(crate) media: Vec<String>,
}

impl Document {
    /// Reads the parts the checks need from the document's root; `Err` when it is not an
    /// OpenAPI 3.x document.
    pub(crate) fn from_yaml(root: &Yaml) -> Result<Document, String> {
        let version = root
            .as_mapping_get("openapi")
            .and_then(text)
            .ok_or("it has no `openapi` field: not an OpenAPI 3.x document")?;
        if !version.starts_with("3.") {
            return Err(format!(
                "its `openapi` field is `{version}`: only OpenAPI 3.x documents are read"
            ));
        }
        let mut reader = Reader {
            root,
            dangling: Vec::new(),
        };
        let secured_by_default = root.as_mapping_get("security").is_some_and(secured);
        let mut operations = Vec::new();
        if let Some(paths) = root.as_mapping_get("paths").and_then(Yaml::as_mapping) {
            for (template, item) in paths {
                let Some(template) = template.as_str() else {
                    continue;
                };
                let item = reader.follow(item, template);
                let shared = reader.params(item.as_mapping_get("parameters"), template);
                for &method in METHODS {
                    let Some(op) = item.as_mapping_get(method) else {
                        continue;
                    };
                    let here = format!("{} {template}", method.to_uppercase());
                    let mut params = shared.clone();
                    for own in reader.params(op.as_mapping_get("parameters"), &here) {
                        params.retain(|p| !(p.name == own.name && p.location == own.location));
                        params.push(own);
                    }
                    let body = op
                        .as_mapping_get("requestBody")
                        .map(|body| reader.body(body, &here));
                    let secured = match op.as_mapping_get("security") {
                        Some(security) => secured(security),
                        None => secured_by_default,
                    };
                    operations.push(Operation {
                        path: template.to_owned(),
                        shape: shape(template),
                        method,
                        id: op.as_mapping_get("operationId").and_then(text),
                        params,
                        body,
                        secured,
                    });
                }
            }
        }
        let mut by_shape: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, op) in operations.iter().enumerate() {
            by_shape.entry(op.shape.clone()).or_default().push(index);
        }
        Ok(Document {
            operations,
            by_shape,
            dangling: reader.dangling,
        })
    }
}

impl Document {
    /// The operations whose path has this shape.
    pub(crate) fn with_shape<'a>(&'a self, shape: &str) -> impl Iterator<Item = &'a Operation> {
        let indices = self
            .by_shape
            .get(shape)
            .map(Vec::as_slice)
            .unwrap_or_default();
        indices
            .iter()
            .filter_map(|&index| self.operations.get(index))
    }
}

/// Follows `$ref`s within one document, noting those that point nowhere.
struct Reader<'a, 'input> {
    root: &'a Yaml<'input>,
    dangling: Vec<(String, String)>,
}

impl<'a, 'input> Reader<'a, 'input> {
    /// `node`, or what its `$ref` (and theirs) point at; `node` itself when one dangles.
    fn follow(&mut self, mut node: &'a Yaml<'input>, here: &str) -> &'a Yaml<'input> {
        for _ in 0..MAX_REFS {
            let Some(reference) = node.as_mapping_get("$ref").and_then(Yaml::as_str) else {
                return node;
            };
            // Another file's: not followed (nothing to check against).
            let Some(pointer) = reference.strip_prefix('#') else {
                return node;
            };
            match pointed(self.root, pointer) {
                Some(target) => node = target,
                None => {
                    self.dangling.push((reference.to_owned(), here.to_owned()));
                    return node;
                }
            }
        }
        self.dangling
            .push(("a cycle of `$ref`s".to_owned(), here.to_owned()));
        node
    }

    fn params(&mut self, list: Option<&'a Yaml<'input>>, here: &str) -> Vec<Param> {
        let Some(list) = list.and_then(Yaml::as_sequence) else {
            return Vec::new();
        };
        list.iter()
            .filter_map(|param| {
                let param = self.follow(param, here);
                let name = param.as_mapping_get("name").and_then(text)?;
                let location = match param.as_mapping_get("in").and_then(Yaml::as_str)? {
                    "query" => Location::Query,
                    "header" => Location::Header,
                    _ => return None,
                };
                let required = param
                    .as_mapping_get("required")
                    .and_then(Yaml::as_bool)
                    .unwrap_or(false);
                Some(Param {
                    name,
                    location,
                    required,
                })
            })
            .collect()
    }

    fn body(&mut self, body: &'a Yaml<'input>, here: &str) -> Body {
        let body = self.follow(body, here);
        let media = body
            .as_mapping_get("content")
            .and_then(Yaml::as_mapping)
            .map(|content| content.keys().filter_map(text).collect())
            .unwrap_or_default();
        Body {
            required: body
                .as_mapping_get("required")
                .and_then(Yaml::as_bool)
                .unwrap_or(false),
            media,
        }
    }
}

/// What a JSON pointer (`/components/parameters/Id`) points at in `root`.
fn pointed<'a, 'input>(root: &'a Yaml<'input>, pointer: &str) -> Option<&'a Yaml<'input>> {
    let mut node = root;
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        node = match node {
            Yaml::Sequence(items) => items.get(token.parse::<usize>().ok()?)?,
            _ => node.as_mapping_get(&token)?,
        };
    }
    Some(node)
}

/// Whether a `security` list requires something: not empty, and no alternative is `{}`.
fn secured(security: &Yaml) -> bool {
    security.as_sequence().is_some_and(|alternatives| {
        !alternatives.is_empty()
            && alternatives
                .iter()
                .all(|alternative| alternative.as_mapping().is_some_and(|m| !m.is_empty()))
    })
}

/// A scalar as text: strings as they are, numbers and booleans written out (`openapi: 3.0`
/// arrives as a number).
fn text(node: &Yaml) -> Option<String> {
    if let Some(text) = node.as_str() {
        return Some(text.to_owned());
    }
    node.as_integer()
        .map(|n| n.to_string())
        .or_else(|| node.as_floating_point().map(|f| f.to_string()))
        .or_else(|| node.as_bool().map(|b| b.to_string()))
}

/// A path with its placeholders blanked: `/a/{id}` and `/a/{name}` have one shape.
pub(crate) fn shape(path: &str) -> String {
    let mut shape = String::with_capacity(path.len());
    let mut inside = false;
    for c in path.chars() {
        match c {
            '{' => {
                inside = true;
                shape.push_str("{}");
            }
            '}' => inside = false,
            c if !inside => shape.push(c),
            _ => {}
        }
    }
    shape
}
