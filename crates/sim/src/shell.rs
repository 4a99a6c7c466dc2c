//! A cmd.exe emulation for the commands corsfleet sends over SSH, because Windows OpenSSH's
//! default shell is cmd.exe (DOMAIN.md, "Windows OpenSSH"). sshd runs `SHELL -c "LINE"`; the
//! container's login shell is `ucce-sim-cmd`, which lands here.
//!
//! Supported: `&`, `&&`, `||`; `>`/`>>`/`2>`/`2>&1` redirections; `%VAR%` expansion of a few
//! variables (expanded once per line, as cmd.exe does, so `%ERRORLEVEL%` is the value before the
//! line ran); `start ["title"] [/wait] PROG ...`; `cmd /c ...`; `msiexec`, `reg`, `echo`, `type`,
//! `exit`, `ver`, and a sliver of `powershell` ([`powershell`]). A bare `msiexec` returns 0 at once and installs ~1.5 s later, because it is a
//! GUI-subsystem program cmd.exe does not wait for (DOMAIN.md). Anything else gets cmd.exe's
//! "is not recognized" message and exit code 9009.

use std::{fs, path::Path};

mod powershell;

use crate::{
    msi::{self, BACKGROUND_DELAY, Background},
    reg,
    tree::{SimPaths, map_windows_path},
};

/// What a command line printed and its exit code.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShellOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs one cmd.exe command line (blocking). Deferred work runs on threads of this process.
pub fn run(root: &Path, cmdline: &str) -> ShellOutput {
    run_with(root, cmdline, &Background::Thread)
}

/// Like [`run`], choosing how deferred work (a GUI msiexec launch) outlives the call.
pub fn run_with(root: &Path, cmdline: &str, bg: &Background) -> ShellOutput {
    run_line(root, cmdline, bg, false)
}

/// Runs a line; with `delayed` (cmd /v:on) `!ERRORLEVEL!` is expanded when each command runs,
/// which is the one way to read an exit code within the same line on Windows.
fn run_line(root: &Path, cmdline: &str, bg: &Background, delayed: bool) -> ShellOutput {
    let line = expand_vars(cmdline, 0);
    let mut out = ShellOutput::default();
    let mut run_next = true;
    for (cmd, op) in split_commands(&line) {
        if run_next && !cmd.trim().is_empty() {
            let cmd = if delayed {
                replace_ci(cmd, "!errorlevel!", &out.code.to_string())
            } else {
                cmd.to_string()
            };
            let step = run_redirected(root, cmd.trim(), bg);
            out.stdout.push_str(&step.output.stdout);
            out.stderr.push_str(&step.output.stderr);
            out.code = step.output.code;
            if step.exit {
                break;
            }
        }
        run_next = match op {
            Some(Op::And) => out.code == 0,
            Some(Op::Or) => out.code != 0,
            Some(Op::Then) | None => true,
        };
    }
    out
}

fn replace_ci(s: &str, pat: &str, with: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.to_ascii_lowercase().find(pat) {
        out.push_str(&rest[..i]);
        out.push_str(with);
        rest = &rest[i + pat.len()..];
    }
    out.push_str(rest);
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Then,
    And,
    Or,
}

