//! The `msiexec` shim: installs "the module" the way Windows Installer would, with its exit
//! codes, its verbose log and its habits (DOMAIN.md, "Installing the module").
//!
//! - The package must start with the compound-file magic and carry the product name
//!   "IIS CORS Module" (ASCII or UTF-16LE) [assumed: that is enough to tell the real package
//!   from a wrong file]; a missing file is 1619, a wrong one 1620.
//! - Without `/qn` (or `/quiet`, `/passive`, `/qb`) the real program waits on a dialog nobody
//!   sees, so the shim blocks forever.
//! - One install at a time: a second one gets 1618 (Windows Installer's mutex).
//! - The three marks (DLL, schema, applicationHost.config registration) appear together: all
//!   are written to temporary files first, then renamed.
//! - `sim-faults.yml` scripts 1618-once, 1603, 3010 and an "async" mode ([`crate::faults`]).

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
    thread,
    time::Duration,
};

use sha2::{Digest, Sha256};

use crate::{
    SimError, faults,
    faults::InstallerOutcome,
    iis,
    tree::{SimPaths, map_windows_path},
    xml,
};

/// Product name the shim looks for in a package.
pub const PRODUCT_NAME: &str = "IIS CORS Module";
/// OLE compound file magic, the container format of every .msi.
pub const CFB_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// MSI exit codes used by the shim (Microsoft MSI error codes).
pub mod exit {
    pub const SUCCESS: i32 = 0;
    pub const REBOOT_REQUIRED: i32 = 3010;
    pub const FATAL: i32 = 1603;
    pub const ALREADY_RUNNING: i32 = 1618;
    pub const OPEN_FAILED: i32 = 1619;
    pub const INVALID_PACKAGE: i32 = 1620;
    pub const LOG_FAILURE: i32 = 1622;
    pub const INVALID_COMMAND_LINE: i32 = 1639;
    pub const UNKNOWN_PRODUCT: i32 = 1605;
}

/// Default delay of work that finishes after msiexec returned (GUI launch, async fault).
pub const BACKGROUND_DELAY: Duration = Duration::from_millis(1500);

const IMAGE: &str = r"%SystemRoot%\system32\inetsrv\iiscors.dll";

/// How to finish work after the caller has its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Background {
    /// A thread of this process (the in-process demo and tests: the process outlives it).
    Thread,
    /// A detached child process running this executable (the CLI exits at once, as a GUI
    /// program's launcher does).
    Process { exe: PathBuf },
}

/// Writes a test package the shim accepts. It is not a Microsoft file: only the compound-file
/// magic and the product name make it look like one.
pub fn make_msi(out: &Path) -> Result<(), SimError> {
    let mut bytes = Vec::with_capacity(64 * 1024);
    bytes.extend_from_slice(&CFB_MAGIC);
    bytes.resize(512, 0);
    let text = format!(
        "ucce-sim test package\r\nProductName={PRODUCT_NAME}\r\nManufacturer=ucce-sim (not Microsoft)\r\nProductVersion=1.0.0\r\n"
    );
    bytes.extend_from_slice(text.as_bytes());
    // Sized like a small real package so upload progress has something to show.
    let mut filler = 0u32;
    while bytes.len() < 64 * 1024 {
        filler = filler.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        bytes.push((filler >> 16) as u8);
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| SimError::io(dir, e))?;
    }
    fs::write(out, bytes).map_err(|e| SimError::io(out, e))
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Why a package is refused, as an MSI exit code.
pub fn check_package(bytes: &[u8]) -> Result<(), i32> {
    if !bytes.starts_with(&CFB_MAGIC) {
        return Err(exit::INVALID_PACKAGE);
    }
    if contains(bytes, PRODUCT_NAME.as_bytes()) || contains(bytes, &utf16(PRODUCT_NAME)) {
        Ok(())
    } else {
        Err(exit::INVALID_PACKAGE)
    }
}

/// A parsed msiexec command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Args {
    package: Option<String>,
    uninstall: bool,
    quiet: bool,
    log: Option<String>,
}

