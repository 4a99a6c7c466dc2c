//! The desired `<cors>` section as data, and the checks that keep a bad policy from ever
//! reaching a server.
//!
//! Validation exists because IIS answers a malformed or self-contradictory `<cors>` section
//! with HTTP 500.19 for *every* request under the folder, and because some combinations are
//! valid for IIS but useless in a browser (`*` with credentials). Serde uses snake_case field
//! names (`fail_unlisted_origins`, `allow_methods`, ...), the same spelling as the Rust fields.

use serde::{Deserialize, Serialize};

/// The `<cors>` section corsfleet wants in a `web.config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsPolicy {
    /// `<cors enabled>`; IIS's default is `false`.
    pub enabled: bool,
    /// `<cors failUnlistedOrigins>`: `true` makes IIS answer 403 to unlisted origins.
    pub fail_unlisted_origins: bool,
    /// `Some(path)` scopes the section to `<location path="PATH">` (one application);
    /// `None` means the file's own `<system.webServer>` (or `<location path=".">`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The origins corsfleet manages. Other origins in the file are left alone.
    pub origins: Vec<OriginRule>,
}

/// One `<add origin=...>` rule inside `<cors>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginRule {
    /// `http(s)://host[:port]`, `*`, or `https://*.domain`; stored lower-case.
    pub origin: String,
    /// `allowed`; `false` makes a deny rule. IIS default `true`.
    pub allowed: bool,
    /// `allowCredentials`. IIS default `false`.
    pub allow_credentials: bool,
    /// `maxAge` in seconds; `None` means the attribute is absent (IIS: -1, header not sent).
    pub max_age: Option<u32>,
    /// `<allowHeaders allowAllRequestedHeaders>`.
    pub allow_all_requested_headers: bool,
    /// `<allowHeaders><add header=...>`.
    pub allow_headers: Vec<String>,
    /// `<allowMethods><add method=...>`.
    pub allow_methods: Vec<String>,
    /// `<exposeHeaders><add header=...>`.
    pub expose_headers: Vec<String>,
}

/// Methods the default profile allows. PUT and DELETE are here because the reskilling and
/// routing gadgets use them, and IIS sends no `Access-Control-Allow-Methods` without a list
/// [assumed, see DOMAIN.md], after which browsers only allow GET/HEAD/POST.
pub const DEFAULT_METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];

/// `maxAge` of the default profile (the seed's value).
pub const DEFAULT_MAX_AGE: u32 = 120;

/// Why a policy cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("invalid origin `{origin}`: {reason}")]
    InvalidOrigin { origin: String, reason: String },
    #[error(
        "origin `*` cannot be combined with credentials: browsers refuse `Access-Control-Allow-Origin: *` with `Access-Control-Allow-Credentials: true`"
    )]
    WildcardWithCredentials,
    #[error(
        "origin `{0}` is listed twice (IIS compares origins as keys; duplicates give HTTP 500.19)"
    )]
    DuplicateOrigin(String),
    #[error("no origins given: a `<cors>` section needs at least one origin rule")]
    NoOrigins,
    #[error(
        "invalid {kind} `{value}`: must be an HTTP token (letters, digits and !#$%&'*+-.^_`|~)"
    )]
    InvalidToken { kind: &'static str, value: String },
    #[error("invalid location path `{0}`: must be non-empty and contain no control characters")]
    InvalidLocation(String),
}

/// Something that is allowed but probably not what the user meant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PolicyWarning {
    #[error(
        "origin `{given}` stored as `{stored}`: IIS compares origins case-sensitively and browsers send them lower-case"
    )]
    Lowercased { given: String, stored: String },
    #[error(
        "origin `{origin}` names the scheme's default port: browsers omit it from the Origin header, so this rule may never match"
    )]
    DefaultPort { origin: String },
}

impl OriginRule {
    /// The default profile for one origin: the seed's rule plus the methods the gadgets need.
    pub fn recommended(origin: &str) -> OriginRule {
        OriginRule {
            origin: origin.to_ascii_lowercase(),
            allowed: true,
            allow_credentials: true,
            max_age: Some(DEFAULT_MAX_AGE),
            allow_all_requested_headers: true,
            allow_headers: Vec::new(),
            allow_methods: DEFAULT_METHODS.iter().map(|m| (*m).to_owned()).collect(),
            expose_headers: Vec::new(),
        }
    }
}

