//! The Fetch standard's CORS rules as pure functions (no I/O), so every rule can be unit
//! tested without a server.
//!
//! Request side: <https://fetch.spec.whatwg.org/#cors-safelisted-method>,
//! `#cors-safelisted-request-header`, `#cors-unsafe-request-header-names`, `#forbidden-request-header`.
//! Response side: `#cors-check` and steps 7.x of `#cors-preflight-fetch`.
//! Where the standard and Chromium differ in what they *report*, the wording follows Chromium's
//! `services/network/public/cpp/cors/cors_error_status` messages, because users search for those.

use crate::error::PreflightError;
use crate::model::{Failure, Rule};

/// A probe turned into what a browser would actually put on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedRequest {
    /// The method after Fetch's normalisation.
    pub method: String,
    /// CORS-unsafe request-header names: lower-case, sorted, deduplicated.
    pub unsafe_headers: Vec<String>,
    /// Header names the browser refuses to let script set (dropped, noted).
    pub forbidden_headers: Vec<String>,
    /// Whether a preflight is required.
    pub needs_preflight: bool,
}

impl PreparedRequest {
    /// `Access-Control-Request-Headers` as Chromium sends it: names joined by `,` (no space).
    pub fn request_headers_value(&self) -> Option<String> {
        (!self.unsafe_headers.is_empty()).then(|| self.unsafe_headers.join(","))
    }
}

/// Fetch "normalize a method": the six well-known methods are upper-cased, others kept as is
/// (so `patch` stays `patch` and needs `patch` in Allow-Methods).
pub fn normalize_method(method: &str) -> String {
    const NORMALIZED: [&str; 6] = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];
    NORMALIZED
        .iter()
        .find(|m| m.eq_ignore_ascii_case(method))
        .map_or_else(|| method.to_owned(), |m| (*m).to_owned())
}

/// `GET`, `HEAD` and `POST` need no preflight.
pub fn is_safelisted_method(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "POST")
}

/// RFC 9110 token: what a method or header name must be.
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Fetch "forbidden request-header": script cannot set these, the browser silently drops them.
pub fn is_forbidden_header(lower: &str) -> bool {
    const FORBIDDEN: [&str; 21] = [
        "accept-charset",
        "accept-encoding",
        "access-control-request-headers",
        "access-control-request-method",
        "connection",
        "content-length",
        "cookie",
        "cookie2",
        "date",
        "dnt",
        "expect",
        "host",
        "keep-alive",
        "origin",
        "referer",
        "set-cookie",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "via",
    ];
    FORBIDDEN.contains(&lower) || lower.starts_with("proxy-") || lower.starts_with("sec-")
}

fn is_cors_unsafe_byte(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b"\"():<>?@[\\]{}".contains(&b) || b == 0x7f
}

/// Fetch "CORS-safelisted request-header". `value` is `None` when only the name is known;
/// then `content-type` and `range` count as unsafe (their safety depends on the value, and a
/// Config API gadget sends `application/xml`).
pub fn is_safelisted_header(lower: &str, value: Option<&str>) -> bool {
    if value.is_some_and(|v| v.len() > 128) {
        return false;
    }
    match lower {
        "accept" => value.is_none_or(|v| !v.bytes().any(is_cors_unsafe_byte)),
        "accept-language" | "content-language" => value.is_none_or(|v| {
            v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b" *,-.;=".contains(&b))
        }),
        "content-type" => value.is_some_and(|v| {
            if v.bytes().any(is_cors_unsafe_byte) {
                return false;
            }
            let essence = v
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            matches!(
                essence.as_str(),
                "application/x-www-form-urlencoded" | "multipart/form-data" | "text/plain"
            )
        }),
        "range" => value.is_some_and(is_simple_range),
        _ => false,
    }
}

