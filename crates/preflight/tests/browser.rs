//! Browser agreement: headless Chromium is the referee between corsfleet's verifier and
//! ucce-sim. For a matrix of web.config variants × gadget requests, Chromium loads the sim's
//! Finesse gadget page (`/desktop/gadget.html`, origin `https://finesse-a.lab.local:<port>`),
//! which calls the Config API on `https://sim-1:<port>` with `fetch`; the test asserts that the
//! verifier's verdict equals the browser's and, when denied, that Chromium's console message
//! contains the verifier's first explanation.
//!
//! Needs Chromium (`/usr/bin/chromium`, or `$CORSFLEET_CHROMIUM`). Missing Chromium FAILS the
//! test unless `CORSFLEET_SKIP_BROWSER=1` is set explicitly. See tests/browser/README.md.

#[path = "common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use corsfleet_preflight::{Probe, Timeouts, Verifier};
use sha2::{Digest, Sha256};

use common::{API_HOST, FINESSE_HOST, Lab, cors_section};

const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(45);
/// Chromium is heavy; the CI box has two cores.
const PARALLEL_BROWSERS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// Cisco's stock web.config, module not installed.
    Stock,
    /// corsfleet's rollout: the Finesse origin, credentials, all methods, the gadget's headers.
    Rollout,
    /// As rollout but `allowMethods` only GET.
    GetOnly,
    /// Only another Finesse origin is listed (failUnlistedOrigins).
    OtherOrigin,
    /// `origin="*"` without credentials.
    Wildcard,
    /// The Finesse origin without `allowCredentials`.
    NoCredentials,
    /// `authorization` missing from allowHeaders.
    NoAuthHeader,
}

struct Case {
    variant: Variant,
    method: &'static str,
    credentials: &'static str,
    /// Sanity expectation, so a broken setup (page never loads) cannot pass as "all denied".
    expect_allowed: bool,
}

const CASES: &[Case] = &[
    Case {
        variant: Variant::Stock,
        method: "GET",
        credentials: "include",
        expect_allowed: false,
    },
    Case {
        variant: Variant::Rollout,
        method: "GET",
        credentials: "include",
        expect_allowed: true,
    },
    Case {
        variant: Variant::Rollout,
        method: "PUT",
        credentials: "include",
        expect_allowed: true,
    },
    Case {
        variant: Variant::GetOnly,
        method: "GET",
        credentials: "include",
        expect_allowed: true,
    },
    Case {
        variant: Variant::GetOnly,
        method: "PUT",
        credentials: "include",
        expect_allowed: false,
    },
    Case {
        variant: Variant::OtherOrigin,
        method: "GET",
        credentials: "include",
        expect_allowed: false,
    },
    Case {
        variant: Variant::Wildcard,
        method: "GET",
        credentials: "include",
        expect_allowed: false,
    },
    Case {
        variant: Variant::Wildcard,
        method: "PUT",
        credentials: "omit",
        expect_allowed: true,
    },
    Case {
        variant: Variant::NoCredentials,
        method: "GET",
        credentials: "include",
        expect_allowed: false,
    },
    Case {
        variant: Variant::NoCredentials,
        method: "GET",
        credentials: "omit",
        expect_allowed: true,
    },
    Case {
        variant: Variant::NoAuthHeader,
        method: "GET",
        credentials: "include",
        expect_allowed: false,
    },
];

const ALL_METHODS: &[&str] = &["GET", "PUT", "POST", "DELETE"];
const GADGET_HEADERS: &[&str] = &["authorization", "content-type"];

fn configure(lab: &Lab, variant: Variant) {
    let origin = lab.finesse_origin();
    let cors = match variant {
        Variant::Stock => return,
        Variant::Rollout => cors_section(&[&origin], true, ALL_METHODS, GADGET_HEADERS),
        Variant::GetOnly => cors_section(&[&origin], true, &["GET"], GADGET_HEADERS),
        Variant::OtherOrigin => cors_section(
            &["https://finesse-b.lab.local:8445"],
            true,
            ALL_METHODS,
            GADGET_HEADERS,
        ),
        Variant::Wildcard => cors_section(&["*"], false, ALL_METHODS, GADGET_HEADERS),
        Variant::NoCredentials => cors_section(&[&origin], false, ALL_METHODS, GADGET_HEADERS),
        Variant::NoAuthHeader => cors_section(&[&origin], true, ALL_METHODS, &["content-type"]),
    };
    lab.install_module();
    lab.set_cors(Some(&cors));
}

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CORSFLEET_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let default = PathBuf::from("/usr/bin/chromium");
    if default.exists() {
        return Some(default);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
            .find(|p| p.exists())
    })
}

