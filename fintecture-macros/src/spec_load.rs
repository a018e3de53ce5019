//! Reading an OpenAPI document once per compiler process: the parsed document is kept per
//! path, with the file's modification time and length, so that every trait and endpoint
//! checked against it shares one parse (sqlx learnt that a parse per call is what users feel).
//!
//! The file is untrusted input: its size, its nesting and its aliases are bounded before
//! and while it is parsed, and every failure is a message, never a panic.

use crate::spec_model::Document;
use saphyr::{LoadableYamlNode as _, Yaml};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::SystemTime;

/// The largest document read: the specs this checks are tens of kilobytes.
pub(crate) const MAX_BYTES: u64 = 16 << 20;

/// The deepest nesting read, in flow brackets or in indentation columns: far beyond any
/// OpenAPI document, well within what a recursive drop of the tree can take.
pub(crate) const MAX_FLOW_DEPTH: usize = 256;
pub(crate) const MAX_INDENT: usize = 1024;

/// A document read, or why it could not be.
pub(crate) type Loaded = Arc<Result<Document, Failure>>;

/// Why a document could not be used.
pub(crate) enum Failure {
    /// Not readable at that path: the file is missing, or not a file.
    Unreadable(String),
    /// Read, but not an OpenAPI 3.x document in YAML or JSON.
    Invalid(String),
}

/// The documents read so far in this compiler process, by path.
type Cache = HashMap<PathBuf, (Option<SystemTime>, u64, Loaded)>;

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// The document at `path`: parsed once, then from the cache until the file changes.
pub(crate) fn load(path: &Path) -> Loaded {
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_file() => metadata,
        Ok(_) => return Arc::new(Err(Failure::Unreadable("not a file".into()))),
        Err(error) => return Arc::new(Err(Failure::Unreadable(error.to_string()))),
    };
    let stamp = (metadata.modified().ok(), metadata.len());
    let mut cache = cache().lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((modified, len, loaded)) = cache.get(path)
        && (*modified, *len) == stamp
    {
        return loaded.clone();
    }
    let loaded = Arc::new(read(path, metadata.len()));
    cache.insert(path.to_owned(), (stamp.0, stamp.1, loaded.clone()));
    loaded
}

fn read(path: &Path, len: u64) -> Result<Document, Failure> {
    if len > MAX_BYTES {
        return Err(Failure::Invalid(format!(
            "it is {len} bytes long; OpenAPI documents over {MAX_BYTES} bytes are not read"
        )));
    }
    let bytes = std::fs::read(path).map_err(|error| Failure::Unreadable(error.to_string()))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Failure::Invalid("it is not UTF-8 text (YAML or JSON)".into()))?;
    parse(&text).map_err(Failure::Invalid)
}

/// Parses a document's text (YAML 1.2, of which JSON is a subset).
pub(crate) fn parse(text: &str) -> Result<Document, String> {
    too_deep(text)?;
    let documents = Yaml::load_from_str(text).map_err(|error| {
        let marker = error.marker();
        format!(
            "it does not parse, at line {}, column {}: {}",
            marker.line(),
            marker.col() + 1,
            error.info()
        )
    })?;
    let root = documents.first().ok_or("it is empty")?;
    Document::from_yaml(root)
}

/// Refuses nesting deeper than any OpenAPI document has, before the parser builds it.
pub(crate) fn too_deep(text: &str) -> Result<(), String> {
    let (mut depth, mut quote) = (0usize, None::<char>);
    for line in text.lines() {
        let indent = line.len() - line.trim_start_matches([' ', '\t', '-']).len();
        if indent > MAX_INDENT {
            return Err(format!("it is indented deeper than {MAX_INDENT} columns"));
        }
        for c in line.chars() {
            match (quote, c) {
                (Some(open), c) if c == open => quote = None,
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') => break,
                (None, '[' | '{') => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Err(format!("it nests deeper than {MAX_FLOW_DEPTH} levels"));
                    }
                }
                (None, ']' | '}') => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        // A quote never spans lines in the documents this reads; a stray one ends here.
        if quote == Some('\'') {
            quote = None;
        }
    }
    Ok(())
}
