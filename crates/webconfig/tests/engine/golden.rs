//! Golden files: one per documented case and byte variant. Each case also checks idempotence,
//! byte preservation outside `<cors>`, and that the section reads back as the policy.

use corsfleet_webconfig::{CorsPolicy, PatchError, patch, read_cors, unified_diff};

use crate::common::{FIN_A, FIN_B, VARIANTS, Variant, assert_outside_preserved, policy, visible};

const STOCK: &str = include_str!("../../../../examples/web.config");

fn stock_lf() -> String {
    STOCK.replace("\r\n", "\n")
}

/// Runs every invariant, returns the patched bytes.
fn check(input: &[u8], policy: &CorsPolicy) -> Vec<u8> {
    let out = patch(input, policy).expect("patch succeeds");
    assert!(out.changed);
    assert!(!out.drift.is_empty());
    assert_outside_preserved(input, &out.bytes);
    let again = patch(&out.bytes, policy).expect("second patch succeeds");
    assert!(!again.changed, "not idempotent:\n{}", visible(&again.bytes));
    assert_eq!(again.bytes, out.bytes);
    assert!(again.drift.is_empty());
    let read = read_cors(&out.bytes, policy.location.as_deref())
        .expect("reads")
        .expect("section");
    assert_eq!(read.enabled, policy.enabled);
    assert_eq!(read.fail_unlisted_origins, policy.fail_unlisted_origins);
    for want in &policy.origins {
        assert_eq!(
            read.origins.iter().find(|r| r.origin == want.origin),
            Some(want)
        );
    }
    out.bytes
}

fn variant_checks(v: Variant, input: &[u8], out: &[u8]) {
    match v {
        Variant::Crlf | Variant::Bom => {
            let lone_lf = out.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r')
                || out.first() == Some(&b'\n');
            assert!(!lone_lf, "an LF without CR in a CRLF file");
        }
        Variant::Tabs => {
            assert!(
                !String::from_utf8_lossy(out).contains("  <"),
                "space indentation in a tab file"
            );
        }
        Variant::Lf => assert!(!out.contains(&b'\r')),
    }
    assert_eq!(
        input.starts_with(b"\xEF\xBB\xBF"),
        out.starts_with(b"\xEF\xBB\xBF")
    );
    assert_eq!(input.ends_with(b"\n"), out.ends_with(b"\n"));
}

fn golden(case: &str, lf: &str, policy: &CorsPolicy) {
    for v in VARIANTS {
        let input = v.apply(lf);
        let out = check(&input, policy);
        variant_checks(v, &input, &out);
        insta::assert_snapshot!(format!("{case}__{}", v.name()), visible(&out));
    }
}

#[test]
fn stock_cisco_file_gets_a_section() {
    golden("stock", &stock_lf(), &policy(&[FIN_A, FIN_B]));
}

#[test]
fn example_file_is_crlf_and_patches_cleanly() {
    assert!(STOCK.contains("\r\n") && !STOCK.replace("\r\n", "").contains('\n'));
    let out = check(STOCK.as_bytes(), &policy(&[FIN_A]));
    insta::assert_snapshot!(
        "stock_diff",
        unified_diff(STOCK.as_bytes(), &out, "web.config").replace('\r', "␍")
    );
}

#[test]
fn no_system_webserver() {
    let lf = "<?xml version=\"1.0\"?>\n<configuration>\n    <appSettings>\n        <add key=\"a\" value=\"b\" />\n    </appSettings>\n</configuration>\n";
    golden("no_sws", lf, &policy(&[FIN_A]));
}

#[test]
fn self_closing_system_webserver() {
    golden(
        "sws_self_closing",
        "<configuration>\n    <system.webServer/>\n</configuration>\n",
        &policy(&[FIN_A]),
    );
}

#[test]
fn system_webserver_inside_location_dot() {
    let lf = r#"<?xml version="1.0" encoding="utf-8"?>
<configuration>
    <location path="." inheritInChildApplications="false">
        <system.webServer>
            <handlers>
                <add name="aspNetCore" path="*" verb="*" modules="AspNetCoreModuleV2" resourceType="Unspecified" />
            </handlers>
        </system.webServer>
    </location>
</configuration>
"#;
    golden("location_dot", lf, &policy(&[FIN_A]));
}

const EXISTING: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<configuration>
    <system.webServer>
        <cors enabled='false'>
            <!-- lab gadget, keep -->
            <add origin="https://lab.example.com" allowCredentials="false">
                <allowHeaders allowAllRequestedHeaders="true" />
            </add>
            <add origin='https://FIN-A.example.com:8445' allowed="false" note="ticket 42">
                <allowMethods>
                    <add method="GET" />
                </allowMethods>
            </add>
        </cors>
        <httpErrors errorMode="DetailedLocalOnly" existingResponse="PassThrough" />
    </system.webServer>
</configuration>
"#;

