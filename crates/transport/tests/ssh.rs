//! Real-SSH tests: each test starts its own OpenSSH `sshd` on 127.0.0.1 (free port, fresh host
//! key, own config, `-D -e`) and logs in with a fresh ed25519 key as the current user.
//!
//! They need `/usr/sbin/sshd`, `ssh-keygen` and `/usr/lib/openssh/sftp-server` (Debian's
//! openssh-server; `.ci/run` installs it), and must run as root or as a user sshd may log in
//! as. Without them the tests FAIL with a message saying what is missing: a silently skipped
//! SSH test would prove nothing.
//!
//! Remote paths are Windows paths, and on this Linux server `C:\x` is the SFTP path `/C:/x`,
//! so file tests work below `/C:/corsfleet-transport-tests/<unique>/` (the layout the
//! simulator image uses) and remove their folder afterwards.

use std::fs;
use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use corsfleet_transport::{
    HostKeyPolicy, RemoteCommand, RemoteShell, SshAuth, SshOptions, SshTransport, Transport,
    TransportError, WinPath,
};

const SSHD: &str = "/usr/sbin/sshd";
const SFTP_SERVER: &str = "/usr/lib/openssh/sftp-server";

fn require(path: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: these tests need a real OpenSSH server \
         (Debian: apt-get install openssh-server)"
    );
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (is openssh-client installed?)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn keygen(path: &Path) {
    run(Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "corsfleet-test",
            "-f",
        ])
        .arg(path));
}

/// A running sshd, killed on drop.
struct Sshd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    user: String,
}

impl Sshd {
    fn start() -> Sshd {
        Self::start_with("")
    }

    /// `sftp_args`: extra arguments for sftp-server (e.g. `-P posix-rename`).
    fn start_with(sftp_args: &str) -> Sshd {
        Self::start_full(sftp_args, false)
    }

