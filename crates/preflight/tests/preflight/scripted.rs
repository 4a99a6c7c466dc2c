//! Against a local axum HTTPS server that answers with headers the test scripts, and records
//! what it received, so both the verdict and what went on the wire are checked.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use corsfleet_preflight::{
    Expectation, PreflightError, Probe, Rule, Timeouts, TlsOptions, TransportKind, Verdict,
    Verifier, cert_sha256_hex,
};

const ORIGIN: &str = "https://finesse-a.lab.local:8445";

#[derive(Debug, Clone, Default)]
struct Script {
    preflight_status: u16,
    preflight: Vec<(&'static str, String)>,
    actual: Vec<(&'static str, String)>,
}

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    headers: Vec<(String, String)>,
}

#[derive(Debug, Default)]
struct Shared {
    script: Script,
    seen: Vec<Seen>,
}

struct TestServer {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    ca_pem_file: tempfile::NamedTempFile,
    leaf_sha256: String,
    handle: axum_server::Handle,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

impl TestServer {
    fn url(&self) -> String {
        format!(
            "https://localhost:{}/unifiedconfig/config/agent",
            self.addr.port()
        )
    }

    fn seen(&self) -> Vec<Seen> {
        self.shared.lock().expect("lock").seen.clone()
    }

    fn tls(&self) -> TlsOptions {
        TlsOptions {
            ca_file: Some(self.ca_pem_file.path().to_owned()),
            ..Default::default()
        }
    }

    async fn check(&self, method: &str, headers: &[&str], credentials: bool) -> Verdict {
        let verifier = Verifier::new(&self.tls(), Timeouts::default()).expect("verifier");
        verifier
            .check(&probe(&self.url(), method, headers, credentials))
            .await
            .expect("check")
    }
}

fn probe(url: &str, method: &str, headers: &[&str], credentials: bool) -> Probe {
    Probe {
        url: url.to_owned(),
        origin: ORIGIN.to_owned(),
        method: method.to_owned(),
        headers: headers.iter().map(|h| (*h).to_owned()).collect(),
        credentials,
    }
}

async fn handler(State(shared): State<Arc<Mutex<Shared>>>, req: Request) -> Response {
    let mut shared = shared.lock().expect("lock");
    shared.seen.push(Seen {
        method: req.method().to_string(),
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
    });
    let (status, headers) = if req.method() == Method::OPTIONS {
        (
            shared.script.preflight_status,
            shared.script.preflight.clone(),
        )
    } else {
        (200, shared.script.actual.clone())
    };
    let mut resp = StatusCode::from_u16(status)
        .unwrap_or(StatusCode::OK)
        .into_response();
    for (n, v) in headers {
        resp.headers_mut().append(
            HeaderName::from_static(n),
            HeaderValue::from_str(&v).expect("scripted header value"),
        );
    }
    resp
}

async fn serve(script: Script) -> TestServer {
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "corsfleet test ca");
    let ca = ca_params.self_signed(&ca_key).expect("ca cert");
    let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .expect("leaf params")
        .signed_by(&leaf_key, &ca, &ca_key)
        .expect("leaf cert");

    let mut ca_pem_file = tempfile::NamedTempFile::new().expect("tempfile");
    std::io::Write::write_all(&mut ca_pem_file, ca.pem().as_bytes()).expect("write ca");

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key =
        rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).expect("key der");
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .expect("server config");
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let tls = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config));

    let shared = Arc::new(Mutex::new(Shared {
        script,
        seen: Vec::new(),
    }));
    let app = Router::new().fallback(handler).with_state(shared.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener, tls).handle(handle.clone());
    tokio::spawn(async move { server.serve(app.into_make_service()).await });
    TestServer {
        addr,
        shared,
        ca_pem_file,
        leaf_sha256: cert_sha256_hex(leaf.der()),
        handle,
    }
}

fn acao(v: &str) -> (&'static str, String) {
    ("access-control-allow-origin", v.to_owned())
}

fn hdr(n: &'static str, v: &str) -> (&'static str, String) {
    (n, v.to_owned())
}

/// A script an IIS CORS module with a good rule would produce.
fn good(methods: &str, headers: &str) -> Script {
    Script {
        preflight_status: 204,
        preflight: vec![
            acao(ORIGIN),
            hdr("access-control-allow-methods", methods),
            hdr("access-control-allow-headers", headers),
            hdr("access-control-max-age", "600"),
        ],
        actual: vec![acao(ORIGIN), hdr("vary", "Origin")],
    }
}

fn rules(v: &Verdict) -> Vec<Rule> {
    v.failures.iter().map(|f| f.rule).collect()
}

