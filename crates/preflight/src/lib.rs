//! `corsfleet-preflight`: judge a cross-origin request the way a browser does.
//!
//! A `204` to an `OPTIONS` request proves little: a browser also checks the echoed origin,
//! credentials, methods and headers, and then the actual response. [`Verifier::check`] works
//! out whether a browser would send a preflight (Fetch standard: non-safelisted method or
//! request header), sends it the way Chromium does, applies the Fetch standard's CORS check
//! and preflight rules ([`fetch`]), then sends the actual request and checks its
//! `Access-Control-Allow-Origin`. The [`Verdict`] lists every failed rule in Chromium's console
//! wording, plus the raw exchanges for reports.
//!
//! **The actual request is sent as `GET` when the probed method is not safe** (anything but
//! `GET`/`HEAD`), so a check never changes data on a production server. IIS's CORS module adds
//! the same `Access-Control-Allow-Origin` to every method, so the `GET` answer stands for the
//! real one; a server that varies CORS headers by method would need a real request.
//!
//! This crate is written from the Fetch standard, independently of `ucce-sim`; see
//! docs/preflight.md.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod error;
pub mod fetch;
mod model;
mod tls;

use std::time::Duration;

use reqwest::Url;

pub use error::{PreflightError, TransportKind};
pub use model::{Exchange, Expectation, Failure, Probe, Rule, Verdict};
pub use tls::{TlsOptions, cert_sha256_hex, parse_pin};

/// Connect and read timeouts; both always apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Timeouts {
    pub connect: Duration,
    pub read: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            read: Duration::from_secs(10),
        }
    }
}

/// An HTTP client configured for CORS checks (no redirects, no proxy unless asked, no cookies).
#[derive(Debug, Clone)]
pub struct Verifier {
    client: reqwest::Client,
}

impl Verifier {
    /// A verifier with the given TLS trust and timeouts, and proxies off.
    pub fn new(tls: &TlsOptions, timeouts: Timeouts) -> Result<Verifier, PreflightError> {
        Self::with_proxy(tls, timeouts, None)
    }

    /// Like [`Verifier::new`], sending every request through `proxy` (an http(s) proxy URL)
    /// when given. Environment proxy variables are never read.
    pub fn with_proxy(
        tls: &TlsOptions,
        timeouts: Timeouts,
        proxy: Option<&str>,
    ) -> Result<Verifier, PreflightError> {
        let config = tls::client_config(tls)?;
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls(config)
            .no_proxy()
            .connect_timeout(timeouts.connect)
            .read_timeout(timeouts.read)
            // A whole exchange is one connect plus a small response; the bound stops a server
            // that trickles bytes just under the read timeout.
            .timeout(timeouts.connect + timeouts.read * 2)
            // Browsers never follow a redirect for a preflight; for the actual request a
            // redirect's own CORS headers are judged, which is what the page sees first.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("corsfleet-preflight/", env!("CARGO_PKG_VERSION")));
        if let Some(p) = proxy {
            let proxy = reqwest::Proxy::all(p).map_err(|e| PreflightError::InvalidProxy {
                proxy: p.to_owned(),
                reason: e.to_string(),
            })?;
            builder = builder.proxy(proxy);
        }
        let client = builder
            .build()
            .map_err(|e| PreflightError::Client(error_chain(&e)))?;
        Ok(Verifier { client })
    }

