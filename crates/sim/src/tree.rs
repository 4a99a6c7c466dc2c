//! The server root: a folder that mirrors drive C: of a UCCE Logger/AW (`ROOT/C:/...`), plus the
//! simulator's own files beside it (`sim-*.pem`, `sim-users.txt`, `sim-faults.yml`,
//! `sim-registry.yml`).
//!
//! In the container image the root is `/`, so the SFTP path `/C:/icm/tomcat/bin/i386/web.config`
//! is the same as on Windows OpenSSH (DOMAIN.md, "Windows OpenSSH"). Windows paths given to the
//! command shims (`C:\Windows\Temp\x.msi`) are mapped here and nowhere else.

use std::{
    fs,
    path::{Component, Path, PathBuf},
};

use crate::{DEFAULT_PASSWORD, DEFAULT_USER, SimError, tls};

/// Where the interesting files of a server root are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimPaths {
    pub root: PathBuf,
    /// Test CA certificate; clients add it to their trust store.
    pub ca_pem: PathBuf,
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// `C:\icm\tomcat\bin\i386\web.config`.
    pub web_config: PathBuf,
    /// `C:\Windows\System32\inetsrv\config\applicationHost.config`.
    pub app_host_config: PathBuf,
    /// `C:\Windows\System32\inetsrv\iiscors.dll` (absent until installed).
    pub cors_dll: PathBuf,
    /// `C:\Windows\System32\inetsrv\config\schema\cors_schema.xml` (absent until installed).
    pub cors_schema: PathBuf,
    /// `C:\Windows\Temp`.
    pub temp_dir: PathBuf,
    /// Config API users, `user:password` per line.
    pub users: PathBuf,
    /// Optional fault knobs; see [`crate::faults`].
    pub faults: PathBuf,
    /// Registry values the `reg` shim answers from.
    pub registry: PathBuf,
}

impl SimPaths {
    /// The paths of a root, whether or not it was initialised.
    pub fn new(root: &Path) -> Self {
        let c = root.join("C:");
        let inetsrv = c.join("Windows/System32/inetsrv");
        SimPaths {
            root: root.to_path_buf(),
            ca_pem: root.join("sim-ca.pem"),
            ca_key: root.join("sim-ca-key.pem"),
            server_cert: root.join("sim-server.pem"),
            server_key: root.join("sim-server-key.pem"),
            web_config: c.join("icm/tomcat/bin/i386/web.config"),
            app_host_config: inetsrv.join("config/applicationHost.config"),
            cors_dll: inetsrv.join("iiscors.dll"),
            cors_schema: inetsrv.join("config/schema/cors_schema.xml"),
            temp_dir: c.join("Windows/Temp"),
            users: root.join("sim-users.txt"),
            faults: root.join("sim-faults.yml"),
            registry: root.join("sim-registry.yml"),
        }
    }
}

/// Cisco-like stock web.config of the ISAPI redirector folder: handler, httpErrors,
/// directoryBrowse (the seed's Appendix A shows the last two lines verbatim). CRLF line endings
/// as a Windows tool writes them, so patchers must preserve them.
pub const STOCK_WEB_CONFIG: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n",
    "<configuration>\r\n",
    "    <system.webServer>\r\n",
    "        <handlers accessPolicy=\"Read, Execute, Script\">\r\n",
    "            <add name=\"ISAPI-dll\" path=\"*.dll\" verb=\"*\" modules=\"IsapiModule\" scriptProcessor=\"C:\\icm\\tomcat\\bin\\i386\\isapi_redirect.dll\" resourceType=\"File\" requireAccess=\"Execute\" allowPathInfo=\"true\" preCondition=\"bitness64\" />\r\n",
    "        </handlers>\r\n",
    "        <!-- Tomcat answers errors itself; IIS passes them through. -->\r\n",
    "        <httpErrors errorMode=\"DetailedLocalOnly\" existingResponse=\"PassThrough\" />\r\n",
    "        <directoryBrowse enabled=\"false\" showFlags=\"Date, Time, Size, Extension\" />\r\n",
    "    </system.webServer>\r\n",
    "</configuration>\r\n",
);