impl CorsPolicy {
    /// The default profile: `enabled="true" failUnlistedOrigins="true"` and one
    /// [`OriginRule::recommended`] per origin. Origins are stored lower-case.
    pub fn recommended(origins: &[String]) -> Result<CorsPolicy, PolicyError> {
        let policy = CorsPolicy {
            enabled: true,
            fail_unlisted_origins: true,
            location: None,
            origins: origins
                .iter()
                .map(|o| OriginRule::recommended(o.trim()))
                .collect(),
        };
        // Validate against the user's spelling so a bad origin is reported as typed.
        let raw = CorsPolicy {
            origins: origins
                .iter()
                .map(|o| OriginRule {
                    origin: o.trim().to_owned(),
                    ..OriginRule::recommended(o)
                })
                .collect(),
            ..policy.clone()
        };
        raw.validate()?;
        Ok(policy)
    }

    /// Checks the policy; returns warnings for what is allowed but suspicious.
    pub fn validate(&self) -> Result<Vec<PolicyWarning>, PolicyError> {
        let mut warnings = Vec::new();
        if self.origins.is_empty() {
            return Err(PolicyError::NoOrigins);
        }
        if let Some(location) = &self.location
            && (location.trim().is_empty() || location.chars().any(char::is_control))
        {
            return Err(PolicyError::InvalidLocation(location.clone()));
        }
        let mut seen: Vec<String> = Vec::with_capacity(self.origins.len());
        for rule in &self.origins {
            validate_origin(&rule.origin)?;
            let lower = rule.origin.to_ascii_lowercase();
            if lower != rule.origin {
                warnings.push(PolicyWarning::Lowercased {
                    given: rule.origin.clone(),
                    stored: lower.clone(),
                });
            }
            if lower.starts_with("https://") && lower.ends_with(":443")
                || lower.starts_with("http://") && lower.ends_with(":80")
            {
                warnings.push(PolicyWarning::DefaultPort {
                    origin: lower.clone(),
                });
            }
            if lower == "*" && rule.allow_credentials && rule.allowed {
                return Err(PolicyError::WildcardWithCredentials);
            }
            if seen.contains(&lower) {
                return Err(PolicyError::DuplicateOrigin(lower));
            }
            seen.push(lower);
            for m in &rule.allow_methods {
                check_token("method", m)?;
            }
            for h in rule.allow_headers.iter().chain(&rule.expose_headers) {
                check_token("header", h)?;
            }
        }
        Ok(warnings)
    }

    /// The same policy with origins lower-cased, as it is written to the file.
    pub fn normalized(&self) -> CorsPolicy {
        let mut p = self.clone();
        for rule in &mut p.origins {
            rule.origin.make_ascii_lowercase();
        }
        p
    }
}

fn check_token(kind: &'static str, value: &str) -> Result<(), PolicyError> {
    let ok = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(PolicyError::InvalidToken {
            kind,
            value: value.to_owned(),
        })
    }
}

/// `*`, `http(s)://host[:port]` or `https://*.domain`, nothing else: no path, query,
/// fragment, user info, quotes or angle brackets (they would break the XML or never match).
pub fn validate_origin(origin: &str) -> Result<(), PolicyError> {
    let bad = |reason: &str| PolicyError::InvalidOrigin {
        origin: origin.to_owned(),
        reason: reason.to_owned(),
    };
    if origin == "*" {
        return Ok(());
    }
    if let Some(c) = origin
        .chars()
        .find(|c| "\"'<>`\\ \t\r\n".contains(*c) || c.is_control())
    {
        return Err(bad(&format!("contains {c:?}")));
    }
    let lower = origin.to_ascii_lowercase();
    let rest = if let Some(r) = lower.strip_prefix("https://") {
        r
    } else if let Some(r) = lower.strip_prefix("http://") {
        r
    } else {
        return Err(bad("must start with http:// or https:// (or be `*`)"));
    };
    if rest.is_empty() {
        return Err(bad("has no host"));
    }
    if rest.contains('/') {
        return Err(bad(
            "must not have a path (not even a trailing `/`): browsers send scheme://host[:port] only",
        ));
    }
    if rest.contains('?') || rest.contains('#') {
        return Err(bad("must not have a query or fragment"));
    }
    if rest.contains('@') {
        return Err(bad("must not contain user info"));
    }
    let (host, port) = split_host_port(rest).map_err(&bad)?;
    if let Some(port) = port {
        match port.parse::<u32>() {
            Ok(p) if (1..=65535).contains(&p) && !port.starts_with('0') => {}
            _ => return Err(bad("port must be a number from 1 to 65535")),
        }
    }
    if let Some(domain) = host.strip_prefix("*.") {
        if !lower.starts_with("https://") {
            return Err(bad("a wildcard subdomain is only accepted with https://"));
        }
        return check_dns_name(domain).map_err(&bad);
    }
    if host.starts_with('[') {
        let inner = &host[1..host.len() - 1];
        return if inner.parse::<std::net::Ipv6Addr>().is_ok() {
            Ok(())
        } else {
            Err(bad("invalid IPv6 address"))
        };
    }
    check_dns_name(host).map_err(&bad)
}

