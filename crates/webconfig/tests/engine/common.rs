//! Helpers shared by the golden and property tests: policies, variants and the
//! "only the managed section changed" check, written independently of the engine's code.

use corsfleet_webconfig::{CorsPolicy, OriginRule};
use quick_xml::events::Event;
use quick_xml::reader::Reader;

pub const FIN_A: &str = "https://fin-a.example.com:8445";
pub const FIN_B: &str = "https://fin-b.example.com:8445";

pub fn policy(origins: &[&str]) -> CorsPolicy {
    let owned: Vec<String> = origins.iter().map(|s| (*s).to_owned()).collect();
    CorsPolicy::recommended(&owned).expect("valid origins")
}

pub fn rule(origin: &str) -> OriginRule {
    OriginRule::recommended(origin)
}

/// Byte variants of an LF, 4-space-indented document.
#[derive(Debug, Clone, Copy)]
pub enum Variant {
    Lf,
    Crlf,
    Tabs,
    Bom,
}

pub const VARIANTS: [Variant; 4] = [Variant::Lf, Variant::Crlf, Variant::Tabs, Variant::Bom];

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::Lf => "lf",
            Variant::Crlf => "crlf",
            Variant::Tabs => "tabs",
            Variant::Bom => "bom_crlf",
        }
    }

    pub fn apply(self, lf: &str) -> Vec<u8> {
        match self {
            Variant::Lf => lf.as_bytes().to_vec(),
            Variant::Crlf => lf.replace('\n', "\r\n").into_bytes(),
            Variant::Tabs => {
                let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
                let unit = lf.lines().map(indent).filter(|&n| n > 0).min().unwrap_or(4);
                lf.lines()
                    .map(|l| {
                        let spaces = indent(l);
                        format!(
                            "{}{}",
                            "\t".repeat(spaces / unit),
                            &l[spaces - spaces % unit..]
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
                    .into_bytes()
                    .into_iter()
                    .chain(if lf.ends_with('\n') {
                        Some(b'\n')
                    } else {
                        None
                    })
                    .collect()
            }
            Variant::Bom => {
                let mut v = b"\xEF\xBB\xBF".to_vec();
                v.extend(lf.replace('\n', "\r\n").into_bytes());
                v
            }
        }
    }
}

/// Makes CR, tab and BOM visible so a snapshot shows them.
pub fn visible(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .replace('\u{feff}', "<BOM>")
        .replace('\r', "␍")
        .replace('\t', "→")
}

/// Spans (start, end) of real `<cors>` elements (not ones inside comments).
pub fn cors_spans(src: &[u8]) -> Vec<(usize, usize)> {
    let body_start = if src.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let mut r = Reader::from_reader(&src[body_start..]);
    let mut out = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let mut depth_of_cors: Option<usize> = None;
    loop {
        let pos = body_start + r.buffer_position() as usize;
        match r.read_event() {
            Ok(Event::Start(e)) => {
                if e.local_name().as_ref() == b"cors" && depth_of_cors.is_none() {
                    depth_of_cors = Some(open.len());
                    open.push(pos);
                } else {
                    open.push(usize::MAX);
                }
            }
            Ok(Event::Empty(e)) => {
                if e.local_name().as_ref() == b"cors" && depth_of_cors.is_none() {
                    out.push((pos, body_start + r.buffer_position() as usize));
                }
            }
            Ok(Event::End(_)) => {
                let start = open.pop().unwrap_or(usize::MAX);
                if depth_of_cors == Some(open.len()) {
                    out.push((start, body_start + r.buffer_position() as usize));
                    depth_of_cors = None;
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    out
}

/// The byte window of `old` that differs from `new`, as (start, end) in `old` and the length of
/// the replacement in `new` (common prefix and suffix removed).
pub fn changed_window(old: &[u8], new: &[u8]) -> (usize, usize, usize) {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let max_suffix = old.len().min(new.len()) - prefix;
    let suffix = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    (prefix, old.len() - suffix, new.len() - suffix - prefix)
}

/// Asserts that everything outside the input's `<cors>` element (or outside one insertion
/// point / one `/>` of a self-closing parent when there was none) is byte-identical.
pub fn assert_outside_preserved(old: &[u8], new: &[u8]) {
    let (start, end, _) = changed_window(old, new);
    if start == end {
        return; // a pure insertion
    }
    let window = String::from_utf8_lossy(&old[start..end]);
    if matches!(window.trim_start(), "/>" | "/") {
        return; // a self-closing parent opened
    }
    let spans = cors_spans(old);
    assert!(
        spans.iter().any(|&(s, e)| s <= start && end <= e),
        "bytes outside <cors> changed: old[{start}..{end}] = {:?}, cors spans {spans:?}",
        String::from_utf8_lossy(&old[start..end])
    );
}