    /// `ecdsa`: also serve an ECDSA host key (`host_ecdsa`), listed after the ED25519 one.
    fn start_full(sftp_args: &str, ecdsa: bool) -> Sshd {
        require(SSHD);
        require(SFTP_SERVER);
        // sshd refuses to start without its privilege separation folder.
        let _ = fs::create_dir_all("/run/sshd");
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        keygen(&d.join("host_ed25519"));
        keygen(&d.join("client_ed25519"));
        let mut extra_keys = String::new();
        if ecdsa {
            run(Command::new("ssh-keygen")
                .args(["-q", "-t", "ecdsa", "-b", "256", "-N", "", "-f"])
                .arg(d.join("host_ecdsa")));
            extra_keys = format!("HostKey {}/host_ecdsa\n", d.display());
        }
        fs::copy(d.join("client_ed25519.pub"), d.join("authorized_keys")).expect("authorized_keys");
        let user = run(Command::new("id").arg("-un")).trim().to_owned();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let config = format!(
            "Port {port}\n\
             ListenAddress 127.0.0.1\n\
             HostKey {d}/host_ed25519\n\
             {extra_keys}\
             PidFile none\n\
             AuthorizedKeysFile {d}/authorized_keys\n\
             StrictModes no\n\
             UsePAM no\n\
             PermitRootLogin prohibit-password\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             LogLevel ERROR\n\
             MaxSessions 50\n\
             MaxStartups 50\n\
             Subsystem sftp {SFTP_SERVER} {sftp_args}\n",
            d = d.display()
        );
        fs::write(d.join("sshd_config"), config).expect("sshd_config");
        let log = fs::File::create(d.join("sshd.log")).expect("sshd.log");
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {SSHD}: {e}"));
        let mut sshd = Sshd {
            child,
            port,
            dir,
            user,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = sshd.child.try_wait() {
                panic!("sshd exited with {status}: {}", sshd.log());
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "sshd did not listen within 10 s: {}",
                sshd.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        sshd
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The host key as `ssh-ed25519 AAAA…`.
    fn host_key(&self) -> String {
        let pub_line = fs::read_to_string(self.path("host_ed25519.pub")).expect("host key");
        pub_line
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A known_hosts file that lists this server under `[127.0.0.1]:port`.
    fn known_hosts(&self) -> PathBuf {
        let p = self.path("known_hosts");
        fs::write(
            &p,
            format!("[127.0.0.1]:{} {}\n", self.port, self.host_key()),
        )
        .expect("write known_hosts");
        p
    }

    fn options(&self, known_hosts: &Path, policy: HostKeyPolicy) -> SshOptions {
        SshOptions {
            host: "127.0.0.1".to_owned(),
            port: self.port,
            user: self.user.clone(),
            auth: SshAuth::KeyFile(self.path("client_ed25519")),
            known_hosts: known_hosts.to_owned(),
            host_key_policy: policy,
            connect_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(15),
            shell: RemoteShell::Cmd,
            host_key_alias: None,
        }
    }

    fn connect(&self) -> SshTransport {
        let kh = self.known_hosts();
        SshTransport::connect(&self.options(&kh, HostKeyPolicy::Strict)).unwrap_or_else(|e| {
            panic!(
                "connect failed: {e}: {:?}\nsshd log: {}",
                source_chain(&e),
                self.log()
            )
        })
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn source_chain(e: &dyn std::error::Error) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push(s.to_string());
        cur = s.source();
    }
    out
}

/// A unique folder `C:\corsfleet-transport-tests\<pid>-<n>` (locally `/C:/…`), removed on drop.
struct RemoteDir {
    win: WinPath,
    local: PathBuf,
}

impl RemoteDir {
    fn new() -> RemoteDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let local = PathBuf::from("/C:/corsfleet-transport-tests").join(&name);
        fs::create_dir_all(&local).unwrap_or_else(|e| {
            panic!(
                "cannot create {}: {e} (the ssh file tests need to run as root)",
                local.display()
            )
        });
        let win =
            WinPath::parse(&format!(r"C:\corsfleet-transport-tests\{name}")).expect("winpath");
        RemoteDir { win, local }
    }

    fn file(&self, name: &str) -> WinPath {
        self.win.join(name).expect("join")
    }

    fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(&self.local)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for RemoteDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.local);
    }
}

mod exec {
    use super::*;

    #[test]
    fn exit_codes_and_output_come_back() {
        let sshd = Sshd::start();
        let t = sshd.connect();
        assert_eq!(t.exec_raw("exit 0").expect("exec").exit_code, 0);
        let out = t.exec_raw("echo out; echo err >&2; exit 3").expect("exec");
        assert_eq!(
            (out.exit_code, out.stdout.as_str(), out.stderr.as_str()),
            (3, "out\n", "err\n")
        );
        // Unix exit statuses are 8 bits, so 1618 arrives as 1618 % 256; Windows sends all 32.
        assert_eq!(t.exec_raw("exit 1618").expect("exec").exit_code, 1618 % 256);
        assert_eq!(t.exec_raw("exit 82").expect("exec").exit_code, 82);
    }

    #[test]
    fn exec_builds_the_line_and_reuses_the_session() {
        let sshd = Sshd::start();
        let t = sshd.connect();
        // The cmd.exe line `sh "-c" ...` is also a valid sh line for quoted words without
        // metacharacters, which lets the real bash server run it.
        for code in [0, 3, 7] {
            let cmd = RemoteCommand::new("sh", ["-c".to_owned(), format!("exit {code}")]);
            assert_eq!(t.exec(&cmd).expect("exec").exit_code, code);
        }
        let refused = RemoteCommand::new("sh", ["-c", "exit 0 & rm -rf x"]);
        assert!(matches!(
            t.exec(&refused),
            Err(TransportError::UnsafeArgument { .. })
        ));
    }

