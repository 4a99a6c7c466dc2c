//! A sliver of PowerShell for administrators who set `HKLM\SOFTWARE\OpenSSH\DefaultShell` to
//! PowerShell (DOMAIN.md, "Windows OpenSSH"): `powershell [-NoProfile] [-NonInteractive]
//! -EncodedCommand <base64 UTF-16LE>` or `-Command ...`, running scripts of the shape robust
//! clients send (DOMAIN.md: `Start-Process msiexec -Wait -PassThru` and `.ExitCode`):
//!
//! ```powershell
//! $ErrorActionPreference = 'Stop'; $p = Start-Process -FilePath 'msiexec' -ArgumentList @('/i','"C:\x y.msi"','/qn') -Wait -PassThru; exit $p.ExitCode
//! $ErrorActionPreference = 'Stop'; & 'reg' 'query' 'HKLM\SOFTWARE\Microsoft\InetStp' '/v' 'MajorVersion'; exit $LASTEXITCODE
//! ```
//!
//! Statements: variable assignment of a literal or of `Start-Process`, `Start-Process`
//! (`-FilePath`, `-ArgumentList`, `-Wait`, `-PassThru`, `-NoNewWindow`), `& 'prog' args` or a
//! bare program, `exit N|$LASTEXITCODE|$var.ExitCode`. Anything else is an unknown command
//! (exit 1) [assumed: enough for corsfleet; not a PowerShell].

use std::{collections::HashMap, path::Path};

use base64::Engine;

use super::{ShellOutput, Step, fail, ok, program_name, run_one, tokenize};
use crate::{
    msi::{self, BACKGROUND_DELAY, Background},
    reg,
    tree::SimPaths,
};

/// A PowerShell token: a string (quotes resolved) or a bare word / operator.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Str(String),
    Word(String),
}

impl Tok {
    fn text(&self) -> &str {
        match self {
            Tok::Str(s) | Tok::Word(s) => s,
        }
    }
}