/// Read one DER TLV at the start of `der`: (tag, header length, content length).
fn tlv(der: &[u8]) -> Option<(u8, usize, usize)> {
    let tag = *der.first()?;
    let first = *der.get(1)? as usize;
    if first < 0x80 {
        return Some((tag, 2, first));
    }
    let n = first & 0x7f;
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | *der.get(2 + i)? as usize;
    }
    Some((tag, 2 + n, len))
}

/// base64(SHA-256(SubjectPublicKeyInfo)) of a certificate: what
/// `--ignore-certificate-errors-spki-list` takes. Walks Certificate → tbsCertificate →
/// [version] serial sigAlg issuer validity subject **spki**.
fn spki_hash(cert_der: &[u8]) -> Option<String> {
    let (_, h, _) = tlv(cert_der)?;
    let tbs = &cert_der[h..];
    let (_, h, _) = tlv(tbs)?;
    let mut rest = &tbs[h..];
    if rest.first() == Some(&0xa0) {
        let (_, h, l) = tlv(rest)?;
        rest = &rest[h + l..];
    }
    for _ in 0..5 {
        let (_, h, l) = tlv(rest)?;
        rest = rest.get(h + l..)?;
    }
    let (_, h, l) = tlv(rest)?;
    let spki = rest.get(..h + l)?;
    Some(base64::engine::general_purpose::STANDARD.encode(Sha256::digest(spki)))
}

fn server_spki(lab: &Lab) -> String {
    let pem = std::fs::read(&lab.paths.server_cert).expect("sim server cert");
    let der = rustls_pemfile::certs(&mut pem.as_slice())
        .next()
        .expect("a certificate")
        .expect("pem");
    spki_hash(der.as_ref()).expect("parse certificate")
}

struct BrowserResult {
    /// The gadget's JSON result.
    result: serde_json::Value,
    /// Text after "has been blocked by CORS policy: " in Chromium's console, if any.
    console: Vec<String>,
}

