//! The patch engine: compares the managed `<cors>` section with the desired policy and turns
//! each difference into a byte splice on the original text.
//!
//! Why splices: re-serialising a parsed document (what Ansible's win_xml does) loses tabs,
//! quote styles, comments and entity spelling, and produces a diff on every line. Here an edit
//! is `(byte range, replacement)`; all edits fall inside the managed `<cors>` element, or at
//! the one point where a missing element is inserted, so everything else stays byte-identical.
//! New text copies the file's newline (CRLF/LF), indent unit and `" />"` style.
//!
//! After splicing, the output is parsed again and the section read back; if it does not equal
//! the desired policy the engine returns [`PatchError::OutputInvalid`] instead of bad bytes.

use std::fmt::Write as _;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::doc::{BOM, Doc};
use crate::error::PatchError;
use crate::policy::{CorsPolicy, OriginRule, PolicyWarning};
use crate::read::{self, Target};

/// One property whose value in the file differed from the desired policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyDiff {
    /// E.g. `cors`, `cors.enabled`, `origin[https://a:8445]`,
    /// `origin[https://a:8445].allowMethods`.
    pub property: String,
    pub expected: String,
    pub actual: String,
}

/// The result of [`patch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patched {
    /// The new file; equal to the input when `changed` is false.
    pub bytes: Vec<u8>,
    pub changed: bool,
    /// What differed before patching (empty when `changed` is false).
    pub drift: Vec<PropertyDiff>,
    /// Policy warnings (e.g. origins lower-cased).
    pub warnings: Vec<PolicyWarning>,
}

/// The file's formatting habits, copied by every inserted line.
#[derive(Debug)]
struct Style {
    nl: &'static str,
    unit: String,
    empty_close: &'static str,
}

impl Style {
    fn detect(doc: &Doc<'_>) -> Style {
        let src = doc.src;
        let nl = match src.iter().position(|&b| b == b'\n') {
            Some(i) if i > 0 && src[i - 1] == b'\r' => "\r\n",
            Some(_) => "\n",
            // A one-line file stays one line.
            None => "",
        };
        let mut unit = None;
        if !nl.is_empty() {
            for e in &doc.elems {
                let Some(p) = e.parent else { continue };
                if let (Some(ci), Some(pi)) = (
                    doc.line_indent(e.start),
                    doc.line_indent(doc.elems[p].start),
                ) && ci.len() > pi.len()
                    && ci.starts_with(pi)
                {
                    unit = Some(String::from_utf8_lossy(&ci[pi.len()..]).into_owned());
                    break;
                }
            }
        }
        let unit = unit.unwrap_or_else(|| {
            if nl.is_empty() {
                String::new()
            } else {
                "    ".into()
            }
        });
        let empty_close = doc
            .elems
            .iter()
            .find(|e| e.self_closing() && e.start_end >= 3)
            .map_or(" />", |e| {
                if src[e.start_end - 3].is_ascii_whitespace() {
                    " />"
                } else {
                    "/>"
                }
            });
        Style {
            nl,
            unit,
            empty_close,
        }
    }
}

/// Lines of an element to insert, each with its depth relative to the first.
type Block = Vec<(usize, String)>;

#[derive(Debug)]
struct Edit {
    range: Range<usize>,
    text: String,
}

struct Patcher<'d, 'a> {
    doc: &'d Doc<'a>,
    style: Style,
    edits: Vec<Edit>,
    drift: Vec<PropertyDiff>,
}

fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(s)
}

fn diff(
    property: impl Into<String>,
    expected: impl Into<String>,
    actual: impl Into<String>,
) -> PropertyDiff {
    PropertyDiff {
        property: property.into(),
        expected: expected.into(),
        actual: actual.into(),
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        items.join(", ")
    }
}

fn shifted(block: Block) -> impl Iterator<Item = (usize, String)> {
    block.into_iter().map(|(d, l)| (d + 1, l))
}

