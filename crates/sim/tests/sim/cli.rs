//! The binary: subcommands, links named msiexec / reg / ucce-sim-cmd, and `serve`.

use std::{
    io::Read,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_ucce-sim");

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("run ucce-sim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn link(dir: &Path, name: &str) -> std::path::PathBuf {
    let l = dir.join(name);
    std::os::unix::fs::symlink(BIN, &l).expect("symlink");
    l
}

#[test]
fn init_make_msi_and_linked_shims() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    let (code, _, err) = run(Command::new(BIN)
        .args(["init", "--root"])
        .arg(&root)
        .args(["--hostname", "ucce-a"]));
    assert_eq!(code, 0, "{err}");
    assert!(root.join("sim-ca.pem").exists());
    assert!(root.join("C:/icm/tomcat/bin/i386/web.config").exists());
    let (code, _, _) = run(Command::new(BIN)
        .arg("make-msi")
        .arg(root.join("C:/Windows/Temp/IISCORS_amd64.msi")));
    assert_eq!(code, 0);

    let bin_dir = dir.path().join("bin");
    std::fs::create_dir(&bin_dir).expect("mkdir");
    let reg = link(&bin_dir, "reg");
    let (code, out, _) = run(Command::new(&reg)
        .args([
            "query",
            r"HKLM\SOFTWARE\Microsoft\InetStp",
            "/v",
            "MajorVersion",
        ])
        .env("UCCE_SIM_ROOT", &root));
    assert_eq!(code, 0);
    assert!(out.contains("REG_DWORD    0xa"));

    // Exit codes above 255 lose their high bits on Unix; the full code goes to stderr.
    let msiexec = link(&bin_dir, "msiexec");
    let (code, _, err) = run(Command::new(&msiexec)
        .args(["/i", r"C:\Windows\Temp\missing.msi", "/qn"])
        .env("UCCE_SIM_ROOT", &root));
    assert_eq!(code, 1619 & 0xff);
    assert!(err.contains("exit code 1619"), "{err}");

    let cmd = link(&bin_dir, "ucce-sim-cmd");
    let (code, _, _) = run(Command::new(&cmd)
        .args(["-c", r#"start "" /wait msiexec /i "C:\Windows\Temp\IISCORS_amd64.msi" /qn /norestart /l*v "C:\Windows\Temp\corsfleet-msi.log""#])
        .env("UCCE_SIM_ROOT", &root));
    assert_eq!(code, 0);
    assert!(ucce_sim::msi::is_installed(&root));
    let (code, _, err) = run(Command::new(BIN)
        .args(["cmd", "--root"])
        .arg(&root)
        .args(["-c", "nosuchprogram"]));
    assert_eq!(code, 9009 & 0xff);
    assert!(err.contains("'nosuchprogram' is not recognized"));
}

#[test]
fn bare_msiexec_through_the_cmd_link_installs_after_the_shell_exited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    ucce_sim::init(&root, &[]).expect("init");
    ucce_sim::make_msi(&root.join("C:/Windows/Temp/IISCORS_amd64.msi")).expect("msi");
    let cmd = link(dir.path(), "ucce-sim-cmd");
    let (code, _, _) = run(Command::new(&cmd)
        .args(["-c", r#"msiexec /i C:\Windows\Temp\IISCORS_amd64.msi /qn"#])
        .env("UCCE_SIM_ROOT", &root));
    assert_eq!(code, 0);
    // Returned before the install: the marks are not there yet (they appear ~1 s later).
    assert!(!ucce_sim::msi::is_installed(&root));
    let deadline = Instant::now() + Duration::from_secs(6);
    while !ucce_sim::msi::is_installed(&root) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        ucce_sim::msi::is_installed(&root),
        "the detached installer finished"
    );
}

#[test]
fn serve_logs_one_line_per_request_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = ucce_sim::init(dir.path(), &[]).expect("init");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut child = Command::new(BIN)
        .args(["serve", "--root"])
        .arg(dir.path())
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let client = crate::common::client_for(&p.ca_pem);
    let status = rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match client
                .get(format!(
                    "https://127.0.0.1:{port}/unifiedconfig/config/agent"
                ))
                .send()
                .await
            {
                Ok(r) => break r.status().as_u16(),
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("server did not come up: {e}"),
            }
        }
    });
    assert_eq!(status, 401);
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let exit = child.wait().expect("wait");
    assert!(exit.success(), "graceful exit on SIGTERM: {exit:?}");
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("GET /unifiedconfig/config/agent"))
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("status=401"), "{}", lines[0]);
}