/// Fetch "simple range header value": `bytes=N-` or `bytes=N-M`.
fn is_simple_range(v: &str) -> bool {
    let Some(rest) = v.strip_prefix("bytes=") else {
        return false;
    };
    let Some((start, end)) = rest.split_once('-') else {
        return false;
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    !start.is_empty() && digits(start) && digits(end)
}

/// Validate a probe's method and headers and work out what the browser sends.
pub fn prepare(method: &str, headers: &[String]) -> Result<PreparedRequest, PreflightError> {
    if !is_token(method) {
        return Err(PreflightError::InvalidMethod {
            method: method.to_owned(),
            reason: "not an http token".to_owned(),
        });
    }
    let method = normalize_method(method);
    if ["CONNECT", "TRACE", "TRACK"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(&method))
    {
        return Err(PreflightError::InvalidMethod {
            method,
            reason: "browsers refuse to send this method (fetch: forbidden method)".to_owned(),
        });
    }
    let mut unsafe_headers = Vec::new();
    let mut forbidden_headers = Vec::new();
    for raw in headers {
        let (name, value) = match raw.split_once(':') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (raw.trim(), None),
        };
        if !is_token(name) {
            return Err(PreflightError::InvalidHeader {
                header: raw.clone(),
                reason: "the name is not an http token".to_owned(),
            });
        }
        let lower = name.to_ascii_lowercase();
        if is_forbidden_header(&lower) {
            forbidden_headers.push(lower);
        } else if !is_safelisted_header(&lower, value) {
            unsafe_headers.push(lower);
        }
    }
    unsafe_headers.sort();
    unsafe_headers.dedup();
    forbidden_headers.sort();
    forbidden_headers.dedup();
    let needs_preflight = !is_safelisted_method(&method) || !unsafe_headers.is_empty();
    Ok(PreparedRequest {
        method,
        unsafe_headers,
        forbidden_headers,
        needs_preflight,
    })
}

/// Fetch "get" on a header list: every value of `name`, joined with ", ".
pub fn header_get(headers: &[(String, String)], name: &str) -> Option<String> {
    let values: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// Chromium's reading of `Access-Control-Allow-Methods` / `-Headers`: split on commas, trim,
/// drop empty items; `None` when an item is not a token ("Cannot parse ...").
pub fn parse_allow_list(value: &str) -> Option<Vec<String>> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| is_token(s).then(|| s.to_owned()))
        .collect()
}

/// Which response a CORS check is about; it picks rule variants and message prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Preflight,
    Actual,
}

const PREFLIGHT_PREFIX: &str = "Response to preflight request doesn't pass access control check: ";

fn failure(stage: Stage, preflight_rule: Rule, actual_rule: Rule, text: String) -> Failure {
    match stage {
        Stage::Preflight => Failure {
            rule: preflight_rule,
            message: format!("{PREFLIGHT_PREFIX}{text}"),
            hint: None,
        },
        Stage::Actual => Failure {
            rule: actual_rule,
            message: text,
            hint: None,
        },
    }
}

/// Fetch "CORS check" (Allow-Origin, then Allow-Credentials). Unlike the standard, which stops
/// at the first problem, it returns the origin problem and the credentials problem both.
pub fn cors_check(
    stage: Stage,
    headers: &[(String, String)],
    origin: &str,
    credentials: bool,
) -> Vec<Failure> {
    let mut out = Vec::new();
    match header_get(headers, "access-control-allow-origin") {
        None => out.push(failure(
            stage,
            Rule::AllowOriginMissing,
            Rule::ActualAllowOriginMissing,
            "No 'Access-Control-Allow-Origin' header is present on the requested resource."
                .to_owned(),
        )),
        Some(v) if v.contains(',') => out.push(failure(
            stage,
            Rule::AllowOriginMultiple,
            Rule::ActualAllowOriginMultiple,
            format!(
                "The 'Access-Control-Allow-Origin' header contains multiple values '{v}', but only one is allowed."
            ),
        )),
        Some(v) if v == "*" => {
            if credentials {
                out.push(failure(
                    stage,
                    Rule::AllowOriginWildcardWithCredentials,
                    Rule::ActualAllowOriginWildcardWithCredentials,
                    "The value of the 'Access-Control-Allow-Origin' header in the response must not be the wildcard '*' when the request's credentials mode is 'include'.".to_owned(),
                ));
            }
        }
        Some(v) if v != origin => out.push(failure(
            stage,
            Rule::AllowOriginMismatch,
            Rule::ActualAllowOriginMismatch,
            format!(
                "The 'Access-Control-Allow-Origin' header has a value '{v}' that is not equal to the supplied origin."
            ),
        )),
        Some(_) => {}
    }
    if credentials {
        let acac = header_get(headers, "access-control-allow-credentials").unwrap_or_default();
        // Byte-exact "true": `True` fails in every browser.
        if acac != "true" {
            out.push(failure(
                stage,
                Rule::AllowCredentialsMissing,
                Rule::ActualAllowCredentialsMissing,
                format!(
                    "The value of the 'Access-Control-Allow-Credentials' header in the response is '{acac}' which must be 'true' when the request's credentials mode is 'include'."
                ),
            ));
        }
    }
    out
}