impl<'a> Patcher<'_, 'a> {
    fn src(&self) -> &'a [u8] {
        self.doc.src
    }

    fn tag(
        &self,
        open: &str,
        attrs: &[(&str, String)],
        children: Vec<Block>,
        close: &str,
    ) -> Block {
        let mut first = format!("<{open}");
        for (k, v) in attrs {
            let _ = write!(first, " {k}=\"{}\"", esc(v));
        }
        if children.is_empty() {
            first.push_str(self.style.empty_close);
            return vec![(0, first)];
        }
        first.push('>');
        let mut block = vec![(0, first)];
        for c in children {
            block.extend(shifted(c));
        }
        block.push((0, format!("</{close}>")));
        block
    }

    fn items(
        &self,
        elem: &str,
        key: &str,
        values: &[String],
        attrs: &[(&str, String)],
    ) -> Option<Block> {
        if values.is_empty() && attrs.is_empty() {
            return None;
        }
        let children = values
            .iter()
            .map(|v| self.tag("add", &[(key, v.clone())], Vec::new(), "add"))
            .collect();
        Some(self.tag(elem, attrs, children, elem))
    }

    fn headers_block(&self, rule: &OriginRule) -> Option<Block> {
        let attrs: Vec<(&str, String)> = if rule.allow_all_requested_headers {
            vec![("allowAllRequestedHeaders", "true".into())]
        } else {
            Vec::new()
        };
        self.items("allowHeaders", "header", &rule.allow_headers, &attrs)
    }

    fn methods_block(&self, rule: &OriginRule) -> Option<Block> {
        self.items("allowMethods", "method", &rule.allow_methods, &[])
    }

    fn expose_block(&self, rule: &OriginRule) -> Option<Block> {
        self.items("exposeHeaders", "header", &rule.expose_headers, &[])
    }

    fn rule_block(&self, rule: &OriginRule) -> Block {
        let mut attrs = vec![
            ("origin", rule.origin.clone()),
            ("allowed", rule.allowed.to_string()),
            ("allowCredentials", rule.allow_credentials.to_string()),
        ];
        if let Some(m) = rule.max_age {
            attrs.push(("maxAge", m.to_string()));
        }
        let children = [
            self.headers_block(rule),
            self.methods_block(rule),
            self.expose_block(rule),
        ]
        .into_iter()
        .flatten()
        .collect();
        self.tag("add", &attrs, children, "add")
    }

    fn cors_block(&self, policy: &CorsPolicy) -> Block {
        let attrs = [
            ("enabled", policy.enabled.to_string()),
            (
                "failUnlistedOrigins",
                policy.fail_unlisted_origins.to_string(),
            ),
        ];
        let children = policy.origins.iter().map(|r| self.rule_block(r)).collect();
        self.tag("cors", &attrs, children, "cors")
    }

    fn render(&self, block: &Block, base: &str) -> String {
        let mut out = String::new();
        for (i, (depth, line)) in block.iter().enumerate() {
            if i > 0 {
                out.push_str(self.style.nl);
                out.push_str(base);
                for _ in 0..*depth {
                    out.push_str(&self.style.unit);
                }
            }
            out.push_str(line);
        }
        out
    }

    /// The indentation an element has, or would have if it started its own line.
    fn indent_of(&self, idx: usize) -> String {
        if let Some(ws) = self.doc.line_indent(self.doc.elems[idx].start) {
            return String::from_utf8_lossy(ws).into_owned();
        }
        match self.doc.elems[idx].parent {
            Some(p) => self.indent_of(p) + &self.style.unit,
            None => String::new(),
        }
    }

    /// Indentation for a new child: like the last sibling that starts its own line.
    fn child_indent(&self, parent: usize) -> String {
        for &c in self.doc.elems[parent].children.iter().rev() {
            if let Some(ws) = self.doc.line_indent(self.doc.elems[c].start) {
                return String::from_utf8_lossy(ws).into_owned();
            }
        }
        self.indent_of(parent) + &self.style.unit
    }

    /// Appends `blocks` as the last children of `parent`, opening it if it is self-closing.
    fn insert_children(&mut self, parent: usize, blocks: &[Block]) {
        let ci = self.child_indent(parent);
        let pi = self.indent_of(parent);
        let mut text = String::new();
        for b in blocks {
            text.push_str(self.style.nl);
            text.push_str(&ci);
            text.push_str(&self.render(b, &ci));
        }
        let e = &self.doc.elems[parent];
        let src = self.src();
        match e.close_start {
            None => {
                let name = String::from_utf8_lossy(&src[e.name.clone()]);
                let text = format!(">{text}{}{pi}</{name}>", self.style.nl);
                // Replace the whitespace before `/>` too, so `<add a="1" />` becomes
                // `<add a="1">`, not `<add a="1" >`.
                let from = e.attrs.last().map_or(e.name.end, |a| a.value.end + 1);
                self.edits.push(Edit {
                    range: from..e.start_end,
                    text,
                });
            }
            Some(close) => {
                let mut pos = close;
                while pos > e.start_end && src[pos - 1].is_ascii_whitespace() {
                    pos -= 1;
                }
                if !src[pos..close].contains(&b'\n') {
                    text.push_str(self.style.nl);
                    text.push_str(&pi);
                }
                self.edits.push(Edit {
                    range: pos..pos,
                    text,
                });
            }
        }
    }

    fn replace_element(&mut self, idx: usize, block: &Block) {
        let base = self.indent_of(idx);
        let text = self.render(block, &base);
        let e = &self.doc.elems[idx];
        self.edits.push(Edit {
            range: e.start..e.end,
            text,
        });
    }

    /// Removes an element, and its line break and indentation when it has a line to itself.
    fn delete_element(&mut self, idx: usize) {
        let e = &self.doc.elems[idx];
        let src = self.src();
        let mut start = e.start;
        if let Some(ws) = self.doc.line_indent(e.start) {
            start -= ws.len();
            if start > 0 && src[start - 1] == b'\n' {
                start -= 1;
                if start > 0 && src[start - 1] == b'\r' {
                    start -= 1;
                }
            }
        }
        self.edits.push(Edit {
            range: start..e.end,
            text: String::new(),
        });
    }

    fn set_attr(&mut self, idx: usize, name: &str, value: &str) {
        let e = &self.doc.elems[idx];
        if let Some(a) = self.doc.attr(idx, name.as_bytes()) {
            self.edits.push(Edit {
                range: a.value.clone(),
                text: esc(value).into_owned(),
            });
        } else {
            let at = e.attrs.last().map_or(e.name.end, |a| a.value.end + 1);
            self.edits.push(Edit {
                range: at..at,
                text: format!(" {name}=\"{}\"", esc(value)),
            });
        }
    }

    fn remove_attr(&mut self, idx: usize, name: &str) {
        let e = &self.doc.elems[idx];
        let Some(pos) = e
            .attrs
            .iter()
            .position(|a| &self.src()[a.name.clone()] == name.as_bytes())
        else {
            return;
        };
        let start = if pos == 0 {
            e.name.end
        } else {
            e.attrs[pos - 1].value.end + 1
        };
        self.edits.push(Edit {
            range: start..e.attrs[pos].value.end + 1,
            text: String::new(),
        });
    }

    fn converge_bool(
        &mut self,
        idx: usize,
        name: &str,
        default: bool,
        want: bool,
        property: String,
    ) {
        match read::bool_attr(self.doc, idx, name, default) {
            Ok(v) if v == want => {}
            found => {
                let actual = match found {
                    Ok(v) => v.to_string(),
                    Err(_) => self
                        .doc
                        .attr_value(idx, name.as_bytes())
                        .unwrap_or_default(),
                };
                self.drift.push(diff(property, want.to_string(), actual));
                self.set_attr(idx, name, &want.to_string());
            }
        }
    }

    fn merge_cors(&mut self, cors: usize, policy: &CorsPolicy) {
        self.converge_bool(
            cors,
            "enabled",
            false,
            policy.enabled,
            "cors.enabled".into(),
        );
        self.converge_bool(
            cors,
            "failUnlistedOrigins",
            false,
            policy.fail_unlisted_origins,
            "cors.failUnlistedOrigins".into(),
        );
        let children = self.doc.elems[cors].children.clone();
        // Rules before the last <clear/> are dead for IIS; only later ones count.
        let live_from = children
            .iter()
            .rposition(|&c| self.doc.local(c) == b"clear")
            .map_or(0, |i| i + 1);
        let mut new_blocks = Vec::new();
        for rule in &policy.origins {
            let label = format!("origin[{}]", rule.origin);
            let matches: Vec<usize> = (live_from..children.len())
                .filter(|&i| {
                    let c = children[i];
                    self.doc.local(c) == b"add"
                        && self
                            .doc
                            .attr_value(c, b"origin")
                            .is_some_and(|o| o.eq_ignore_ascii_case(&rule.origin))
                })
                .collect();
            let Some(&first) = matches.first() else {
                self.drift.push(diff(label, "present", "absent"));
                new_blocks.push(self.rule_block(rule));
                continue;
            };
            self.merge_rule(children[first], rule, &label);
            if matches.len() > 1 {
                self.drift.push(diff(
                    label.clone(),
                    "1 rule",
                    format!("{} rules", matches.len()),
                ));
                for &dup in &matches[1..] {
                    self.delete_element(children[dup]);
                }
            }
            // A later <remove origin> would cancel the rule we just converged.
            for &c in &children[first + 1..] {
                if self.doc.local(c) == b"remove"
                    && self
                        .doc
                        .attr_value(c, b"origin")
                        .is_some_and(|o| o.eq_ignore_ascii_case(&rule.origin))
                {
                    self.drift
                        .push(diff(label.clone(), "present", "removed by <remove>"));
                    self.delete_element(c);
                }
            }
        }
        if !new_blocks.is_empty() {
            self.insert_children(cors, &new_blocks);
        }
    }

    fn merge_rule(&mut self, add: usize, rule: &OriginRule, label: &str) {
        let doc = self.doc;
        if let Some(o) = doc.attr_value(add, b"origin")
            && o != rule.origin
        {
            self.drift
                .push(diff(format!("{label}.origin"), rule.origin.clone(), o));
            self.set_attr(add, "origin", &rule.origin);
        }
        self.converge_bool(
            add,
            "allowed",
            true,
            rule.allowed,
            format!("{label}.allowed"),
        );
        self.converge_bool(
            add,
            "allowCredentials",
            false,
            rule.allow_credentials,
            format!("{label}.allowCredentials"),
        );
        let age = read::max_age_attr(doc, add);
        if age.as_ref().ok() != Some(&rule.max_age) {
            let show = |a: Option<u32>| a.map_or("-1".to_owned(), |v| v.to_string());
            let actual = match age {
                Ok(a) => show(a),
                Err(_) => doc.attr_value(add, b"maxAge").unwrap_or_default(),
            };
            self.drift
                .push(diff(format!("{label}.maxAge"), show(rule.max_age), actual));
            match rule.max_age {
                Some(v) => self.set_attr(add, "maxAge", &v.to_string()),
                None => self.remove_attr(add, "maxAge"),
            }
        }

        let mut inserts: Vec<Block> = Vec::new();
        // allowHeaders
        let current = read::allow_headers(doc, add).ok();
        let want = (rule.allow_all_requested_headers, rule.allow_headers.clone());
        if current.as_ref() != Some(&want) {
            if let Some((all, hs)) = &current {
                if *all != want.0 {
                    self.drift.push(diff(
                        format!("{label}.allowAllRequestedHeaders"),
                        want.0.to_string(),
                        all.to_string(),
                    ));
                }
                if *hs != want.1 {
                    self.drift.push(diff(
                        format!("{label}.allowHeaders"),
                        list(&want.1),
                        list(hs),
                    ));
                }
            } else {
                self.drift
                    .push(diff(format!("{label}.allowHeaders"), "valid", "invalid"));
            }
            let block = self.headers_block(rule);
            self.converge_child(add, b"allowHeaders", block, &mut inserts);
        }
        for (elem, key, wanted, name) in [
            (
                &b"allowMethods"[..],
                "method",
                &rule.allow_methods,
                "allowMethods",
            ),
            (
                &b"exposeHeaders"[..],
                "header",
                &rule.expose_headers,
                "exposeHeaders",
            ),
        ] {
            let found = doc.elems[add]
                .children
                .iter()
                .copied()
                .find(|&c| doc.local(c) == elem)
                .map(|c| read::collection(doc, c, key))
                .unwrap_or_default();
            if found != *wanted {
                self.drift
                    .push(diff(format!("{label}.{name}"), list(wanted), list(&found)));
                let block = if name == "allowMethods" {
                    self.methods_block(rule)
                } else {
                    self.expose_block(rule)
                };
                self.converge_child(add, elem, block, &mut inserts);
            }
        }
        if !inserts.is_empty() {
            self.insert_children(add, &inserts);
        }
    }

    fn converge_child(
        &mut self,
        add: usize,
        elem: &[u8],
        block: Option<Block>,
        inserts: &mut Vec<Block>,
    ) {
        let existing = self.doc.elems[add]
            .children
            .iter()
            .copied()
            .find(|&c| self.doc.local(c) == elem);
        match (existing, block) {
            (Some(e), Some(b)) => self.replace_element(e, &b),
            (Some(e), None) => self.delete_element(e),
            (None, Some(b)) => inserts.push(b),
            (None, None) => {}
        }
    }

    fn wrap(&self, open: &str, close: &str, inner: Block) -> Block {
        let mut b = vec![(0, open.to_owned())];
        b.extend(shifted(inner));
        b.push((0, close.to_owned()));
        b
    }

    fn run(&mut self, policy: &CorsPolicy) {
        let location = policy.location.as_deref();
        let target = read::locate(self.doc, location);
        if let Target::Cors(c) = target {
            self.merge_cors(c, policy);
            return;
        }
        self.drift.push(diff("cors", "present", "absent"));
        let cors = self.cors_block(policy);
        let sws = || self.wrap("<system.webServer>", "</system.webServer>", cors.clone());
        match (target, location) {
            (Target::Sws(s), _) => self.insert_children(s, std::slice::from_ref(&cors)),
            (Target::Location(l), _) => {
                let b = sws();
                self.insert_children(l, &[b]);
            }
            (_, Some(path)) => {
                let open = format!("<location path=\"{}\">", esc(path));
                let b = self.wrap(&open, "</location>", sws());
                self.insert_children(self.doc.root, &[b]);
            }
            (_, None) => {
                let b = sws();
                self.insert_children(self.doc.root, &[b]);
            }
        }
    }
}