fn parse_args(args: &[String]) -> Result<Args, ()> {
    let mut out = Args::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let lower = a.to_ascii_lowercase();
        let opt = lower.strip_prefix('/').or_else(|| lower.strip_prefix('-'));
        match opt {
            Some("i" | "package") => out.package = Some(it.next().ok_or(())?.clone()),
            Some("x" | "uninstall") => {
                out.package = Some(it.next().ok_or(())?.clone());
                out.uninstall = true;
            }
            Some("quiet" | "passive") => out.quiet = true,
            Some(q) if q.starts_with('q') => {
                // /qn, /qn+, /qb, /qb-: no interaction. /qf and /qr show dialogs.
                out.quiet = q == "q" || q.starts_with("qn") || q.starts_with("qb");
            }
            Some("norestart" | "promptrestart" | "forcerestart") => {}
            Some(l) if l.starts_with('l') || l == "log" => {
                out.log = Some(it.next().ok_or(())?.clone());
            }
            // Public properties (NAME=value) are accepted and ignored.
            None if a.contains('=') => {}
            _ => return Err(()),
        }
    }
    if out.package.is_none() {
        return Err(());
    }
    Ok(out)
}

/// A verbose log in the shape of msiexec's `/l*v` output [assumed: UTF-8, not UTF-16].
struct Log {
    lines: Vec<String>,
}

impl Log {
    fn new(cmdline: &str) -> Self {
        let now = jiff::Zoned::now();
        Log {
            lines: vec![
                format!(
                    "=== Verbose logging started: {}  Build type: SHIP UNICODE 5.00.10011.00  Calling process: C:\\Windows\\system32\\msiexec.exe ===",
                    now.strftime("%-m/%-d/%Y  %H:%M:%S")
                ),
                format!("MSI (c) Command Line: {cmdline}"),
            ],
        }
    }

    fn line(&mut self, s: impl Into<String>) {
        let t = jiff::Zoned::now().strftime("%H:%M:%S:%3f").to_string();
        self.lines.push(format!("MSI (s) [{t}]: {}", s.into()));
    }

    fn finish(mut self, code: i32, path: Option<&Path>) -> i32 {
        self.lines
            .push(format!("MSI (s) MainEngineThread is returning {code}"));
        self.lines.push(format!(
            "=== Verbose logging stopped: {} ===",
            jiff::Zoned::now().strftime("%-m/%-d/%Y  %H:%M:%S")
        ));
        if let Some(p) = path {
            let mut text = self.lines.join("\r\n");
            text.push_str("\r\n");
            if fs::write(p, text).is_err() {
                return exit::LOG_FAILURE;
            }
        }
        code
    }
}

/// Windows Installer's one-install-at-a-time mutex, as a lock file holding the owner's pid.
struct InstallLock {
    path: PathBuf,
}

impl InstallLock {
    fn acquire(root: &Path) -> Option<Self> {
        let path = root.join("sim-msiexec.lock");
        for _ in 0..2 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    let _ = write!(f, "{}", std::process::id());
                    return Some(InstallLock { path });
                }
                Err(_) => {
                    // A lock whose process is gone is stale (a killed installer).
                    let holder = fs::read_to_string(&path).unwrap_or_default();
                    let alive = holder
                        .trim()
                        .parse::<u32>()
                        .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
                    if alive || holder.trim().is_empty() {
                        return None;
                    }
                    let _ = fs::remove_file(&path);
                }
            }
        }
        None
    }
}

impl Drop for InstallLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Runs msiexec and returns its exit code (blocking). Work that finishes after the return
/// (the async fault) runs on a thread of this process.
pub fn msiexec(root: &Path, args: &[String]) -> i32 {
    msiexec_with(root, args, &Background::Thread, false)
}