fn unescape_html(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

async fn run_browser(chromium: &PathBuf, lab: &Lab, case: &Case) -> Result<BrowserResult, String> {
    let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
    let page = format!(
        "{}/desktop/gadget.html?api={}&method={}&credentials={}&resource=agent/5000",
        lab.finesse_origin(),
        lab.api_base(),
        case.method,
        case.credentials
    );
    let mut cmd = tokio::process::Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-extensions",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=15000",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg(format!(
        "--host-resolver-rules=MAP {FINESSE_HOST} 127.0.0.1,MAP {API_HOST} 127.0.0.1"
    ))
    // Trust exactly the sim's server key, not every certificate (see tests/browser/README.md).
    .arg(format!(
        "--ignore-certificate-errors-spki-list={}",
        server_spki(lab)
    ))
    .arg("--dump-dom")
    .arg(&page)
    .kill_on_drop(true);
    let out = tokio::time::timeout(CHROMIUM_TIMEOUT, cmd.output())
        .await
        .map_err(|_| format!("chromium timed out after {CHROMIUM_TIMEOUT:?} on {page}"))?
        .map_err(|e| format!("could not run {}: {e}", chromium.display()))?;
    let dom = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let start = dom.find("<pre id=\"result\">").ok_or_else(|| {
        format!(
            "gadget page did not load ({page}); chromium stderr tail:\n{}",
            tail(&stderr)
        )
    })? + "<pre id=\"result\">".len();
    let end = dom[start..].find("</pre>").ok_or("unterminated result")? + start;
    let text = unescape_html(&dom[start..end]);
    let result: serde_json::Value = serde_json::from_str(&text)
        .map_err(|_| format!("gadget did not finish ({page}): result '{text}'"))?;
    let marker = "has been blocked by CORS policy: ";
    let console = stderr
        .lines()
        .filter_map(|l| l.find(marker).map(|i| &l[i + marker.len()..]))
        .map(|m| m.split("\", source:").next().unwrap_or(m).to_owned())
        .collect();
    Ok(BrowserResult { result, console })
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// What the gadget sends: a GET with Basic auth (and Accept: application/xml), then for PUT
/// a PUT with an XML body. Both must pass for the gadget to succeed.
fn gadget_probes(lab: &Lab, case: &Case) -> Vec<Probe> {
    let base = Probe {
        url: lab.api_url_by_ip("agent/5000"),
        origin: lab.finesse_origin(),
        method: "GET".to_owned(),
        headers: vec!["Authorization".into(), "Accept: application/xml".into()],
        credentials: case.credentials == "include",
    };
    let mut probes = vec![base.clone()];
    if case.method == "PUT" {
        let mut put = base;
        put.method = "PUT".into();
        put.headers.push("Content-Type: application/xml".into());
        probes.push(put);
    }
    probes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifier_agrees_with_headless_chromium() {
    let Some(chromium) = chromium() else {
        if std::env::var("CORSFLEET_SKIP_BROWSER").as_deref() == Ok("1") {
            eprintln!("SKIPPED: chromium not found and CORSFLEET_SKIP_BROWSER=1");
            return;
        }
        panic!(
            "chromium not found (/usr/bin/chromium, PATH, $CORSFLEET_CHROMIUM); install it \
             (apt-get install chromium) or set CORSFLEET_SKIP_BROWSER=1 to skip explicitly"
        );
    };
    let started = Instant::now();
    let chromium = Arc::new(chromium);
    let gate = Arc::new(tokio::sync::Semaphore::new(PARALLEL_BROWSERS));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, case) in CASES.iter().enumerate() {
        // One lab per case: the browser's preflight cache and the sim's config stay apart.
        let lab = Lab::start(true).await;
        configure(&lab, case.variant);
        let chromium = Arc::clone(&chromium);
        let gate = Arc::clone(&gate);
        tasks.spawn(async move {
            let case = &CASES[i];
            let verifier = Verifier::new(&lab.tls(), Timeouts::default()).expect("verifier");
            let mut verdicts = Vec::new();
            for probe in gadget_probes(&lab, case) {
                verdicts.push(verifier.check(&probe).await.expect("sim reachable"));
            }
            let browser = {
                let _permit = gate.acquire().await.expect("semaphore");
                run_browser(&chromium, &lab, case).await
            };
            drop(lab);
            (i, verdicts, browser)
        });
    }

    let mut problems = Vec::new();
    let mut lines = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (i, verdicts, browser) = joined.expect("case task");
        let case = &CASES[i];
        let label = format!(
            "{:?} {} credentials={}",
            case.variant, case.method, case.credentials
        );
        let browser = match browser {
            Ok(b) => b,
            Err(e) => {
                problems.push(format!("{label}: {e}"));
                continue;
            }
        };
        let verifier_allowed = verdicts.iter().all(|v| v.allowed);
        let first_failure = verdicts.iter().flat_map(|v| v.failures.first()).next();
        let r = &browser.result;
        let browser_allowed = r.get("error").is_none() && r.get("status").is_some();
        if browser_allowed && r.get("step").and_then(|s| s.as_str()) != Some(case.method) {
            problems.push(format!(
                "{label}: inconclusive, the gadget stopped early: {r}"
            ));
            continue;
        }
        lines.push(format!(
            "{label}: browser {} verifier {} {}",
            if browser_allowed { "allowed" } else { "denied" },
            if verifier_allowed {
                "allowed"
            } else {
                "denied"
            },
            first_failure.map(|f| f.message.as_str()).unwrap_or("")
        ));
        if browser_allowed != verifier_allowed {
            problems.push(format!(
                "{label}: browser {browser_allowed}, verifier {verifier_allowed}; browser {r}, console {:?}; verifier {:?}",
                browser.console,
                verdicts.iter().map(|v| &v.failures).collect::<Vec<_>>()
            ));
        } else if browser_allowed != case.expect_allowed {
            problems.push(format!(
                "{label}: both say allowed={browser_allowed}, the matrix expects {}",
                case.expect_allowed
            ));
        } else if let Some(f) =
            first_failure.filter(|f| !browser.console.iter().any(|c| c.contains(&f.message)))
        {
            problems.push(format!(
                "{label}: same verdict, other reason: chromium {:?}, verifier '{}'",
                browser.console, f.message
            ));
        }
    }
    lines.sort();
    eprintln!(
        "browser agreement ({} cases, {:.1?}):\n  {}",
        CASES.len(),
        started.elapsed(),
        lines.join("\n  ")
    );
    assert!(
        problems.is_empty(),
        "disagreements:\n{}",
        problems.join("\n")
    );
}