fn header<'a>(seen: &'a Seen, name: &str) -> Option<&'a str> {
    seen.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn simple_get_sends_no_preflight_and_passes_with_echoed_origin() {
    let srv = serve(good("GET", "x")).await;
    let v = srv.check("GET", &["Accept"], false).await;
    assert!(v.allowed, "{v:?}");
    assert!(!v.preflight_sent && v.preflight.is_none());
    assert!(v.meets(Expectation::Allowed) && !v.meets(Expectation::Denied));
    let seen = srv.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(header(&seen[0], "origin"), Some(ORIGIN));
}

#[tokio::test]
async fn simple_get_without_allow_origin_is_denied_with_chromium_wording() {
    let srv = serve(Script {
        preflight_status: 204,
        ..Default::default()
    })
    .await;
    let v = srv.check("GET", &[], false).await;
    assert!(!v.allowed);
    assert_eq!(rules(&v), [Rule::ActualAllowOriginMissing]);
    assert_eq!(
        v.failures[0].message,
        "No 'Access-Control-Allow-Origin' header is present on the requested resource."
    );
    assert_eq!(v.actual.as_ref().map(|a| a.status), Some(200));
}

#[tokio::test]
async fn put_preflight_is_sent_like_chromium_and_actual_request_is_a_get() {
    let srv = serve(good(
        "GET, PUT, POST, DELETE",
        "Content-Type, X-Requested-With",
    ))
    .await;
    let v = srv
        .check(
            "put",
            &["X-Requested-With", "Content-Type: application/xml"],
            false,
        )
        .await;
    assert!(v.allowed, "{v:?}");
    assert!(v.preflight_sent);
    assert_eq!(v.max_age, Some(600));
    let seen = srv.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].method, "OPTIONS");
    assert_eq!(header(&seen[0], "origin"), Some(ORIGIN));
    assert_eq!(
        header(&seen[0], "access-control-request-method"),
        Some("PUT")
    );
    assert_eq!(
        header(&seen[0], "access-control-request-headers"),
        Some("content-type,x-requested-with")
    );
    assert_eq!(
        seen[1].method, "GET",
        "the actual request must not change data"
    );
    assert_eq!(header(&seen[1], "origin"), Some(ORIGIN));
    assert_eq!(v.actual.as_ref().map(|a| a.method.as_str()), Some("GET"));
}

#[tokio::test]
async fn preflight_with_non_ok_status_is_denied_and_no_actual_request_follows() {
    let mut script = good("PUT", "x");
    script.preflight_status = 403;
    let srv = serve(script).await;
    let v = srv.check("PUT", &[], false).await;
    assert_eq!(rules(&v), [Rule::PreflightStatus]);
    assert!(v.actual.is_none());
    assert_eq!(srv.seen().len(), 1);
    assert_eq!(v.preflight.as_ref().map(|p| p.status), Some(403));
}

#[tokio::test]
async fn preflight_redirect_is_denied() {
    let mut script = good("PUT", "x");
    script.preflight_status = 301;
    script.preflight.push(hdr("location", "https://elsewhere/"));
    let v = serve(script).await.check("PUT", &[], false).await;
    assert_eq!(rules(&v), [Rule::PreflightRedirect]);
}

#[tokio::test]
async fn preflight_without_allow_origin_is_denied() {
    let mut script = good("PUT", "x");
    script
        .preflight
        .retain(|(n, _)| *n != "access-control-allow-origin");
    let v = serve(script).await.check("PUT", &[], false).await;
    assert_eq!(rules(&v), [Rule::AllowOriginMissing]);
    assert!(
        v.failures[0]
            .message
            .starts_with("Response to preflight request doesn't pass")
    );
}

#[tokio::test]
async fn allow_origin_must_equal_the_origin() {
    let mut script = good("PUT", "x");
    script.preflight[0] = acao("https://finesse-b.lab.local:8445");
    let v = serve(script).await.check("PUT", &[], false).await;
    assert_eq!(rules(&v), [Rule::AllowOriginMismatch]);
    assert!(
        v.failures[0]
            .message
            .contains("'https://finesse-b.lab.local:8445'")
    );

    let mut script = good("PUT", "x");
    script.preflight.push(acao(ORIGIN));
    let v = serve(script).await.check("PUT", &[], false).await;
    assert_eq!(rules(&v), [Rule::AllowOriginMultiple]);
}

#[tokio::test]
async fn wildcard_origin_passes_without_credentials_only() {
    let script = Script {
        preflight_status: 204,
        preflight: vec![acao("*"), hdr("access-control-allow-methods", "PUT")],
        actual: vec![acao("*")],
    };
    let srv = serve(script).await;
    assert!(srv.check("PUT", &[], false).await.allowed);
    let v = srv.check("PUT", &[], true).await;
    assert_eq!(
        rules(&v),
        [
            Rule::AllowOriginWildcardWithCredentials,
            Rule::AllowCredentialsMissing
        ]
    );
}

