//! The data a check consumes and produces. Everything here is `serde::Serialize` because the
//! run report and `corsfleet preflight --output json` show it as is.

use std::str::FromStr;

use serde::Serialize;

/// One cross-origin request a gadget makes, described the way a browser sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe {
    /// Absolute http(s) URL of the API resource.
    pub url: String,
    /// The page's origin, e.g. `https://finesse-a.lab.local:8445`. It is serialised as a
    /// browser would (lower-case host, default port dropped) before it is sent.
    pub origin: String,
    /// The request method the gadget uses (normalised as Fetch does: `put` becomes `PUT`).
    pub method: String,
    /// Request headers the gadget sets: `name`, or `name: value` when the value decides
    /// whether the header is CORS-safelisted (`Content-Type: text/plain` is, `application/xml`
    /// is not). A bare `content-type` or `range` counts as non-safelisted.
    pub headers: Vec<String>,
    /// `credentials: "include"` / `withCredentials = true`.
    pub credentials: bool,
}

/// The judgement of one probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// True when a browser would hand the response to the page's script.
    pub allowed: bool,
    /// Whether a browser sends a preflight for this probe (and so did we).
    pub preflight_sent: bool,
    /// Every rule that failed, in the order Chromium checks them: the first one is the message
    /// Chromium's console would show; later ones are what you would hit after fixing it.
    pub failures: Vec<Failure>,
    /// The OPTIONS exchange, when one was sent.
    pub preflight: Option<Exchange>,
    /// The actual request's exchange; absent when the preflight failed (a browser stops there).
    pub actual: Option<Exchange>,
    /// `Access-Control-Max-Age` of the preflight response, when present and a valid number.
    pub max_age: Option<u64>,
    /// Remarks that are not failures (ignored headers, substituted methods, odd max-age).
    pub notes: Vec<String>,
}

impl Verdict {
    /// Whether this verdict is what the caller expected.
    pub fn meets(&self, expectation: Expectation) -> bool {
        match expectation {
            Expectation::Allowed => self.allowed,
            Expectation::Denied => !self.allowed,
        }
    }
}

/// A rule that failed, and the explanation in Chromium's console wording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub rule: Rule,
    /// The text Chromium prints after "has been blocked by CORS policy: ".
    pub message: String,
    /// An extra hint Chromium does not give (e.g. why `*` did not count).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// The Fetch-standard rules a response can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The preflight response status is not 200–299.
    PreflightStatus,
    /// The preflight was answered with a redirect, which browsers never follow.
    PreflightRedirect,
    /// Preflight: no `Access-Control-Allow-Origin`.
    AllowOriginMissing,
    /// Preflight: `Access-Control-Allow-Origin` holds more than one value.
    AllowOriginMultiple,
    /// Preflight: `Access-Control-Allow-Origin` differs from the origin.
    AllowOriginMismatch,
    /// Preflight: `Access-Control-Allow-Origin: *` with credentials.
    AllowOriginWildcardWithCredentials,
    /// Preflight: credentials requested but `Access-Control-Allow-Credentials` is not `true`.
    AllowCredentialsMissing,
    /// `Access-Control-Allow-Methods` does not parse as a list of tokens.
    AllowMethodsInvalid,
    /// `Access-Control-Allow-Headers` does not parse as a list of tokens.
    AllowHeadersInvalid,
    /// The method is neither safelisted nor listed (or only by `*` with credentials).
    MethodNotAllowed,
    /// A non-safelisted request header is not listed (or only by `*` where it does not count).
    HeaderNotAllowed,
    /// Actual response: no `Access-Control-Allow-Origin`.
    ActualAllowOriginMissing,
    /// Actual response: `Access-Control-Allow-Origin` holds more than one value.
    ActualAllowOriginMultiple,
    /// Actual response: `Access-Control-Allow-Origin` differs from the origin.
    ActualAllowOriginMismatch,
    /// Actual response: `Access-Control-Allow-Origin: *` with credentials.
    ActualAllowOriginWildcardWithCredentials,
    /// Actual response: credentials requested but `Access-Control-Allow-Credentials` is not `true`.
    ActualAllowCredentialsMissing,
}

/// One HTTP request/response pair as sent and received, for reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exchange {
    /// The method we sent (`OPTIONS` for the preflight).
    pub method: String,
    pub url: String,
    /// The headers we sent that matter for CORS.
    pub request_headers: Vec<(String, String)>,
    pub status: u16,
    /// Response headers in arrival order, names lower-case.
    pub headers: Vec<(String, String)>,
}

/// What the caller expects the browser to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expectation {
    Allowed,
    Denied,
}

impl FromStr for Expectation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "allowed" | "allow" => Ok(Expectation::Allowed),
            "denied" | "deny" => Ok(Expectation::Denied),
            other => Err(format!("expected 'allowed' or 'denied', got '{other}'")),
        }
    }
}