/// Splits a script into statements of tokens; `;` and line breaks end statements.
fn lex(script: &str) -> Vec<Vec<Tok>> {
    let mut stmts = vec![Vec::new()];
    let chars: Vec<char> = script.chars().collect();
    let mut i = 0;
    let push = |stmts: &mut Vec<Vec<Tok>>, t: Tok| {
        if let Some(last) = stmts.last_mut() {
            last.push(t);
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            ';' | '\n' | '\r' => {
                stmts.push(Vec::new());
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '\'' | '\u{2018}' | '\u{2019}' => {
                let mut s = String::new();
                i += 1;
                while i < chars.len() {
                    let q = chars[i];
                    if matches!(q, '\'' | '\u{2018}' | '\u{2019}') {
                        if chars.get(i + 1).is_some_and(|n| *n == q) {
                            s.push(q);
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    s.push(q);
                    i += 1;
                }
                push(&mut stmts, Tok::Str(s));
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '`' && i + 1 < chars.len() {
                        i += 1;
                    }
                    s.push(chars[i]);
                    i += 1;
                }
                i += 1;
                push(&mut stmts, Tok::Str(s));
            }
            '(' | ')' | ',' | '=' | '&' => {
                push(&mut stmts, Tok::Word(c.to_string()));
                i += 1;
            }
            '@' if chars.get(i + 1) == Some(&'(') => {
                push(&mut stmts, Tok::Word("@(".into()));
                i += 2;
            }
            _ => {
                let mut s = String::new();
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(chars[i], ';' | '(' | ')' | ',' | '=' | '\'' | '"')
                {
                    s.push(chars[i]);
                    i += 1;
                }
                push(&mut stmts, Tok::Word(s));
            }
        }
    }
    stmts.retain(|s| !s.is_empty());
    stmts
}

fn unknown(name: &str) -> Step {
    fail(
        1,
        format!(
            "{name} : The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable program.\r\n"
        ),
    )
}

struct Interp<'a> {
    root: &'a Path,
    bg: &'a Background,
    vars: HashMap<String, i32>,
    last_exit: i32,
    out: ShellOutput,
}

impl Interp<'_> {
    /// Runs `Start-Process`; returns the process exit code when waited for.
    fn start_process(&mut self, toks: &[Tok]) -> Result<Option<i32>, Step> {
        let mut file: Option<String> = None;
        let mut arglist: Vec<String> = Vec::new();
        let mut wait = false;
        let mut i = 0;
        while i < toks.len() {
            let t = &toks[i];
            let lower = t.text().to_ascii_lowercase();
            match (t, lower.as_str()) {
                (Tok::Word(_), "-filepath") => {
                    file = toks.get(i + 1).map(|t| t.text().to_string());
                    i += 2;
                }
                (Tok::Word(_), "-argumentlist") => {
                    i += 1;
                    if toks.get(i).is_some_and(|t| t.text() == "@(") {
                        i += 1;
                        while let Some(t) = toks.get(i) {
                            i += 1;
                            match t {
                                Tok::Word(w) if w == ")" => break,
                                Tok::Word(w) if w == "," => {}
                                other => arglist.push(other.text().to_string()),
                            }
                        }
                    } else {
                        while let Some(t) = toks.get(i) {
                            if matches!(t, Tok::Word(w) if w.starts_with('-')) {
                                break;
                            }
                            if t.text() != "," {
                                arglist.push(t.text().to_string());
                            }
                            i += 1;
                        }
                    }
                }
                (Tok::Word(_), "-wait") => {
                    wait = true;
                    i += 1;
                }
                (Tok::Word(_), "-passthru" | "-nonewwindow") => i += 1,
                (_, _) if file.is_none() && !lower.starts_with('-') => {
                    file = Some(t.text().to_string());
                    i += 1;
                }
                _ => {
                    return Err(fail(
                        1,
                        format!(
                            "Start-Process : A parameter cannot be found that matches parameter name '{}'.\r\n",
                            t.text()
                        ),
                    ));
                }
            }
        }
        let Some(file) = file else {
            return Err(fail(
                1,
                "Start-Process : Cannot bind argument to parameter 'FilePath'.\r\n".into(),
            ));
        };
        // Start-Process joins ArgumentList with spaces; the program parses that Win32 line.
        let line = arglist.join(" ");
        let args: Vec<String> = tokenize(&line).iter().map(|t| t.arg()).collect();
        let name = program_name(&file);
        if name == "msiexec" {
            if wait {
                return Ok(Some(msi::msiexec_with(self.root, &args, self.bg, false)));
            }
            msi::launch_later(self.root, &args, BACKGROUND_DELAY, self.bg);
            return Ok(None);
        }
        let step = run_one(self.root, &format!("{file} {line}"), self.bg);
        if step.output.code == 9009 {
            return Err(fail(
                1,
                format!(
                    "Start-Process : This command cannot be run because the file '{file}' cannot be found.\r\n"
                ),
            ));
        }
        self.out.stdout.push_str(&step.output.stdout);
        self.out.stderr.push_str(&step.output.stderr);
        Ok(wait.then_some(step.output.code))
    }

    /// Runs a native program (`& 'prog' args` or a bare name).
    fn call(&mut self, prog: &str, args: &[Tok]) -> Result<(), Step> {
        let args: Vec<String> = args.iter().map(|t| t.text().to_string()).collect();
        match program_name(prog).as_str() {
            // A GUI program: PowerShell does not wait for it either.
            "msiexec" => msi::launch_later(self.root, &args, BACKGROUND_DELAY, self.bg),
            "reg" => {
                let o = reg::run(&SimPaths::new(self.root), &args);
                self.out.stdout.push_str(&o.stdout);
                self.out.stderr.push_str(&o.stderr);
                self.last_exit = o.code;
            }
            "cmd" => {
                let line = format!("cmd {}", args.join(" "));
                let s = run_one(self.root, &line, self.bg);
                self.out.stdout.push_str(&s.output.stdout);
                self.out.stderr.push_str(&s.output.stderr);
                self.last_exit = s.output.code;
            }
            _ => return Err(unknown(prog)),
        }
        Ok(())
    }

    fn value(&self, t: Option<&Tok>) -> i32 {
        let Some(t) = t else { return 0 };
        let text = t.text();
        if let Ok(n) = text.parse::<i32>() {
            return n;
        }
        let lower = text.to_ascii_lowercase();
        if lower == "$lastexitcode" {
            return self.last_exit;
        }
        let var = lower.strip_suffix(".exitcode").unwrap_or(&lower);
        self.vars.get(var).copied().unwrap_or(0)
    }

    fn statement(&mut self, toks: &[Tok]) -> Result<Option<i32>, Step> {
        let Some(first) = toks.first() else {
            return Ok(None);
        };
        let head = first.text().to_ascii_lowercase();
        if head == "exit" {
            return Ok(Some(self.value(toks.get(1))));
        }
        if head.starts_with('$') && toks.get(1).is_some_and(|t| t.text() == "=") {
            let rhs = &toks[2..];
            let is_sp = rhs
                .first()
                .is_some_and(|t| t.text().eq_ignore_ascii_case("start-process"));
            if is_sp {
                let code = self.start_process(&rhs[1..])?;
                self.vars.insert(head, code.unwrap_or(0));
            } else {
                // $ErrorActionPreference and other plain assignments.
                let v = self.value(rhs.first());
                self.vars.insert(head, v);
            }
            return Ok(None);
        }
        if head == "start-process" {
            self.start_process(&toks[1..])?;
            return Ok(None);
        }
        if head == "&" {
            let Some(prog) = toks.get(1) else {
                return Err(fail(1, "An expression was expected after '&'.\r\n".into()));
            };
            self.call(prog.text(), &toks[2..])?;
            return Ok(None);
        }
        self.call(first.text(), &toks[1..])?;
        Ok(None)
    }
}

