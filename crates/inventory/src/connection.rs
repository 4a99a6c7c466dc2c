//! Connection settings derived from a host's merged variables.
//!
//! Ansible's names are kept for what Ansible also knows (`ansible_host`, `ansible_port`,
//! `ansible_user`, `ansible_ssh_private_key_file`, `ansible_connection`, `ansible_shell_type`)
//! so an existing inventory works unchanged; corsfleet's own settings carry a `corsfleet_`
//! prefix. This module only *describes* a connection; the transport crate makes it.
//! Unknown `corsfleet_*` and `ansible_*` names are errors (a typo in `corsfleet_known_hosts`
//! must not silently turn off host-key checking), and a plain-text password is refused.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// How corsfleet reaches a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionKind {
    /// SSH + SFTP (Windows OpenSSH).
    Ssh,
    /// A local folder that mirrors drive C: (tests and the demo).
    Local,
}

/// The shell Windows OpenSSH starts for commands (`HKLM\SOFTWARE\OpenSSH\DefaultShell`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RemoteShell {
    #[default]
    Cmd,
    Powershell,
}

/// Everything needed to connect to one host; no secret values, only where to find them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConnectionSpec {
    pub kind: ConnectionKind,
    /// `ansible_host`, else the inventory name.
    pub address: String,
    /// `ansible_port`, default 22.
    pub port: u16,
    pub user: Option<String>,
    pub private_key_file: Option<PathBuf>,
    /// Name of the environment variable holding the password (never the password).
    pub password_env: Option<String>,
    pub known_hosts: Option<PathBuf>,
    pub remote_shell: RemoteShell,
    pub local_root: Option<PathBuf>,
    /// `corsfleet_https_port`, default 443.
    pub https_port: u16,
    pub ca_file: Option<PathBuf>,
    pub tls_server_name: Option<String>,
    /// Lower-case hex SHA-256 of the server certificate (colons removed).
    pub pin_sha256: Option<String>,
    pub insecure_tls: bool,
}

/// `corsfleet_*` variables corsfleet understands, with their meaning (for docs and hints).
pub const CORSFLEET_VARS: &[&str] = &[
    "corsfleet_password_env",
    "corsfleet_known_hosts",
    "corsfleet_remote_shell",
    "corsfleet_local_root",
    "corsfleet_https_port",
    "corsfleet_ca_file",
    "corsfleet_tls_server_name",
    "corsfleet_pin_sha256",
    "corsfleet_insecure_tls",
];

/// `ansible_*` variables corsfleet uses.
pub const ANSIBLE_VARS: &[&str] = &[
    "ansible_host",
    "ansible_port",
    "ansible_user",
    "ansible_ssh_private_key_file",
    "ansible_connection",
    "ansible_shell_type",
];

/// `ansible_*` variables accepted and ignored so a shared Ansible inventory loads unchanged.
pub const ANSIBLE_IGNORED_VARS: &[&str] = &[
    "ansible_python_interpreter",
    "ansible_ssh_common_args",
    "ansible_ssh_extra_args",
    "ansible_become",
    "ansible_become_method",
    "ansible_become_user",
    "ansible_shell_executable",
    "ansible_group_priority",
];

/// Plain-text password variables, refused.
const PASSWORD_VARS: &[&str] = &[
    "ansible_password",
    "ansible_ssh_pass",
    "ansible_ssh_password",
    "ansible_become_password",
    "ansible_become_pass",
];

/// Checks a variable *name* wherever it is defined. Returns `(message, hint)` when refused.
pub fn check_var_name(name: &str) -> Result<(), (String, Option<String>)> {
    if PASSWORD_VARS.contains(&name) {
        return Err((
            format!("`{name}` is refused: corsfleet does not read plain-text passwords from inventories"),
            Some("set `corsfleet_password_env: SOME_ENV_VAR` and export the password in that environment variable".to_string()),
        ));
    }
    if !is_identifier(name) {
        return Err((
            format!("invalid variable name `{name}`"),
            Some(
                "variable names are letters, digits and `_`, not starting with a digit".to_string(),
            ),
        ));
    }
    if name.starts_with("corsfleet_") && !CORSFLEET_VARS.contains(&name) {
        return Err((
            format!("unknown corsfleet variable `{name}`"),
            Some(hint_for(name, CORSFLEET_VARS.iter().copied())),
        ));
    }
    if name.starts_with("ansible_")
        && !ANSIBLE_VARS.contains(&name)
        && !ANSIBLE_IGNORED_VARS.contains(&name)
    {
        return Err((
            format!("unknown or unsupported connection variable `{name}`"),
            Some(hint_for(name, ANSIBLE_VARS.iter().copied())),
        ));
    }
    Ok(())
}

