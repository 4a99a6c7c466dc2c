//! A YAML tree that remembers where every node came from.
//!
//! Inventory and playbook files are validated by hand rather than by `#[derive(Deserialize)]`
//! so that every complaint can name `FILE:LINE:COL`, unknown keys can be listed with the keys
//! that are allowed, and one file can yield many errors. serde-saphyr does the parsing (with a
//! tightened budget so alias bombs fail fast and duplicate keys are errors); this module turns
//! its output into [`Node`]s carrying [`Location`]itions.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// Largest YAML file we read; inventories and playbooks are hand-written and small.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;

/// A position in a file, 1-based. Line 0 means "the file as a whole".
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl Location {
    pub fn new(file: &Path, line: usize, column: usize) -> Self {
        Self {
            file: file.to_path_buf(),
            line,
            column,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
        }
    }
}

/// A YAML value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Location,
}

/// The shapes a YAML node can take. Mapping keys are always strings here: inventories and
/// playbooks have no use for other keys, and a non-string key is reported as an error.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its own position (for "unknown key" messages).
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub pos: Location,
}

impl Value {
    /// The word used in "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::String(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl Node {
    /// Converts to JSON (variables are kept as JSON values for templating).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Seq(items) => {
                serde_json::Value::Array(items.iter().map(Node::to_json).collect())
            }
            Value::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

/// Why a YAML file could not be read. The message never contains file content beyond the
/// offending key or token, so secrets in a broken file stay out of logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct Diagnostic {
    pub location: Location,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(location: Location, message: impl Into<String>) -> Self {
        Self {
            location,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Reads and parses one YAML file.
pub fn read_file(path: &Path) -> Result<Option<Node>, Diagnostic> {
    let whole = Location::new(path, 0, 0);
    let meta = std::fs::metadata(path).map_err(|e| {
        Diagnostic::new(
            whole.clone(),
            format!("cannot read file: {}", io_reason(&e)),
        )
    })?;
    if meta.len() > MAX_FILE_BYTES as u64 {
        return Err(Diagnostic::new(
            whole,
            format!("file is larger than {} MiB", MAX_FILE_BYTES / (1024 * 1024)),
        ));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| Diagnostic::new(whole, format!("cannot read file: {}", io_reason(&e))))?;
    parse_bytes(path, &bytes)
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string().to_lowercase(),
    }
}

/// Parses YAML bytes; `Ok(None)` for an empty document.
pub fn parse_bytes(path: &Path, bytes: &[u8]) -> Result<Option<Node>, Diagnostic> {
    let whole = Location::new(path, 0, 0);
    if bytes.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::new(
            whole,
            format!("file is larger than {} MiB", MAX_FILE_BYTES / (1024 * 1024)),
        ));
    }
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        // Windows editors save "Unicode" as UTF-16; say so rather than "binary".
        return Err(
            Diagnostic::new(whole, "file is UTF-16 text, expected UTF-8")
                .with_hint("save the file as UTF-8 (in Notepad: Save As → Encoding → UTF-8)"),
        );
    }
    if bytes.contains(&0) {
        return Err(Diagnostic::new(
            whole,
            "binary file (contains NUL bytes), expected YAML text",
        ));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let (line, column) = line_col(&bytes[..e.valid_up_to()]);
            return Err(Diagnostic::new(
                Location::new(path, line, column),
                "file is not valid UTF-8 text (binary file?)",
            ));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(err) = find_tab_indent(path, text) {
        return Err(err);
    }
    let raw: Option<Spanned<RawNode>> = serde_saphyr::from_str_with_options(text, options())
        .map_err(|e| convert_error(path, &e))?;
    match raw {
        None => Ok(None),
        Some(spanned) => {
            let node = convert(path, spanned)?;
            if node.value == Value::Null {
                Ok(None)
            } else {
                Ok(Some(node))
            }
        }
    }
}

fn line_col(prefix: &[u8]) -> (usize, usize) {
    let line = prefix.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = prefix.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, col)
}