/// Stock applicationHost.config: configSections and globalModules, no CorsModule yet.
pub const STOCK_APP_HOST_CONFIG: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n",
    "<configuration>\r\n",
    "    <configSections>\r\n",
    "        <sectionGroup name=\"system.applicationHost\">\r\n",
    "            <section name=\"sites\" allowDefinition=\"AppHostOnly\" overrideModeDefault=\"Deny\" />\r\n",
    "        </sectionGroup>\r\n",
    "        <sectionGroup name=\"system.webServer\">\r\n",
    "            <section name=\"defaultDocument\" overrideModeDefault=\"Allow\" />\r\n",
    "            <section name=\"directoryBrowse\" overrideModeDefault=\"Allow\" />\r\n",
    "            <section name=\"globalModules\" allowDefinition=\"AppHostOnly\" overrideModeDefault=\"Deny\" />\r\n",
    "            <section name=\"handlers\" overrideModeDefault=\"Allow\" />\r\n",
    "            <section name=\"httpErrors\" overrideModeDefault=\"Allow\" />\r\n",
    "            <section name=\"isapiFilters\" allowDefinition=\"MachineToApplication\" overrideModeDefault=\"Deny\" />\r\n",
    "            <section name=\"modules\" allowDefinition=\"MachineToApplication\" overrideModeDefault=\"Deny\" />\r\n",
    "        </sectionGroup>\r\n",
    "    </configSections>\r\n",
    "    <system.applicationHost>\r\n",
    "        <sites>\r\n",
    "            <site name=\"Default Web Site\" id=\"1\">\r\n",
    "                <application path=\"/\">\r\n",
    "                    <virtualDirectory path=\"/\" physicalPath=\"C:\\icm\\tomcat\\bin\\i386\" />\r\n",
    "                </application>\r\n",
    "                <bindings>\r\n",
    "                    <binding protocol=\"https\" bindingInformation=\"*:443:\" />\r\n",
    "                </bindings>\r\n",
    "            </site>\r\n",
    "        </sites>\r\n",
    "    </system.applicationHost>\r\n",
    "    <system.webServer>\r\n",
    "        <globalModules>\r\n",
    "            <add name=\"HttpLoggingModule\" image=\"%windir%\\System32\\inetsrv\\loghttp.dll\" />\r\n",
    "            <add name=\"IsapiFilterModule\" image=\"%windir%\\System32\\inetsrv\\filter.dll\" />\r\n",
    "            <add name=\"IsapiModule\" image=\"%windir%\\System32\\inetsrv\\isapi.dll\" />\r\n",
    "            <add name=\"BasicAuthenticationModule\" image=\"%windir%\\System32\\inetsrv\\authbas.dll\" />\r\n",
    "            <add name=\"StaticFileModule\" image=\"%windir%\\System32\\inetsrv\\static.dll\" />\r\n",
    "        </globalModules>\r\n",
    "        <isapiFilters>\r\n",
    "            <filter name=\"jakarta\" path=\"C:\\icm\\tomcat\\bin\\i386\\isapi_redirect.dll\" />\r\n",
    "        </isapiFilters>\r\n",
    "    </system.webServer>\r\n",
    "</configuration>\r\n",
);

/// IIS version data of `HKLM\SOFTWARE\Microsoft\InetStp` (IIS 10, DOMAIN.md "Installing").
pub const STOCK_REGISTRY: &str = concat!(
    "# Registry values answered by `ucce-sim reg query`.\n",
    "- key: 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\InetStp'\n",
    "  values:\n",
    "    - { name: MajorVersion, type: REG_DWORD, data: '10' }\n",
    "    - { name: MinorVersion, type: REG_DWORD, data: '0' }\n",
    "    - { name: SetupString, type: REG_SZ, data: 'IIS 10.0' }\n",
    "    - { name: VersionString, type: REG_SZ, data: 'Version 10.0' }\n",
    "    - { name: InstallPath, type: REG_SZ, data: 'C:\\Windows\\system32\\inetsrv' }\n",
);

/// Placeholder files so listings of inetsrv and the redirector folder look like a real box.
const PLACEHOLDERS: &[&str] = &[
    "C:/Windows/System32/inetsrv/inetinfo.exe",
    "C:/Windows/System32/inetsrv/w3wp.exe",
    "C:/Windows/System32/inetsrv/appcmd.exe",
    "C:/Windows/System32/inetsrv/isapi.dll",
    "C:/Windows/System32/inetsrv/filter.dll",
    "C:/icm/tomcat/bin/i386/isapi_redirect.dll",
    "C:/icm/tomcat/bin/i386/isapi_redirect.properties",
    "C:/ProgramData/ssh/administrators_authorized_keys",
];

/// Creates the tree, the users file, the registry data and a test CA plus a server certificate
/// for `hostnames`, `localhost` and `127.0.0.1`.
///
/// Idempotent-ish: existing configuration, users, registry and CA files are kept (so a second
/// `init` does not undo an installation), the server certificate is re-issued for the names.
pub fn init(root: &Path, hostnames: &[String]) -> Result<SimPaths, SimError> {
    let p = SimPaths::new(root);
    for dir in [
        p.temp_dir.clone(),
        root.join("C:/Windows/System32/inetsrv/config/schema"),
        root.join("C:/icm/tomcat/bin/i386"),
        root.join("C:/ProgramData/ssh"),
    ] {
        fs::create_dir_all(&dir).map_err(|e| SimError::io(&dir, e))?;
    }
    write_if_missing(&p.web_config, STOCK_WEB_CONFIG.as_bytes())?;
    write_if_missing(&p.app_host_config, STOCK_APP_HOST_CONFIG.as_bytes())?;
    write_if_missing(&p.registry, STOCK_REGISTRY.as_bytes())?;
    let users = format!(
        "# Config API users for ucce-sim (test only), user:password per line.\n{DEFAULT_USER}:{DEFAULT_PASSWORD}\n"
    );
    write_if_missing(&p.users, users.as_bytes())?;
    for rel in PLACEHOLDERS {
        let path = root.join(rel);
        write_if_missing(&path, b"ucce-sim placeholder\r\n")?;
    }
    tls::issue(&p, hostnames)?;
    Ok(p)
}