    #[test]
    fn a_killed_command_is_an_error_never_exit_zero() {
        let sshd = Sshd::start();
        let t = sshd.connect();
        match t.exec_raw("kill -9 $$") {
            Err(TransportError::NoExitStatus { detail }) => {
                assert!(detail.contains("KILL"), "{detail}")
            }
            other => panic!("expected NoExitStatus, got {other:?}"),
        }
        // The session survives a killed command.
        assert_eq!(t.exec_raw("exit 5").expect("exec").exit_code, 5);
    }

    #[test]
    fn a_dropped_connection_is_an_error_never_exit_zero() {
        let sshd = Sshd::start();
        let t = sshd.connect();
        // $PPID is sshd's per-connection process: killing it drops the connection before any
        // exit status can be sent.
        let r = t.exec_raw("kill -9 $PPID; sleep 5");
        assert!(r.is_err(), "expected an error, got {r:?}");
    }

    #[test]
    fn parallel_tasks_share_one_session() {
        let sshd = Sshd::start();
        let t = Arc::new(sshd.connect());
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let t = Arc::clone(&t);
                std::thread::spawn(move || {
                    t.exec_raw(&format!("echo {i}; exit {i}")).expect("exec")
                })
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            let out = h.join().expect("thread");
            assert_eq!(out.exit_code, i as i32);
            assert_eq!(out.stdout.trim(), i.to_string());
        }
    }
}

mod files {
    use super::*;

    #[test]
    fn write_read_stat_remove() {
        let sshd = Sshd::start();
        let t = sshd.connect();
        let dir = RemoteDir::new();
        let f = dir.file("web.config");
        assert_eq!(t.stat(&f).expect("stat"), None);
        assert!(matches!(
            t.read_file(&f),
            Err(TransportError::NotFound { .. })
        ));
        t.write_file_atomic(&f, b"<configuration/>\n")
            .expect("write");
        assert_eq!(t.read_file(&f).expect("read"), b"<configuration/>\n");
        assert_eq!(
            fs::read(dir.local.join("web.config")).expect("local read"),
            b"<configuration/>\n"
        );
        let st = t.stat(&f).expect("stat").expect("exists");
        assert_eq!((st.size, st.is_dir), (17, false));
        assert!(st.modified.is_some());
        assert!(t.stat(&dir.win).expect("stat").expect("dir").is_dir);
        t.remove_file(&f).expect("remove");
        assert_eq!(t.stat(&f).expect("stat"), None);
        t.remove_file(&f).expect("removing a missing file is fine");
        assert!(dir.entries().is_empty(), "{:?}", dir.entries());
    }

    #[test]
    fn atomic_replace_uses_posix_rename_and_leaves_no_temp_files() {
        let sshd = Sshd::start();
        let t = sshd.connect();
        let dir = RemoteDir::new();
        let f = dir.file("web.config");
        t.write_file_atomic(&f, b"one").expect("create");
        t.write_file_atomic(&f, b"two, longer").expect("replace");
        assert_eq!(t.read_file(&f).expect("read"), b"two, longer");
        t.write_file_atomic(&f, b"3").expect("replace again");
        assert_eq!(fs::read(dir.local.join("web.config")).expect("read"), b"3");
        assert_eq!(dir.entries(), ["web.config"]);
    }

    #[test]
    fn fallback_replaces_when_the_server_denies_posix_rename() {
        // sftp-server -P posix-rename answers the extension with PERMISSION_DENIED, like a
        // hardened server; the two-rename fallback must still replace the file.
        let sshd = Sshd::start_with("-P posix-rename");
        let t = sshd.connect();
        let dir = RemoteDir::new();
        let f = dir.file("web.config");
        t.write_file_atomic(&f, b"old").expect("create");
        t.write_file_atomic(&f, b"new")
            .expect("replace through the fallback");
        assert_eq!(t.read_file(&f).expect("read"), b"new");
        assert_eq!(dir.entries(), ["web.config"]);
    }

