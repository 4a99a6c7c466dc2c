//! Typed parameters of the task modules, and their checks.
//!
//! Parameter *names* are checked when the playbook loads (an unknown one is an error with its
//! line); *values* are checked after templating for a host, because `{{ var }}` may supply
//! them. Behaviour belongs to the tasks crate; this module only says what a valid call is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use corsfleet_inventory::yaml::{Key, Node};
use corsfleet_webconfig::{CorsPolicy, PolicyError};
use serde_json::{Map, Value as Json};

use crate::{Location, ModuleKind, PlaybookError};

/// Where Cisco's ISAPI redirector keeps the `web.config` corsfleet patches.
pub const DEFAULT_WEB_CONFIG: &str = r"C:\icm\tomcat\bin\i386\web.config";
/// An origin no rule allows, used to check that unlisted origins are refused.
pub const DEFAULT_DENY_ORIGIN: &str = "https://corsfleet-denied.invalid";

/// Typed module parameters for one host.
#[derive(Debug, Clone, PartialEq)]
pub enum ModuleArgs {
    IisFacts(IisFactsArgs),
    MsiInstall(MsiInstallArgs),
    WebConfigCors(WebConfigCorsArgs),
    CorsPreflight(CorsPreflightArgs),
}

impl ModuleArgs {
    pub fn kind(&self) -> ModuleKind {
        match self {
            ModuleArgs::IisFacts(_) => ModuleKind::IisFacts,
            ModuleArgs::MsiInstall(_) => ModuleKind::MsiInstall,
            ModuleArgs::WebConfigCors(_) => ModuleKind::WebConfigCors,
            ModuleArgs::CorsPreflight(_) => ModuleKind::CorsPreflight,
        }
    }
}

/// `iis_facts`: read IIS version, CORS-module presence and the web.config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IisFactsArgs {
    pub web_config: String,
    pub min_iis_major: u32,
}

/// `msi_install`: upload and install the IIS CORS Module package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsiInstallArgs {
    /// Local file; a relative path resolves against the playbook's folder.
    pub src: PathBuf,
    /// Lower-case hex SHA-256 of `src`, checked before upload.
    pub sha256: String,
    /// Remote folder (Windows path) the package is copied to.
    pub dest: String,
    /// How often to retry while msiexec answers 1618 (another installation running).
    pub max_busy_retries: u32,
    pub busy_delay: Duration,
}

/// `web_config_cors`: make the `<cors>` section match a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConfigCorsArgs {
    pub path: String,
    pub policy: CorsPolicy,
    /// Write even while the CORS module is absent (which makes IIS answer 500.19).
    pub force: bool,
    /// Keep a copy of the previous file beside it.
    pub backup: bool,
}

/// `cors_preflight`: check preflights and actual requests as a browser would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsPreflightArgs {
    /// `None`: the tasks crate uses `https://{address}:{https_port}/unifiedconfig/config/agent`.
    pub url: Option<String>,
    pub origins: Vec<String>,
    /// An origin expected to be refused; `None` skips that check.
    pub deny_origin: Option<String>,
    pub method: String,
    pub headers: Vec<String>,
    pub credentials: bool,
    pub attempts: u32,
    pub delay: Duration,
}

/// Parameter names per module, and which are required.
pub(crate) fn params(kind: ModuleKind) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        ModuleKind::IisFacts => (&["web_config", "min_iis_major"], &[]),
        ModuleKind::MsiInstall => (
            &["src", "sha256", "dest", "max_busy_retries", "busy_delay"],
            &["src", "sha256"],
        ),
        ModuleKind::WebConfigCors => (
            &[
                "path",
                "origins",
                "max_age",
                "allow_credentials",
                "allow_methods",
                "allow_headers",
                "expose_headers",
                "fail_unlisted_origins",
                "location",
                "force",
                "backup",
            ],
            &["origins"],
        ),
        ModuleKind::CorsPreflight => (
            &[
                "url",
                "origins",
                "deny_origin",
                "method",
                "headers",
                "credentials",
                "attempts",
                "delay",
            ],
            &["origins"],
        ),
    }
}

pub(crate) fn check_param_names(
    kind: ModuleKind,
    given: &[(Key, Node)],
    module_pos: &Location,
    errors: &mut Vec<PlaybookError>,
) {
    let (known, required) = params(kind);
    for (k, _) in given {
        if !known.contains(&k.name.as_str()) {
            let hint = match corsfleet_inventory::suggest(&k.name, known.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("`{}` accepts: {}", kind.name(), known.join(", ")),
            };
            errors.push(
                PlaybookError::new(
                    k.pos.clone(),
                    format!(
                        "unknown parameter `{}` for module `{}`",
                        k.name,
                        kind.name()
                    ),
                )
                .with_hint(hint),
            );
        }
    }
    for r in required {
        if !given.iter().any(|(k, _)| k.name == *r) {
            errors.push(PlaybookError::new(
                module_pos.clone(),
                format!("module `{}` requires parameter `{r}`", kind.name()),
            ));
        }
    }
}