/// Like [`msiexec`], choosing how to run deferred work; `no_async` ignores the async fault
/// (used by the deferred run itself).
pub fn msiexec_with(root: &Path, args: &[String], bg: &Background, no_async: bool) -> i32 {
    let paths = SimPaths::new(root);
    let cmdline = args.join(" ");
    let Ok(parsed) = parse_args(args) else {
        tracing::debug!(%cmdline, "msiexec: invalid command line");
        return exit::INVALID_COMMAND_LINE;
    };
    let log_path = parsed.log.as_deref().map(|l| map_windows_path(root, l));
    if let Some(lp) = &log_path
        && !lp.parent().is_some_and(Path::is_dir)
    {
        return exit::LOG_FAILURE;
    }
    if !parsed.quiet {
        // The real program now shows a dialog on a desktop nobody looks at.
        tracing::warn!("msiexec without /qn: waiting on an invisible dialog forever");
        loop {
            thread::sleep(Duration::from_secs(3600));
        }
    }
    let mut log = Log::new(&cmdline);
    let Some(_lock) = InstallLock::acquire(root) else {
        log.line("Another installation is in progress (_MSIExecute mutex is held).");
        return log.finish(exit::ALREADY_RUNNING, log_path.as_deref());
    };
    let knobs = match faults::take_next_exit(&paths) {
        Ok(Some(code)) => {
            log.line(format!("Fault knob next_exit_once: returning {code}."));
            return log.finish(code, log_path.as_deref());
        }
        Ok(None) => faults::load(&paths).unwrap_or_default(),
        Err(e) => {
            log.line(format!("Fault knobs unreadable: {e}"));
            return log.finish(exit::FATAL, log_path.as_deref());
        }
    };
    let package = parsed.package.unwrap_or_default();
    let pkg_path = map_windows_path(root, &package);
    log.line(format!("Original package ==> {package}"));
    let bytes = match fs::read(&pkg_path) {
        Ok(b) => b,
        Err(_) => {
            log.line("Note: 1: 2203 2: package 3: -2147287038 (This installation package could not be opened.)");
            return log.finish(exit::OPEN_FAILED, log_path.as_deref());
        }
    };
    if let Err(code) = check_package(&bytes) {
        log.line("This installation package could not be opened. Contact the application vendor to verify that this is a valid Windows Installer package.");
        return log.finish(code, log_path.as_deref());
    }
    log.line(format!(
        "Package SHA-256: {}",
        hex::encode_upper(Sha256::digest(&bytes))
    ));
    if parsed.uninstall {
        if !is_installed(root) {
            log.line("This action is only valid for products that are currently installed.");
            return log.finish(exit::UNKNOWN_PRODUCT, log_path.as_deref());
        }
        if let Err(e) = uninstall(&paths) {
            log.line(format!("Error removing files: {e}. Return value 3."));
            return log.finish(exit::FATAL, log_path.as_deref());
        }
        log.line(format!(
            "Product: {PRODUCT_NAME} -- Removal completed successfully."
        ));
        return log.finish(exit::SUCCESS, log_path.as_deref());
    }
    match knobs.installer.outcome.unwrap_or(InstallerOutcome::Ok) {
        InstallerOutcome::Fail => {
            log.line("Action ended: InstallFinalize. Return value 3.");
            log.line(format!("Product: {PRODUCT_NAME} -- Installation failed."));
            log.line("Windows Installer installed the product. Installation success or error status: 1603.");
            log.finish(exit::FATAL, log_path.as_deref())
        }
        InstallerOutcome::Async if !no_async => {
            let delay = knobs
                .installer
                .async_delay_ms
                .map_or(BACKGROUND_DELAY, Duration::from_millis);
            log.line("Fault knob async: returning before the installation finished.");
            let code = log.finish(exit::SUCCESS, log_path.as_deref());
            drop(_lock);
            launch_later(root, args, delay, bg);
            code
        }
        outcome => {
            if let Err(e) = install(&paths) {
                log.line(format!("Error writing files: {e}. Return value 3."));
                log.line(format!("Product: {PRODUCT_NAME} -- Installation failed."));
                return log.finish(exit::FATAL, log_path.as_deref());
            }
            log.line(format!(
                "Product: {PRODUCT_NAME} -- Installation completed successfully."
            ));
            let code = if outcome == InstallerOutcome::Reboot {
                log.line(
                    "Product: IIS CORS Module -- A restart is required to complete the install.",
                );
                exit::REBOOT_REQUIRED
            } else {
                exit::SUCCESS
            };
            log.line(format!(
                "Windows Installer installed the product. Product Name: {PRODUCT_NAME}. Installation success or error status: {code}."
            ));
            log.finish(code, log_path.as_deref())
        }
    }
}

/// Runs msiexec after `delay`, without waiting: how a GUI-subsystem program behaves when cmd.exe
/// launches it without `start /wait`.
pub fn launch_later(root: &Path, args: &[String], delay: Duration, bg: &Background) {
    match bg {
        Background::Thread => {
            let root = root.to_path_buf();
            let args = args.to_vec();
            thread::spawn(move || {
                thread::sleep(delay);
                let _ = msiexec_with(&root, &args, &Background::Thread, true);
            });
        }
        Background::Process { exe } => {
            let mut cmd = std::process::Command::new(exe);
            cmd.arg("msiexec")
                .arg("--root")
                .arg(root)
                .arg("--delay-ms")
                .arg(delay.as_millis().to_string())
                .arg("--no-async")
                .arg("--")
                .args(args)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            // Out of the ssh session's process group, so the session can end without it.
            #[cfg(unix)]
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
            if let Err(e) = cmd.spawn() {
                tracing::warn!(error = %e, "could not start the background installer");
            }
        }
    }
}