/// Splits at `&`, `&&`, `||` outside double quotes.
fn split_commands(line: &str) -> Vec<(&str, Option<Op>)> {
    let bytes = line.as_bytes();
    let mut parts = Vec::new();
    let mut in_q = false;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => in_q = !in_q,
            b'&' if !in_q && i > 0 && bytes[i - 1] == b'>' => {} // 2>&1
            b'&' if !in_q => {
                let dbl = bytes.get(i + 1) == Some(&b'&');
                parts.push((&line[start..i], Some(if dbl { Op::And } else { Op::Then })));
                i += if dbl { 2 } else { 1 };
                start = i;
                continue;
            }
            b'|' if !in_q && bytes.get(i + 1) == Some(&b'|') => {
                parts.push((&line[start..i], Some(Op::Or)));
                i += 2;
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push((&line[start..], None));
    parts
}

fn expand_vars(line: &str, errorlevel: i32) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let Some(j) = after.find('%') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let name = &after[..j];
        let value = match name.to_ascii_lowercase().as_str() {
            "errorlevel" => Some(errorlevel.to_string()),
            "windir" | "systemroot" => Some("C:\\Windows".to_string()),
            "systemdrive" => Some("C:".to_string()),
            "temp" | "tmp" => Some("C:\\Windows\\Temp".to_string()),
            "comspec" => Some("C:\\Windows\\system32\\cmd.exe".to_string()),
            _ => None,
        };
        match value {
            Some(v) => {
                out.push_str(&v);
                rest = &after[j + 1..];
            }
            // Undefined variables stay as typed on the command line.
            None => {
                out.push('%');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A token with its raw text (quotes kept) and where it ends in the command.
#[derive(Debug, Clone)]
struct Token<'a> {
    raw: &'a str,
    end: usize,
}

impl Token<'_> {
    /// The argument a C runtime would see: quotes removed.
    fn arg(&self) -> String {
        self.raw.replace('"', "")
    }
}

fn tokenize(cmd: &str) -> Vec<Token<'_>> {
    let bytes = cmd.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let start = i;
        let mut in_q = false;
        while i < bytes.len() && (in_q || !bytes[i].is_ascii_whitespace()) {
            if bytes[i] == b'"' {
                in_q = !in_q;
            }
            i += 1;
        }
        toks.push(Token {
            raw: &cmd[start..i],
            end: i,
        });
    }
    toks
}

struct Step {
    output: ShellOutput,
    /// `exit` was run: stop the line.
    exit: bool,
}

enum Sink {
    Keep,
    Discard,
    File { path: String, append: bool },
    ToStdout,
}

/// Applies `>`, `>>`, `2>`, `2>&1` around one command; like cmd.exe, a redirection may stick
/// to the word before it (`echo x>file`).
fn run_redirected(root: &Path, cmd: &str, bg: &Background) -> Step {
    let chars: Vec<char> = cmd.chars().collect();
    let mut kept = String::new();
    let mut out_sink = Sink::Keep;
    let mut err_sink = Sink::Keep;
    let mut in_q = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            in_q = !in_q;
        }
        if c != '>' || in_q {
            kept.push(c);
            i += 1;
            continue;
        }
        // A digit right before `>` that starts a word names the stream.
        let mut fd = 1;
        if let Some(d @ ('1' | '2')) = kept.chars().last() {
            let before = kept.chars().rev().nth(1);
            if before.is_none_or(char::is_whitespace) {
                fd = if d == '2' { 2 } else { 1 };
                kept.pop();
            }
        }
        i += 1;
        let append = chars.get(i) == Some(&'>');
        if append {
            i += 1;
        }
        while chars.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        let mut target = String::new();
        let mut tq = false;
        while let Some(&t) = chars.get(i) {
            if t == '"' {
                tq = !tq;
            } else if t.is_whitespace() && !tq {
                break;
            } else {
                target.push(t);
            }
            i += 1;
        }
        let sink = if target == "&1" && fd == 2 {
            Sink::ToStdout
        } else if target.eq_ignore_ascii_case("nul") {
            Sink::Discard
        } else {
            Sink::File {
                path: target,
                append,
            }
        };
        if fd == 1 {
            out_sink = sink;
        } else {
            err_sink = sink;
        }
    }
    let mut step = run_one(root, kept.trim_end(), bg);
    let o = &mut step.output;
    let err_text = std::mem::take(&mut o.stderr);
    match err_sink {
        Sink::Keep => o.stderr = err_text,
        Sink::ToStdout => o.stdout.push_str(&err_text),
        Sink::Discard => {}
        Sink::File { path, append } => write_sink(root, &path, append, &err_text, o),
    }
    match out_sink {
        Sink::Keep | Sink::ToStdout => {}
        Sink::Discard => o.stdout.clear(),
        Sink::File { path, append } => {
            let text = std::mem::take(&mut o.stdout);
            write_sink(root, &path, append, &text, o);
        }
    }
    step
}

fn write_sink(root: &Path, path: &str, append: bool, text: &str, o: &mut ShellOutput) {
    let file = map_windows_path(root, path);
    let mut content = if append {
        fs::read_to_string(&file).unwrap_or_default()
    } else {
        String::new()
    };
    content.push_str(text);
    if fs::write(&file, content).is_err() {
        o.stderr
            .push_str("The system cannot find the path specified.\r\n");
        o.code = 1;
    }
}

