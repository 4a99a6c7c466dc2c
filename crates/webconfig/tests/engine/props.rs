//! Property tests: random whitespace, comments, attribute order and quoting around the target.
//! Properties: bytes outside the section are preserved, a second run changes nothing, the
//! output parses, and the effective policy equals the desired one. Plus: arbitrary bytes and
//! mutated files never panic.

use corsfleet_webconfig::{CorsPolicy, OriginRule, patch, read_cors};
use proptest::prelude::*;

use crate::common::{assert_outside_preserved, changed_window, cors_spans, rule};

const MANAGED: [&str; 3] = [
    "https://fin-a.example.com:8445",
    "https://fin-b.example.com:8445",
    "https://*.example.org",
];
const OTHERS: [&str; 2] = ["https://lab.example.com", "http://localhost:3000"];

fn filler(nl: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[ \t]{0,3}".prop_map(move |ws| format!("{nl}{ws}")),
        "[a-z <>/=\"]{0,12}".prop_map(move |t| {
            let t = t.replace("--", "- ");
            format!("{nl}<!--{t}<cors enabled=\"false\"/>-->")
        }),
        Just(format!("{nl}<?pi data?>")),
    ]
}

fn attr(name: &str, value: &str, single: bool) -> String {
    if single {
        // Spaces around `=` are allowed by XML and by IIS.
        format!("{name} = '{value}'")
    } else {
        format!("{name}=\"{value}\"")
    }
}

/// An existing `<add>` rule with random attributes in random order and random quotes.
fn existing_add() -> impl Strategy<Value = (String, String)> {
    (
        prop::sample::select([&MANAGED[..], &OTHERS[..]].concat()),
        any::<bool>(),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(0u32..1000),
        any::<bool>(),
        any::<bool>(),
        Just(()).prop_perturb(|_, mut rng| {
            let mut order = [0usize, 1, 2, 3, 4];
            for i in (1..order.len()).rev() {
                order.swap(i, rng.random_range(0..=i));
            }
            order
        }),
        prop::sample::subsequence(vec!["GET", "PUT", "OPTIONS"], 0..=3),
    )
        .prop_map(
            |(origin, upper, allowed, creds, age, single, extra, order, methods)| {
                let o = if upper {
                    origin.to_ascii_uppercase().replace("HTTP", "http")
                } else {
                    origin.to_owned()
                };
                let mut parts: Vec<Option<String>> = vec![
                    Some(attr("origin", &o, single)),
                    allowed.map(|v| attr("allowed", &v.to_string(), !single)),
                    creds.map(|v| attr("allowCredentials", &v.to_string(), single)),
                    age.map(|v| attr("maxAge", &v.to_string(), !single)),
                    extra.then(|| attr("note", "keep &amp; me", single)),
                ];
                let attrs: Vec<String> = order.iter().filter_map(|&i| parts[i].take()).collect();
                let body = if methods.is_empty() {
                    String::new()
                } else {
                    let adds: String = methods
                        .iter()
                        .map(|m| format!("<add method=\"{m}\"/>"))
                        .collect();
                    format!("<allowMethods>{adds}</allowMethods>")
                };
                let elem = if body.is_empty() {
                    format!("<add {} />", attrs.join(" "))
                } else {
                    format!("<add {}>{body}</add>", attrs.join("  "))
                };
                (origin.to_owned(), elem)
            },
        )
}

#[derive(Debug, Clone)]
struct Doc {
    text: Vec<u8>,
    /// Byte range of the sws content (between its start and end tags).
    sws_inner: (usize, usize),
    has_cors: bool,
}

