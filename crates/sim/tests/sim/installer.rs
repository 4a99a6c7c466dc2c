//! The msiexec shim: package checks, the three marks, logs, exit codes and fault knobs.

use std::{fs, path::Path, time::Duration};

use ucce_sim::{SimPaths, msi};

use crate::common::args;

fn root_with_package() -> (tempfile::TempDir, SimPaths) {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = ucce_sim::init(dir.path(), &[]).expect("init");
    ucce_sim::make_msi(&p.temp_dir.join("IISCORS_amd64.msi")).expect("make msi");
    (dir, p)
}

fn install_args() -> Vec<String> {
    args(&[
        "/i",
        r"C:\Windows\Temp\IISCORS_amd64.msi",
        "/qn",
        "/norestart",
        "/l*v",
        r"C:\Windows\Temp\corsfleet-msi.log",
    ])
}

fn log(p: &SimPaths) -> String {
    fs::read_to_string(p.temp_dir.join("corsfleet-msi.log")).expect("log written")
}

fn none_installed(p: &SimPaths, root: &Path) {
    assert!(!p.cors_dll.exists());
    assert!(!p.cors_schema.exists());
    assert_eq!(
        fs::read_to_string(&p.app_host_config).expect("read"),
        ucce_sim::tree::STOCK_APP_HOST_CONFIG
    );
    assert!(!msi::is_installed(root));
}

#[test]
fn silent_install_writes_the_three_marks_and_a_log() {
    let (dir, p) = root_with_package();
    none_installed(&p, dir.path());
    assert_eq!(ucce_sim::msiexec(dir.path(), &install_args()), 0);
    assert!(msi::is_installed(dir.path()));
    let app = fs::read_to_string(&p.app_host_config).expect("read");
    assert!(app.contains(
        r#"<add name="CorsModule" image="%SystemRoot%\system32\inetsrv\iiscors.dll" />"#
    ));
    assert!(app.contains(r#"<section name="cors" overrideModeDefault="Allow" />"#));
    let l = log(&p);
    assert!(l.contains("Installation completed successfully"));
    assert!(l.contains("MainEngineThread is returning 0"));
    // A second run is harmless and does not register twice.
    assert_eq!(ucce_sim::msiexec(dir.path(), &install_args()), 0);
    let again = fs::read_to_string(&p.app_host_config).expect("read");
    assert_eq!(again, app);
}

#[test]
fn wrong_or_missing_packages_are_refused() {
    let (dir, p) = root_with_package();
    fs::write(p.temp_dir.join("IISCORS_amd64.msi"), b"<html>404</html>").expect("write");
    assert_eq!(
        ucce_sim::msiexec(dir.path(), &install_args()),
        msi::exit::INVALID_PACKAGE
    );
    let mut cfb_other = msi::CFB_MAGIC.to_vec();
    cfb_other.extend_from_slice(b"Some Other Product");
    fs::write(p.temp_dir.join("IISCORS_amd64.msi"), cfb_other).expect("write");
    assert_eq!(ucce_sim::msiexec(dir.path(), &install_args()), 1620);
    fs::remove_file(p.temp_dir.join("IISCORS_amd64.msi")).expect("rm");
    assert_eq!(ucce_sim::msiexec(dir.path(), &install_args()), 1619);
    none_installed(&p, dir.path());
    assert_eq!(ucce_sim::msiexec(dir.path(), &args(&["/qn"])), 1639);
    assert_eq!(
        ucce_sim::msiexec(
            dir.path(),
            &args(&[
                "/i",
                r"C:\Windows\Temp\IISCORS_amd64.msi",
                "/qn",
                "/l*v",
                r"C:\no\such\dir\x.log"
            ])
        ),
        1622
    );
}

#[test]
fn one_shot_1618_then_success() {
    let (dir, p) = root_with_package();
    fs::write(&p.faults, "installer:\n  next_exit_once: 1618\n").expect("faults");
    assert_eq!(ucce_sim::msiexec(dir.path(), &install_args()), 1618);
    assert!(!msi::is_installed(dir.path()));
    assert_eq!(ucce_sim::msiexec(dir.path(), &install_args()), 0);
    assert!(msi::is_installed(dir.path()));
}

#[test]
fn fatal_1603_installs_nothing_and_logs_return_value_3() {
    let (dir, p) = root_with_package();
    fs::write(&p.faults, "installer:\n  outcome: fail\n").expect("faults");
    assert_eq!(ucce_sim::msiexec(dir.path(), &install_args()), 1603);
    none_installed(&p, dir.path());
    let l = log(&p);
    assert!(l.contains("Return value 3."));
    assert!(l.contains("MainEngineThread is returning 1603"));
}

#[test]
fn reboot_3010_is_installed() {
    let (dir, p) = root_with_package();
    fs::write(&p.faults, "installer:\n  outcome: reboot\n").expect("faults");
    assert_eq!(ucce_sim::msiexec(dir.path(), &install_args()), 3010);
    assert!(msi::is_installed(dir.path()));
}

#[test]
fn async_mode_returns_before_installing() {
    let (dir, p) = root_with_package();
    fs::write(
        &p.faults,
        "installer:\n  outcome: async\n  async_delay_ms: 400\n",
    )
    .expect("faults");
    assert_eq!(ucce_sim::msiexec(dir.path(), &install_args()), 0);
    assert!(!msi::is_installed(dir.path()), "returned before installing");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(msi::is_installed(dir.path()));
}

#[test]
fn a_running_install_makes_the_next_one_1618() {
    let (dir, _p) = root_with_package();
    fs::write(
        dir.path().join("sim-msiexec.lock"),
        std::process::id().to_string(),
    )
    .expect("lock");
    assert_eq!(ucce_sim::msiexec(dir.path(), &install_args()), 1618);
    // A lock left by a dead process is stale.
    fs::write(dir.path().join("sim-msiexec.lock"), "4000000000").expect("lock");
    assert_eq!(ucce_sim::msiexec(dir.path(), &install_args()), 0);
}

#[test]
fn without_quiet_flag_it_hangs_on_an_invisible_dialog() {
    let (dir, _p) = root_with_package();
    let root = dir.path().to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let code = ucce_sim::msiexec(
            &root,
            &args(&["/i", r"C:\Windows\Temp\IISCORS_amd64.msi", "/norestart"]),
        );
        let _ = tx.send(code);
    });
    assert!(
        rx.recv_timeout(Duration::from_millis(700)).is_err(),
        "msiexec without /qn must not return"
    );
    assert!(!msi::is_installed(dir.path()));
}

#[test]
fn uninstall_removes_the_marks_and_restores_the_config() {
    let (dir, p) = root_with_package();
    let pkg = r"C:\Windows\Temp\IISCORS_amd64.msi";
    assert_eq!(
        ucce_sim::msiexec(dir.path(), &args(&["/x", pkg, "/qn"])),
        1605
    );
    assert_eq!(ucce_sim::msiexec(dir.path(), &install_args()), 0);
    assert_eq!(
        ucce_sim::msiexec(dir.path(), &args(&["/x", pkg, "/qn", "/norestart"])),
        0
    );
    none_installed(&p, dir.path());
}