    #[test]
    fn forced_fallback_replaces_and_cleans_up() {
        let sshd = Sshd::start();
        let t = sshd.connect();
        t.force_rename_fallback(true);
        let dir = RemoteDir::new();
        let f = dir.file("web.config");
        t.write_file_atomic(&f, b"old").expect("create");
        t.write_file_atomic(&f, b"new").expect("replace");
        assert_eq!(t.read_file(&f).expect("read"), b"new");
        assert_eq!(dir.entries(), ["web.config"]);
    }

    #[test]
    fn a_failed_write_leaves_the_target_untouched() {
        let sshd = Sshd::start();
        let t = sshd.connect();
        let dir = RemoteDir::new();
        // The target is a folder: the rename onto it must fail, and nothing may change.
        fs::create_dir(dir.local.join("web.config")).expect("mkdir");
        fs::write(dir.local.join("web.config").join("keep"), b"x").expect("write");
        let f = dir.file("web.config");
        assert!(t.write_file_atomic(&f, b"new").is_err());
        assert_eq!(dir.entries(), ["web.config"]);
        assert_eq!(
            fs::read(dir.local.join("web.config").join("keep")).expect("read"),
            b"x"
        );
        // Writing into a missing folder fails cleanly too.
        let missing = dir
            .win
            .join("nope")
            .and_then(|d| d.join("x"))
            .expect("join");
        assert!(t.write_file_atomic(&missing, b"x").is_err());
    }

    #[test]
    fn upload_reports_progress_and_is_atomic() {
        let sshd = Sshd::start();
        let t = sshd.connect();
        let dir = RemoteDir::new();
        let local = sshd.path("IISCORS_amd64.msi");
        let data: Vec<u8> = (0..1_000_003u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        fs::write(&local, &data).expect("write local");
        let remote = dir.file("IISCORS_amd64.msi");
        t.write_file_atomic(&remote, b"an older file").expect("old");
        let mut calls = Vec::new();
        t.upload(&local, &remote, &mut |done, total| {
            calls.push((done, total))
        })
        .expect("upload");
        assert_eq!(t.read_file(&remote).expect("read"), data);
        let total = data.len() as u64;
        assert_eq!(calls.first(), Some(&(0, total)));
        assert_eq!(calls.last(), Some(&(total, total)));
        assert!(calls.len() > 3, "{calls:?}");
        assert!(
            calls
                .windows(2)
                .all(|w| w[0].0 <= w[1].0 && w[1].1 == total)
        );
        assert_eq!(dir.entries(), ["IISCORS_amd64.msi"]);
        let missing = sshd.path("does-not-exist.msi");
        assert!(matches!(
            t.upload(&missing, &remote, &mut |_, _| {}),
            Err(TransportError::Io { .. })
        ));
    }

    #[test]
    fn create_dir_all_makes_missing_parents() {
        let sshd = Sshd::start();
        let t = sshd.connect();
        let dir = RemoteDir::new();
        let deep = dir.win.join("a").and_then(|p| p.join("b")).expect("join");
        t.create_dir_all(&deep).expect("mkdir -p");
        t.create_dir_all(&deep).expect("again");
        assert!(dir.local.join("a/b").is_dir());
    }
}

mod host_keys {
    use super::*;

    fn connect_err(opts: &SshOptions) -> TransportError {
        match SshTransport::connect(opts) {
            Ok(t) => panic!("connect must be refused, got {t:?}"),
            Err(e) => e,
        }
    }

    fn openssh_fingerprint(sshd: &Sshd) -> String {
        // "256 SHA256:… comment (ED25519)"
        let out = run(Command::new("ssh-keygen")
            .arg("-lf")
            .arg(sshd.path("host_ed25519.pub")));
        out.split_whitespace()
            .nth(1)
            .expect("fingerprint field")
            .to_owned()
    }