/// Runs `powershell ARGS` (raw text after the program name).
pub(super) fn run(root: &Path, rest_raw: &str, bg: &Background) -> Step {
    let toks = tokenize(rest_raw);
    let mut script: Option<String> = None;
    let mut i = 0;
    while let Some(t) = toks.get(i) {
        let lower = t.arg().to_ascii_lowercase();
        if ["-encodedcommand", "-enc", "-e", "-ec"].contains(&lower.as_str()) {
            let b64 = toks.get(i + 1).map(|t| t.arg()).unwrap_or_default();
            let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
                return fail(1, "Cannot process the command because the value specified with -EncodedCommand is not properly encoded.\r\n".into());
            };
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            script = Some(String::from_utf16_lossy(&units));
            break;
        }
        if lower == "-command" || lower == "-c" {
            script = Some(rest_raw[t.end..].trim().trim_matches('"').to_string());
            break;
        }
        if lower == "-executionpolicy" || lower == "-windowstyle" {
            i += 1;
        }
        i += 1;
    }
    let Some(script) = script else {
        // An interactive PowerShell would wait for input.
        return ok(String::new());
    };
    let mut interp = Interp {
        root,
        bg,
        vars: HashMap::new(),
        last_exit: 0,
        out: ShellOutput::default(),
    };
    for stmt in lex(&script) {
        match interp.statement(&stmt) {
            Ok(Some(code)) => {
                interp.out.code = code;
                return Step {
                    output: interp.out,
                    exit: false,
                };
            }
            Ok(None) => {}
            Err(mut step) => {
                // $ErrorActionPreference = 'Stop' (robust scripts) ends the script.
                step.output.stdout = std::mem::take(&mut interp.out.stdout);
                let err = std::mem::take(&mut step.output.stderr);
                step.output.stderr = format!("{}{err}", interp.out.stderr);
                return step;
            }
        }
    }
    interp.out.code = interp.last_exit;
    Step {
        output: interp.out,
        exit: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(script: &str) -> String {
        let utf16: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
        format!(
            "powershell -NoProfile -NonInteractive -EncodedCommand {}",
            base64::engine::general_purpose::STANDARD.encode(utf16)
        )
    }

    fn root() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = crate::tree::init(dir.path(), &[]).expect("init");
        crate::make_msi(&p.temp_dir.join("IIS CORS.msi")).expect("msi");
        dir
    }

    #[test]
    fn start_process_wait_passthru_returns_the_exit_code() {
        let d = root();
        let line = encoded(
            r#"$ErrorActionPreference = 'Stop'; $p = Start-Process -FilePath 'msiexec' -ArgumentList @('/i','"C:\Windows\Temp\IIS CORS.msi"','/qn','/norestart') -Wait -PassThru; exit $p.ExitCode"#,
        );
        let o = super::super::run(d.path(), &line);
        assert_eq!(o.code, 0, "{o:?}");
        assert!(crate::msi::is_installed(d.path()));
        let bad = encoded(
            r#"$p = Start-Process -FilePath 'msiexec' -ArgumentList @('/i','C:\missing.msi','/qn') -Wait -PassThru; exit $p.ExitCode"#,
        );
        assert_eq!(super::super::run(d.path(), &bad).code, 1619);
    }

    #[test]
    fn call_operator_and_lastexitcode() {
        let d = root();
        let line = encoded(
            r"$ErrorActionPreference = 'Stop'; & 'reg' 'query' 'HKLM\SOFTWARE\Microsoft\InetStp' '/v' 'MajorVersion'; exit $LASTEXITCODE",
        );
        let o = super::super::run(d.path(), &line);
        assert_eq!(o.code, 0);
        assert!(o.stdout.contains("0xa"));
        let o = super::super::run(d.path(), &encoded("& 'Get-Nothing'; exit 0"));
        assert_eq!(o.code, 1);
        assert!(
            o.stderr
                .contains("is not recognized as the name of a cmdlet")
        );
    }

    #[test]
    fn lexes_quotes_and_arrays() {
        let s = lex("$a = 'it''s'; f @('x',\"y\")\nexit 3");
        assert_eq!(s.len(), 3);
        assert_eq!(s[0][2], Tok::Str("it's".into()));
        assert_eq!(s[1].len(), 6);
    }
}