/// The result of judging a preflight response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightJudgement {
    pub failures: Vec<Failure>,
    pub max_age: Option<u64>,
    pub notes: Vec<String>,
}

/// Steps 7.x of Fetch's CORS-preflight fetch: CORS check, ok status, methods, headers, max-age.
/// Failures come in Chromium's order (origin/credentials, status, methods, headers).
pub fn judge_preflight(
    req: &PreparedRequest,
    status: u16,
    headers: &[(String, String)],
    origin: &str,
    credentials: bool,
) -> PreflightJudgement {
    let mut failures = cors_check(Stage::Preflight, headers, origin, credentials);
    let mut notes = Vec::new();
    if (300..400).contains(&status) {
        failures.push(Failure {
            rule: Rule::PreflightRedirect,
            message: format!("{PREFLIGHT_PREFIX}Redirect is not allowed for a preflight request."),
            hint: Some(format!("the preflight was answered with status {status}")),
        });
    } else if !(200..300).contains(&status) {
        failures.push(Failure {
            rule: Rule::PreflightStatus,
            message: format!("{PREFLIGHT_PREFIX}It does not have HTTP ok status."),
            hint: Some(format!("the preflight was answered with status {status}")),
        });
    }

    let wildcard_hint = "'*' does not count when the request's credentials mode is 'include'";
    let methods = match header_get(headers, "access-control-allow-methods") {
        None => Some(Vec::new()),
        Some(v) => {
            let parsed = parse_allow_list(&v);
            if parsed.is_none() {
                failures.push(Failure {
                    rule: Rule::AllowMethodsInvalid,
                    message: "Cannot parse Access-Control-Allow-Methods response header field in preflight response.".to_owned(),
                    hint: Some(format!("value: '{v}'")),
                });
            }
            parsed
        }
    };
    if let Some(methods) = methods {
        let listed = methods.contains(&req.method);
        let star = methods.iter().any(|m| m == "*");
        if !listed && !is_safelisted_method(&req.method) && (credentials || !star) {
            let hint = if star && credentials {
                Some(wildcard_hint.to_owned())
            } else if methods.is_empty() {
                Some(
                    "no Access-Control-Allow-Methods header: only GET, HEAD and POST are allowed"
                        .to_owned(),
                )
            } else if methods.iter().any(|m| m.eq_ignore_ascii_case(&req.method)) {
                Some("methods compare case-sensitively".to_owned())
            } else {
                None
            };
            failures.push(Failure {
                rule: Rule::MethodNotAllowed,
                message: format!(
                    "Method {} is not allowed by Access-Control-Allow-Methods in preflight response.",
                    req.method
                ),
                hint,
            });
        }
    }

    let allowed_headers = match header_get(headers, "access-control-allow-headers") {
        None => Some(Vec::new()),
        Some(v) => {
            let parsed = parse_allow_list(&v);
            if parsed.is_none() {
                failures.push(Failure {
                    rule: Rule::AllowHeadersInvalid,
                    message: "Cannot parse Access-Control-Allow-Headers response header field in preflight response.".to_owned(),
                    hint: Some(format!("value: '{v}'")),
                });
            }
            parsed
        }
    };
    if let Some(allowed) = allowed_headers {
        let star = allowed.iter().any(|h| h == "*");
        for name in &req.unsafe_headers {
            let listed = allowed.iter().any(|h| h.eq_ignore_ascii_case(name));
            // `authorization` is a "CORS non-wildcard request-header name".
            let star_counts = star && !credentials && name != "authorization";
            if !listed && !star_counts {
                let hint = if star && name == "authorization" {
                    Some("'*' never covers the authorization header; list it by name".to_owned())
                } else if star {
                    Some(wildcard_hint.to_owned())
                } else {
                    None
                };
                failures.push(Failure {
                    rule: Rule::HeaderNotAllowed,
                    message: format!(
                        "Request header field {name} is not allowed by Access-Control-Allow-Headers in preflight response."
                    ),
                    hint,
                });
            }
        }
    }

    let max_age = header_get(headers, "access-control-max-age").and_then(|v| {
        let t = v.trim();
        match t.parse::<u64>() {
            Ok(n) if t.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => {
                notes.push(format!(
                    "Access-Control-Max-Age '{v}' is not a number of seconds; browsers then cache the preflight for 0 seconds"
                ));
                None
            }
        }
    });
    if let Some(n) = max_age.filter(|n| *n > 7200) {
        notes.push(format!("Access-Control-Max-Age {n} exceeds Chromium's cap; Chromium caches the preflight for 7200 seconds"));
    }
    PreflightJudgement {
        failures,
        max_age,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn prep(method: &str, headers: &[&str]) -> PreparedRequest {
        let headers: Vec<String> = headers.iter().map(|s| (*s).to_owned()).collect();
        prepare(method, &headers).expect("valid probe")
    }

    fn rules(f: &[Failure]) -> Vec<Rule> {
        f.iter().map(|f| f.rule).collect()
    }

    const O: &str = "https://finesse-a.lab.local:8445";

    #[test]
    fn safelisted_get_without_headers_needs_no_preflight() {
        assert!(!prep("GET", &[]).needs_preflight);
        assert!(
            !prep(
                "post",
                &["Accept", "Content-Type: text/plain;charset=utf-8"]
            )
            .needs_preflight
        );
    }

    #[test]
    fn put_and_custom_headers_need_a_preflight() {
        let p = prep("put", &[]);
        assert_eq!(p.method, "PUT");
        assert!(p.needs_preflight);
        let p = prep(
            "GET",
            &[
                "X-Requested-With",
                "Authorization",
                "content-type",
                "x-requested-with",
            ],
        );
        assert!(p.needs_preflight);
        assert_eq!(
            p.unsafe_headers,
            ["authorization", "content-type", "x-requested-with"]
        );
        assert_eq!(
            p.request_headers_value().as_deref(),
            Some("authorization,content-type,x-requested-with")
        );
    }

    #[test]
    fn content_type_depends_on_value() {
        assert!(prep("POST", &["Content-Type: application/xml"]).needs_preflight);
        assert!(!prep("POST", &["Content-Type: multipart/form-data; boundary=x"]).needs_preflight);
        assert!(prep("POST", &["Content-Type"]).needs_preflight);
    }

    #[test]
    fn patch_is_not_normalised_and_forbidden_methods_are_refused() {
        assert_eq!(prep("patch", &[]).method, "patch");
        assert!(prepare("trace", &[]).is_err());
        assert!(prepare("GE T", &[]).is_err());
        assert!(prepare("GET", &["bad header: x".to_owned()]).is_err());
    }

    #[test]
    fn forbidden_headers_are_dropped_not_sent() {
        let p = prep("GET", &["Cookie", "Sec-Foo", "Origin"]);
        assert!(!p.needs_preflight);
        assert_eq!(p.forbidden_headers, ["cookie", "origin", "sec-foo"]);
    }

    #[test]
    fn cors_check_rules() {
        assert!(
            cors_check(
                Stage::Actual,
                &h(&[("access-control-allow-origin", O)]),
                O,
                false
            )
            .is_empty()
        );
        assert!(
            cors_check(
                Stage::Actual,
                &h(&[("access-control-allow-origin", "*")]),
                O,
                false
            )
            .is_empty()
        );
        assert_eq!(
            rules(&cors_check(Stage::Actual, &[], O, false)),
            [Rule::ActualAllowOriginMissing]
        );
        assert_eq!(
            rules(&cors_check(
                Stage::Actual,
                &h(&[("Access-Control-Allow-Origin", "https://other")]),
                O,
                false
            )),
            [Rule::ActualAllowOriginMismatch]
        );
        // Case matters: origins compare byte for byte.
        assert_eq!(
            rules(&cors_check(
                Stage::Actual,
                &h(&[(
                    "access-control-allow-origin",
                    "https://FINESSE-A.lab.local:8445"
                )]),
                O,
                false
            )),
            [Rule::ActualAllowOriginMismatch]
        );
        assert_eq!(
            rules(&cors_check(
                Stage::Preflight,
                &h(&[
                    ("access-control-allow-origin", O),
                    ("access-control-allow-origin", O)
                ]),
                O,
                false
            )),
            [Rule::AllowOriginMultiple]
        );
        assert_eq!(
            rules(&cors_check(
                Stage::Preflight,
                &h(&[("access-control-allow-origin", "*")]),
                O,
                true
            )),
            [
                Rule::AllowOriginWildcardWithCredentials,
                Rule::AllowCredentialsMissing
            ]
        );
        assert_eq!(
            rules(&cors_check(
                Stage::Preflight,
                &h(&[
                    ("access-control-allow-origin", O),
                    ("access-control-allow-credentials", "True")
                ]),
                O,
                true
            )),
            [Rule::AllowCredentialsMissing]
        );
        assert!(
            cors_check(
                Stage::Preflight,
                &h(&[
                    ("access-control-allow-origin", O),
                    ("access-control-allow-credentials", "true")
                ]),
                O,
                true
            )
            .is_empty()
        );
    }

    #[test]
    fn preflight_messages_read_like_chromium() {
        let f = cors_check(Stage::Preflight, &[], O, false);
        assert_eq!(
            f[0].message,
            "Response to preflight request doesn't pass access control check: No 'Access-Control-Allow-Origin' header is present on the requested resource."
        );
    }

    #[test]
    fn preflight_status_and_redirect() {
        let ok = h(&[
            ("access-control-allow-origin", O),
            ("access-control-allow-methods", "PUT"),
        ]);
        let p = prep("PUT", &[]);
        assert!(judge_preflight(&p, 204, &ok, O, false).failures.is_empty());
        assert_eq!(
            rules(&judge_preflight(&p, 403, &ok, O, false).failures),
            [Rule::PreflightStatus]
        );
        assert_eq!(
            rules(&judge_preflight(&p, 302, &ok, O, false).failures),
            [Rule::PreflightRedirect]
        );
    }

    #[test]
    fn methods_rules() {
        let base = |m: &str| {
            h(&[
                ("access-control-allow-origin", O),
                ("access-control-allow-methods", m),
            ])
        };
        let put = prep("PUT", &[]);
        assert!(
            judge_preflight(&put, 200, &base("GET, PUT ,POST"), O, false)
                .failures
                .is_empty()
        );
        assert_eq!(
            rules(&judge_preflight(&put, 200, &base("GET"), O, false).failures),
            [Rule::MethodNotAllowed]
        );
        assert_eq!(
            rules(&judge_preflight(&put, 200, &base("put"), O, false).failures),
            [Rule::MethodNotAllowed]
        );
        assert!(
            judge_preflight(&put, 200, &base("*"), O, false)
                .failures
                .is_empty()
        );
        let cred = h(&[
            ("access-control-allow-origin", O),
            ("access-control-allow-credentials", "true"),
            ("access-control-allow-methods", "*"),
        ]);
        let f = judge_preflight(&put, 200, &cred, O, true).failures;
        assert_eq!(rules(&f), [Rule::MethodNotAllowed]);
        assert!(
            f[0].hint
                .as_deref()
                .is_some_and(|h| h.contains("credentials"))
        );
        // No Allow-Methods: only safelisted methods pass.
        let no_methods = h(&[
            ("access-control-allow-origin", O),
            ("access-control-allow-headers", "x-a"),
        ]);
        assert!(
            judge_preflight(&prep("GET", &["x-a"]), 204, &no_methods, O, false)
                .failures
                .is_empty()
        );
        assert_eq!(
            rules(&judge_preflight(&put, 204, &no_methods, O, false).failures),
            [Rule::MethodNotAllowed]
        );
        assert_eq!(
            rules(&judge_preflight(&put, 204, &base("PUT, G(ET"), O, false).failures),
            [Rule::AllowMethodsInvalid]
        );
        assert!(
            judge_preflight(&put, 204, &base("PUT,,"), O, false)
                .failures
                .is_empty()
        );
    }

    #[test]
    fn header_rules() {
        let with = |v: &str| {
            h(&[
                ("access-control-allow-origin", O),
                ("access-control-allow-headers", v),
            ])
        };
        let p = prep("GET", &["X-Requested-With", "Content-Type"]);
        assert!(
            judge_preflight(&p, 204, &with("content-type, X-REQUESTED-WITH"), O, false)
                .failures
                .is_empty()
        );
        let f = judge_preflight(&p, 204, &with("content-type"), O, false).failures;
        assert_eq!(rules(&f), [Rule::HeaderNotAllowed]);
        assert_eq!(
            f[0].message,
            "Request header field x-requested-with is not allowed by Access-Control-Allow-Headers in preflight response."
        );
        assert!(
            judge_preflight(&p, 204, &with("*"), O, false)
                .failures
                .is_empty()
        );
        let auth = prep("GET", &["Authorization"]);
        assert_eq!(
            rules(&judge_preflight(&auth, 204, &with("*"), O, false).failures),
            [Rule::HeaderNotAllowed]
        );
        assert!(
            judge_preflight(&auth, 204, &with("*, authorization"), O, false)
                .failures
                .is_empty()
        );
        let mut cred = with("*");
        cred.push(("access-control-allow-credentials".into(), "true".into()));
        assert_eq!(
            rules(&judge_preflight(&p, 204, &cred, O, true).failures),
            [Rule::HeaderNotAllowed, Rule::HeaderNotAllowed]
        );
        assert_eq!(
            rules(&judge_preflight(&p, 204, &with("a b"), O, false).failures),
            [Rule::AllowHeadersInvalid]
        );
    }

    #[test]
    fn max_age_is_parsed() {
        let p = prep("GET", &["x-a"]);
        let with = |v: &str| {
            h(&[
                ("access-control-allow-origin", O),
                ("access-control-allow-headers", "x-a"),
                ("access-control-max-age", v),
            ])
        };
        assert_eq!(
            judge_preflight(&p, 204, &with("600"), O, false).max_age,
            Some(600)
        );
        let j = judge_preflight(&p, 204, &with("-1"), O, false);
        assert_eq!(j.max_age, None);
        assert_eq!(j.notes.len(), 1);
        assert!(j.failures.is_empty());
        assert_eq!(
            judge_preflight(&p, 204, &with("86400"), O, false)
                .notes
                .len(),
            1
        );
    }

    #[test]
    fn every_failure_is_collected_in_chromium_order() {
        let p = prep("PUT", &["x-a"]);
        let f = judge_preflight(&p, 403, &[], O, true).failures;
        assert_eq!(
            rules(&f),
            [
                Rule::AllowOriginMissing,
                Rule::AllowCredentialsMissing,
                Rule::PreflightStatus,
                Rule::MethodNotAllowed,
                Rule::HeaderNotAllowed
            ]
        );
    }
}