fn program_name(raw: &str) -> String {
    let unq = raw.replace('"', "");
    let base = unq
        .rsplit(['\\', '/'])
        .next()
        .unwrap_or(&unq)
        .to_ascii_lowercase();
    base.strip_suffix(".exe")
        .map(str::to_string)
        .unwrap_or(base)
}

fn ok(stdout: String) -> Step {
    Step {
        output: ShellOutput {
            code: 0,
            stdout,
            stderr: String::new(),
        },
        exit: false,
    }
}

fn fail(code: i32, stderr: String) -> Step {
    Step {
        output: ShellOutput {
            code,
            stdout: String::new(),
            stderr,
        },
        exit: false,
    }
}

fn not_recognized(name: &str) -> Step {
    fail(
        9009,
        format!(
            "'{name}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
        ),
    )
}

fn run_one(root: &Path, cmd: &str, bg: &Background) -> Step {
    let toks = tokenize(cmd);
    let Some(first) = toks.first() else {
        return ok(String::new());
    };
    // `echo.` and `echo,` print an empty line.
    let lower_first = first.raw.to_ascii_lowercase();
    if lower_first == "echo." || lower_first == "echo," {
        return ok("\r\n".into());
    }
    let name = program_name(first.raw);
    let rest_raw = cmd[first.end..].trim_start();
    let args: Vec<String> = toks[1..].iter().map(Token::arg).collect();
    match name.as_str() {
        "echo" if rest_raw.is_empty() => ok("ECHO is on.\r\n".into()),
        "echo" => ok(format!("{rest_raw}\r\n")),
        "ver" => ok("\r\nMicrosoft Windows [Version 10.0.17763.1]\r\n".into()),
        "exit" => {
            let code = args
                .iter()
                .find(|a| !a.eq_ignore_ascii_case("/b"))
                .and_then(|a| a.parse::<i32>().ok())
                .unwrap_or(0);
            Step {
                output: ShellOutput {
                    code,
                    ..ShellOutput::default()
                },
                exit: true,
            }
        }
        "type" => {
            let Some(file) = args.first() else {
                return fail(1, "The syntax of the command is incorrect.\r\n".into());
            };
            match fs::read(map_windows_path(root, file)) {
                Ok(b) => ok(String::from_utf8_lossy(&b).into_owned()),
                Err(_) => fail(1, "The system cannot find the file specified.\r\n".into()),
            }
        }
        "reg" => {
            let o = reg::run(&SimPaths::new(root), &args);
            Step {
                output: ShellOutput {
                    code: o.code,
                    stdout: o.stdout,
                    stderr: o.stderr,
                },
                exit: false,
            }
        }
        "msiexec" => {
            // GUI subsystem: cmd.exe does not wait, the exit code is lost.
            msi::launch_later(root, &args, BACKGROUND_DELAY, bg);
            ok(String::new())
        }
        "cmd" => {
            let mut rest = rest_raw;
            let mut delayed = false;
            loop {
                let lower = rest.to_ascii_lowercase();
                if lower.starts_with("/c") || lower.starts_with("/k") {
                    let inner = rest[2..].trim();
                    // Without /S, cmd.exe strips the first and the last quote of the line.
                    let inner = match inner.strip_prefix('"') {
                        Some(s) => match s.rfind('"') {
                            Some(i) => format!("{}{}", &s[..i], &s[i + 1..]),
                            None => s.to_string(),
                        },
                        None => inner.to_string(),
                    };
                    let o = run_line(root, &inner, bg, delayed);
                    return Step {
                        output: o,
                        exit: false,
                    };
                }
                if lower.starts_with("/v:on") {
                    delayed = true;
                    rest = rest[5..].trim_start();
                    continue;
                }
                if let Some(flag) = ["/v:off", "/s", "/q", "/d"]
                    .iter()
                    .find(|f| lower.starts_with(**f))
                {
                    rest = rest[flag.len()..].trim_start();
                    continue;
                }
                // An interactive cmd would wait for input that never comes over `exec`.
                return ok(String::new());
            }
        }
        "start" => run_start(root, &toks[1..], cmd, bg),
        "powershell" | "pwsh" => powershell::run(root, rest_raw, bg),
        _ => not_recognized(first.raw.trim_matches('"')),
    }
}

