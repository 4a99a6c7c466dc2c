//! Finding the `<cors>` section a policy manages, and reading it back as IIS would interpret
//! it (defaults for absent attributes, `<clear/>` and `<remove>` in collections).
//!
//! The patch engine and `read_cors` share [`locate`], so "where we write" and "where we read"
//! can never disagree; the engine's self-check relies on that.

use crate::doc::Doc;
use crate::error::PatchError;
use crate::policy::{CorsPolicy, OriginRule};

/// Where the managed section is, or how much of its path is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// An existing `<cors>` element.
    Cors(usize),
    /// A `<system.webServer>` without `<cors>`.
    Sws(usize),
    /// The wanted `<location>` exists but has no `<system.webServer>`.
    Location(usize),
    /// Nothing of the path exists below `<configuration>`.
    Root,
}

fn same_location(found: &str, wanted: &str) -> bool {
    // IIS location paths are case-insensitive (Windows paths) and slashes at the ends are
    // not significant.
    let norm = |s: &str| s.trim().trim_matches('/').to_owned();
    norm(found).eq_ignore_ascii_case(&norm(wanted))
}

/// Finds the managed section. Without a location, the file's own `<system.webServer>` comes
/// first, then one inside `<location path=".">` (the same scope, common in ASP.NET files).
pub(crate) fn locate(doc: &Doc<'_>, location: Option<&str>) -> Target {
    let root = doc.root;
    let mut sws: Vec<usize> = Vec::new();
    let mut locations: Vec<usize> = Vec::new();
    match location {
        None => {
            sws.extend(doc.children_named(root, b"system.webServer"));
            for loc in doc.children_named(root, b"location") {
                let path = doc.attr_value(loc, b"path").unwrap_or_default();
                if matches!(path.trim(), "." | "") {
                    sws.extend(doc.children_named(loc, b"system.webServer"));
                }
            }
        }
        Some(wanted) => {
            for loc in doc.children_named(root, b"location") {
                let path = doc.attr_value(loc, b"path").unwrap_or_default();
                if same_location(&path, wanted) {
                    locations.push(loc);
                    sws.extend(doc.children_named(loc, b"system.webServer"));
                }
            }
        }
    }
    for &s in &sws {
        if let Some(c) = doc.children_named(s, b"cors").next() {
            return Target::Cors(c);
        }
    }
    if let Some(&s) = sws.first() {
        return Target::Sws(s);
    }
    if let Some(&l) = locations.first() {
        return Target::Location(l);
    }
    Target::Root
}

fn invalid(doc: &Doc<'_>, idx: usize, message: String) -> PatchError {
    let (line, column) = crate::doc::line_col(doc.src, doc.elems[idx].start);
    PatchError::InvalidValue {
        line,
        column,
        message,
    }
}

/// A boolean attribute with IIS's default when absent. IIS accepts `true`/`false` in any case.
pub(crate) fn bool_attr(
    doc: &Doc<'_>,
    idx: usize,
    name: &str,
    default: bool,
) -> Result<bool, PatchError> {
    match doc.attr_value(idx, name.as_bytes()) {
        None => Ok(default),
        Some(v) if v.trim().eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.trim().eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(invalid(
            doc,
            idx,
            format!("{name}=\"{v}\" is not true or false"),
        )),
    }
}

/// `maxAge`: absent or -1 means "not sent".
pub(crate) fn max_age_attr(doc: &Doc<'_>, idx: usize) -> Result<Option<u32>, PatchError> {
    match doc.attr_value(idx, b"maxAge") {
        None => Ok(None),
        Some(v) => match v.trim().parse::<i64>() {
            Ok(-1) => Ok(None),
            Ok(n) => u32::try_from(n)
                .map(Some)
                .map_err(|_| invalid(doc, idx, format!("maxAge=\"{v}\" is out of range"))),
            Err(_) => Err(invalid(doc, idx, format!("maxAge=\"{v}\" is not a number"))),
        },
    }
}

