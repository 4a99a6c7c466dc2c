//! The cmd.exe shim as corsfleet uses it: `start "" /wait msiexec`, a forgotten wait, `reg`.

use std::time::{Duration, Instant};

use ucce_sim::{msi, shell};

const WAITED: &str = r#"start "" /wait msiexec /i "C:\Windows\Temp\IISCORS_amd64.msi" /qn /norestart /l*v "C:\Windows\Temp\corsfleet-msi.log""#;
const UNWAITED: &str = r#"msiexec /i "C:\Windows\Temp\IISCORS_amd64.msi" /qn /norestart /l*v "C:\Windows\Temp\corsfleet-msi.log""#;

fn root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = ucce_sim::init(dir.path(), &[]).expect("init");
    ucce_sim::make_msi(&p.temp_dir.join("IISCORS_amd64.msi")).expect("make msi");
    dir
}

#[test]
fn start_wait_returns_the_installer_exit_code() {
    let dir = root();
    let out = shell::run(dir.path(), WAITED);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        msi::is_installed(dir.path()),
        "installed when start /wait returns"
    );

    let dir = root();
    std::fs::write(
        dir.path().join("sim-faults.yml"),
        "installer:\n  outcome: reboot\n",
    )
    .expect("faults");
    assert_eq!(shell::run(dir.path(), WAITED).code, 3010);

    let dir = root();
    std::fs::write(
        dir.path().join("C:/Windows/Temp/IISCORS_amd64.msi"),
        b"not a package",
    )
    .expect("write");
    assert_eq!(shell::run(dir.path(), WAITED).code, 1620);
}

#[test]
fn bare_msiexec_returns_at_once_and_installs_later() {
    let dir = root();
    let out = shell::run(dir.path(), UNWAITED);
    assert_eq!(out.code, 0);
    // Returned before the install: the marks are not there yet (they appear ~1 s later).
    assert!(
        !msi::is_installed(dir.path()),
        "a client that does not wait sees nothing yet"
    );
    // Even a bad package "succeeds" for a client that does not wait.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !msi::is_installed(dir.path()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(msi::is_installed(dir.path()), "installed in the background");
}

#[test]
fn start_without_wait_does_not_wait_either() {
    let dir = root();
    let out = shell::run(dir.path(), &WAITED.replace("/wait ", ""));
    assert_eq!(out.code, 0);
    assert!(!msi::is_installed(dir.path()));
}

#[test]
fn reg_and_unknown_programs() {
    let dir = root();
    let out = shell::run(
        dir.path(),
        r#"reg query "HKLM\SOFTWARE\Microsoft\InetStp" /v MajorVersion"#,
    );
    assert_eq!(out.code, 0);
    assert!(
        out.stdout
            .contains("    MajorVersion    REG_DWORD    0xa\r\n")
    );
    let out = shell::run(dir.path(), "Get-Item C:\\");
    assert_eq!(out.code, 9009);
    assert_eq!(
        out.stderr,
        "'Get-Item' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
    );
    let out = shell::run(dir.path(), r#"cmd /c "type C:\Windows\Temp\none.txt""#);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("cannot find the file"));
}