    #[test]
    fn unknown_host_is_refused_with_the_openssh_fingerprint() {
        let sshd = Sshd::start();
        let kh = sshd.path("empty_known_hosts");
        fs::write(&kh, "").expect("write");
        match connect_err(&sshd.options(&kh, HostKeyPolicy::Strict)) {
            TransportError::HostKeyUnknown {
                host, fingerprint, ..
            } => {
                assert_eq!(host, format!("[127.0.0.1]:{}", sshd.port));
                assert_eq!(
                    fingerprint,
                    format!("ED25519 {}", openssh_fingerprint(&sshd))
                );
            }
            other => panic!("expected HostKeyUnknown, got {other}"),
        }
        // A missing file is an empty one, not a crash.
        let none = sshd.path("no_such_known_hosts");
        assert!(matches!(
            connect_err(&sshd.options(&none, HostKeyPolicy::Strict)),
            TransportError::HostKeyUnknown { .. }
        ));
        assert_eq!(
            fs::read(&kh).expect("read"),
            b"",
            "strict mode never writes"
        );
    }

    #[test]
    fn plain_host_entry_does_not_cover_another_port() {
        // OpenSSH records non-22 ports as [host]:port; a bare `127.0.0.1` entry is for port 22.
        let sshd = Sshd::start();
        let kh = sshd.path("kh");
        fs::write(&kh, format!("127.0.0.1 {}\n", sshd.host_key())).expect("write");
        assert!(matches!(
            connect_err(&sshd.options(&kh, HostKeyPolicy::Strict)),
            TransportError::HostKeyUnknown { .. }
        ));
    }

    #[test]
    fn changed_key_is_refused_even_with_accept_new() {
        let sshd = Sshd::start();
        let other = sshd.path("other_host_key");
        keygen(&other);
        let other_pub = fs::read_to_string(other.with_extension("pub")).expect("pub");
        let other_key: Vec<&str> = other_pub.split_whitespace().take(2).collect();
        let kh = sshd.path("kh");
        let content = format!("[127.0.0.1]:{} {}\n", sshd.port, other_key.join(" "));
        fs::write(&kh, &content).expect("write");
        for policy in [HostKeyPolicy::Strict, HostKeyPolicy::AcceptNew] {
            match connect_err(&sshd.options(&kh, policy)) {
                TransportError::HostKeyChanged { fingerprint, .. } => {
                    assert_eq!(
                        fingerprint,
                        format!("ED25519 {}", openssh_fingerprint(&sshd))
                    );
                }
                other => panic!("expected HostKeyChanged, got {other}"),
            }
        }
        assert_eq!(
            fs::read_to_string(&kh).expect("read"),
            content,
            "a changed key is never recorded"
        );
    }

    #[test]
    fn revoked_key_is_refused() {
        let sshd = Sshd::start();
        let kh = sshd.known_hosts();
        let mut content = fs::read_to_string(&kh).expect("read");
        content.push_str(&format!("@revoked * {}\n", sshd.host_key()));
        fs::write(&kh, content).expect("write");
        assert!(matches!(
            connect_err(&sshd.options(&kh, HostKeyPolicy::Strict)),
            TransportError::HostKeyChanged { .. }
        ));
    }

    #[test]
    fn the_recorded_key_type_is_negotiated() {
        // The server has ED25519 and ECDSA keys; whichever one alone is recorded must be the
        // one negotiated, or a correctly recorded host would look "changed".
        let sshd = Sshd::start_full("", true);
        for key in ["host_ed25519.pub", "host_ecdsa.pub"] {
            let pub_line = fs::read_to_string(sshd.path(key)).expect("pub");
            let k: Vec<&str> = pub_line.split_whitespace().take(2).collect();
            let kh = sshd.path("kh_one_type");
            fs::write(&kh, format!("[127.0.0.1]:{} {}\n", sshd.port, k.join(" "))).expect("write");
            SshTransport::connect(&sshd.options(&kh, HostKeyPolicy::Strict))
                .unwrap_or_else(|e| panic!("{key} recorded, connect failed: {e}"));
        }
    }

