//! The `reg` shim: `reg query KEY [/v NAME]` answered from `ROOT/sim-registry.yml`, printed as
//! reg.exe prints it, so corsfleet can read the IIS version (`HKLM\SOFTWARE\Microsoft\InetStp`,
//! `MajorVersion`; DOMAIN.md "Installing the module").
//!
//! Output shape (blank line, key, four-space-indented `name    type    data`, blank line) and
//! the "unable to find" error follow reg.exe [assumed from common knowledge; not in DOMAIN.md].

use std::fs;

use serde::Deserialize;

use crate::tree::SimPaths;

/// What a shim run prints and returns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, Deserialize)]
struct Key {
    key: String,
    values: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct Value {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    data: String,
}

const NOT_FOUND: &str =
    "ERROR: The system was unable to find the specified registry key or value.\r\n";

fn normalise(key: &str) -> String {
    let key = key.trim().trim_end_matches('\\');
    let (hive, rest) = key.split_once('\\').unwrap_or((key, ""));
    let hive = match hive.to_ascii_uppercase().as_str() {
        "HKLM" => "HKEY_LOCAL_MACHINE".to_string(),
        "HKCU" => "HKEY_CURRENT_USER".to_string(),
        "HKCR" => "HKEY_CLASSES_ROOT".to_string(),
        "HKU" => "HKEY_USERS".to_string(),
        other => other.to_string(),
    };
    if rest.is_empty() {
        hive
    } else {
        format!("{hive}\\{rest}")
    }
}

fn render(kind: &str, data: &str) -> String {
    if kind.eq_ignore_ascii_case("REG_DWORD") {
        match data.trim().parse::<u32>() {
            Ok(n) => format!("0x{n:x}"),
            Err(_) => data.to_string(),
        }
    } else {
        data.to_string()
    }
}

/// Runs `reg ARGS` (ARGS without the program name).
pub fn run(paths: &SimPaths, args: &[String]) -> Output {
    let usage = Output {
        code: 1,
        stdout: String::new(),
        stderr: "ERROR: Invalid syntax.\r\nType \"REG QUERY /?\" for usage.\r\n".into(),
    };
    let Some((op, rest)) = args.split_first() else {
        return usage;
    };
    if !op.eq_ignore_ascii_case("query") {
        return Output {
            code: 1,
            stdout: String::new(),
            stderr: format!("ERROR: Invalid argument/option - '{op}'.\r\n"),
        };
    }
    let Some((key, opts)) = rest.split_first() else {
        return usage;
    };
    let mut value: Option<&str> = None;
    let mut it = opts.iter();
    while let Some(o) = it.next() {
        if o.eq_ignore_ascii_case("/v") {
            match it.next() {
                Some(v) => value = Some(v),
                None => return usage,
            }
        } else {
            return Output {
                code: 1,
                stdout: String::new(),
                stderr: format!("ERROR: Invalid argument/option - '{o}'.\r\n"),
            };
        }
    }
    let keys: Vec<Key> = fs::read_to_string(&paths.registry)
        .ok()
        .and_then(|t| serde_saphyr::from_str(&t).ok())
        .unwrap_or_default();
    let wanted = normalise(key);
    let not_found = Output {
        code: 1,
        stdout: String::new(),
        stderr: NOT_FOUND.into(),
    };
    let Some(k) = keys
        .iter()
        .find(|k| normalise(&k.key).eq_ignore_ascii_case(&wanted))
    else {
        return not_found;
    };
    let shown: Vec<&Value> = k
        .values
        .iter()
        .filter(|v| value.is_none_or(|w| v.name.eq_ignore_ascii_case(w)))
        .collect();
    if shown.is_empty() {
        return not_found;
    }
    let mut out = format!("\r\n{}\r\n", normalise(&k.key));
    for v in shown {
        out.push_str(&format!(
            "    {}    {}    {}\r\n",
            v.name,
            v.kind,
            render(&v.kind, &v.data)
        ));
    }
    out.push_str("\r\n");
    Output {
        code: 0,
        stdout: out,
        stderr: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn prints_major_version_like_reg_exe() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = crate::tree::init(dir.path(), &[]).expect("init");
        let out = run(
            &p,
            &args(&[
                "query",
                r"HKLM\SOFTWARE\Microsoft\InetStp",
                "/v",
                "MajorVersion",
            ]),
        );
        assert_eq!(out.code, 0);
        assert_eq!(
            out.stdout,
            "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\InetStp\r\n    MajorVersion    REG_DWORD    0xa\r\n\r\n"
        );
        let missing = run(
            &p,
            &args(&["query", r"HKLM\SOFTWARE\Microsoft\InetStp", "/v", "Nope"]),
        );
        assert_eq!(missing.code, 1);
        assert!(missing.stderr.contains("unable to find"));
        let all = run(&p, &args(&["query", r"hklm\software\microsoft\inetstp\"]));
        assert!(
            all.stdout.contains("SetupString    REG_SZ    IIS 10.0"),
            "{}",
            all.stdout
        );
    }
}