#[tokio::test]
async fn credentials_need_allow_credentials_true_on_both_responses() {
    let mut script = good("PUT", "authorization");
    let srv = serve(script.clone()).await;
    let v = srv.check("PUT", &["Authorization"], true).await;
    assert_eq!(rules(&v), [Rule::AllowCredentialsMissing]);
    assert!(v.failures[0].message.contains("is '' which must be 'true'"));

    script
        .preflight
        .push(hdr("access-control-allow-credentials", "true"));
    let srv = serve(script.clone()).await;
    let v = srv.check("PUT", &["Authorization"], true).await;
    assert_eq!(rules(&v), [Rule::ActualAllowCredentialsMissing]);

    script
        .actual
        .push(hdr("access-control-allow-credentials", "true"));
    let v = serve(script)
        .await
        .check("PUT", &["Authorization"], true)
        .await;
    assert!(v.allowed, "{v:?}");
}

#[tokio::test]
async fn method_must_be_listed_or_wildcard_without_credentials() {
    let v = serve(good("GET, POST", "x"))
        .await
        .check("PUT", &[], false)
        .await;
    assert_eq!(rules(&v), [Rule::MethodNotAllowed]);
    assert_eq!(
        v.failures[0].message,
        "Method PUT is not allowed by Access-Control-Allow-Methods in preflight response."
    );
    assert!(
        serve(good("*", "x"))
            .await
            .check("DELETE", &[], false)
            .await
            .allowed
    );

    let mut script = good("*", "x");
    script
        .preflight
        .push(hdr("access-control-allow-credentials", "true"));
    script
        .actual
        .push(hdr("access-control-allow-credentials", "true"));
    let v = serve(script).await.check("DELETE", &[], true).await;
    assert_eq!(rules(&v), [Rule::MethodNotAllowed]);
}

#[tokio::test]
async fn headers_must_be_listed_case_insensitively() {
    let srv = serve(good("GET", "X-REQUESTED-WITH")).await;
    assert!(srv.check("GET", &["x-requested-with"], false).await.allowed);
    let v = srv
        .check("GET", &["x-requested-with", "X-Custom"], false)
        .await;
    assert_eq!(rules(&v), [Rule::HeaderNotAllowed]);
    assert!(
        v.failures[0]
            .message
            .contains("Request header field x-custom is not allowed")
    );
}

#[tokio::test]
async fn wildcard_headers_never_cover_authorization() {
    let srv = serve(good("GET", "*")).await;
    assert!(srv.check("GET", &["X-Custom"], false).await.allowed);
    let v = srv.check("GET", &["Authorization"], false).await;
    assert_eq!(rules(&v), [Rule::HeaderNotAllowed]);
    assert!(
        v.failures[0]
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("authorization"))
    );
}

#[tokio::test]
async fn good_preflight_but_actual_response_without_allow_origin_is_denied() {
    let mut script = good("PUT", "x");
    script.actual = vec![acao("https://other.example")];
    let v = serve(script).await.check("PUT", &[], false).await;
    assert_eq!(rules(&v), [Rule::ActualAllowOriginMismatch]);
    assert!(v.preflight.is_some() && v.actual.is_some());
}

#[tokio::test]
async fn verdict_serialises_for_reports() {
    let v = serve(good("GET", "x")).await.check("PUT", &[], false).await;
    let json = serde_json::to_value(&v).expect("json");
    assert_eq!(json["allowed"], false);
    assert_eq!(json["failures"][0]["rule"], "method_not_allowed");
    assert_eq!(json["preflight"]["status"], 204);
}

mod tls {
    use super::*;

    async fn try_check(url: &str, tls: TlsOptions) -> Result<Verdict, PreflightError> {
        let verifier = Verifier::new(&tls, Timeouts::default())?;
        verifier.check(&probe(url, "GET", &[], false)).await
    }

    fn tls_kind(r: &Result<Verdict, PreflightError>) -> Option<TransportKind> {
        match r {
            Err(PreflightError::Transport { kind, .. }) => Some(*kind),
            _ => None,
        }
    }