/// YAML forbids tabs in indentation; parsers report it in confusing ways, so we say it plainly.
fn find_tab_indent(path: &Path, text: &str) -> Option<Diagnostic> {
    for (i, line) in text.lines().enumerate() {
        let indent: String = line
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        if let Some(col) = indent.find('\t') {
            // A tab before content on an otherwise empty line is harmless.
            if indent.len() == line.len() {
                continue;
            }
            return Some(
                Diagnostic::new(
                    Location::new(path, i + 1, col + 1),
                    "tab character in indentation",
                )
                .with_hint("YAML indentation must use spaces"),
            );
        }
    }
    None
}

fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    // Hand-written inventories are tiny: a limit far below the default keeps a hostile file
    // (billion laughs) from costing more than a few milliseconds.
    budget.max_events = 200_000;
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    budget.max_nodes = 100_000;
    budget.max_depth = 48;
    budget.max_documents = 1;
    budget.max_recorded_anchor_events = 20_000;
    budget.max_total_scalar_bytes = MAX_FILE_BYTES;
    let mut alias_limits = serde_saphyr::options::AliasLimits::default();
    alias_limits.max_total_replayed_events = 20_000;
    let mut opts = serde_saphyr::Options::default();
    opts.budget = Some(budget);
    opts.alias_limits = alias_limits;
    opts.with_snippet = false;
    opts.duplicate_keys = serde_saphyr::options::DuplicateKeyPolicy::Error;
    opts
}

fn convert_error(path: &Path, e: &serde_saphyr::Error) -> Diagnostic {
    let (line, column) = e
        .location()
        .map(|l| (l.line() as usize, l.column() as usize))
        .unwrap_or((0, 0));
    let plain = e.without_snippet().to_string();
    let first = plain.lines().next().unwrap_or("invalid YAML").trim();
    let message = strip_location(first);
    let loc = Location::new(path, line, column);
    if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(", set ").next().unwrap_or(rest);
        return Diagnostic::new(loc, format!("duplicate key `{key}`"))
            .with_hint("each key may appear once in a mapping; merge the two entries");
    }
    if message.starts_with("budget breached") {
        return Diagnostic::new(
            loc,
            "YAML too large or too many alias expansions (limit reached)",
        )
        .with_hint("anchors and aliases that multiply (alias bombs) are refused");
    }
    Diagnostic::new(loc, format!("invalid YAML: {message}"))
}

/// serde-saphyr appends " at line X, column Y" to some messages; we print our own prefix.
fn strip_location(msg: &str) -> String {
    let msg = match msg.find(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    };
    let mut m = msg.trim().trim_end_matches('.').to_string();
    if let Some(first) = m.get(..1) {
        let lower = first.to_lowercase();
        m.replace_range(..1, &lower);
    }
    m
}

fn convert(path: &Path, s: Spanned<RawNode>) -> Result<Node, Diagnostic> {
    let pos = Location::new(
        path,
        s.referenced.line() as usize,
        s.referenced.column() as usize,
    );
    let value = match s.value {
        RawNode::Null => Value::Null,
        RawNode::Bool(b) => Value::Bool(b),
        RawNode::Int(i) => Value::Int(i),
        RawNode::Float(f) => Value::Float(f),
        RawNode::String(s) => Value::String(s),
        RawNode::Seq(items) => Value::Seq(
            items
                .into_iter()
                .map(|n| convert(path, n))
                .collect::<Result<_, _>>()?,
        ),
        RawNode::Map(entries) => {
            let mut out = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let kpos = Location::new(
                    path,
                    k.referenced.line() as usize,
                    k.referenced.column() as usize,
                );
                let name = match k.value {
                    RawKey::String(s) => s,
                    RawKey::Other(kind) => {
                        return Err(Diagnostic::new(
                            kpos,
                            format!("mapping key must be a string, found {kind}"),
                        )
                        .with_hint(
                            "quote the key, e.g. `\"yes\":`; YAML reads yes/no/true/on as booleans",
                        ));
                    }
                };
                out.push((Key { name, pos: kpos }, convert(path, v)?));
            }
            Value::Map(out)
        }
    };
    Ok(Node { value, pos })
}

/// What serde-saphyr hands us; positions are still in serde-saphyr's types.
#[derive(Debug)]
enum RawNode {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Spanned<RawNode>>),
    Map(Vec<(Spanned<RawKey>, Spanned<RawNode>)>),
}

#[derive(Debug)]
enum RawKey {
    String(String),
    Other(&'static str),
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawNodeVisitor)
    }
}

struct RawNodeVisitor;