    #[test]
    fn a_host_known_only_by_a_key_type_the_server_lacks_is_refused() {
        let sshd = Sshd::start();
        let other = sshd.path("other_ecdsa");
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ecdsa", "-N", "", "-f"])
            .arg(&other));
        let pub_line = fs::read_to_string(other.with_extension("pub")).expect("pub");
        let k: Vec<&str> = pub_line.split_whitespace().take(2).collect();
        let kh = sshd.path("kh");
        fs::write(&kh, format!("[127.0.0.1]:{} {}\n", sshd.port, k.join(" "))).expect("write");
        for policy in [HostKeyPolicy::Strict, HostKeyPolicy::AcceptNew] {
            match connect_err(&sshd.options(&kh, policy)) {
                TransportError::HostKeyChanged { detail, .. } => {
                    assert!(detail.contains("ecdsa-sha2-nistp256"), "{detail}")
                }
                other => panic!("expected HostKeyChanged, got {other}"),
            }
        }
    }

    #[test]
    fn hashed_entries_match() {
        let sshd = Sshd::start();
        let kh = sshd.known_hosts();
        // Unrelated lines of other types and a comment must not disturb the lookup.
        let mut content = String::from(
            "# corsfleet test\nexample.invalid ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7\n",
        );
        content.push_str(&fs::read_to_string(&kh).expect("read"));
        fs::write(&kh, content).expect("write");
        run(Command::new("ssh-keygen").arg("-H").arg("-f").arg(&kh));
        let hashed = fs::read_to_string(&kh).expect("read");
        assert!(
            hashed.contains("|1|"),
            "ssh-keygen -H did not hash: {hashed}"
        );
        assert!(!hashed.contains("127.0.0.1"), "{hashed}");
        let t = SshTransport::connect(&sshd.options(&kh, HostKeyPolicy::Strict))
            .expect("hashed entry must match");
        assert_eq!(t.exec_raw("exit 0").expect("exec").exit_code, 0);
    }

    #[test]
    fn host_key_alias_is_looked_up_verbatim() {
        let sshd = Sshd::start();
        let kh = sshd.path("kh");
        fs::write(&kh, format!("logger-a.example {}\n", sshd.host_key())).expect("write");
        let mut opts = sshd.options(&kh, HostKeyPolicy::Strict);
        opts.host_key_alias = Some("logger-a.example".to_owned());
        SshTransport::connect(&opts).expect("alias entry must match");
        opts.host_key_alias = Some("logger-b.example".to_owned());
        assert!(matches!(
            connect_err(&opts),
            TransportError::HostKeyUnknown { .. }
        ));
    }

    #[test]
    fn accept_new_records_once_under_parallel_connects() {
        let sshd = Arc::new(Sshd::start());
        let kh = sshd.path("accept_new/known_hosts");
        fs::create_dir_all(kh.parent().expect("parent")).expect("mkdir");
        // An existing entry without a trailing newline must not be glued to ours.
        fs::write(&kh, "example.invalid ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl").expect("write");
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let sshd = Arc::clone(&sshd);
                let kh = kh.clone();
                std::thread::spawn(move || {
                    SshTransport::connect(&sshd.options(&kh, HostKeyPolicy::AcceptNew))
                        .map(|t| t.describe())
                })
            })
            .collect();
        for h in handles {
            let r = h.join().expect("thread");
            assert!(r.is_ok(), "accept-new connect failed: {r:?}");
        }
        let content = fs::read_to_string(&kh).expect("read");
        let lines: Vec<&str> = content.lines().collect();
        let expected = format!("[127.0.0.1]:{} {}", sshd.port, sshd.host_key());
        assert_eq!(lines.len(), 2, "{content}");
        assert_eq!(lines[1], expected);
        assert!(content.ends_with('\n'));
        // What was recorded now satisfies strict checking.
        SshTransport::connect(&sshd.options(&kh, HostKeyPolicy::Strict))
            .expect("strict after accept-new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let fresh = sshd.path("accept_new/fresh_known_hosts");
            SshTransport::connect(&sshd.options(&fresh, HostKeyPolicy::AcceptNew)).expect("create");
            let mode = fs::metadata(&fresh).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}

