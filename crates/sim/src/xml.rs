//! A small, strict XML tree for the few documents the simulator reads: web.config,
//! applicationHost.config and Config API request bodies.
//!
//! IIS refuses a configuration file that is not well-formed (HTTP 500.19), so the parser must be
//! strict where quick-xml alone is lenient: unclosed elements at end of file, duplicate
//! attributes, text or a second element outside the root all count as errors here.

use quick_xml::events::Event;

/// One element: name, attributes in document order, child elements and its direct text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
    /// 1-based line of the start tag, for error messages like IIS's "Config Source" excerpt.
    pub line: usize,
}

impl Element {
    /// The value of an attribute (XML attribute names are case-sensitive, as in IIS).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first child element with that name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// All child elements with that name.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Follows a path of child names (first match at each step).
    pub fn path(&self, names: &[&str]) -> Option<&Element> {
        let mut cur = self;
        for n in names {
            cur = cur.child(n)?;
        }
        Some(cur)
    }
}

/// Why a document is not well-formed, with the 1-based line where it was noticed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parse XML at line {line}: {reason}")]
pub struct XmlError {
    pub line: usize,
    pub reason: String,
}

fn line_at(bytes: &[u8], pos: usize) -> usize {
    let end = pos.min(bytes.len());
    bytes[..end].iter().filter(|b| **b == b'\n').count() + 1
}

/// Parses a whole document into its root element.
pub fn parse(bytes: &[u8]) -> Result<Element, XmlError> {
    // A UTF-8 byte order mark is normal in files saved by Windows tools.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| XmlError {
        line: line_at(bytes, e.valid_up_to()),
        reason: "invalid UTF-8".into(),
    })?;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let pos = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let ev = reader.read_event().map_err(|e| XmlError {
            line: line_at(
                bytes,
                usize::try_from(reader.error_position()).unwrap_or(pos),
            ),
            reason: e.to_string(),
        })?;
        let line = line_at(bytes, pos);
        let err = |reason: &str| XmlError {
            line,
            reason: reason.to_string(),
        };
        match ev {
            Event::Start(ref s) | Event::Empty(ref s) => {
                if root.is_some() && stack.is_empty() {
                    return Err(err("more than one root element"));
                }
                let name = String::from_utf8_lossy(s.name().as_ref()).into_owned();
                let mut attrs: Vec<(String, String)> = Vec::new();
                for a in s.attributes().with_checks(true) {
                    let a = a.map_err(|e| err(&e.to_string()))?;
                    let k = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                    let v = a.unescape_value().map_err(|e| err(&e.to_string()))?;
                    attrs.push((k, v.into_owned()));
                }
                let el = Element {
                    name,
                    attrs,
                    children: Vec::new(),
                    text: String::new(),
                    line,
                };
                if matches!(ev, Event::Start(_)) {
                    stack.push(el);
                } else {
                    close(el, &mut stack, &mut root);
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| err("unexpected end tag"))?;
                close(el, &mut stack, &mut root);
            }
            Event::Text(t) => {
                let t = t.unescape().map_err(|e| err(&e.to_string()))?;
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&t),
                    None if t.trim().is_empty() => {}
                    None => return Err(err("text outside the root element")),
                }
            }
            Event::CData(c) => {
                let t = String::from_utf8_lossy(&c).into_owned();
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&t),
                    None => return Err(err("CDATA outside the root element")),
                }
            }
            Event::Eof => {
                if let Some(open) = stack.last() {
                    return Err(XmlError {
                        line: line_at(bytes, bytes.len()),
                        reason: format!("element <{}> is not closed", open.name),
                    });
                }
                return root.ok_or_else(|| err("no root element"));
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
}

fn close(el: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

/// Escapes text for element content and attribute values.
pub fn escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_elements_attributes_and_text() {
        let doc = parse(b"<?xml version=\"1.0\"?>\r\n<a x=\"1\"><b>hi &amp; bye</b><c y='2'/></a>")
            .expect("well-formed");
        assert_eq!(doc.attr("x"), Some("1"));
        assert_eq!(doc.child("b").map(|b| b.text.as_str()), Some("hi & bye"));
        assert_eq!(doc.path(&["c"]).and_then(|c| c.attr("y")), Some("2"));
        assert_eq!(doc.line, 2);
    }

    #[test]
    fn rejects_what_iis_rejects() {
        for bad in [
            &b"<a><b></a>"[..],
            b"<a>",
            b"<a x=\"1\" x=\"2\"/>",
            b"<a/><b/>",
            b"",
            b"<a x=1/>",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn reports_the_line_of_an_unclosed_element() {
        let err = parse(b"<a>\n<b>\n</a>\n").expect_err("mismatched");
        assert!(err.line >= 2, "{err:?}");
    }
}