fn apply(src: &[u8], mut edits: Vec<Edit>) -> Result<Vec<u8>, PatchError> {
    edits.sort_by_key(|e| (e.range.start, e.range.end));
    let extra: usize = edits.iter().map(|e| e.text.len()).sum();
    let mut out = Vec::with_capacity(src.len() + extra);
    let mut at = 0;
    for e in &edits {
        if e.range.start < at || e.range.end > src.len() {
            return Err(PatchError::OutputInvalid {
                message: "overlapping edits".into(),
            });
        }
        out.extend_from_slice(&src[at..e.range.start]);
        out.extend_from_slice(e.text.as_bytes());
        at = e.range.end;
    }
    out.extend_from_slice(&src[at..]);
    Ok(out)
}

/// Makes the `<cors>` section of a `web.config` equal to `policy`, changing no byte outside it.
///
/// The policy is validated first ([`CorsPolicy::validate`]) and its origins are lower-cased.
/// The input must be well-formed UTF-8 XML (a BOM is fine) with a `<configuration>` root.
pub fn patch(input: &[u8], policy: &CorsPolicy) -> Result<Patched, PatchError> {
    let warnings = policy.validate()?;
    let policy = policy.normalized();
    let doc = Doc::parse(input)?;
    let mut p = Patcher {
        doc: &doc,
        style: Style::detect(&doc),
        edits: Vec::new(),
        drift: Vec::new(),
    };
    p.run(&policy);
    if p.edits.is_empty() {
        return Ok(Patched {
            bytes: input.to_vec(),
            changed: false,
            drift: Vec::new(),
            warnings,
        });
    }
    let bytes = apply(input, p.edits)?;
    let drift = p.drift;
    verify(&bytes, &policy)?;
    let changed = bytes != input;
    Ok(Patched {
        bytes,
        changed,
        drift: if changed { drift } else { Vec::new() },
        warnings,
    })
}

