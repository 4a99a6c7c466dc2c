//! A read-only index of a `web.config`: every element with the byte offsets of its tags and
//! attributes, built from quick-xml's events. Nothing is ever re-serialised from it; the patch
//! engine only uses the offsets to splice new text into the original bytes, which is how every
//! byte outside the managed section (quotes, comments, BOM, newlines) survives.
//!
//! Parsing is also the well-formedness gate: quick-xml checks tag nesting and comments, and this
//! module adds what it leaves out (attribute syntax, duplicate attributes, entity references,
//! a single `<configuration>` root, unclosed elements at the end, UTF-8).

use std::ops::Range;

use quick_xml::events::Event;
use quick_xml::reader::Reader;

use crate::error::PatchError;

pub(crate) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One attribute: byte ranges into the document.
#[derive(Debug, Clone)]
pub(crate) struct Attr {
    pub name: Range<usize>,
    /// The value without its quotes, still escaped.
    pub value: Range<usize>,
}

/// One element and where its pieces sit in the document.
#[derive(Debug, Clone)]
pub(crate) struct Elem {
    /// The qualified name.
    pub name: Range<usize>,
    /// Offset of `<`.
    pub start: usize,
    /// Offset just after the start tag's `>`.
    pub start_end: usize,
    /// Offset of `</`, for elements that are not self-closing.
    pub close_start: Option<usize>,
    /// Offset just after the element's last `>`.
    pub end: usize,
    pub parent: Option<usize>,
    /// Element children in document order.
    pub children: Vec<usize>,
    pub attrs: Vec<Attr>,
}

impl Elem {
    pub fn self_closing(&self) -> bool {
        self.close_start.is_none()
    }
}

/// The parsed document: the source bytes and its element index.
#[derive(Debug)]
pub(crate) struct Doc<'a> {
    pub src: &'a [u8],
    pub elems: Vec<Elem>,
    pub root: usize,
}

impl<'a> Doc<'a> {
    pub fn parse(src: &'a [u8]) -> Result<Doc<'a>, PatchError> {
        let bom = if src.starts_with(BOM) { BOM.len() } else { 0 };
        if src.starts_with(b"\xFF\xFE") || src.starts_with(b"\xFE\xFF") {
            return Err(xml_err(
                src,
                0,
                "utf-16 files are not supported; save the file as utf-8",
            ));
        }
        if let Err(e) = std::str::from_utf8(&src[bom..]) {
            return Err(xml_err(src, bom + e.valid_up_to(), "invalid utf-8"));
        }
        let body = &src[bom..];
        let mut reader = Reader::from_reader(body);
        {
            let cfg = reader.config_mut();
            cfg.check_comments = true;
            cfg.check_end_names = true;
            cfg.expand_empty_elements = false;
            cfg.trim_text(false);
        }
        let mut elems: Vec<Elem> = Vec::with_capacity(64);
        let mut stack: Vec<usize> = Vec::with_capacity(16);
        let mut root: Option<usize> = None;
        let mut seen_markup = false;
        loop {
            let pos = bom + to_usize(reader.buffer_position());
            let event = match reader.read_event() {
                Ok(e) => e,
                Err(e) => {
                    let at = bom + to_usize(reader.error_position());
                    return Err(xml_err(src, at, &e.to_string()));
                }
            };
            let after = bom + to_usize(reader.buffer_position());
            match event {
                Event::Start(_) | Event::Empty(_) => {
                    let self_closing = matches!(event, Event::Empty(_));
                    if stack.is_empty() && root.is_some() {
                        return Err(xml_err(
                            src,
                            pos,
                            "a second root element after </configuration>",
                        ));
                    }
                    let inner_end = if self_closing { after - 2 } else { after - 1 };
                    let (name, attrs) = parse_tag(src, pos + 1, inner_end)?;
                    let idx = elems.len();
                    let parent = stack.last().copied();
                    elems.push(Elem {
                        name,
                        start: pos,
                        start_end: after,
                        close_start: None,
                        end: after,
                        parent,
                        children: Vec::new(),
                        attrs,
                    });
                    if let Some(p) = parent {
                        elems[p].children.push(idx);
                    } else {
                        root = Some(idx);
                    }
                    if !self_closing {
                        // A placeholder that the matching End overwrites; an element that
                        // never closes is reported at end of input.
                        elems[idx].close_start = Some(usize::MAX);
                        stack.push(idx);
                    }
                }
                Event::End(_) => match stack.pop() {
                    Some(idx) => {
                        elems[idx].close_start = Some(pos);
                        elems[idx].end = after;
                    }
                    None => return Err(xml_err(src, pos, "closing tag without an opening tag")),
                },
                Event::Text(t) => {
                    let raw: &[u8] = &t;
                    if stack.is_empty() {
                        if !raw.iter().all(u8::is_ascii_whitespace) {
                            return Err(xml_err(src, pos, "text outside the root element"));
                        }
                    } else if raw.contains(&b'&') {
                        check_entities(src, pos, raw)?;
                    }
                }
                Event::CData(_) => {
                    if stack.is_empty() {
                        return Err(xml_err(src, pos, "cdata outside the root element"));
                    }
                }
                Event::Decl(_) => {
                    if pos != bom || seen_markup {
                        return Err(xml_err(
                            src,
                            pos,
                            "xml declaration is only allowed at the very start",
                        ));
                    }
                }
                Event::DocType(_) => {
                    if root.is_some() {
                        return Err(xml_err(src, pos, "doctype after the root element"));
                    }
                }
                Event::Comment(_) | Event::PI(_) => {}
                Event::Eof => break,
            }
            seen_markup = true;
        }
        if let Some(&open) = stack.last() {
            let e = &elems[open];
            let name = String::from_utf8_lossy(&src[e.name.clone()]).into_owned();
            return Err(xml_err(
                src,
                e.start,
                &format!("element <{name}> is never closed"),
            ));
        }
        let Some(root) = root else {
            return Err(xml_err(src, src.len(), "no root element"));
        };
        let doc = Doc { src, elems, root };
        let r = &doc.elems[root];
        if doc.local(root) != b"configuration" {
            let (line, column) = line_col(src, r.start);
            return Err(PatchError::NotConfiguration {
                line,
                column,
                found: String::from_utf8_lossy(&src[r.name.clone()]).into_owned(),
            });
        }
        Ok(doc)
    }

    /// Local name (after any prefix).
    pub fn local(&self, idx: usize) -> &'a [u8] {
        let name = &self.src[self.elems[idx].name.clone()];
        match name.iter().position(|&b| b == b':') {
            Some(i) => &name[i + 1..],
            None => name,
        }
    }

