//! Remote command lines for Windows OpenSSH's two default shells.
//!
//! Win32-OpenSSH runs an exec request through the configured default shell: cmd.exe unless an
//! administrator set `HKLM\SOFTWARE\OpenSSH\DefaultShell` to PowerShell. Two traps shape this
//! module (see DOMAIN.md, "Installing the module"):
//!
//! - msiexec is a GUI-subsystem program, so neither shell waits for it or returns its exit
//!   code unless told: cmd.exe needs `start "" /wait`, PowerShell needs
//!   `Start-Process -Wait -PassThru` and `.ExitCode`. [`RemoteCommand::wait_gui`] asks for that.
//! - Quoting. For cmd.exe we refuse, rather than try to escape, every character cmd.exe
//!   interprets (`" % ^ & | < > !` and line breaks): an argument either passes through literally
//!   or the line is not built, so an injectable line can never come out of here. For PowerShell
//!   the script is sent `-EncodedCommand` (base64 of UTF-16LE, as Ansible does), so the outer
//!   line is plain ASCII and the arguments live in single-quoted PowerShell strings.
//!
//! cmd.exe lines stop at 8191 characters; longer lines are an error, not a truncation.

use base64::Engine as _;

use crate::{ExecOutput, TransportError};

/// cmd.exe's maximum command-line length.
pub const MAX_CMD_LINE: usize = 8191;

/// A program and its arguments, before shell quoting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCommand {
    /// The program, e.g. `msiexec` or `C:\Windows\System32\reg.exe`.
    pub program: String,
    /// Arguments, one element each, unquoted.
    pub args: Vec<String>,
    /// The program is a GUI-subsystem program (msiexec): wait for it and return its exit code.
    pub wait_gui: bool,
}

impl RemoteCommand {
    /// A console program (the shell waits for it by itself).
    pub fn new(
        program: impl Into<String>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        RemoteCommand {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            wait_gui: false,
        }
    }

    /// A GUI-subsystem program such as msiexec, which the shell must be told to wait for.
    pub fn gui(
        program: impl Into<String>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        RemoteCommand {
            wait_gui: true,
            ..RemoteCommand::new(program, args)
        }
    }
}

/// The remote default shell that interprets the exec line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RemoteShell {
    /// cmd.exe, Win32-OpenSSH's default.
    #[default]
    Cmd,
    /// PowerShell (`DefaultShell` set to powershell.exe).
    PowerShell,
}

/// Build the exec line for `cmd` under `shell`. Errors instead of building an unsafe line.
pub fn command_line(cmd: &RemoteCommand, shell: RemoteShell) -> Result<String, TransportError> {
    if cmd.program.is_empty() {
        return Err(TransportError::UnsafeArgument {
            index: 0,
            what: "nothing (the program name is empty)".to_owned(),
        });
    }
    let line = match shell {
        RemoteShell::Cmd => cmd_line(cmd)?,
        RemoteShell::PowerShell => powershell_line(cmd)?,
    };
    if line.chars().count() > MAX_CMD_LINE {
        return Err(TransportError::CommandTooLong {
            len: line.chars().count(),
            max: MAX_CMD_LINE,
        });
    }
    Ok(line)
}

/// The PowerShell script `command_line` encodes for `RemoteShell::PowerShell` (exposed for
/// tests and `--check` output, where showing base64 would hide what runs).
pub fn powershell_script(cmd: &RemoteCommand) -> Result<String, TransportError> {
    // Stop turns "program not found" into a non-zero exit instead of `exit $null` = 0.
    let mut s = String::from("$ErrorActionPreference = 'Stop'; ");
    check_token(0, &cmd.program, false)?;
    for (i, a) in cmd.args.iter().enumerate() {
        check_token(i + 1, a, false)?;
    }
    if cmd.wait_gui {
        s.push_str("$p = Start-Process -FilePath ");
        s.push_str(&ps_quote(&cmd.program));
        if !cmd.args.is_empty() {
            // Start-Process joins ArgumentList with spaces without quoting, so each element is
            // pre-quoted for the Win32 command line the program will parse.
            s.push_str(" -ArgumentList @(");
            let items: Vec<String> = cmd.args.iter().map(|a| ps_quote(&win32_quote(a))).collect();
            s.push_str(&items.join(","));
            s.push(')');
        }
        s.push_str(" -Wait -PassThru; exit $p.ExitCode");
    } else {
        s.push_str("& ");
        s.push_str(&ps_quote(&cmd.program));
        for a in &cmd.args {
            s.push(' ');
            s.push_str(&ps_quote(a));
        }
        s.push_str("; exit $LASTEXITCODE");
    }
    Ok(s)
}

