//! Renderers: snapshots of every format (times and ids redacted), JSON round trip and schema
//! check, escaping of hostile text, the HTML's self-containment, and `write_all`.

use corsfleet_report::{
    HTML_FILE, JSON_FILE, JUNIT_FILE, MARKDOWN_FILE, ReportBuilder, ReportError, RunReport,
    load_json, render_html, render_json, render_junit, render_markdown, render_recap, write_all,
};

use crate::fixtures::{self, Ev};

fn build(ev: &Ev) -> RunReport {
    let mut b = ReportBuilder::new();
    for e in &ev.events {
        b.push(e);
    }
    b.finish()
}

fn all_fixtures() -> Vec<(&'static str, RunReport)> {
    vec![
        ("run", build(&fixtures::run_events())),
        ("verify", build(&fixtures::verify_events())),
        ("interrupted", build(&fixtures::interrupted_events())),
        ("hostile", build(&fixtures::hostile_events())),
    ]
}

macro_rules! snap {
    ($name:expr, $value:expr) => {
        fixtures::settings().bind(|| insta::assert_snapshot!($name, $value))
    };
}

// ---- snapshots ---------------------------------------------------------------------------

#[test]
fn snapshots_run() {
    let r = build(&fixtures::run_events());
    snap!("run.json", render_json(&r));
    snap!("run.junit.xml", render_junit(&r).expect("junit"));
    snap!("run.md", render_markdown(&r));
    snap!("run.html", render_html(&r).expect("html"));
    snap!("run.recap", render_recap(&r, false));
    snap!(
        "run.recap.color",
        render_recap(&r, true).replace('\x1b', "<ESC>")
    );
}

#[test]
fn snapshots_verify() {
    let r = build(&fixtures::verify_events());
    snap!("verify.junit.xml", render_junit(&r).expect("junit"));
    snap!("verify.md", render_markdown(&r));
    snap!("verify.html", render_html(&r).expect("html"));
    snap!("verify.recap", render_recap(&r, false));
}

#[test]
fn snapshots_interrupted() {
    let r = build(&fixtures::interrupted_events());
    snap!("interrupted.junit.xml", render_junit(&r).expect("junit"));
    snap!("interrupted.md", render_markdown(&r));
    snap!("interrupted.recap", render_recap(&r, false));
}

#[test]
fn snapshots_hostile() {
    let r = build(&fixtures::hostile_events());
    snap!("hostile.md", render_markdown(&r));
    snap!("hostile.html", render_html(&r).expect("html"));
}

// ---- JSON --------------------------------------------------------------------------------

#[test]
fn json_round_trips_every_fixture() {
    for (name, r) in all_fixtures() {
        let json = render_json(&r);
        assert!(json.contains("\"schema\": 1"), "{name}");
        let back = load_json(json.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(back, r, "{name}");
        // re-rendering the loaded report gives byte-identical files
        assert_eq!(render_markdown(&back), render_markdown(&r), "{name}");
        assert_eq!(render_html(&back).ok(), render_html(&r).ok(), "{name}");
    }
}

#[test]
fn load_json_rejects_other_schema_versions() {
    let r = build(&fixtures::run_events());
    let json = render_json(&r).replacen("\"schema\": 1", "\"schema\": 2", 1);
    match load_json(json.as_bytes()) {
        Err(ReportError::UnsupportedSchema { found: 2 }) => {}
        other => panic!("expected unsupported schema, got {other:?}"),
    }
    let no_schema = render_json(&r).replacen("\"schema\": 1,", "", 1);
    assert!(matches!(
        load_json(no_schema.as_bytes()),
        Err(ReportError::MissingSchema)
    ));
}

#[test]
fn load_json_reports_line_and_column() {
    let bad = b"{\n  \"schema\": 1,\n  \"run_id\": oops\n}";
    let err = load_json(bad).expect_err("invalid json");
    assert_eq!(err.position(), Some((3, 13)), "{err}");
    assert!(
        !err.to_string().contains(" at line 3 column"),
        "position not duplicated: {err}"
    );

    // valid JSON, wrong shape: still positioned
    let r = build(&fixtures::run_events());
    let json = render_json(&r).replacen("\"check\": false", "\"check\": \"no\"", 1);
    let err = load_json(json.as_bytes()).expect_err("wrong type");
    let (line, _) = err.position().expect("position");
    let expected_line = json
        .lines()
        .position(|l| l.contains("\"check\""))
        .expect("line")
        + 1;
    assert_eq!(line, expected_line);
}

// ---- JUnit -------------------------------------------------------------------------------

#[test]
fn junit_has_one_case_per_host_task_and_errors_for_unreachable() {
    let r = build(&fixtures::run_events());
    let xml = render_junit(&r).expect("junit");
    let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("well-formed junit");
    let cases: Vec<_> = parsed
        .test_suites
        .iter()
        .flat_map(|s| &s.test_cases)
        .collect();
    // 13 host × task cases plus one `connect` case for the unreachable host
    assert_eq!(cases.len(), 13 + 1);
    let connect = cases
        .iter()
        .find(|c| c.name.as_str() == "aw-2: connect")
        .expect("unreachable host has a testcase");
    assert!(matches!(
        &connect.status,
        quick_junit::TestCaseStatus::NonSuccess {
            kind: quick_junit::NonSuccessKind::Error,
            ..
        }
    ));
    let failed: Vec<&str> = cases
        .iter()
        .filter(|c| {
            matches!(
                &c.status,
                quick_junit::TestCaseStatus::NonSuccess {
                    kind: quick_junit::NonSuccessKind::Failure,
                    ..
                }
            )
        })
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(failed, [format!("aw-1: {}", fixtures::PATCH)]);
    assert!(cases.iter().all(|c| {
        c.classname
            .as_ref()
            .is_some_and(|n| c.name.starts_with(n.as_str()))
    }));
}

#[test]
fn junit_escapes_hostile_text_and_stays_parseable() {
    let r = build(&fixtures::hostile_events());
    let xml = render_junit(&r).expect("junit");
    assert!(
        !xml.contains("<script"),
        "raw markup leaked into junit:\n{xml}"
    );
    let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("well-formed junit");
    let case = &parsed.test_suites[0].test_cases[0];
    assert!(
        case.name.contains(fixtures::HOSTILE),
        "text survives escaping intact"
    );
}

// ---- Markdown ----------------------------------------------------------------------------

/// Splits a GFM table row on unescaped pipes.
fn cells(row: &str) -> usize {
    let mut n: usize = 0;
    let mut escaped = false;
    for c in row.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '|' if !escaped => n += 1,
            _ => escaped = false,
        }
    }
    n.saturating_sub(1)
}