fn split_host_port(rest: &str) -> Result<(&str, Option<&str>), &'static str> {
    if rest.starts_with('[') {
        let end = rest.find(']').ok_or("unclosed `[` in IPv6 host")?;
        let host = &rest[..=end];
        let after = &rest[end + 1..];
        return match after.strip_prefix(':') {
            Some(p) => Ok((host, Some(p))),
            None if after.is_empty() => Ok((host, None)),
            None => Err("unexpected text after IPv6 host"),
        };
    }
    match rest.split_once(':') {
        Some((h, p)) => Ok((h, Some(p))),
        None => Ok((rest, None)),
    }
}

fn check_dns_name(host: &str) -> Result<(), &'static str> {
    if host.is_empty() || host.len() > 253 {
        return Err("host name is empty or too long");
    }
    for label in host.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("host name has an empty or too long label");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("host name label starts or ends with `-`");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err("host name may only contain letters, digits, `-`, `_` and `.`");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn recommended_profile_matches_seed_plus_methods() {
        let p =
            CorsPolicy::recommended(&origins(&["https://Fin-A.example.com:8445"])).expect("valid");
        assert!(p.enabled && p.fail_unlisted_origins);
        let r = &p.origins[0];
        assert_eq!(r.origin, "https://fin-a.example.com:8445");
        assert!(r.allowed && r.allow_credentials && r.allow_all_requested_headers);
        assert_eq!(r.max_age, Some(120));
        assert_eq!(r.allow_methods, ["GET", "POST", "PUT", "DELETE"]);
    }

    #[test]
    fn accepts_good_origins() {
        for o in [
            "*",
            "https://a.example.com",
            "http://a:8080",
            "https://*.example.com",
            "https://10.0.0.1:8445",
            "https://[::1]:8445",
        ] {
            assert_eq!(validate_origin(o), Ok(()), "{o}");
        }
    }

    #[test]
    fn rejects_bad_origins() {
        for o in [
            "a.example.com",
            "https://a.example.com/",
            "https://a.example.com/path",
            "https://a?x=1",
            "https://a\"b",
            "https://<a>",
            "https://a:0",
            "https://a:99999",
            "https://a:port",
            "https://",
            "http://*.example.com",
            "https://u@a",
            "https://a..b",
            "ftp://a",
        ] {
            assert!(validate_origin(o).is_err(), "{o}");
        }
    }

    #[test]
    fn wildcard_with_credentials_is_rejected() {
        let err = CorsPolicy::recommended(&origins(&["*"])).expect_err("must fail");
        assert_eq!(err, PolicyError::WildcardWithCredentials);
        let mut p = CorsPolicy::recommended(&origins(&["https://a"])).expect("valid");
        p.origins[0].origin = "*".into();
        p.origins[0].allow_credentials = false;
        assert_eq!(p.validate(), Ok(vec![]));
    }

    #[test]
    fn warns_on_upper_case_and_default_port() {
        let mut p = CorsPolicy::recommended(&origins(&["https://a"])).expect("valid");
        p.origins[0].origin = "https://A:443".into();
        let w = p.validate().expect("valid");
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(p.normalized().origins[0].origin, "https://a:443");
    }

    #[test]
    fn duplicates_and_empty_are_rejected() {
        let err = CorsPolicy::recommended(&origins(&["https://a", "https://A"]));
        assert_eq!(err, Err(PolicyError::DuplicateOrigin("https://a".into())));
        assert_eq!(CorsPolicy::recommended(&[]), Err(PolicyError::NoOrigins));
        let mut p = CorsPolicy::recommended(&origins(&["https://a"])).expect("valid");
        p.origins[0].allow_methods.push("PU T".into());
        assert!(matches!(
            p.validate(),
            Err(PolicyError::InvalidToken { .. })
        ));
    }
}