const SCHEMA: &str = r#"<!--
    ucce-sim stand-in for the IIS CORS Module schema (not Microsoft's file).
-->
<configSchema>
    <sectionSchema name="system.webServer/cors">
        <attribute name="enabled" type="bool" defaultValue="false" />
        <attribute name="failUnlistedOrigins" type="bool" defaultValue="false" />
        <collection addElement="add" removeElement="remove" clearElement="clear">
            <attribute name="origin" type="string" required="true" isUniqueKey="true" />
            <attribute name="allowed" type="bool" defaultValue="true" />
            <attribute name="allowCredentials" type="bool" defaultValue="false" />
            <attribute name="maxAge" type="int" defaultValue="-1" />
            <element name="allowHeaders">
                <attribute name="allowAllRequestedHeaders" type="bool" defaultValue="false" />
                <collection addElement="add" removeElement="remove" clearElement="clear">
                    <attribute name="header" type="string" required="true" isUniqueKey="true" />
                </collection>
            </element>
            <element name="allowMethods">
                <collection addElement="add" removeElement="remove" clearElement="clear">
                    <attribute name="method" type="string" required="true" isUniqueKey="true" />
                </collection>
            </element>
            <element name="exposeHeaders">
                <collection addElement="add" removeElement="remove" clearElement="clear">
                    <attribute name="header" type="string" required="true" isUniqueKey="true" />
                </collection>
            </element>
        </collection>
    </sectionSchema>
</configSchema>
"#;

/// Why applicationHost.config could not be registered.
#[derive(Debug, thiserror::Error)]
enum RegisterError {
    #[error("applicationHost.config is not well-formed XML")]
    Malformed,
    #[error("applicationHost.config has no {0}")]
    Missing(&'static str),
}

/// Inserts `line` before the first `close` after `open`, indented like the line before it,
/// so the rest of the file stays byte-for-byte as it was.
fn insert_before_close(
    text: &str,
    open: &str,
    close: &str,
    line: &str,
) -> Result<String, RegisterError> {
    let start = text
        .find(open)
        .ok_or(RegisterError::Missing("section group"))?;
    let rel = text[start..]
        .find(close)
        .ok_or(RegisterError::Missing("closing tag"))?;
    let close_at = start + rel;
    let line_start = text[..close_at].rfind('\n').map_or(0, |i| i + 1);
    let close_indent = &text[line_start..close_at];
    let nl = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut out = String::with_capacity(text.len() + line.len() + 8);
    out.push_str(&text[..line_start]);
    out.push_str(close_indent);
    out.push_str("    ");
    out.push_str(line);
    out.push_str(nl);
    out.push_str(&text[line_start..]);
    Ok(out)
}

/// applicationHost.config with the section declared and the module registered.
fn register(text: &str) -> Result<String, RegisterError> {
    let doc = xml::parse(text.as_bytes()).map_err(|_| RegisterError::Malformed)?;
    let reg = iis::registration(&doc);
    let mut out = text.to_string();
    if !reg.section_declared {
        out = insert_before_close(
            &out,
            "<sectionGroup name=\"system.webServer\">",
            "</sectionGroup>",
            "<section name=\"cors\" overrideModeDefault=\"Allow\" />",
        )?;
    }
    if !reg.global_module {
        out = insert_before_close(
            &out,
            "<globalModules>",
            "</globalModules>",
            &format!("<add name=\"CorsModule\" image=\"{IMAGE}\" />"),
        )?;
    }
    Ok(out)
}

#[derive(Debug, thiserror::Error)]
enum InstallError {
    #[error(transparent)]
    Register(#[from] RegisterError),
    #[error(transparent)]
    Sim(#[from] SimError),
}

/// Writes the three marks: first every new file beside its target, then the renames.
fn install(p: &SimPaths) -> Result<(), InstallError> {
    let app =
        fs::read_to_string(&p.app_host_config).map_err(|e| SimError::io(&p.app_host_config, e))?;
    let app_new = register(&app)?;
    let dll =
        format!("ucce-sim stand-in for iiscors.dll ({PRODUCT_NAME}); not a Microsoft file\r\n");
    let files: [(&Path, &[u8]); 3] = [
        (&p.cors_dll, dll.as_bytes()),
        (&p.cors_schema, SCHEMA.as_bytes()),
        (&p.app_host_config, app_new.as_bytes()),
    ];
    let mut staged: Vec<(PathBuf, &Path)> = Vec::new();
    for (target, bytes) in files {
        let dir = target.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|e| SimError::io(dir, e))?;
        let tmp = dir.join(format!(
            ".{}.msi-{}.tmp",
            target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        if let Err(e) = fs::write(&tmp, bytes) {
            for (t, _) in &staged {
                let _ = fs::remove_file(t);
            }
            return Err(SimError::io(&tmp, e).into());
        }
        staged.push((tmp, target));
    }
    for (tmp, target) in staged {
        fs::rename(&tmp, target).map_err(|e| SimError::io(target, e))?;
    }
    Ok(())
}

/// Removes the three marks (`msiexec /x`). A `<cors>` section left in web.config then breaks
/// the site with 500.19 again, as on a real server.
fn uninstall(p: &SimPaths) -> Result<(), SimError> {
    let app =
        fs::read_to_string(&p.app_host_config).map_err(|e| SimError::io(&p.app_host_config, e))?;
    let kept: String = app
        .split_inclusive('\n')
        .filter(|l| {
            !l.contains("<section name=\"cors\"") && !l.contains("<add name=\"CorsModule\"")
        })
        .collect();
    crate::tree::write_atomic(&p.app_host_config, kept.as_bytes())?;
    for f in [&p.cors_dll, &p.cors_schema] {
        if let Err(e) = fs::remove_file(f)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(SimError::io(f, e));
        }
    }
    Ok(())
}

/// Whether all three marks are present (what a careful client checks after installing).
pub fn is_installed(root: &Path) -> bool {
    let p = SimPaths::new(root);
    let reg = fs::read(&p.app_host_config)
        .ok()
        .and_then(|b| xml::parse(&b).ok())
        .map(|d| iis::registration(&d))
        .unwrap_or_default();
    p.cors_dll.exists() && p.cors_schema.exists() && reg.section_declared && reg.global_module
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_the_silent_install_line() {
        let a = parse_args(&s(&[
            "/i",
            "C:\\x.msi",
            "/qn",
            "/norestart",
            "/l*v",
            "C:\\log",
        ]))
        .expect("valid");
        assert_eq!(a.package.as_deref(), Some("C:\\x.msi"));
        assert!(a.quiet);
        assert_eq!(a.log.as_deref(), Some("C:\\log"));
        assert!(
            !parse_args(&s(&["/i", "x.msi", "/qf"]))
                .expect("valid")
                .quiet
        );
        assert!(parse_args(&s(&["/qn"])).is_err());
        assert!(parse_args(&s(&["/i"])).is_err());
        assert!(parse_args(&s(&["/bogus", "/i", "x"])).is_err());
    }

    #[test]
    fn registration_keeps_the_rest_of_the_file() {
        let out = register(tree::STOCK_APP_HOST_CONFIG).expect("register");
        let doc = xml::parse(out.as_bytes()).expect("still XML");
        let reg = iis::registration(&doc);
        assert!(reg.section_declared && reg.global_module);
        assert!(out.contains(
            "            <section name=\"cors\" overrideModeDefault=\"Allow\" />\r\n        </sectionGroup>"
        ));
        // Idempotent.
        assert_eq!(register(&out).expect("again"), out);
        let removed = out
            .replace(
                "            <section name=\"cors\" overrideModeDefault=\"Allow\" />\r\n",
                "",
            )
            .replace(
                &format!("            <add name=\"CorsModule\" image=\"{IMAGE}\" />\r\n"),
                "",
            );
        assert_eq!(removed, tree::STOCK_APP_HOST_CONFIG);
    }

    #[test]
    fn package_check_wants_magic_and_product() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pkg = dir.path().join("p.msi");
        make_msi(&pkg).expect("make");
        let bytes = fs::read(&pkg).expect("read");
        assert_eq!(check_package(&bytes), Ok(()));
        assert_eq!(check_package(&bytes[8..]), Err(exit::INVALID_PACKAGE));
        let mut utf16_pkg = CFB_MAGIC.to_vec();
        utf16_pkg.extend(utf16(PRODUCT_NAME));
        assert_eq!(check_package(&utf16_pkg), Ok(()));
        assert_eq!(check_package(&CFB_MAGIC), Err(exit::INVALID_PACKAGE));
    }
}