fn hint_for<'a>(name: &str, known: impl Iterator<Item = &'a str> + Clone) -> String {
    match crate::suggest(name, known.clone()) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("known: {}", known.collect::<Vec<_>>().join(", ")),
    }
}

pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether a variable holds a secret and must be redacted in output.
pub fn is_secret_var(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    // `*_env` names hold the *name* of an environment variable, which is not secret.
    if n.ends_with("_env") {
        return false;
    }
    [
        "password",
        "passwd",
        "pass",
        "secret",
        "token",
        "api_key",
        "apikey",
        "credential",
        "private_key",
    ]
    .iter()
    .any(|w| n.contains(w))
        && !n.ends_with("_file")
}

/// A variable-level problem found while building a [`ConnectionSpec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarProblem {
    /// The variable at fault.
    pub var: String,
    pub message: String,
}

/// Builds the connection settings from merged vars. Relative paths resolve against
/// `base_dir` (the folder of the inventory that defined the host).
pub fn from_vars(
    name: &str,
    vars: &Map<String, Value>,
    base_dir: &Path,
) -> Result<ConnectionSpec, Vec<VarProblem>> {
    let mut problems = Vec::new();
    let mut bad = |var: &str, message: String| {
        problems.push(VarProblem {
            var: var.to_string(),
            message,
        });
    };

    let kind = match get_str(vars, "ansible_connection", &mut bad).as_deref() {
        None | Some("ssh") => ConnectionKind::Ssh,
        Some("local") => ConnectionKind::Local,
        Some(other) => {
            bad(
                "ansible_connection",
                format!("`ansible_connection` must be `ssh` or `local`, not `{other}`"),
            );
            ConnectionKind::Ssh
        }
    };
    let address = get_str(vars, "ansible_host", &mut bad).unwrap_or_else(|| name.to_string());
    if !is_valid_address(&address) {
        let var = if vars.contains_key("ansible_host") {
            "ansible_host"
        } else {
            ""
        };
        bad(
            var,
            format!("`{address}` is not a valid hostname or IP address"),
        );
    }
    let port = get_port(vars, "ansible_port", 22, &mut bad);
    let https_port = get_port(vars, "corsfleet_https_port", 443, &mut bad);
    let user = get_str(vars, "ansible_user", &mut bad);
    if let Some(u) = &user
        && (u.is_empty()
            || u.chars()
                .any(|c| c.is_control() || c.is_whitespace() || "\"'`;|&<>$".contains(c)))
    {
        bad(
            "ansible_user",
            "`ansible_user` contains characters not allowed in a user name".to_string(),
        );
    }
    let path = |v: Option<String>| v.map(|p| base_dir.join(p));
    let private_key_file = path(get_str(vars, "ansible_ssh_private_key_file", &mut bad));
    let known_hosts = path(get_str(vars, "corsfleet_known_hosts", &mut bad));
    let local_root = path(get_str(vars, "corsfleet_local_root", &mut bad));
    let ca_file = path(get_str(vars, "corsfleet_ca_file", &mut bad));
    let password_env = get_str(vars, "corsfleet_password_env", &mut bad);
    if let Some(env) = &password_env
        && !is_identifier(env)
    {
        bad(
            "corsfleet_password_env",
            format!(
                "`corsfleet_password_env` must name an environment variable, `{env}` is not a valid name"
            ),
        );
    }
    let shell_var = if vars.contains_key("corsfleet_remote_shell") {
        "corsfleet_remote_shell"
    } else {
        "ansible_shell_type"
    };
    let remote_shell = match get_str(vars, shell_var, &mut bad).as_deref() {
        None | Some("cmd") => RemoteShell::Cmd,
        Some("powershell") => RemoteShell::Powershell,
        Some(other) => {
            bad(
                shell_var,
                format!("`{shell_var}` must be `cmd` or `powershell`, not `{other}`"),
            );
            RemoteShell::Cmd
        }
    };
    let tls_server_name = get_str(vars, "corsfleet_tls_server_name", &mut bad);
    if let Some(n) = &tls_server_name
        && !is_valid_address(n)
    {
        bad(
            "corsfleet_tls_server_name",
            format!("`{n}` is not a valid server name"),
        );
    }
    let pin_sha256 = get_str(vars, "corsfleet_pin_sha256", &mut bad).and_then(|p| {
        let hex: String = p
            .chars()
            .filter(|c| *c != ':')
            .collect::<String>()
            .to_ascii_lowercase();
        if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            Some(hex)
        } else {
            bad(
                "corsfleet_pin_sha256",
                "`corsfleet_pin_sha256` must be 64 hex digits (colons allowed)".to_string(),
            );
            None
        }
    });
    let insecure_tls = match vars.get("corsfleet_insecure_tls") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            bad(
                "corsfleet_insecure_tls",
                format!(
                    "`corsfleet_insecure_tls` must be a boolean, found {}",
                    json_kind(other)
                ),
            );
            false
        }
    };
    if problems.is_empty() {
        Ok(ConnectionSpec {
            kind,
            address,
            port,
            user,
            private_key_file,
            password_env,
            known_hosts,
            remote_shell,
            local_root,
            https_port,
            ca_file,
            tls_server_name,
            pin_sha256,
            insecure_tls,
        })
    } else {
        Err(problems)
    }
}

pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn get_str(
    vars: &Map<String, Value>,
    key: &str,
    bad: &mut impl FnMut(&str, String),
) -> Option<String> {
    match vars.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::String(_) => {
            bad(key, format!("`{key}` must not be empty"));
            None
        }
        other => {
            bad(
                key,
                format!("`{key}` must be a string, found {}", json_kind(other)),
            );
            None
        }
    }
}

fn get_port(
    vars: &Map<String, Value>,
    key: &str,
    default: u16,
    bad: &mut impl FnMut(&str, String),
) -> u16 {
    let n = match vars.get(key) {
        None => return default,
        Some(Value::Number(n)) => n.as_i64(),
        // Ansible inventories often quote ports.
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(_) => None,
    };
    match n.and_then(|n| u16::try_from(n).ok()).filter(|p| *p != 0) {
        Some(p) => p,
        None => {
            let shown = vars.get(key).map(|v| v.to_string()).unwrap_or_default();
            bad(
                key,
                format!("`{key}` must be a port number between 1 and 65535, found {shown}"),
            );
            default
        }
    }
}

/// A DNS name (letters, digits, `-`, `_`, dots) or an IP literal: nothing a shell or URL
/// would interpret.
pub fn is_valid_address(s: &str) -> bool {
    if s.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    if s.is_empty() || s.len() > 253 {
        return false;
    }
    s.trim_end_matches('.').split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn defaults_and_paths() {
        let c = from_vars(
            "aw-a",
            &vars(json!({"ansible_ssh_private_key_file": "keys/id"})),
            Path::new("/inv"),
        )
        .unwrap();
        assert_eq!(c.address, "aw-a");
        assert_eq!((c.port, c.https_port), (22, 443));
        assert_eq!(c.kind, ConnectionKind::Ssh);
        assert_eq!(
            c.private_key_file.as_deref(),
            Some(Path::new("/inv/keys/id"))
        );
        let c = from_vars("x", &vars(json!({"ansible_ssh_private_key_file": "/abs/id", "ansible_port": "2222", "ansible_shell_type": "powershell"})), Path::new("/inv")).unwrap();
        assert_eq!(c.private_key_file.as_deref(), Some(Path::new("/abs/id")));
        assert_eq!(c.port, 2222);
        assert_eq!(c.remote_shell, RemoteShell::Powershell);
    }

    #[test]
    fn bad_values() {
        let e = from_vars("x", &vars(json!({"ansible_port": 70000, "ansible_host": "a;rm -rf /", "ansible_connection": "winrm"})), Path::new("/")).unwrap_err();
        let vars: Vec<_> = e.iter().map(|p| p.var.as_str()).collect();
        assert_eq!(
            vars,
            vec!["ansible_connection", "ansible_host", "ansible_port"]
        );
    }

    #[test]
    fn names() {
        assert!(
            check_var_name("ansible_password")
                .unwrap_err()
                .1
                .unwrap()
                .contains("corsfleet_password_env")
        );
        assert!(
            check_var_name("corsfleet_knwon_hosts")
                .unwrap_err()
                .1
                .unwrap()
                .contains("corsfleet_known_hosts")
        );
        assert!(check_var_name("finesse_origins").is_ok());
        assert!(check_var_name("9x").is_err());
        assert!(is_secret_var("db_password") && is_secret_var("API_TOKEN"));
        assert!(
            !is_secret_var("corsfleet_password_env")
                && !is_secret_var("ansible_ssh_private_key_file")
        );
    }

    #[test]
    fn addresses() {
        for ok in ["aw-a", "10.0.0.1", "::1", "lgr-a.example.com", "LGR_A"] {
            assert!(is_valid_address(ok), "{ok}");
        }
        for bad in ["", "a b", "a;b", "$(x)", "-a", "a..b", "a/b"] {
            assert!(!is_valid_address(bad), "{bad}");
        }
    }
}