    pub fn children_named(
        &self,
        idx: usize,
        local: &'static [u8],
    ) -> impl Iterator<Item = usize> + '_ {
        self.elems[idx]
            .children
            .iter()
            .copied()
            .filter(move |&c| self.local(c) == local)
    }

    pub fn attr(&self, idx: usize, name: &[u8]) -> Option<&Attr> {
        self.elems[idx]
            .attrs
            .iter()
            .find(|a| &self.src[a.name.clone()] == name)
    }

    /// The unescaped value of an attribute. Values were checked while parsing, so a failed
    /// unescape cannot happen; the raw text is returned then rather than panicking.
    pub fn attr_value(&self, idx: usize, name: &[u8]) -> Option<String> {
        self.attr(idx, name).map(|a| self.value_of(a))
    }

    pub fn value_of(&self, a: &Attr) -> String {
        let raw = std::str::from_utf8(&self.src[a.value.clone()]).unwrap_or_default();
        if raw.contains('&') {
            quick_xml::escape::unescape(raw)
                .map(|c| c.into_owned())
                .unwrap_or_else(|_| raw.to_owned())
        } else {
            raw.to_owned()
        }
    }

    /// Whitespace between the start of `pos`'s line and `pos`, if only spaces/tabs are there.
    pub fn line_indent(&self, pos: usize) -> Option<&'a [u8]> {
        let line_start = match self.src[..pos].iter().rposition(|&b| b == b'\n') {
            Some(i) => i + 1,
            None if self.src.starts_with(BOM) => BOM.len().min(pos),
            None => 0,
        };
        let ws = &self.src[line_start..pos];
        ws.iter().all(|&b| b == b' ' || b == b'\t').then_some(ws)
    }
}

fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// Tokenises a start tag's inside (`name attr="v" ...`) between `from` and `to`.
fn parse_tag(src: &[u8], from: usize, to: usize) -> Result<(Range<usize>, Vec<Attr>), PatchError> {
    let is_ws = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let mut i = from;
    while i < to && !is_ws(src[i]) {
        i += 1;
    }
    let name = from..i;
    if name.is_empty() {
        return Err(xml_err(src, from, "missing element name"));
    }
    let mut attrs: Vec<Attr> = Vec::new();
    loop {
        let ws_start = i;
        while i < to && is_ws(src[i]) {
            i += 1;
        }
        if i >= to {
            break;
        }
        if i == ws_start {
            return Err(xml_err(
                src,
                i,
                "attributes must be separated by whitespace",
            ));
        }
        let n_start = i;
        while i < to && src[i] != b'=' && !is_ws(src[i]) {
            i += 1;
        }
        let n = n_start..i;
        if n.is_empty() {
            return Err(xml_err(src, n_start, "missing attribute name"));
        }
        while i < to && is_ws(src[i]) {
            i += 1;
        }
        if i >= to || src[i] != b'=' {
            return Err(xml_err(src, i.min(to), "expected `=` after attribute name"));
        }
        i += 1;
        while i < to && is_ws(src[i]) {
            i += 1;
        }
        let quote = match src.get(i) {
            Some(&q) if i < to && (q == b'"' || q == b'\'') => q,
            _ => return Err(xml_err(src, i.min(to), "attribute value must be quoted")),
        };
        let v_start = i + 1;
        let Some(len) = src[v_start..to].iter().position(|&b| b == quote) else {
            return Err(xml_err(src, i, "unterminated attribute value"));
        };
        let value = v_start..v_start + len;
        if src[value.clone()].contains(&b'<') {
            return Err(xml_err(
                src,
                v_start,
                "`<` is not allowed in an attribute value",
            ));
        }
        if src[value.clone()].contains(&b'&') {
            check_entities(src, v_start, &src[value.clone()])?;
        }
        if attrs.iter().any(|a| src[a.name.clone()] == src[n.clone()]) {
            return Err(xml_err(src, n_start, "duplicate attribute"));
        }
        attrs.push(Attr {
            name: n,
            value: value.clone(),
        });
        i = value.end + 1;
    }
    Ok((name, attrs))
}

fn check_entities(src: &[u8], pos: usize, raw: &[u8]) -> Result<(), PatchError> {
    let text = std::str::from_utf8(raw).unwrap_or_default();
    match quick_xml::escape::unescape(text) {
        Ok(_) => Ok(()),
        Err(e) => {
            let offset = raw.iter().position(|&b| b == b'&').unwrap_or(0);
            Err(xml_err(src, pos + offset, &e.to_string()))
        }
    }
}

/// 1-based line and column (in characters, not counting a BOM) of a byte offset.
pub(crate) fn line_col(src: &[u8], pos: usize) -> (usize, usize) {
    let pos = pos.min(src.len());
    let before = &src[..pos];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let mut seg = &src[line_start..pos];
    if line_start == 0 && seg.starts_with(BOM) {
        seg = &seg[BOM.len()..];
    }
    // Count characters: every byte that is not a UTF-8 continuation byte starts one.
    let column = 1 + seg.iter().filter(|&&b| (b & 0xC0) != 0x80).count();
    (line, column)
}

pub(crate) fn xml_err(src: &[u8], pos: usize, message: &str) -> PatchError {
    let (line, column) = line_col(src, pos);
    PatchError::Xml {
        line,
        column,
        message: lower_first(message),
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> (usize, usize, String) {
        match Doc::parse(src.as_bytes()) {
            Err(PatchError::Xml {
                line,
                column,
                message,
            }) => (line, column, message),
            other => panic!("expected xml error, got {other:?}"),
        }
    }

    #[test]
    fn indexes_elements_and_attributes() {
        let src =
            "<?xml version=\"1.0\"?>\n<configuration>\n  <a x='1' y=\"&amp;\"/>\n</configuration>";
        let doc = Doc::parse(src.as_bytes()).expect("parses");
        assert_eq!(doc.local(doc.root), b"configuration");
        let a = doc.elems[doc.root].children[0];
        assert!(doc.elems[a].self_closing());
        assert_eq!(doc.attr_value(a, b"x").as_deref(), Some("1"));
        assert_eq!(doc.attr_value(a, b"y").as_deref(), Some("&"));
        assert_eq!(doc.line_indent(doc.elems[a].start), Some(&b"  "[..]));
    }

    #[test]
    fn reports_mismatched_tags_with_position() {
        let (line, col, msg) = err("<configuration>\n  <a>\n  </b>\n</configuration>");
        assert_eq!((line, col), (3, 3), "{msg}");
    }

    #[test]
    fn reports_unclosed_and_bad_attributes() {
        assert_eq!(err("<configuration>\n<a>").0, 2);
        assert_eq!(
            err("<configuration a=1/>").2,
            "attribute value must be quoted"
        );
        assert_eq!(err("<configuration a='1' a='2'/>").2, "duplicate attribute");
        assert_eq!(err("<configuration a='&bogus;'/>").1, 19);
        assert_eq!(
            err("<configuration/><x/>").2,
            "a second root element after </configuration>"
        );
        assert_eq!(err("").2, "no root element");
        assert_eq!(err("<configuration>&nope;</configuration>").1, 16);
    }

    #[test]
    fn rejects_other_roots() {
        assert!(matches!(
            Doc::parse(b"<settings/>"),
            Err(PatchError::NotConfiguration {
                line: 1,
                column: 1,
                ..
            })
        ));
    }

    #[test]
    fn columns_count_characters_and_skip_bom() {
        assert_eq!(line_col("\u{feff}é<".as_bytes(), 5), (1, 2));
    }
}