    #[tokio::test]
    async fn ca_file_verifies_by_name_and_server_name_covers_ip_urls() {
        let srv = serve(good("GET", "x")).await;
        assert!(
            try_check(&srv.url(), srv.tls())
                .await
                .is_ok_and(|v| v.allowed)
        );

        let by_ip = format!("https://127.0.0.1:{}/", srv.addr.port());
        let r = try_check(&by_ip, srv.tls()).await;
        assert_eq!(tls_kind(&r), Some(TransportKind::Tls), "{r:?}");

        let named = TlsOptions {
            server_name: Some("localhost".into()),
            ..srv.tls()
        };
        assert!(try_check(&by_ip, named).await.is_ok());
        let wrong = TlsOptions {
            server_name: Some("sim-2.lab.local".into()),
            ..srv.tls()
        };
        assert_eq!(
            tls_kind(&try_check(&by_ip, wrong).await),
            Some(TransportKind::Tls)
        );
    }

    #[tokio::test]
    async fn untrusted_certificate_is_a_tls_error_with_a_clear_message() {
        let srv = serve(good("GET", "x")).await;
        let other_ca = serve(good("GET", "x")).await;
        let r = try_check(&srv.url(), other_ca.tls()).await;
        assert_eq!(tls_kind(&r), Some(TransportKind::Tls));
        let msg = r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.contains("certificate") && msg.contains(&srv.url()),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn pin_replaces_the_chain_and_a_wrong_pin_fails() {
        let srv = serve(good("GET", "x")).await;
        let by_ip = format!("https://127.0.0.1:{}/", srv.addr.port());
        let pinned = TlsOptions {
            pin_sha256: Some(srv.leaf_sha256.clone()),
            ..Default::default()
        };
        assert!(try_check(&by_ip, pinned).await.is_ok());
        let wrong = TlsOptions {
            pin_sha256: Some("00".repeat(32)),
            ..Default::default()
        };
        let r = try_check(&by_ip, wrong).await;
        assert_eq!(tls_kind(&r), Some(TransportKind::Tls));
        assert!(
            r.err()
                .is_some_and(|e| e.to_string().contains("does not match the pinned"))
        );
        // With a CA file, the pin is checked in addition to the chain and name.
        let both = TlsOptions {
            pin_sha256: Some(srv.leaf_sha256.clone()),
            ..srv.tls()
        };
        assert_eq!(
            tls_kind(&try_check(&by_ip, both.clone()).await),
            Some(TransportKind::Tls)
        );
        assert!(try_check(&srv.url(), both).await.is_ok());
    }

    #[tokio::test]
    async fn insecure_accepts_anything() {
        let srv = serve(good("GET", "x")).await;
        let by_ip = format!("https://127.0.0.1:{}/", srv.addr.port());
        let insecure = TlsOptions {
            insecure: true,
            ..Default::default()
        };
        assert!(try_check(&by_ip, insecure).await.is_ok_and(|v| v.allowed));
    }
}

mod transport {
    use super::*;

    #[tokio::test]
    async fn refused_connection_is_a_connect_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let v = Verifier::new(
            &TlsOptions {
                insecure: true,
                ..Default::default()
            },
            Timeouts::default(),
        )
        .expect("verifier");
        let r = v
            .check(&probe(
                &format!("https://127.0.0.1:{port}/"),
                "GET",
                &[],
                false,
            ))
            .await;
        assert!(
            matches!(
                r,
                Err(PreflightError::Transport {
                    kind: TransportKind::Connect,
                    stage: "actual",
                    ..
                })
            ),
            "{r:?}"
        );
    }

    #[tokio::test]
    async fn silent_server_hits_the_read_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        let timeouts = Timeouts {
            connect: Duration::from_secs(2),
            read: Duration::from_millis(300),
        };
        let v = Verifier::new(
            &TlsOptions {
                insecure: true,
                ..Default::default()
            },
            timeouts,
        )
        .expect("verifier");
        let started = std::time::Instant::now();
        let r = v
            .check(&probe(
                &format!("http://127.0.0.1:{port}/"),
                "PUT",
                &[],
                false,
            ))
            .await;
        assert!(
            matches!(
                r,
                Err(PreflightError::Transport {
                    kind: TransportKind::Timeout,
                    stage: "preflight",
                    ..
                })
            ),
            "{r:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn malformed_probes_are_errors_not_verdicts() {
        let v = Verifier::new(
            &TlsOptions {
                insecure: true,
                ..Default::default()
            },
            Timeouts::default(),
        )
        .expect("verifier");
        let bad_origin = Probe {
            origin: "finesse-a".into(),
            ..probe("https://127.0.0.1:1/", "GET", &[], false)
        };
        assert!(matches!(
            v.check(&bad_origin).await,
            Err(PreflightError::InvalidOrigin { .. })
        ));
        let bad_url = probe("ftp://h/", "GET", &[], false);
        assert!(matches!(
            v.check(&bad_url).await,
            Err(PreflightError::InvalidUrl { .. })
        ));
    }
}