fn powershell_line(cmd: &RemoteCommand) -> Result<String, TransportError> {
    let script = powershell_script(cmd)?;
    let utf16: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(utf16);
    Ok(format!(
        "powershell -NoProfile -NonInteractive -EncodedCommand {b64}"
    ))
}

fn cmd_line(cmd: &RemoteCommand) -> Result<String, TransportError> {
    let mut parts = Vec::with_capacity(cmd.args.len() + 4);
    if cmd.wait_gui {
        // The empty title matters: `start` takes the first quoted token as the window title.
        parts.push("start \"\" /wait".to_owned());
    }
    check_token(0, &cmd.program, true)?;
    parts.push(win32_quote(&cmd.program));
    for (i, a) in cmd.args.iter().enumerate() {
        check_token(i + 1, a, true)?;
        parts.push(win32_quote(a));
    }
    let line = parts.join(" ");
    if !cmd.wait_gui {
        return Ok(line);
    }
    // Echo the waited program's exit code: an SSH exit status can lose it (a POSIX server
    // keeps 8 bits, so MSI's 1618 would arrive as 82). `!ERRORLEVEL!` needs delayed
    // expansion (`/v:on`); arguments can't contain `!` (refused above). `cmd /c "…"` strips
    // the outer quotes and keeps the inner ones.
    Ok(format!(
        "cmd /v:on /c \"{line} & echo {EXIT_MARKER}!ERRORLEVEL!\""
    ))
}

/// Prefix of the line a cmd.exe-wrapped GUI program's exit code is echoed on.
pub const EXIT_MARKER: &str = "corsfleet-exit=";

/// Take the echoed exit code of a cmd.exe-wrapped GUI program out of its output; every other
/// command keeps the exit status the transport saw. A wrapped command without the marker
/// never ran to its end: that is an error, never exit code 0.
pub(crate) fn settle_exit(
    cmd: &RemoteCommand,
    shell: RemoteShell,
    mut out: ExecOutput,
) -> Result<ExecOutput, TransportError> {
    if !(cmd.wait_gui && shell == RemoteShell::Cmd) {
        return Ok(out);
    }
    let marker = out
        .stdout
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix(EXIT_MARKER).map(str::to_owned));
    let code = marker.as_deref().and_then(|m| m.trim().parse::<i32>().ok());
    match code {
        Some(code) => {
            out.stdout = out
                .stdout
                .split_inclusive('\n')
                .filter(|l| !l.trim().starts_with(EXIT_MARKER))
                .collect();
            out.exit_code = code;
            Ok(out)
        }
        None => Err(TransportError::NoExitStatus {
            detail: format!(
                "{} ended without reporting its exit code (status {})",
                cmd.program, out.exit_code
            ),
        }),
    }
}

/// Refuse characters that cannot be passed literally. `cmd` adds cmd.exe's metacharacters.
fn check_token(index: usize, s: &str, cmd: bool) -> Result<(), TransportError> {
    let refuse = |what: String| Err(TransportError::UnsafeArgument { index, what });
    for ch in s.chars() {
        if ch == '\n' || ch == '\r' {
            return refuse("a line break".to_owned());
        }
        if ch.is_control() {
            return refuse(format!("the control character U+{:04X}", u32::from(ch)));
        }
        if ch == '"' {
            // Neither Win32 argv parsing nor cmd.exe has an escape that is safe in both.
            return refuse("a double quote".to_owned());
        }
        if cmd && matches!(ch, '%' | '^' | '&' | '|' | '<' | '>' | '!') {
            return refuse(format!("{ch:?}, which cmd.exe interprets"));
        }
    }
    Ok(())
}