/// Imitates a CCE patch that copies Cisco's stock web.config over the redirector folder,
/// dropping any `<cors>` section (DOMAIN.md: "re-verify after patches").
pub fn restore_stock_web_config(root: &Path) -> Result<(), SimError> {
    let p = SimPaths::new(root);
    write_atomic(&p.web_config, STOCK_WEB_CONFIG.as_bytes())
}

fn write_if_missing(path: &Path, bytes: &[u8]) -> Result<(), SimError> {
    if path.exists() {
        return Ok(());
    }
    write_atomic(path, bytes)
}

/// Writes through a temporary file and a rename so that a reader (IIS re-reading its config,
/// or a second installer) never sees half a file.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SimError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| SimError::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    fs::write(&tmp, bytes).map_err(|e| SimError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| SimError::io(path, e))
}

/// Expands the environment variables cmd.exe and IIS use for the Windows folder.
fn expand_env(path: &str) -> String {
    let mut out = path.to_string();
    for var in ["%windir%", "%systemroot%"] {
        while let Some(i) = out.to_ascii_lowercase().find(var) {
            out.replace_range(i..i + var.len(), "C:\\Windows");
        }
    }
    if let Some(i) = out.to_ascii_lowercase().find("%systemdrive%") {
        out.replace_range(i..i + "%systemdrive%".len(), "C:");
    }
    out
}

/// Maps a Windows path (`C:\Windows\Temp\x.msi`, `c:/x`, `/C:/x`, `%windir%\x`) to the file
/// under `root`. Windows paths are case-insensitive, so each component is matched ignoring
/// ASCII case when the exact name does not exist. A path without a drive is taken relative to
/// `C:\Users\administrator` [assumed: the ssh user's home].
pub fn map_windows_path(root: &Path, path: &str) -> PathBuf {
    let expanded = expand_env(path.trim());
    let unified = expanded.replace('\\', "/");
    let trimmed = unified.strip_prefix('/').unwrap_or(&unified);
    let (drive, rest) = match trimmed.split_once(':') {
        Some((d, rest)) if d.len() == 1 && d.chars().all(|c| c.is_ascii_alphabetic()) => {
            (format!("{}:", d.to_ascii_uppercase()), rest.to_string())
        }
        _ => ("C:".to_string(), format!("Users/administrator/{trimmed}")),
    };
    let mut cur = root.join(drive);
    for comp in Path::new(&rest).components() {
        match comp {
            Component::Normal(name) => {
                let exact = cur.join(name);
                cur = if exact.exists() {
                    exact
                } else {
                    find_ci(&cur, &name.to_string_lossy()).unwrap_or(exact)
                };
            }
            // `..` must not climb out of the root.
            Component::ParentDir
                if cur
                    .parent()
                    .is_some_and(|p| p.starts_with(root) && p != root) =>
            {
                cur.pop();
            }
            _ => {}
        }
    }
    cur
}

fn find_ci(dir: &Path, name: &str) -> Option<PathBuf> {
    fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        e.file_name()
            .to_string_lossy()
            .eq_ignore_ascii_case(name)
            .then(|| e.path())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_windows_paths_case_insensitively() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::create_dir_all(root.join("C:/Windows/Temp")).expect("mkdir");
        assert_eq!(
            map_windows_path(root, r"C:\WINDOWS\temp\x.msi"),
            root.join("C:/Windows/Temp/x.msi")
        );
        assert_eq!(
            map_windows_path(root, "/C:/Windows/Temp/a"),
            root.join("C:/Windows/Temp/a")
        );
        assert_eq!(
            map_windows_path(root, r"%windir%\Temp\a"),
            root.join("C:/Windows/Temp/a")
        );
        assert_eq!(
            map_windows_path(root, r"C:\..\..\etc\passwd"),
            root.join("C:/etc/passwd")
        );
    }

    #[test]
    fn init_keeps_existing_configuration() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = init(dir.path(), &["ucce-a.lab".into()]).expect("init");
        fs::write(&p.web_config, "changed").expect("write");
        init(dir.path(), &[]).expect("second init");
        assert_eq!(fs::read_to_string(&p.web_config).expect("read"), "changed");
        restore_stock_web_config(dir.path()).expect("restore");
        assert_eq!(
            fs::read_to_string(&p.web_config).expect("read"),
            STOCK_WEB_CONFIG
        );
    }
}