    /// Judge one probe. `Err` only when the probe is malformed or the server could not be
    /// reached; every CORS problem is a denied [`Verdict`].
    pub async fn check(&self, probe: &Probe) -> Result<Verdict, PreflightError> {
        let url = parse_url(&probe.url)?;
        let origin = serialize_origin(&probe.origin)?;
        let req = fetch::prepare(&probe.method, &probe.headers)?;
        let mut notes = Vec::new();
        if origin != probe.origin {
            notes.push(format!(
                "origin '{}' is sent as '{origin}', as a browser serialises it",
                probe.origin
            ));
        }
        for name in &req.forbidden_headers {
            notes.push(format!(
                "request header {name} is set by the browser, not by script; ignored"
            ));
        }

        let mut verdict = Verdict {
            allowed: false,
            preflight_sent: req.needs_preflight,
            failures: Vec::new(),
            preflight: None,
            actual: None,
            max_age: None,
            notes,
        };

        if req.needs_preflight {
            let mut sent = vec![
                ("origin".to_owned(), origin.clone()),
                (
                    "access-control-request-method".to_owned(),
                    req.method.clone(),
                ),
            ];
            if let Some(v) = req.request_headers_value() {
                sent.push(("access-control-request-headers".to_owned(), v));
            }
            sent.push(("accept".to_owned(), "*/*".to_owned()));
            sent.push(("sec-fetch-mode".to_owned(), "cors".to_owned()));
            let exchange = self
                .send("preflight", reqwest::Method::OPTIONS, &url, sent)
                .await?;
            let judged = fetch::judge_preflight(
                &req,
                exchange.status,
                &exchange.headers,
                &origin,
                probe.credentials,
            );
            verdict.failures = judged.failures;
            verdict.max_age = judged.max_age;
            verdict.notes.extend(judged.notes);
            verdict.preflight = Some(exchange);
            if !verdict.failures.is_empty() {
                return Ok(verdict);
            }
        }

        let actual_method = if matches!(req.method.as_str(), "GET" | "HEAD") {
            req.method.clone()
        } else {
            verdict.notes.push(format!(
                "the actual request was sent as GET instead of {} so that nothing changes on the server",
                req.method
            ));
            "GET".to_owned()
        };
        let method = reqwest::Method::from_bytes(actual_method.as_bytes()).map_err(|e| {
            PreflightError::InvalidMethod {
                method: actual_method.clone(),
                reason: e.to_string(),
            }
        })?;
        let sent = vec![
            ("origin".to_owned(), origin.clone()),
            ("accept".to_owned(), "*/*".to_owned()),
            ("sec-fetch-mode".to_owned(), "cors".to_owned()),
        ];
        let exchange = self.send("actual", method, &url, sent).await?;
        verdict.failures.extend(fetch::cors_check(
            fetch::Stage::Actual,
            &exchange.headers,
            &origin,
            probe.credentials,
        ));
        verdict.actual = Some(exchange);
        verdict.allowed = verdict.failures.is_empty();
        Ok(verdict)
    }

    async fn send(
        &self,
        stage: &'static str,
        method: reqwest::Method,
        url: &Url,
        request_headers: Vec<(String, String)>,
    ) -> Result<Exchange, PreflightError> {
        let mut rb = self.client.request(method.clone(), url.clone());
        for (n, v) in &request_headers {
            rb = rb.header(n.as_str(), v.as_str());
        }
        tracing::debug!(%url, %method, stage, "sending");
        let resp = rb
            .send()
            .await
            .map_err(|e| PreflightError::transport(stage, url.as_str(), &e))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        // The body is irrelevant to CORS; dropping the response discards it.
        drop(resp);
        Ok(Exchange {
            method: method.to_string(),
            url: url.to_string(),
            request_headers,
            status,
            headers,
        })
    }
}

fn parse_url(raw: &str) -> Result<Url, PreflightError> {
    let url = Url::parse(raw).map_err(|e| PreflightError::InvalidUrl {
        url: raw.to_owned(),
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(PreflightError::InvalidUrl {
            url: raw.to_owned(),
            reason: "expected an http:// or https:// url with a host".to_owned(),
        });
    }
    Ok(url)
}

/// The ASCII serialisation a browser puts in `Origin` (lower-case host, default port dropped).
/// A path, query or fragment is refused rather than silently dropped: it is a typo.
pub fn serialize_origin(raw: &str) -> Result<String, PreflightError> {
    let err = |reason: &str| PreflightError::InvalidOrigin {
        origin: raw.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(raw).map_err(|e| err(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(err("expected scheme://host[:port]"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(err("an origin has no path, query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(err("an origin has no user information"));
    }
    Ok(url.origin().ascii_serialization())
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_serialise_like_browsers() {
        let ok = |s: &str| serialize_origin(s).expect("valid origin");
        assert_eq!(
            ok("https://Finesse-A.lab.local:8445"),
            "https://finesse-a.lab.local:8445"
        );
        assert_eq!(
            ok("https://finesse-a.lab.local:443"),
            "https://finesse-a.lab.local"
        );
        assert_eq!(
            ok("https://finesse-a.lab.local/"),
            "https://finesse-a.lab.local"
        );
        assert!(serialize_origin("https://h/desktop").is_err());
        assert!(serialize_origin("https://h?x").is_err());
        assert!(serialize_origin("finesse-a").is_err());
        assert!(serialize_origin("ftp://h").is_err());
    }

    #[test]
    fn urls_must_be_http() {
        assert!(parse_url("https://sim-1/unifiedconfig/config/agent").is_ok());
        assert!(parse_url("file:///etc/passwd").is_err());
        assert!(parse_url("not a url").is_err());
    }
}
