//! The IIS CORS Module: the `<cors>` section as its schema defines it, and the module's answer
//! to a request (DOMAIN.md, "IIS CORS Module: configuration" and "runtime").
//!
//! Pure functions only: [`crate::server`] feeds requests in and turns [`CorsDecision`]s into
//! HTTP responses, so every rule here is unit-tested without a socket.

use crate::xml::Element;

/// The `system.webServer/cors` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CorsSection {
    pub enabled: bool,
    pub fail_unlisted_origins: bool,
    pub rules: Vec<OriginRule>,
}

/// One `<add origin=...>` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginRule {
    pub origin: String,
    pub allowed: bool,
    pub allow_credentials: bool,
    /// -1 = no `Access-Control-Max-Age` header.
    pub max_age: i64,
    pub allow_all_requested_headers: bool,
    pub allow_headers: Vec<String>,
    pub allow_methods: Vec<String>,
    pub expose_headers: Vec<String>,
}

impl OriginRule {
    fn new(origin: String) -> Self {
        OriginRule {
            origin,
            allowed: true,
            allow_credentials: false,
            max_age: -1,
            allow_all_requested_headers: false,
            allow_headers: Vec::new(),
            allow_methods: Vec::new(),
            expose_headers: Vec::new(),
        }
    }

    /// How specific this rule is for `origin`, or `None` when it does not match. Higher wins:
    /// exact string (3), then left-most-label wildcard (2, longer pattern first), then
    /// `scheme://*` (1), then `*` (0). The order among wildcard kinds is [assumed]; DOMAIN.md
    /// only says "most specific".
    fn specificity(&self, origin: &str) -> Option<(u8, usize)> {
        let pat = self.origin.as_str();
        if pat == "*" {
            return Some((0, 0));
        }
        // Origins compare case-sensitively, the port is part of the string (DOMAIN.md).
        if pat == origin {
            return Some((3, pat.len()));
        }
        let (scheme, rest) = pat.split_once("://")?;
        let (o_scheme, o_rest) = origin.split_once("://")?;
        if scheme != o_scheme {
            return None;
        }
        if rest == "*" {
            return Some((1, pat.len()));
        }
        // `*` replaces exactly the left-most label [assumed: one label, not several].
        let suffix = rest.strip_prefix("*.")?;
        let label = o_rest.strip_suffix(suffix)?.strip_suffix('.')?;
        (!label.is_empty() && !label.contains(['.', ':', '/'])).then_some((2, pat.len()))
    }
}

/// What the CORS module needs to know about a request.
#[derive(Debug, Clone, Copy, Default)]
pub struct CorsRequest<'a> {
    pub method: &'a str,
    pub origin: Option<&'a str>,
    /// `Access-Control-Request-Method`; with OPTIONS it makes the request a preflight.
    pub request_method: Option<&'a str>,
    /// `Access-Control-Request-Headers`.
    pub request_headers: Option<&'a str>,
}

impl CorsRequest<'_> {
    pub fn is_preflight(&self) -> bool {
        self.method.eq_ignore_ascii_case("OPTIONS")
            && self.origin.is_some()
            && self.request_method.is_some()
    }
}

/// The module's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsDecision {
    /// Not a CORS request (no Origin) or CORS disabled: the pipeline runs untouched.
    NotCors,
    /// Preflight answered by the module: 204 with these headers, before authentication.
    Preflight(Vec<(String, String)>),
    /// `failUnlistedOrigins="true"` and no allowing rule: 403 without CORS headers.
    Reject,
    /// Normal pipeline; these headers are added to its response (empty for an unlisted or
    /// denied origin when `failUnlistedOrigins` is false [assumed]).
    Actual(Vec<(String, String)>),
}

impl CorsSection {
    /// The most specific rule matching `origin`, whatever its `allowed`.
    pub fn select(&self, origin: &str) -> Option<&OriginRule> {
        self.rules
            .iter()
            .filter_map(|r| r.specificity(origin).map(|s| (s, r)))
            .max_by_key(|(s, _)| *s)
            .map(|(_, r)| r)
    }