#[test]
fn markdown_tables_keep_their_shape_with_hostile_text() {
    let r = build(&fixtures::hostile_events());
    let md = render_markdown(&r);
    for line in md.lines().filter(|l| l.starts_with('|')) {
        let header_cells = if line.contains("Host | Status | ok") {
            9
        } else {
            cells(line)
        };
        assert!(header_cells == 9 || header_cells == 4, "bad row: {line}");
    }
    let host_rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| evil")).collect();
    assert!(!host_rows.is_empty());
    for row in host_rows {
        assert!(
            cells(row) == 9 || cells(row) == 4,
            "row split by an unescaped pipe: {row}"
        );
    }
    // no raw HTML outside code fences
    let mut in_fence = false;
    for line in md.lines() {
        if line.starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if !in_fence {
            let raw_lt = line
                .char_indices()
                .any(|(i, c)| c == '<' && !line[..i].ends_with('\\'));
            assert!(!raw_lt, "unescaped < outside a fence: {line}");
        }
    }
    // the diff with a ``` line inside cannot close its fence early
    assert!(
        md.contains("````diff\n"),
        "fence longer than the diff's backtick run"
    );
}

// ---- HTML --------------------------------------------------------------------------------

/// Finds references that would make the page load something from elsewhere: `src=`/`href=`
/// to http(s) or `//` inside tags, `<script src`, `@import`, and external `url(` in styles.
fn external_refs(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    // Tags only: escaped text (`&lt;...`) is not markup and is checked elsewhere.
    let mut rest = lower.as_str();
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after.find('>').unwrap_or(after.len());
        let tag = &after[..close];
        if tag.starts_with("script") && tag.contains("src") {
            found.push(format!("<{tag}>"));
        }
        for attr in ["src=", "href=", "xlink:href=", "srcset=", "action="] {
            let mut t = tag;
            while let Some(i) = t.find(attr) {
                let value = t[i + attr.len()..].trim_start_matches(['"', '\'', ' ']);
                if value.starts_with("http:")
                    || value.starts_with("https:")
                    || value.starts_with("//")
                {
                    found.push(format!("<{tag}>"));
                }
                t = &t[i + attr.len()..];
            }
        }
        rest = &after[close.min(after.len())..];
    }
    // Styles: `@import` and `url(` pointing away are forbidden outright inside <style>.
    let mut rest = lower.as_str();
    while let Some(start) = rest.find("<style") {
        let body = &rest[start..];
        let end = body.find("</style>").unwrap_or(body.len());
        let css = &body[..end];
        if css.contains("@import") {
            found.push("@import".to_owned());
        }
        let mut c = css;
        while let Some(i) = c.find("url(") {
            let v = c[i + 4..].trim_start_matches(['"', '\'', ' ']);
            if !v.starts_with("data:") && !v.starts_with('#') {
                found.push(format!("url({})", &v[..v.len().min(30)]));
            }
            c = &c[i + 4..];
        }
        rest = &body[end..];
    }
    found
}