#[test]
fn existing_section_is_merged() {
    let p = policy(&[FIN_A, FIN_B]);
    golden("existing_merge", EXISTING, &p);
    let out = patch(EXISTING.as_bytes(), &p).expect("patches");
    let text = String::from_utf8_lossy(&out.bytes);
    assert!(
        text.contains("note=\"ticket 42\""),
        "unmodelled attribute kept"
    );
    assert!(text.contains("<!-- lab gadget, keep -->"));
    let lab = read_cors(&out.bytes, None)
        .expect("reads")
        .expect("section");
    let lab = lab
        .origins
        .iter()
        .find(|r| r.origin == "https://lab.example.com")
        .expect("kept");
    assert!(lab.allow_all_requested_headers && !lab.allow_credentials);
    insta::assert_yaml_snapshot!("existing_merge_drift", out.drift);
}

#[test]
fn self_closing_cors() {
    let lf = "<configuration>\n    <system.webServer>\n        <cors enabled=\"false\"/>\n    </system.webServer>\n</configuration>\n";
    golden("cors_self_closing", lf, &policy(&[FIN_A]));
}

#[test]
fn commented_out_cors_is_left_and_a_real_one_added() {
    let lf = r#"<configuration>
    <system.webServer>
        <!--
        <cors enabled="true" failUnlistedOrigins="true">
            <add origin="https://old.example.com" />
        </cors>
        -->
        <directoryBrowse enabled="false" />
    </system.webServer>
</configuration>
"#;
    golden("commented_cors", lf, &policy(&[FIN_A]));
}

#[test]
fn default_namespace_on_configuration() {
    let lf = "<configuration xmlns=\"http://schemas.microsoft.com/.NetConfiguration/v2.0\">\n    <system.webServer>\n        <directoryBrowse enabled=\"false\" />\n    </system.webServer>\n</configuration>\n";
    golden("namespace", lf, &policy(&[FIN_A]));
}

#[test]
fn location_option_creates_location() {
    let mut p = policy(&[FIN_A]);
    p.location = Some("unifiedconfig".into());
    golden("location_created", &stock_lf(), &p);
    // The top-level section is not the scoped one.
    let out = patch(stock_lf().as_bytes(), &p).expect("patches");
    assert_eq!(read_cors(&out.bytes, None).expect("reads"), None);
}

#[test]
fn location_option_reuses_existing_location() {
    let lf = r#"<configuration>
    <system.webServer>
        <directoryBrowse enabled="false" />
    </system.webServer>
    <location path="unifiedconfig">
        <system.web>
            <authorization />
        </system.web>
    </location>
</configuration>
"#;
    let mut p = policy(&[FIN_A]);
    p.location = Some("/unifiedconfig/".into());
    golden("location_existing", lf, &p);
}

#[test]
fn one_line_file_without_declaration_or_final_newline() {
    let src = "<configuration><system.webServer><handlers/></system.webServer></configuration>";
    let out = check(src.as_bytes(), &policy(&[FIN_A]));
    insta::assert_snapshot!("one_line", visible(&out));
}

#[test]
fn cdata_pis_entities_and_quotes_survive() {
    let lf = "<?xml version='1.0'?>\n<?xml-stylesheet href='a.xsl'?>\n<!DOCTYPE configuration>\n<configuration>\n  <appSettings>\n    <add key='q' value='a &amp; b &#x41; &quot;x&quot;'/>\n    <script><![CDATA[ if (a < b) { } ]]></script>\n  </appSettings>\n  <system.webServer>\n    <!-- mentions <cors> -->\n  </system.webServer>\n</configuration>";
    golden("misc_nodes", lf, &policy(&[FIN_A]));
}

#[test]
fn max_age_removed_and_credentials_off() {
    let lf = "<configuration>\n  <system.webServer>\n    <cors enabled=\"true\" failUnlistedOrigins=\"true\">\n      <add origin=\"https://fin-a.example.com:8445\" allowCredentials=\"true\" maxAge=\"120\" />\n    </cors>\n  </system.webServer>\n</configuration>\n";
    let mut p = policy(&[FIN_A]);
    p.origins[0].max_age = None;
    p.origins[0].allow_credentials = false;
    p.origins[0].allow_all_requested_headers = false;
    p.origins[0].allow_headers = vec!["Authorization".into(), "Content-Type".into()];
    p.origins[0].expose_headers = vec!["Location".into()];
    golden("converge_attrs", lf, &p);
}

#[test]
fn duplicate_and_removed_rules_converge() {
    let lf = "<configuration>\n  <system.webServer>\n    <cors enabled=\"true\" failUnlistedOrigins=\"true\">\n      <add origin=\"https://fin-a.example.com:8445\" />\n      <add origin=\"https://FIN-A.example.com:8445\" />\n      <remove origin=\"https://fin-a.example.com:8445\" />\n    </cors>\n  </system.webServer>\n</configuration>\n";
    golden("duplicates", lf, &policy(&[FIN_A]));
}