/// `start ["title"] [/wait] [/b] [/min] ... PROG args`.
fn run_start(root: &Path, toks: &[Token<'_>], cmd: &str, bg: &Background) -> Step {
    let mut i = 0;
    let mut wait = false;
    if toks.first().is_some_and(|t| t.raw.starts_with('"')) {
        i = 1; // the window title
    }
    while let Some(t) = toks.get(i) {
        let lower = t.raw.to_ascii_lowercase();
        if !lower.starts_with('/') {
            break;
        }
        if lower == "/wait" {
            wait = true;
        }
        i += 1;
    }
    let Some(prog) = toks.get(i) else {
        // `start` alone opens a new console window; nothing to see over SSH.
        return ok(String::new());
    };
    let name = program_name(prog.raw);
    let args: Vec<String> = toks[i + 1..].iter().map(Token::arg).collect();
    if name == "msiexec" {
        if wait {
            let code = msi::msiexec_with(root, &args, bg, false);
            return Step {
                output: ShellOutput {
                    code,
                    ..ShellOutput::default()
                },
                exit: false,
            };
        }
        msi::launch_later(root, &args, BACKGROUND_DELAY, bg);
        return ok(String::new());
    }
    let rest = &cmd[toks
        .get(i.wrapping_sub(1))
        .map_or(0, |t| t.end)
        .min(cmd.len())..];
    let program_line = if i == 0 {
        cmd.trim_start()
    } else {
        rest.trim_start()
    };
    let step = run_one(root, program_line, bg);
    if step.output.code == 9009 {
        // start reports an unknown program in a message box on Windows [assumed: as stderr].
        return fail(
            9009,
            format!(
                "The system cannot find the file {}.\r\n",
                prog.raw.trim_matches('"')
            ),
        );
    }
    if wait {
        Step {
            output: step.output,
            exit: false,
        }
    } else {
        // A new console window got the output; this shell sees none and exit code 0.
        ok(String::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        crate::tree::init(dir.path(), &[]).expect("init");
        dir
    }

    #[test]
    fn splits_on_operators_outside_quotes() {
        let parts: Vec<_> = split_commands(r#"echo "a&b" & exit 3 && x || y 2>&1"#)
            .into_iter()
            .map(|(c, o)| (c.trim().to_string(), o))
            .collect();
        assert_eq!(parts.len(), 4, "{parts:?}");
        assert_eq!(parts[0], ("echo \"a&b\"".to_string(), Some(Op::Then)));
        assert_eq!(parts[3].0, "y 2>&1");
    }

    #[test]
    fn unknown_programs_exit_9009() {
        let d = root();
        let o = run(d.path(), "Get-ChildItem -Recurse");
        assert_eq!(o.code, 9009);
        assert!(o.stderr.starts_with("'Get-ChildItem' is not recognized"));
    }

    #[test]
    fn echo_type_exit_and_conditionals() {
        let d = root();
        let o = run(
            d.path(),
            r#"echo hello "world" & type "C:\icm\tomcat\bin\i386\web.config" > nul && exit /b 7"#,
        );
        assert_eq!(o.stdout, "hello \"world\"\r\n");
        assert_eq!(o.code, 7);
        let o = run(d.path(), r"type C:\nope.txt || echo missing %ERRORLEVEL%");
        assert_eq!(o.stdout, "missing 0\r\n");
        assert_eq!(o.code, 0);
        let o = run(d.path(), r#"cmd /c "exit 5""#);
        assert_eq!(o.code, 5);
        let o = run(
            d.path(),
            r#"cmd /v:on /c "type C:\nope & echo rc=!ERRORLEVEL! %ERRORLEVEL%""#,
        );
        assert_eq!(o.stdout, "rc=1 0\r\n");
    }

    #[test]
    fn reg_query_through_cmd() {
        let d = root();
        let o = run(
            d.path(),
            r#"reg query "HKLM\SOFTWARE\Microsoft\InetStp" /v MajorVersion"#,
        );
        assert_eq!(o.code, 0, "{o:?}");
        assert!(o.stdout.contains("MajorVersion    REG_DWORD    0xa"));
    }

    #[test]
    fn redirects_to_a_file() {
        let d = root();
        let o = run(
            d.path(),
            r"echo x> C:\Windows\Temp\out.txt & type C:\Windows\Temp\out.txt",
        );
        assert_eq!(o.stdout, "x\r\n");
    }
}