/// Quote for the Win32 argv convention (CommandLineToArgvW / MSVCRT), which cmd.exe passes
/// through untouched once its metacharacters are excluded. `\` is literal except before `"`,
/// so trailing backslashes are doubled inside quotes.
fn win32_quote(s: &str) -> String {
    let needs = s.is_empty()
        || s.chars()
            .any(|c| c.is_whitespace() || matches!(c, ',' | ';' | '=' | '(' | ')'));
    if !needs {
        return s.to_owned();
    }
    let trailing = s.len() - s.trim_end_matches('\\').len();
    let mut out = String::with_capacity(s.len() + trailing + 2);
    out.push('"');
    out.push_str(s);
    out.push_str(&"\\".repeat(trailing));
    out.push('"');
    out
}

/// PowerShell single-quoted string. PowerShell also treats the typographic single quotes as
/// quote characters, so they are doubled too.
fn ps_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for ch in s.chars() {
        if matches!(ch, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            out.push(ch);
        }
        out.push(ch);
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msi() -> RemoteCommand {
        RemoteCommand::gui(
            "msiexec",
            [
                "/i",
                r"C:\corsfleet\IISCORS_amd64.msi",
                "/qn",
                "/norestart",
                "/l*v",
                r"C:\corsfleet\install.log",
            ],
        )
    }

    fn ok(r: Result<String, TransportError>) -> String {
        r.unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn cmd_waits_for_msiexec() {
        assert_eq!(
            ok(command_line(&msi(), RemoteShell::Cmd)),
            r#"cmd /v:on /c "start "" /wait msiexec /i C:\corsfleet\IISCORS_amd64.msi /qn /norestart /l*v C:\corsfleet\install.log & echo corsfleet-exit=!ERRORLEVEL!""#
        );
    }

    #[test]
    fn cmd_quotes_spaces_and_keeps_backslashes_literal() {
        let c = RemoteCommand::new(
            r"C:\Program Files\x.exe",
            [r"C:\my dir\", "a=b", "", r"C:\plain\path"],
        );
        assert_eq!(
            ok(command_line(&c, RemoteShell::Cmd)),
            r#""C:\Program Files\x.exe" "C:\my dir\\" "a=b" "" C:\plain\path"#
        );
    }

    #[test]
    fn cmd_refuses_injection() {
        for evil in [
            "a & del x",
            "a|b",
            "x > y",
            "<in",
            "%PATH%",
            "a^b",
            "a\"b",
            "a\nb",
            "a\rb",
            "!x!",
            "a\0b",
        ] {
            let c = RemoteCommand::new("reg", ["query", evil]);
            assert!(
                matches!(
                    command_line(&c, RemoteShell::Cmd),
                    Err(TransportError::UnsafeArgument { index: 2, .. })
                ),
                "{evil:?} must be refused"
            );
        }
        let c = RemoteCommand::new("a&b", Vec::<String>::new());
        assert!(matches!(
            command_line(&c, RemoteShell::Cmd),
            Err(TransportError::UnsafeArgument { index: 0, .. })
        ));
        let c = RemoteCommand::new("", Vec::<String>::new());
        assert!(command_line(&c, RemoteShell::Cmd).is_err());
    }

    #[test]
    fn refusal_never_echoes_the_argument() {
        let c = RemoteCommand::new("msiexec", ["PASSWORD=s3cr3t&x"]);
        let err = command_line(&c, RemoteShell::Cmd)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("argument 1"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
    }

    #[test]
    fn line_length_is_limited() {
        let long = "a".repeat(MAX_CMD_LINE);
        let c = RemoteCommand::new("echo", [long]);
        assert!(matches!(
            command_line(&c, RemoteShell::Cmd),
            Err(TransportError::CommandTooLong {
                max: MAX_CMD_LINE,
                ..
            })
        ));
        let fits = RemoteCommand::new("echo", ["a".repeat(MAX_CMD_LINE - 5)]);
        assert_eq!(
            ok(command_line(&fits, RemoteShell::Cmd)).len(),
            MAX_CMD_LINE
        );
    }

    fn decode(line: &str) -> String {
        let b64 = line
            .strip_prefix("powershell -NoProfile -NonInteractive -EncodedCommand ")
            .unwrap_or_else(|| panic!("unexpected prefix: {line}"));
        assert!(
            b64.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        );
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bytes.len() % 2, 0);
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16(&units).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn powershell_waits_for_msiexec_and_returns_its_code() {
        let script = decode(&ok(command_line(&msi(), RemoteShell::PowerShell)));
        assert_eq!(
            script,
            r"$ErrorActionPreference = 'Stop'; $p = Start-Process -FilePath 'msiexec' -ArgumentList @('/i','C:\corsfleet\IISCORS_amd64.msi','/qn','/norestart','/l*v','C:\corsfleet\install.log') -Wait -PassThru; exit $p.ExitCode"
        );
        assert_eq!(script, ok(powershell_script(&msi())));
    }

    #[test]
    fn powershell_console_program_and_quote_doubling() {
        let c = RemoteCommand::new("reg", ["query", "it's", "a\u{2019}b", "100% & more"]);
        let script = decode(&ok(command_line(&c, RemoteShell::PowerShell)));
        assert_eq!(
            script,
            "$ErrorActionPreference = 'Stop'; & 'reg' 'query' 'it''s' 'a\u{2019}\u{2019}b' '100% & more'; exit $LASTEXITCODE"
        );
    }

    #[test]
    fn powershell_prequotes_start_process_arguments_with_spaces() {
        let c = RemoteCommand::gui("msiexec", ["/i", r"C:\my dir\x.msi"]);
        let script = decode(&ok(command_line(&c, RemoteShell::PowerShell)));
        assert!(
            script.contains(r#"-ArgumentList @('/i','"C:\my dir\x.msi"')"#),
            "{script}"
        );
        let bare = RemoteCommand::gui("notepad", Vec::<String>::new());
        let script = decode(&ok(command_line(&bare, RemoteShell::PowerShell)));
        assert!(!script.contains("ArgumentList"), "{script}");
    }

    #[test]
    fn powershell_refuses_double_quotes_and_line_breaks() {
        for evil in ["a\"b", "a\nb"] {
            let c = RemoteCommand::new("x", [evil]);
            assert!(matches!(
                command_line(&c, RemoteShell::PowerShell),
                Err(TransportError::UnsafeArgument { index: 1, .. })
            ));
        }
    }

    #[test]
    fn the_echoed_exit_code_wins_and_a_missing_one_is_an_error() {
        let gui = RemoteCommand::gui("msiexec", ["/i", "x.msi"]);
        let out = |stdout: &str, code| ExecOutput {
            exit_code: code,
            stdout: stdout.to_owned(),
            stderr: String::new(),
        };
        let settled = settle_exit(
            &gui,
            RemoteShell::Cmd,
            out("noise\r\ncorsfleet-exit=1618\r\n", 0),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (settled.exit_code, settled.stdout.as_str()),
            (1618, "noise\r\n")
        );
        assert!(matches!(
            settle_exit(&gui, RemoteShell::Cmd, out("", 0)),
            Err(TransportError::NoExitStatus { .. })
        ));
        // Plain commands and PowerShell keep the transport's exit status.
        let plain = RemoteCommand::new("reg", ["query"]);
        let kept = settle_exit(&plain, RemoteShell::Cmd, out("corsfleet-exit=5", 1))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(kept.exit_code, 1);
        let kept = settle_exit(&gui, RemoteShell::PowerShell, out("", 3010))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(kept.exit_code, 3010);
    }
}