    /// The module's answer to a request.
    pub fn decide(&self, req: &CorsRequest<'_>) -> CorsDecision {
        let Some(origin) = req.origin else {
            return CorsDecision::NotCors;
        };
        if !self.enabled {
            return CorsDecision::NotCors;
        }
        let rule = match self.select(origin) {
            Some(r) if r.allowed => r,
            _ if self.fail_unlisted_origins => return CorsDecision::Reject,
            // Unlisted or denied with failUnlistedOrigins=false: the request passes through
            // to the normal pipeline without CORS headers [assumed].
            _ => return CorsDecision::Actual(Vec::new()),
        };
        let mut h: Vec<(String, String)> = Vec::new();
        // The only rule is `*` → `*` always, no Vary (DOMAIN.md); otherwise echo + Vary
        // [assumed for mixed cases].
        let star_only = rule.origin == "*" && self.rules.len() == 1;
        if star_only {
            h.push(("Access-Control-Allow-Origin".into(), "*".into()));
        } else {
            h.push(("Access-Control-Allow-Origin".into(), origin.into()));
        }
        if rule.allow_credentials {
            h.push(("Access-Control-Allow-Credentials".into(), "true".into()));
        }
        if req.is_preflight() {
            if rule.allow_all_requested_headers {
                if let Some(asked) = req.request_headers.filter(|s| !s.trim().is_empty()) {
                    h.push(("Access-Control-Allow-Headers".into(), asked.trim().into()));
                }
            } else if !rule.allow_headers.is_empty() {
                h.push((
                    "Access-Control-Allow-Headers".into(),
                    rule.allow_headers.join(","),
                ));
            }
            // Empty allowMethods → no header [assumed], so browsers allow only simple methods.
            if !rule.allow_methods.is_empty() {
                h.push((
                    "Access-Control-Allow-Methods".into(),
                    rule.allow_methods.join(","),
                ));
            }
            if rule.max_age >= 0 {
                h.push(("Access-Control-Max-Age".into(), rule.max_age.to_string()));
            }
        } else if !rule.expose_headers.is_empty() {
            h.push((
                "Access-Control-Expose-Headers".into(),
                rule.expose_headers.join(","),
            ));
        }
        if !star_only {
            h.push(("Vary".into(), "Origin".into()));
        }
        if req.is_preflight() {
            CorsDecision::Preflight(h)
        } else {
            CorsDecision::Actual(h)
        }
    }
}

/// A violation of the section's schema; IIS answers it with 500.19.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SchemaError {
    pub message: String,
    pub line: usize,
    /// 0x8007000d for invalid data, 0x800700b7 for a duplicate collection key [assumed code].
    pub hresult: u32,
}

fn schema_err(el: &Element, message: String) -> SchemaError {
    SchemaError {
        message,
        line: el.line,
        hresult: 0x8007_000d,
    }
}

/// Attributes every IIS element may carry (locking, XDT transforms, namespaces) [assumed].
fn is_generic_attr(name: &str) -> bool {
    name.starts_with("lock") || name.contains(':') || name == "xmlns"
}

fn check_attrs(el: &Element, known: &[&str]) -> Result<(), SchemaError> {
    for (k, _) in &el.attrs {
        if !known.contains(&k.as_str()) && !is_generic_attr(k) {
            return Err(schema_err(el, format!("Unrecognized attribute '{k}'")));
        }
    }
    Ok(())
}

fn bool_attr(el: &Element, name: &str, default: bool) -> Result<bool, SchemaError> {
    match el.attr(name) {
        None => Ok(default),
        // IIS accepts booleans case-insensitively [assumed].
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(schema_err(
            el,
            format!(
                "'{v}' is not a valid value for attribute '{name}'. Expected 'true' or 'false'"
            ),
        )),
    }
}

/// Reads an IIS collection (`add`/`remove`/`clear`) keyed by `key`.
fn collection(
    el: &Element,
    key: &str,
    extra_add_attrs: &[&str],
) -> Result<Vec<(String, Element)>, SchemaError> {
    let mut items: Vec<(String, Element)> = Vec::new();
    for c in &el.children {
        match c.name.as_str() {
            "add" => {
                let mut known = vec![key];
                known.extend_from_slice(extra_add_attrs);
                check_attrs(c, &known)?;
                let k = c
                    .attr(key)
                    .ok_or_else(|| schema_err(c, format!("Missing required attribute '{key}'")))?;
                if items.iter().any(|(i, _)| i == k) {
                    return Err(SchemaError {
                        message: format!(
                            "Cannot add duplicate collection entry of type 'add' with unique key attribute '{key}' set to '{k}'"
                        ),
                        line: c.line,
                        hresult: 0x8007_00b7,
                    });
                }
                items.push((k.to_string(), c.clone()));
            }
            "remove" => {
                check_attrs(c, &[key])?;
                let k = c
                    .attr(key)
                    .ok_or_else(|| schema_err(c, format!("Missing required attribute '{key}'")))?;
                items.retain(|(i, _)| i != k);
            }
            "clear" => {
                check_attrs(c, &[])?;
                items.clear();
            }
            other => {
                return Err(schema_err(c, format!("Unrecognized element '{other}'")));
            }
        }
    }
    Ok(items)
}