impl<'de> Visitor<'de> for RawNodeVisitor {
    type Value = RawNode;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<RawNode, E> {
        Ok(RawNode::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<RawNode, E> {
        Ok(RawNode::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawNode, D::Error> {
        RawNode::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawNode, E> {
        Ok(RawNode::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawNode, E> {
        Ok(RawNode::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawNode, E> {
        match i64::try_from(v) {
            Ok(i) => Ok(RawNode::Int(i)),
            Err(_) => Ok(RawNode::Float(v as f64)),
        }
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<RawNode, E> {
        Ok(i64::try_from(v)
            .map(RawNode::Int)
            .unwrap_or(RawNode::Float(v as f64)))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<RawNode, E> {
        Ok(i64::try_from(v)
            .map(RawNode::Int)
            .unwrap_or(RawNode::Float(v as f64)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawNode, E> {
        Ok(RawNode::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawNode, E> {
        Ok(RawNode::String(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<RawNode, E> {
        Ok(RawNode::String(v))
    }
    fn visit_bytes<E: de::Error>(self, _v: &[u8]) -> Result<RawNode, E> {
        Err(E::custom("binary values are not supported"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawNode, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<RawNode>>()? {
            items.push(item);
        }
        Ok(RawNode::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawNode, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = map.next_key::<Spanned<RawKey>>()? {
            let v = map.next_value::<Spanned<RawNode>>()?;
            entries.push((k, v));
        }
        Ok(RawNode::Map(entries))
    }
}

impl<'de> Deserialize<'de> for RawKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawKeyVisitor)
    }
}

struct RawKeyVisitor;

impl<'de> Visitor<'de> for RawKeyVisitor {
    type Value = RawKey;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawKey, E> {
        Ok(RawKey::String(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<RawKey, E> {
        Ok(RawKey::String(v))
    }
    // Ansible accepts `10.0.0.1:` or `8080:` as host names; YAML reads them as numbers.
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawKey, E> {
        Ok(RawKey::String(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawKey, E> {
        Ok(RawKey::String(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawKey, E> {
        Ok(RawKey::String(v.to_string()))
    }
    fn visit_bool<E: de::Error>(self, _v: bool) -> Result<RawKey, E> {
        Ok(RawKey::Other("a boolean"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<RawKey, E> {
        Ok(RawKey::Other("null"))
    }
    fn visit_none<E: de::Error>(self) -> Result<RawKey, E> {
        Ok(RawKey::Other("null"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawKey, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(RawKey::Other("a list"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawKey, A::Error> {
        while map
            .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
            .is_some()
        {}
        Ok(RawKey::Other("a mapping"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Option<Node>, Diagnostic> {
        parse_bytes(Path::new("t.yml"), s.as_bytes())
    }

    #[test]
    fn positions_are_recorded() {
        let n = parse("a:\n  b: 1\n  c: [x, y]\n").unwrap().unwrap();
        let Value::Map(m) = &n.value else {
            panic!("map")
        };
        assert_eq!(m[0].0.pos.line, 1);
        let Value::Map(inner) = &m[0].1.value else {
            panic!("inner")
        };
        assert_eq!(inner[1].0.name, "c");
        assert_eq!((inner[1].0.pos.line, inner[1].0.pos.column), (3, 3));
        assert_eq!((inner[0].1.pos.line, inner[0].1.pos.column), (2, 6));
    }

    #[test]
    fn duplicate_key_is_error() {
        let e = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(e.location.line, 2, "{e}");
    }

    #[test]
    fn alias_bomb_is_rejected_fast() {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            s.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let t = std::time::Instant::now();
        let e = parse(&s).unwrap_err();
        assert!(t.elapsed() < std::time::Duration::from_secs(2), "{e}");
    }

    #[test]
    fn tab_and_binary() {
        assert_eq!(parse("a:\n\tb: 1\n").unwrap_err().location.line, 2);
        assert!(parse("a\0b").unwrap_err().message.contains("binary"));
        let utf16 = parse_bytes(Path::new("t.yml"), &[0xff, 0xfe, b'a', 0]).unwrap_err();
        assert!(utf16.message.contains("UTF-16"), "{utf16}");
        assert!(parse("").unwrap().is_none());
        assert!(parse("# only a comment\n").unwrap().is_none());
    }
}