/// Reads templated parameter values into typed arguments.
pub(crate) struct Reader<'a> {
    pub values: &'a Map<String, Json>,
    pub locations: &'a BTreeMap<String, Location>,
    pub fallback: &'a Location,
    pub module: ModuleKind,
    pub errors: Vec<PlaybookError>,
}

impl Reader<'_> {
    fn loc(&self, key: &str) -> Location {
        self.locations
            .get(key)
            .cloned()
            .unwrap_or_else(|| self.fallback.clone())
    }

    fn bad(&mut self, key: &str, message: String) {
        let loc = self.loc(key);
        self.errors.push(PlaybookError::new(
            loc,
            format!("`{}` parameter `{key}`: {message}", self.module.name()),
        ));
    }

    fn string(&mut self, key: &str) -> Option<String> {
        match self.values.get(key)? {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) => Some(n.to_string()),
            Json::Bool(b) => Some(b.to_string()),
            other => {
                self.bad(key, format!("expected a string, found {}", kind(other)));
                None
            }
        }
    }

    fn windows_path(&mut self, key: &str, default: &str) -> String {
        let Some(p) = self.string(key) else {
            return default.to_string();
        };
        let b = p.as_bytes();
        let absolute = b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\';
        if !absolute
            || p.chars().any(|c| c.is_control() || "<>\"|?*".contains(c))
            || p[2..].contains(':')
        {
            self.bad(
                key,
                format!("expected an absolute Windows path like `C:\\folder\\file`, found `{p}`"),
            );
        }
        p
    }

    fn uint(&mut self, key: &str, default: u32, min: u32, max: u32) -> u32 {
        let n = match self.values.get(key) {
            None => return default,
            Some(Json::Number(n)) => n.as_i64(),
            Some(Json::String(s)) => s.trim().parse::<i64>().ok(),
            Some(_) => None,
        };
        match n
            .filter(|n| (i64::from(min)..=i64::from(max)).contains(n))
            .and_then(|n| u32::try_from(n).ok())
        {
            Some(n) => n,
            None => {
                let shown = self
                    .values
                    .get(key)
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                self.bad(
                    key,
                    format!("expected an integer from {min} to {max}, found {shown}"),
                );
                default
            }
        }
    }

    fn seconds(&mut self, key: &str, default: Duration, max: u32) -> Duration {
        if let Some(Json::String(s)) = self.values.get(key) {
            let s = s.trim();
            let parsed = if let Some(m) = s.strip_suffix('m') {
                m.trim().parse::<u64>().ok().map(|m| m * 60)
            } else {
                s.strip_suffix('s').unwrap_or(s).trim().parse::<u64>().ok()
            };
            return match parsed.filter(|n| *n <= u64::from(max)) {
                Some(n) => Duration::from_secs(n),
                None => {
                    self.bad(
                        key,
                        format!("expected seconds (`10`, `10s` or `2m`) up to {max}, found `{s}`"),
                    );
                    default
                }
            };
        }
        let d = u32::try_from(default.as_secs()).unwrap_or(max);
        Duration::from_secs(u64::from(self.uint(key, d, 0, max)))
    }

    fn boolean(&mut self, key: &str, default: bool) -> bool {
        match self.values.get(key) {
            None => default,
            Some(Json::Bool(b)) => *b,
            // `-e force=true` arrives as a string.
            Some(Json::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" => true,
                "false" | "no" => false,
                _ => {
                    self.bad(key, format!("expected true or false, found `{s}`"));
                    default
                }
            },
            Some(other) => {
                self.bad(
                    key,
                    format!("expected true or false, found {}", kind(other)),
                );
                default
            }
        }
    }

    fn string_list(&mut self, key: &str) -> Option<Vec<String>> {
        match self.values.get(key)? {
            Json::Array(items) => {
                let mut out = Vec::new();
                for i in items {
                    match i {
                        Json::String(s) => out.push(s.clone()),
                        other => {
                            self.bad(
                                key,
                                format!(
                                    "expected a list of strings, found an entry that is {}",
                                    kind(other)
                                ),
                            );
                            return None;
                        }
                    }
                }
                Some(out)
            }
            // One origin given as a plain string.
            Json::String(s) => Some(vec![s.clone()]),
            other => {
                self.bad(
                    key,
                    format!("expected a list of strings, found {}", kind(other)),
                );
                None
            }
        }
    }
}

fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a mapping",
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