mod connect {
    use super::*;

    #[test]
    fn wrong_key_is_an_auth_error() {
        let sshd = Sshd::start();
        let kh = sshd.known_hosts();
        let stranger = sshd.path("stranger");
        keygen(&stranger);
        let mut opts = sshd.options(&kh, HostKeyPolicy::Strict);
        opts.auth = SshAuth::KeyFile(stranger);
        assert!(matches!(
            SshTransport::connect(&opts),
            Err(TransportError::Auth { .. })
        ));
    }

    #[test]
    fn password_errors_name_the_variable_never_the_value() {
        let sshd = Sshd::start();
        let kh = sshd.known_hosts();
        let mut opts = sshd.options(&kh, HostKeyPolicy::Strict);
        opts.auth = SshAuth::PasswordEnv("CORSFLEET_TEST_SURELY_UNSET_PASSWORD".to_owned());
        let e = SshTransport::connect(&opts).expect_err("unset variable");
        assert!(matches!(e, TransportError::Auth { .. }));
        assert!(
            e.to_string()
                .contains("CORSFLEET_TEST_SURELY_UNSET_PASSWORD"),
            "{e}"
        );
        // PATH is always set: use its value as the "password"; the server refuses passwords,
        // and the value must appear nowhere in the error or its Debug form.
        let secret = std::env::var("PATH").expect("PATH");
        opts.auth = SshAuth::PasswordEnv("PATH".to_owned());
        let e = SshTransport::connect(&opts).expect_err("password auth is disabled");
        assert!(matches!(e, TransportError::Auth { .. }), "{e}");
        let shown = format!("{e} {e:?} {:?} {opts:?}", source_chain(&e));
        assert!(!shown.contains(&secret), "{shown}");
    }

    #[test]
    fn refused_port_is_a_connect_error() {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let opts = SshOptions {
            host: "127.0.0.1".to_owned(),
            port,
            user: "x".to_owned(),
            auth: SshAuth::Agent,
            known_hosts: PathBuf::from("/nonexistent/known_hosts"),
            host_key_policy: HostKeyPolicy::Strict,
            connect_timeout: Duration::from_secs(2),
            keepalive: Duration::ZERO,
            shell: RemoteShell::Cmd,
            host_key_alias: None,
        };
        assert!(matches!(
            SshTransport::connect(&opts),
            Err(TransportError::Connect { .. })
        ));
    }

    #[test]
    fn silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let hold = std::thread::spawn(move || {
            // Accept and say nothing, like a wedged sshd.
            let conn = listener.accept();
            std::thread::sleep(Duration::from_secs(4));
            drop(conn);
        });
        let opts = SshOptions {
            host: "127.0.0.1".to_owned(),
            port,
            user: "x".to_owned(),
            auth: SshAuth::Agent,
            known_hosts: PathBuf::from("/nonexistent/known_hosts"),
            host_key_policy: HostKeyPolicy::Strict,
            connect_timeout: Duration::from_secs(1),
            keepalive: Duration::ZERO,
            shell: RemoteShell::Cmd,
            host_key_alias: None,
        };
        let started = Instant::now();
        let r = SshTransport::connect(&opts);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "took {:?}",
            started.elapsed()
        );
        assert!(
            matches!(
                r,
                Err(TransportError::Timeout { .. } | TransportError::Handshake { .. })
            ),
            "{r:?}"
        );
        let _ = hold.join();
    }

    #[test]
    fn describe_names_user_host_and_port_only() {
        let sshd = Sshd::start();
        let t = sshd.connect();
        assert_eq!(
            t.describe(),
            format!("ssh {}@127.0.0.1:{}", sshd.user, sshd.port)
        );
        let mut buf = String::new();
        let _ = std::io::Cursor::new(format!("{t:?}")).read_to_string(&mut buf);
        assert!(!buf.contains("client_ed25519"), "{buf}");
    }
}