#[test]
fn external_ref_check_catches_what_it_should() {
    // The checker itself must be able to fail, or the test below proves nothing.
    assert_eq!(
        external_refs(r#"<script src="https://x/y.js"></script>"#).len(),
        2
    );
    assert_eq!(external_refs(r#"<img src=//cdn.example/p.png>"#).len(), 1);
    assert_eq!(external_refs(r#"<a href='http://x'>x</a>"#).len(), 1);
    assert_eq!(external_refs("<style>@import 'x.css';</style>").len(), 1);
    assert_eq!(
        external_refs("<style>body { background: url(https://x/i.png) }</style>").len(),
        1
    );
    assert!(
        external_refs(r##"<a href="#host-0">x</a> &lt;script src="https://x"&gt;"##).is_empty()
    );
}

#[test]
fn html_is_self_contained() {
    for (name, r) in all_fixtures() {
        let html = render_html(&r).expect("html");
        let refs = external_refs(&html);
        assert!(refs.is_empty(), "{name}: external references {refs:?}");
        assert!(
            !html.to_ascii_lowercase().contains("<script"),
            "{name}: no scripts at all"
        );
    }
}

#[test]
fn html_escapes_hostile_text() {
    let r = build(&fixtures::hostile_events());
    let html = render_html(&r).expect("html");
    assert!(!html.contains("<b>|host"), "host name must be escaped");
    assert!(html.contains("evil&#60;b&#62;|host&#38;") || html.contains("evil&lt;b&gt;|host&amp;"));
    assert!(
        !html.contains("</pre></details><script>"),
        "diff must not close its container"
    );
    assert!(!html.contains("<img"));
    // exactly the template's own <details>, one per diff
    assert_eq!(html.matches("<details>").count(), 1);
}

#[test]
fn html_colours_diff_lines_and_draws_a_timeline_per_host() {
    let r = build(&fixtures::run_events());
    let html = render_html(&r).expect("html");
    assert_eq!(
        html.matches("<svg class=\"timeline\"").count(),
        4,
        "aw-2 ran no task"
    );
    // logger-a's four tasks and aw-1's four, logger-b's four, aw-3's one
    assert_eq!(html.matches("<rect class=").count(), 13);
    assert!(
        html.contains("<span class=\"add\">+    &#60;cors")
            || html.contains("<span class=\"add\">+    &lt;cors")
    );
    assert!(html.contains("<span class=\"del\">-    "));
    assert_eq!(html.matches("<details>").count(), 2);
}

// ---- recap -------------------------------------------------------------------------------

#[test]
fn recap_has_ansible_shape_and_colour_only_when_asked() {
    let r = build(&fixtures::run_events());
    let plain = render_recap(&r, false);
    assert!(!plain.contains('\x1b'));
    let mut lines = plain.lines();
    let banner = lines.next().expect("banner");
    assert!(banner.starts_with("PLAY RECAP *"));
    assert_eq!(banner.len(), 80);
    let aw1 = plain
        .lines()
        .find(|l| l.starts_with("aw-1 "))
        .expect("aw-1 line");
    let fields: Vec<&str> = aw1.split_whitespace().collect();
    assert_eq!(
        fields,
        [
            "aw-1",
            ":",
            "ok=1",
            "changed=0",
            "unreachable=0",
            "failed=1",
            "skipped=1",
            "rescued=0",
            "ignored=1"
        ]
    );
    assert_eq!(
        aw1.find(" : "),
        Some(26),
        "host column padded to 26 like Ansible"
    );

    let color = render_recap(&r, true);
    assert!(color.contains("\x1b[0;31mfailed=1   \x1b[0m"));
    assert!(
        color.contains("\x1b[0;33mlogger-a"),
        "changed host in yellow"
    );
    // zero counters stay uncoloured
    assert!(color.contains(" rescued=0 "));
    let stripped = color
        .split('\x1b')
        .enumerate()
        .map(|(i, s)| {
            if i == 0 {
                s
            } else {
                s.split_once('m').map_or(s, |(_, rest)| rest)
            }
        })
        .collect::<String>();
    assert_eq!(stripped, plain, "colour changes nothing but colour");
}

// ---- write_all ---------------------------------------------------------------------------

#[test]
fn write_all_writes_four_files_atomically() {
    let r = build(&fixtures::run_events());
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("reports/nested");
    let written = write_all(&r, &dir).expect("write");
    let names: Vec<String> = written
        .iter()
        .map(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(names, [JSON_FILE, JUNIT_FILE, MARKDOWN_FILE, HTML_FILE]);
    let read = |n: &str| std::fs::read_to_string(dir.join(n)).expect("read");
    assert_eq!(read(JSON_FILE), render_json(&r));
    assert_eq!(read(JUNIT_FILE), render_junit(&r).expect("junit"));
    assert_eq!(read(MARKDOWN_FILE), render_markdown(&r));
    assert_eq!(read(HTML_FILE), render_html(&r).expect("html"));
    let entries = std::fs::read_dir(&dir).expect("dir").count();
    assert_eq!(entries, 4, "no temp files left behind");
    // overwriting an existing set works too
    write_all(&r, &dir).expect("rewrite");
    assert_eq!(load_json(read(JSON_FILE).as_bytes()).expect("load"), r);
}

#[test]
fn write_all_reports_the_path_it_could_not_write() {
    let r = build(&fixtures::run_events());
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, "x").expect("write");
    let err = write_all(&r, &file).expect_err("a file is not a directory");
    match err {
        ReportError::Io { path, .. } => assert!(path.starts_with(&file)),
        other => panic!("expected io error, got {other:?}"),
    }
}