/// A configuration collection (`<add key>`, `<remove key>`, `<clear/>`) as IIS merges it.
pub(crate) fn collection(doc: &Doc<'_>, idx: usize, key: &str) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    for &c in &doc.elems[idx].children {
        match doc.local(c) {
            b"add" => {
                if let Some(v) = doc.attr_value(c, key.as_bytes())
                    && !items.contains(&v)
                {
                    items.push(v);
                }
            }
            b"remove" => {
                if let Some(v) = doc.attr_value(c, key.as_bytes()) {
                    items.retain(|i| *i != v);
                }
            }
            b"clear" => items.clear(),
            _ => {}
        }
    }
    items
}

/// `<allowHeaders>` as (allowAllRequestedHeaders, headers); absent = (false, []).
pub(crate) fn allow_headers(doc: &Doc<'_>, add: usize) -> Result<(bool, Vec<String>), PatchError> {
    match doc.children_named(add, b"allowHeaders").next() {
        None => Ok((false, Vec::new())),
        Some(h) => Ok((
            bool_attr(doc, h, "allowAllRequestedHeaders", false)?,
            collection(doc, h, "header"),
        )),
    }
}

pub(crate) fn sub_collection(
    doc: &Doc<'_>,
    add: usize,
    elem: &'static [u8],
    key: &str,
) -> Vec<String> {
    doc.children_named(add, elem)
        .next()
        .map(|e| collection(doc, e, key))
        .unwrap_or_default()
}

pub(crate) fn read_rule(doc: &Doc<'_>, add: usize) -> Result<OriginRule, PatchError> {
    let Some(origin) = doc.attr_value(add, b"origin") else {
        return Err(invalid(
            doc,
            add,
            "<add> in <cors> has no origin attribute".to_owned(),
        ));
    };
    let (allow_all_requested_headers, allow_headers) = allow_headers(doc, add)?;
    Ok(OriginRule {
        origin,
        allowed: bool_attr(doc, add, "allowed", true)?,
        allow_credentials: bool_attr(doc, add, "allowCredentials", false)?,
        max_age: max_age_attr(doc, add)?,
        allow_all_requested_headers,
        allow_headers,
        allow_methods: sub_collection(doc, add, b"allowMethods", "method"),
        expose_headers: sub_collection(doc, add, b"exposeHeaders", "header"),
    })
}

/// The `<cors>` element at `cors` as IIS sees it. A later `<add>` with the same origin replaces
/// an earlier one (IIS itself would refuse the duplicate with HTTP 500.19).
///
/// With `only: Some(origins)`, rules for other origins that cannot be read are skipped instead
/// of failing: the engine's self-check must not blame the patch for a rule it does not manage.
pub(crate) fn read_section(
    doc: &Doc<'_>,
    cors: usize,
    location: Option<&str>,
    only: Option<&[OriginRule]>,
) -> Result<CorsPolicy, PatchError> {
    let mut origins: Vec<OriginRule> = Vec::new();
    for &c in &doc.elems[cors].children {
        match doc.local(c) {
            b"add" => {
                let rule = match (read_rule(doc, c), only) {
                    (Ok(rule), _) => rule,
                    (Err(e), None) => return Err(e),
                    (Err(e), Some(managed)) => {
                        let origin = doc.attr_value(c, b"origin").unwrap_or_default();
                        if managed.iter().any(|m| m.origin == origin) {
                            return Err(e);
                        }
                        continue;
                    }
                };
                match origins.iter().position(|r| r.origin == rule.origin) {
                    Some(i) => origins[i] = rule,
                    None => origins.push(rule),
                }
            }
            b"remove" => {
                if let Some(o) = doc.attr_value(c, b"origin") {
                    origins.retain(|r| r.origin != o);
                }
            }
            b"clear" => origins.clear(),
            _ => {}
        }
    }
    Ok(CorsPolicy {
        enabled: bool_attr(doc, cors, "enabled", false)?,
        fail_unlisted_origins: bool_attr(doc, cors, "failUnlistedOrigins", false)?,
        location: location.map(str::to_owned),
        origins,
    })
}

/// The effective `<cors>` section for `location` (see [`crate::patch`] for how it is found),
/// or `None` when there is none.
pub fn read_cors(input: &[u8], location: Option<&str>) -> Result<Option<CorsPolicy>, PatchError> {
    let doc = Doc::parse(input)?;
    match locate(&doc, location) {
        Target::Cors(c) => read_section(&doc, c, location, None).map(Some),
        _ => Ok(None),
    }
}