/// The self-check: the output parses, and its managed section reads back as the policy.
fn verify(bytes: &[u8], policy: &CorsPolicy) -> Result<(), PatchError> {
    let fail = |message: String| PatchError::OutputInvalid { message };
    let doc = Doc::parse(bytes).map_err(|e| fail(format!("output does not parse: {e}")))?;
    let Target::Cors(c) = read::locate(&doc, policy.location.as_deref()) else {
        return Err(fail("no <cors> section in the output".into()));
    };
    let found = read::read_section(&doc, c, policy.location.as_deref(), Some(&policy.origins))
        .map_err(|e| fail(format!("output section unreadable: {e}")))?;
    if found.enabled != policy.enabled
        || found.fail_unlisted_origins != policy.fail_unlisted_origins
    {
        return Err(fail("cors attributes do not read back as desired".into()));
    }
    for rule in &policy.origins {
        if found.origins.iter().find(|r| r.origin == rule.origin) != Some(rule) {
            return Err(fail(format!(
                "origin {} does not read back as desired",
                rule.origin
            )));
        }
    }
    Ok(())
}

/// A unified diff (3 lines of context) between two versions of a file; `""` when equal.
pub fn unified_diff(old: &[u8], new: &[u8], label: &str) -> String {
    if old == new {
        return String::new();
    }
    let strip = |b: &[u8]| -> String {
        let b = b.strip_prefix(BOM).unwrap_or(b);
        String::from_utf8_lossy(b).into_owned()
    };
    let (old, new) = (strip(old), strip(new));
    similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{label}"), &format!("b/{label}"))
        .to_string()
}