fn error_line(src: &str) -> String {
    match patch(src.as_bytes(), &policy(&[FIN_A])) {
        Err(e) => e.to_string(),
        Ok(p) => panic!("expected an error, got {}", visible(&p.bytes)),
    }
}

#[test]
fn errors_name_line_and_column() {
    let cases = [
        (
            "mismatched",
            "<configuration>\n  <system.webServer>\n  </system.web>\n</configuration>",
        ),
        ("unclosed", "<configuration>\n  <system.webServer>\n"),
        ("not_configuration", "<?xml version=\"1.0\"?>\n<settings/>"),
        ("garbage", "\u{0}\u{1}PK\u{3}\u{4}"),
        ("unquoted", "<configuration>\n <a b=c/>\n</configuration>"),
        (
            "bad_cors_bool",
            "<configuration><system.webServer><cors enabled=\"yes\"/></system.webServer></configuration>",
        ),
    ];
    let mut report = String::new();
    for (name, src) in cases {
        let msg = if name == "bad_cors_bool" {
            read_cors(src.as_bytes(), None)
                .expect_err("invalid value")
                .to_string()
        } else {
            error_line(src)
        };
        report.push_str(&format!("{name}: {msg}\n"));
    }
    insta::assert_snapshot!("errors", report);
}

#[test]
fn policy_errors_are_reported_before_parsing() {
    let mut p = policy(&[FIN_A]);
    p.origins[0].origin = "https://fin-a.example.com:8445/desktop".into();
    let err = patch(b"not xml", &p).expect_err("invalid origin");
    assert!(matches!(err, PatchError::Policy(_)), "{err}");
}

#[test]
fn invalid_cors_value_is_overwritten_by_patch() {
    let src = "<configuration><system.webServer><cors enabled=\"yes\"/></system.webServer></configuration>";
    let out = check(src.as_bytes(), &policy(&[FIN_A]));
    assert!(String::from_utf8_lossy(&out).contains("enabled=\"true\""));
}

#[test]
fn unified_diff_is_empty_for_equal_input() {
    assert_eq!(unified_diff(b"a\n", b"a\n", "x"), "");
    assert!(unified_diff(b"a\n", b"b\n", "x").contains("-a\n+b\n"));
}

#[test]
fn unreadable_unmanaged_rule_is_left_alone() {
    let lf = "<configuration>\n  <system.webServer>\n    <cors enabled=\"true\">\n      <add origin=\"https://other.example.com\" allowed=\"maybe\" />\n      <add allowed=\"true\" />\n    </cors>\n  </system.webServer>\n</configuration>\n";
    let out = patch(lf.as_bytes(), &policy(&[FIN_A])).expect("patches around the bad rules");
    let text = String::from_utf8_lossy(&out.bytes);
    assert!(text.contains("<add origin=\"https://other.example.com\" allowed=\"maybe\" />"));
    assert!(text.contains("<add allowed=\"true\" />"));
    assert!(!patch(&out.bytes, &policy(&[FIN_A])).expect("again").changed);
    // `show` (strict) still reports the broken rule, as IIS would.
    assert!(matches!(
        read_cors(&out.bytes, None),
        Err(PatchError::InvalidValue { line: 4, .. })
    ));
}

#[test]
fn unusual_shapes_are_handled() {
    let p = policy(&[FIN_A]);
    // Root only, self-closing: one line stays one line.
    let out = check(b"<configuration/>", &p);
    assert!(out.starts_with(b"<configuration><system.webServer><cors "));
    // `<system.webServer />` with a space before `/>`.
    let out = check(
        b"<configuration>\n  <system.webServer />\n</configuration>\n",
        &p,
    );
    assert!(String::from_utf8_lossy(&out).contains("  <system.webServer>\n    <cors "));
    // Children of <configuration> not indented: siblings decide, the unit comes from deeper.
    let src = "<configuration>\n<appSettings>\n\t<add key=\"a\" value=\"b\"/>\n</appSettings>\n</configuration>\n";
    let out = check(src.as_bytes(), &p);
    assert!(String::from_utf8_lossy(&out).contains("\n<system.webServer>\n\t<cors "));
    // A self-closing <location> is opened.
    let mut scoped = p.clone();
    scoped.location = Some("unifiedconfig".into());
    let out = check(
        b"<configuration>\n  <location path=\"unifiedconfig\"/>\n</configuration>\n",
        &scoped,
    );
    assert!(
        String::from_utf8_lossy(&out)
            .contains("  <location path=\"unifiedconfig\">\n    <system.webServer>\n      <cors ")
    );
}

#[test]
fn escaped_origin_in_the_file_matches_without_a_rewrite() {
    let p = policy(&[FIN_A]);
    let first = check(STOCK.as_bytes(), &p);
    let escaped = String::from_utf8_lossy(&first).replace(
        "origin=\"https://fin-a.example.com:8445\"",
        "origin=\"https&#58;//fin-a.example.com:8445\"",
    );
    let again = patch(escaped.as_bytes(), &p).expect("patches");
    assert!(!again.changed, "{:?}", again.drift);
}