fn document() -> impl Strategy<Value = Doc> {
    (
        prop_oneof![Just("\n"), Just("\r\n")],
        prop_oneof![Just("  "), Just("    "), Just("\t")],
        any::<bool>(),
        any::<bool>(),
    )
        .prop_flat_map(|(nl, unit, bom, decl)| {
            (
                Just((nl, unit, bom, decl)),
                prop::collection::vec(filler(nl), 0..3),
                proptest::option::of((
                    prop::collection::vec(existing_add(), 0..4),
                    proptest::option::of(any::<bool>()),
                    proptest::option::of(any::<bool>()),
                    any::<bool>(),
                    prop::collection::vec(filler(nl), 0..3),
                )),
                prop::collection::vec(filler(nl), 0..3),
            )
        })
        .prop_map(|((nl, unit, bom, decl), before, cors, after)| {
            let mut s = String::new();
            if bom {
                s.push('\u{feff}');
            }
            if decl {
                s.push_str(&format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>{nl}"));
            }
            s.push_str(&format!("<configuration>{nl}{unit}<system.webServer>"));
            let inner_start = s.len();
            for f in &before {
                s.push_str(f);
            }
            s.push_str(&format!("{nl}{unit}{unit}<handlers/>"));
            let has_cors = cors.is_some();
            if let Some((adds, enabled, fail, fail_first, inside)) = cors {
                let mut a = Vec::new();
                if let Some(e) = enabled {
                    a.push(format!("enabled=\"{e}\""));
                }
                if let Some(f) = fail {
                    a.push(format!("failUnlistedOrigins='{f}'"));
                }
                if fail_first {
                    a.reverse();
                }
                s.push_str(&format!("{nl}{unit}{unit}<cors {}>", a.join(" ")));
                let mut seen = Vec::new();
                for (origin, elem) in adds {
                    // Duplicates are a separate, deliberate golden case.
                    if seen.contains(&origin.to_ascii_lowercase()) {
                        continue;
                    }
                    seen.push(origin.to_ascii_lowercase());
                    s.push_str(&format!("{nl}{unit}{unit}{unit}{elem}"));
                }
                for f in &inside {
                    s.push_str(f);
                }
                s.push_str(&format!("{nl}{unit}{unit}</cors>"));
            }
            for f in &after {
                s.push_str(f);
            }
            let inner_end = s.len() + nl.len() + unit.len();
            s.push_str(&format!(
                "{nl}{unit}</system.webServer>{nl}</configuration>{nl}"
            ));
            Doc {
                text: s.into_bytes(),
                sws_inner: (inner_start, inner_end),
                has_cors,
            }
        })
}

fn desired() -> impl Strategy<Value = CorsPolicy> {
    (
        prop::sample::subsequence(MANAGED.to_vec(), 1..=3),
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(0u32..100_000),
        any::<bool>(),
        prop::sample::subsequence(vec!["GET", "POST", "PUT", "DELETE", "PATCH"], 0..=5),
        prop::sample::subsequence(vec!["Authorization", "X-Req"], 0..=2),
    )
        .prop_map(
            |(origins, enabled, fail, age, all, methods, headers)| CorsPolicy {
                enabled,
                fail_unlisted_origins: fail,
                location: None,
                origins: origins
                    .into_iter()
                    .map(|o| OriginRule {
                        max_age: age,
                        allow_all_requested_headers: all,
                        allow_methods: methods.iter().map(|m| (*m).to_owned()).collect(),
                        expose_headers: headers.iter().map(|h| (*h).to_owned()).collect(),
                        ..rule(o)
                    })
                    .collect(),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn patch_keeps_everything_else_and_converges(doc in document(), policy in desired()) {
        let before = read_cors(&doc.text, None).expect("input reads");
        let out = patch(&doc.text, &policy).expect("patch succeeds");
        assert_outside_preserved(&doc.text, &out.bytes);
        if !doc.has_cors {
            let (start, end, _) = changed_window(&doc.text, &out.bytes);
            prop_assert_eq!(start, end, "pure insertion expected");
            prop_assert!(doc.sws_inner.0 <= start && start <= doc.sws_inner.1);
        } else {
            prop_assert_eq!(cors_spans(&doc.text).len(), 1);
        }
        let after = read_cors(&out.bytes, None).expect("output reads").expect("section");
        prop_assert_eq!(after.enabled, policy.enabled);
        prop_assert_eq!(after.fail_unlisted_origins, policy.fail_unlisted_origins);
        for want in &policy.origins {
            prop_assert_eq!(after.origins.iter().find(|r| r.origin == want.origin), Some(want));
        }
        // Unmanaged origins read exactly as before.
        if let Some(before) = before {
            for r in before.origins.iter().filter(|r| !MANAGED.iter().any(|m| m.eq_ignore_ascii_case(&r.origin))) {
                prop_assert_eq!(after.origins.iter().find(|a| a.origin == r.origin), Some(r));
            }
        }
        prop_assert_eq!(out.changed, out.bytes != doc.text);
        prop_assert_eq!(out.changed, !out.drift.is_empty());
        let again = patch(&out.bytes, &policy).expect("second patch succeeds");
        prop_assert!(!again.changed);
        prop_assert_eq!(again.bytes, out.bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let p = CorsPolicy::recommended(&["https://a.example.com".to_owned()]).expect("valid");
        let _ = patch(&bytes, &p);
        let _ = read_cors(&bytes, None);
        let _ = read_cors(&bytes, Some("x"));
    }

    #[test]
    fn mutated_files_never_panic(
        doc in document(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let mut bytes = doc.text.clone();
        for (at, byte, op) in edits {
            if bytes.is_empty() { break; }
            let i = at.index(bytes.len());
            match op {
                0 => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ => { bytes.remove(i); }
            }
        }
        let p = CorsPolicy::recommended(&["https://a.example.com".to_owned()]).expect("valid");
        if let Ok(out) = patch(&bytes, &p) {
            // Whatever parsed must still satisfy the main guarantees.
            let again = patch(&out.bytes, &p).expect("output patches again");
            prop_assert!(!again.changed);
        }
    }
}