pub(crate) fn build(r: &mut Reader<'_>, playbook_dir: &Path) -> Option<ModuleArgs> {
    let args = match r.module {
        ModuleKind::IisFacts => ModuleArgs::IisFacts(IisFactsArgs {
            web_config: r.windows_path("web_config", DEFAULT_WEB_CONFIG),
            min_iis_major: r.uint("min_iis_major", 10, 1, 100),
        }),
        ModuleKind::MsiInstall => {
            let src = r.string("src").unwrap_or_default();
            if src.trim().is_empty() {
                r.bad("src", "expected a path to the .msi file".to_string());
            }
            let sha = r
                .string("sha256")
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
                r.bad(
                    "sha256",
                    format!(
                        "expected 64 hex digits, found {} characters",
                        sha.chars().count()
                    ),
                );
            }
            ModuleArgs::MsiInstall(MsiInstallArgs {
                src: playbook_dir.join(src),
                sha256: sha,
                dest: r.windows_path("dest", r"C:\Windows\Temp"),
                max_busy_retries: r.uint("max_busy_retries", 5, 0, 100),
                busy_delay: r.seconds("busy_delay", Duration::from_secs(10), 3600),
            })
        }
        ModuleKind::WebConfigCors => {
            let path = r.windows_path("path", DEFAULT_WEB_CONFIG);
            let origins = r.string_list("origins").unwrap_or_default();
            let policy = match CorsPolicy::recommended(&origins) {
                Ok(mut p) => {
                    let max_age = match r.values.get("max_age") {
                        // -1 is IIS's "no Access-Control-Max-Age header".
                        Some(Json::Number(n)) if n.as_i64() == Some(-1) => None,
                        _ => {
                            Some(r.uint("max_age", corsfleet_webconfig::DEFAULT_MAX_AGE, 0, 86_400))
                        }
                    };
                    let creds = r.boolean("allow_credentials", true);
                    let methods = r.string_list("allow_methods");
                    let headers = r.string_list("allow_headers");
                    let expose = r.string_list("expose_headers");
                    p.fail_unlisted_origins = r.boolean("fail_unlisted_origins", true);
                    p.location = r.string("location");
                    for rule in &mut p.origins {
                        rule.max_age = max_age;
                        rule.allow_credentials = creds;
                        if let Some(m) = &methods {
                            rule.allow_methods = m.clone();
                        }
                        if let Some(h) = &headers {
                            rule.allow_all_requested_headers = h.is_empty();
                            rule.allow_headers = h.clone();
                        }
                        if let Some(e) = &expose {
                            rule.expose_headers = e.clone();
                        }
                    }
                    if let Err(e) = p.validate() {
                        let key = policy_error_key(&e);
                        r.bad(key, e.to_string());
                    }
                    p
                }
                Err(e) => {
                    r.bad("origins", e.to_string());
                    CorsPolicy {
                        enabled: true,
                        fail_unlisted_origins: true,
                        location: None,
                        origins: Vec::new(),
                    }
                }
            };
            ModuleArgs::WebConfigCors(WebConfigCorsArgs {
                path,
                policy,
                force: r.boolean("force", false),
                backup: r.boolean("backup", true),
            })
        }
        ModuleKind::CorsPreflight => {
            let url = r.string("url");
            if let Some(u) = &url {
                let ok = (u.starts_with("https://") || u.starts_with("http://"))
                    && !u.chars().any(|c| c.is_whitespace() || c.is_control());
                if !ok {
                    r.bad("url", format!("expected an http(s) URL, found `{u}`"));
                }
            }
            let origins = r.string_list("origins").unwrap_or_default();
            if origins.is_empty() {
                r.bad("origins", "expected at least one origin".to_string());
            }
            for o in &origins {
                if let Err(e) = corsfleet_webconfig::validate_origin(o) {
                    r.bad("origins", e.to_string());
                }
            }
            let deny_origin = match r.values.get("deny_origin") {
                Some(Json::Null) => None,
                Some(_) => r.string("deny_origin"),
                None => Some(DEFAULT_DENY_ORIGIN.to_string()),
            };
            if let Some(d) = &deny_origin
                && let Err(e) = corsfleet_webconfig::validate_origin(d)
            {
                r.bad("deny_origin", e.to_string());
            }
            let method = r
                .string("method")
                .unwrap_or_else(|| "PUT".to_string())
                .to_ascii_uppercase();
            if !is_token(&method) {
                r.bad("method", format!("`{method}` is not an HTTP method name"));
            }
            let headers = r
                .string_list("headers")
                .unwrap_or_else(|| vec!["authorization".to_string(), "content-type".to_string()]);
            for h in &headers {
                if !is_token(h) {
                    r.bad("headers", format!("`{h}` is not a header name"));
                }
            }
            ModuleArgs::CorsPreflight(CorsPreflightArgs {
                url,
                origins,
                deny_origin,
                method,
                headers,
                credentials: r.boolean("credentials", true),
                attempts: r.uint("attempts", 5, 1, 100),
                delay: r.seconds("delay", Duration::from_secs(1), 600),
            })
        }
    };
    if r.errors.is_empty() {
        Some(args)
    } else {
        None
    }
}

fn policy_error_key(e: &PolicyError) -> &'static str {
    match e {
        PolicyError::InvalidLocation(_) => "location",
        PolicyError::InvalidToken { kind: "method", .. } => "allow_methods",
        PolicyError::InvalidToken { .. } => "allow_headers",
        PolicyError::WildcardWithCredentials => "allow_credentials",
        _ => "origins",
    }
}