fn list(el: Option<&Element>, key: &str, top_attrs: &[&str]) -> Result<Vec<String>, SchemaError> {
    let Some(el) = el else {
        return Ok(Vec::new());
    };
    check_attrs(el, top_attrs)?;
    Ok(collection(el, key, &[])?
        .into_iter()
        .map(|(k, _)| k)
        .collect())
}

/// Reads and validates a `<cors>` element against the module's schema.
pub fn parse_section(el: &Element) -> Result<CorsSection, SchemaError> {
    check_attrs(el, &["enabled", "failUnlistedOrigins"])?;
    let mut section = CorsSection {
        enabled: bool_attr(el, "enabled", false)?,
        fail_unlisted_origins: bool_attr(el, "failUnlistedOrigins", false)?,
        rules: Vec::new(),
    };
    for (origin, add) in collection(el, "origin", &["allowed", "allowCredentials", "maxAge"])? {
        let mut rule = OriginRule::new(origin);
        rule.allowed = bool_attr(&add, "allowed", true)?;
        rule.allow_credentials = bool_attr(&add, "allowCredentials", false)?;
        if let Some(v) = add.attr("maxAge") {
            rule.max_age = v.trim().parse::<i64>().map_err(|_| {
                schema_err(
                    &add,
                    format!("'{v}' is not a valid value for attribute 'maxAge'"),
                )
            })?;
        }
        for c in &add.children {
            if !["allowHeaders", "allowMethods", "exposeHeaders"].contains(&c.name.as_str()) {
                return Err(schema_err(c, format!("Unrecognized element '{}'", c.name)));
            }
        }
        if let Some(h) = add.child("allowHeaders") {
            rule.allow_all_requested_headers = bool_attr(h, "allowAllRequestedHeaders", false)?;
        }
        rule.allow_headers = list(
            add.child("allowHeaders"),
            "header",
            &["allowAllRequestedHeaders"],
        )?;
        rule.allow_methods = list(add.child("allowMethods"), "method", &[])?;
        rule.expose_headers = list(add.child("exposeHeaders"), "header", &[])?;
        section.rules.push(rule);
    }
    Ok(section)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(xml: &str) -> CorsSection {
        let el = crate::xml::parse(xml.as_bytes()).expect("xml");
        parse_section(&el).expect("schema")
    }

    fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
        h.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn preflight<'a>(origin: &'a str, headers: Option<&'a str>) -> CorsRequest<'a> {
        CorsRequest {
            method: "OPTIONS",
            origin: Some(origin),
            request_method: Some("PUT"),
            request_headers: headers,
        }
    }

    const SEED: &str = r#"<cors enabled="true" failUnlistedOrigins="true">
        <add origin="https://lab12finessea.gaman.local:8445" allowed="true" allowCredentials="true" maxAge="120">
            <allowHeaders allowAllRequestedHeaders="true" />
            <allowMethods><add method="GET"/><add method="PUT"/></allowMethods>
            <exposeHeaders><add header="Location"/></exposeHeaders>
        </add>
    </cors>"#;

    #[test]
    fn seed_configuration_answers_a_put_preflight() {
        let s = section(SEED);
        let d = s.decide(&preflight(
            "https://lab12finessea.gaman.local:8445",
            Some("authorization,content-type"),
        ));
        let CorsDecision::Preflight(h) = d else {
            panic!("expected a preflight answer, got {d:?}");
        };
        assert_eq!(
            header(&h, "access-control-allow-origin"),
            Some("https://lab12finessea.gaman.local:8445")
        );
        assert_eq!(
            header(&h, "access-control-allow-headers"),
            Some("authorization,content-type")
        );
        assert_eq!(header(&h, "access-control-allow-methods"), Some("GET,PUT"));
        assert_eq!(header(&h, "access-control-max-age"), Some("120"));
        assert_eq!(header(&h, "access-control-allow-credentials"), Some("true"));
        assert_eq!(header(&h, "vary"), Some("Origin"));
        assert_eq!(header(&h, "access-control-expose-headers"), None);
    }

    #[test]
    fn unlisted_origin_is_rejected_only_with_fail_unlisted() {
        let s = section(SEED);
        assert_eq!(
            s.decide(&preflight("https://evil.example", None)),
            CorsDecision::Reject
        );
        // Case and port are part of the comparison.
        assert_eq!(
            s.decide(&preflight("https://LAB12finessea.gaman.local:8445", None)),
            CorsDecision::Reject
        );
        assert_eq!(
            s.decide(&preflight("https://lab12finessea.gaman.local", None)),
            CorsDecision::Reject
        );
        let mut open = s.clone();
        open.fail_unlisted_origins = false;
        assert_eq!(
            open.decide(&preflight("https://evil.example", None)),
            CorsDecision::Actual(Vec::new())
        );
    }

    #[test]
    fn most_specific_rule_wins_whatever_its_allowed() {
        let s = section(
            r#"<cors enabled="true" failUnlistedOrigins="true">
                <add origin="*" />
                <add origin="https://*.lab.local" allowed="false" />
                <add origin="https://ok.lab.local" />
            </cors>"#,
        );
        assert_eq!(
            s.select("https://ok.lab.local").map(|r| r.origin.as_str()),
            Some("https://ok.lab.local")
        );
        assert_eq!(
            s.decide(&preflight("https://bad.lab.local", None)),
            CorsDecision::Reject
        );
        // `*` replaces one label only.
        assert_eq!(
            s.select("https://a.b.lab.local").map(|r| r.origin.as_str()),
            Some("*")
        );
        let CorsDecision::Preflight(h) = s.decide(&preflight("https://other.example", None)) else {
            panic!("star rule allows");
        };
        // Several rules: the origin is echoed, with Vary.
        assert_eq!(
            header(&h, "access-control-allow-origin"),
            Some("https://other.example")
        );
        assert_eq!(header(&h, "vary"), Some("Origin"));
    }

    #[test]
    fn lone_star_rule_sends_star_without_vary() {
        let s = section(
            r#"<cors enabled="true"><add origin="*"><allowHeaders><add header="Authorization"/><add header="Content-Type"/></allowHeaders></add></cors>"#,
        );
        let CorsDecision::Preflight(h) = s.decide(&preflight("https://x.example", Some("x-other")))
        else {
            panic!("preflight");
        };
        assert_eq!(header(&h, "access-control-allow-origin"), Some("*"));
        assert_eq!(header(&h, "vary"), None);
        assert_eq!(
            header(&h, "access-control-allow-headers"),
            Some("Authorization,Content-Type")
        );
        assert_eq!(header(&h, "access-control-allow-methods"), None);
        assert_eq!(header(&h, "access-control-max-age"), None);
    }

    #[test]
    fn scheme_wildcard_matches_any_origin_of_that_scheme() {
        let s = section(
            r#"<cors enabled="true" failUnlistedOrigins="true"><add origin="http://*"/></cors>"#,
        );
        assert!(s.select("http://a.example:8080").is_some());
        assert!(s.select("https://a.example").is_none());
    }

    #[test]
    fn actual_requests_get_expose_headers_but_no_preflight_headers() {
        let s = section(SEED);
        let CorsDecision::Actual(h) = s.decide(&CorsRequest {
            method: "GET",
            origin: Some("https://lab12finessea.gaman.local:8445"),
            request_method: None,
            request_headers: None,
        }) else {
            panic!("actual");
        };
        assert_eq!(
            header(&h, "access-control-expose-headers"),
            Some("Location")
        );
        assert_eq!(header(&h, "access-control-allow-methods"), None);
        assert_eq!(header(&h, "access-control-max-age"), None);
    }

    #[test]
    fn disabled_section_or_no_origin_is_not_cors() {
        let s = section(r#"<cors enabled="false"><add origin="*"/></cors>"#);
        assert_eq!(
            s.decide(&preflight("https://a", None)),
            CorsDecision::NotCors
        );
        let s = section(SEED);
        assert_eq!(
            s.decide(&CorsRequest {
                method: "GET",
                ..Default::default()
            }),
            CorsDecision::NotCors
        );
    }

    #[test]
    fn schema_violations_are_errors() {
        for (xml, hresult) in [
            (r#"<cors enabeld="true"/>"#, 0x8007_000d),
            (r#"<cors enabled="yes"/>"#, 0x8007_000d),
            (r#"<cors><add/></cors>"#, 0x8007_000d),
            (
                r#"<cors><add origin="*" maxAge="soon"/></cors>"#,
                0x8007_000d,
            ),
            (r#"<cors><rule origin="*"/></cors>"#, 0x8007_000d),
            (
                r#"<cors><add origin="*"/><add origin="*"/></cors>"#,
                0x8007_00b7,
            ),
        ] {
            let el = crate::xml::parse(xml.as_bytes()).expect("xml");
            let err = parse_section(&el).expect_err(xml);
            assert_eq!(err.hresult, hresult, "{xml}");
        }
    }

    #[test]
    fn remove_and_clear_edit_the_collection() {
        let s = section(
            r#"<cors enabled="true"><add origin="*"/><add origin="https://a"/><remove origin="*"/></cors>"#,
        );
        assert_eq!(s.rules.len(), 1);
        let s = section(r#"<cors enabled="true"><add origin="*"/><clear/></cors>"#);
        assert!(s.rules.is_empty());
    }
}
